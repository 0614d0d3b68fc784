/*
 * test_kernel.c: the bzImage setup header parse and `--kernel` resolution
 * over synthetic images in a private cache (SCHEDTEST_CACHE_DIR).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "schedtest/error.h"
#include "schedtest/fs.h"
#include "schedtest/kernel.h"

static char *tmpdir;

/* A minimal image: setup header with protocol 2.15 and a version string. */
static void fake_image(unsigned char *buf, size_t len, const char *version)
{
    memset(buf, 0, len);
    memcpy(buf + 0x202, "HdrS", 4);
    buf[0x206] = 0x0f;
    buf[0x207] = 0x02;
    buf[0x20e] = 0x00; /* kernel_version = 0x100 -> string at 0x300 */
    buf[0x20f] = 0x01;
    snprintf((char *)buf + 0x300, len - 0x300, "%s (me@host) #1 SMP",
             version);
}

static char *write_image(const char *rel, const char *version)
{
    unsigned char buf[0x1000];
    fake_image(buf, sizeof buf, version);
    char *path, *dir;
    assert_true(asprintf(&path, "%s/%s", tmpdir, rel) > 0);
    dir = strdup(path);
    *strrchr(dir, '/') = '\0';
    assert_int_equal(st_fs_mkdir_p(dir, 0755), 0);
    assert_int_equal(st_fs_write_atomic(path, buf, sizeof buf, 0644), 0);
    free(dir);
    return path;
}

static void write_text(const char *rel, const char *text)
{
    char *path;
    assert_true(asprintf(&path, "%s/%s", tmpdir, rel) > 0);
    assert_int_equal(st_fs_write_atomic(path, text, strlen(text), 0644), 0);
    free(path);
}

static int setup(void **state)
{
    (void)state;
    if (st_fs_mkdtemp(&tmpdir, "test-kernel-") < 0)
        return -1;
    char *cache;
    if (asprintf(&cache, "%s/cache", tmpdir) < 0)
        return -1;
    setenv("SCHEDTEST_CACHE_DIR", cache, 1);
    free(cache);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    st_fs_remove_tree(tmpdir);
    free(tmpdir);
    return 0;
}

static void test_kernel__version_from_header(void **state)
{
    (void)state;
    unsigned char buf[0x1000];
    fake_image(buf, sizeof buf, "6.12.117");
    char *v;
    assert_int_equal(st_kernel_version_from_image(&v, buf, sizeof buf), 0);
    assert_string_equal(v, "6.12.117");
    free(v);

    /* No magic: not a bzImage. */
    buf[0x202] = 'X';
    assert_int_equal(st_kernel_version_from_image(&v, buf, sizeof buf),
                     ST_EKERNEL);
    assert_non_null(strstr(st_error_last(), "HdrS"));
    buf[0x202] = 'H';
    /* Too old a protocol. */
    buf[0x207] = 0x01;
    assert_int_equal(st_kernel_version_from_image(&v, buf, sizeof buf),
                     ST_EKERNEL);
    buf[0x207] = 0x02;
    /* Pointer out of the buffer; empty and non-text strings. */
    buf[0x20f] = 0x7f;
    assert_int_equal(st_kernel_version_from_image(&v, buf, sizeof buf),
                     ST_EKERNEL);
    buf[0x20f] = 0x01;
    buf[0x300] = '\0';
    assert_int_equal(st_kernel_version_from_image(&v, buf, sizeof buf),
                     ST_EKERNEL);
    buf[0x300] = 0x01;
    assert_int_equal(st_kernel_version_from_image(&v, buf, sizeof buf),
                     ST_EKERNEL);
    /* Truncated. */
    assert_int_equal(st_kernel_version_from_image(&v, buf, 0x100),
                     ST_EKERNEL);
}

static void test_kernel__image_file_errors(void **state)
{
    (void)state;
    char *v;
    assert_int_equal(st_kernel_image_version(&v, "/nonexistent/bz"),
                     ST_ENOENT);
    assert_int_equal(st_kernel_image_version(&v, "/bin/ls"), ST_EKERNEL);
    assert_non_null(strstr(st_error_last(), "/bin/ls"));
    assert_non_null(strstr(st_error_last(), "HdrS"));
}

static void test_kernel__resolve_file_with_config(void **state)
{
    (void)state;
    char *img = write_image("boot/vmlinuz-6.1.0-test", "6.1.0-test");
    write_text("boot/config-6.1.0-test", "# x\nCONFIG_SCHED_CLASS_EXT=y\n");
    st_kernel_info *k;
    assert_int_equal(st_kernel_resolve(&k, img), 0);
    assert_int_equal(k->source, ST_KERNEL_FILE);
    assert_string_equal(k->version, "6.1.0-test");
    assert_non_null(k->config);
    assert_non_null(strstr(k->config, "config-6.1.0-test"));
    assert_int_equal(k->sched_ext, 1);
    assert_null(k->cache_dir);
    assert_string_equal(st_kernel_source_name(k->source), "file");
    st_kernel_info_free(k);
    free(img);
}

static void test_kernel__resolve_tree(void **state)
{
    (void)state;
    char *img = write_image("linux/arch/x86/boot/bzImage", "6.13.0-rc1");
    write_text("linux/.config", "CONFIG_SCHED_CLASS_EXT=n\n");
    char *tree;
    assert_true(asprintf(&tree, "%s/linux", tmpdir) > 0);
    st_kernel_info *k;
    /* Without kernel.release it is not a tree. */
    assert_int_equal(st_kernel_resolve(&k, tree), ST_EKERNEL);
    assert_non_null(strstr(st_error_last(), "kernel.release"));
    assert_non_null(strstr(st_error_last(), "is a directory"));
    char *inc;
    assert_true(asprintf(&inc, "%s/include/config", tree) > 0);
    assert_int_equal(st_fs_mkdir_p(inc, 0755), 0);
    write_text("linux/include/config/kernel.release", "6.13.0-rc1\n");
    assert_int_equal(st_kernel_resolve(&k, tree), 0);
    assert_int_equal(k->source, ST_KERNEL_TREE);
    assert_string_equal(k->version, "6.13.0-rc1");
    assert_int_equal(k->sched_ext, 0);
    assert_non_null(strstr(k->path, "arch/x86/boot/bzImage"));
    st_kernel_info_free(k);
    free(inc);
    free(tree);
    free(img);
}

static void test_kernel__resolve_cache_and_errors(void **state)
{
    (void)state;
    st_kernel_info *k;
    /* Empty cache: the error names all three forms. */
    assert_int_equal(st_kernel_resolve(&k, "6.12"), ST_EKERNEL);
    const char *m = st_error_last();
    assert_non_null(strstr(m, "as a bzImage/vmlinuz file: no such file"));
    assert_non_null(strstr(m, "as a kernel source tree: not a directory"));
    assert_non_null(strstr(m, "cache"));
    assert_non_null(strstr(m, "empty"));

    free(write_image("cache/kernels/6.12.117-aaaaaaaaaaaa/bzImage",
                     "6.12.117"));
    write_text("cache/kernels/6.12.117-aaaaaaaaaaaa/kind", "built\n");
    write_text("cache/kernels/6.12.117-aaaaaaaaaaaa/config",
               "CONFIG_SCHED_CLASS_EXT=y\n");
    free(write_image("cache/kernels/6.12.117+deb12-amd64-bbbbbbbbbbbb/bzImage",
                     "6.12.117+deb12-amd64"));
    write_text("cache/kernels/6.12.117+deb12-amd64-bbbbbbbbbbbb/kind",
               "debian\n");
    /* A half-written entry (no bzImage) and a staging dir are ignored. */
    free(write_image("cache/kernels/.tmp-x/bzImage", "9.9"));
    write_text("cache/kernels/.tmp-x/kind", "built\n");
    char *half;
    assert_true(asprintf(&half, "%s/cache/kernels/broken", tmpdir) > 0);
    assert_int_equal(st_fs_mkdir_p(half, 0755), 0);
    free(half);

    st_kernel_info **list;
    size_t n;
    assert_int_equal(st_kernel_list(&list, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(list[0]->name, "6.12.117+deb12-amd64-bbbbbbbbbbbb");
    assert_string_equal(list[1]->name, "6.12.117-aaaaaaaaaaaa");
    st_kernel_list_free(list, n);

    /* Prefix shared by both: ambiguous, both named. */
    assert_int_equal(st_kernel_resolve(&k, "6.12.117"), ST_EKERNEL);
    assert_non_null(strstr(st_error_last(), "ambiguous"));
    assert_non_null(strstr(st_error_last(), "6.12.117-aaaaaaaaaaaa"));
    /* Unique prefix, kind, exact name. */
    assert_int_equal(st_kernel_resolve(&k, "6.12.117-a"), 0);
    assert_int_equal(k->source, ST_KERNEL_CACHE);
    assert_int_equal(k->sched_ext, 1);
    assert_string_equal(k->kind, "built");
    assert_non_null(strstr(k->cache_dir, "6.12.117-aaaaaaaaaaaa"));
    st_kernel_info_free(k);
    assert_int_equal(st_kernel_resolve(&k, "debian"), 0);
    assert_string_equal(k->version, "6.12.117+deb12-amd64");
    assert_int_equal(k->sched_ext, 0); /* no config: unknown = no */
    assert_null(k->config);
    st_kernel_info_free(k);
    /* No match lists the entries. */
    assert_int_equal(st_kernel_resolve(&k, "5.10"), ST_EKERNEL);
    assert_non_null(strstr(st_error_last(), "entries:"));
    assert_non_null(strstr(st_error_last(), "6.12.117-aaaaaaaaaaaa"));
}

/* A minimal x86-64 ELF with one PT_NOTE segment holding `type` under
 * name "Xen" (18 = XEN_ELFNOTE_PHYS32_ENTRY: boots through PVH). */
static char *write_elf(const char *rel, uint32_t note_type, int machine)
{
    unsigned char buf[512] = {0};
    Elf64_Ehdr *eh = (Elf64_Ehdr *)buf;
    memcpy(eh->e_ident, ELFMAG, SELFMAG);
    eh->e_ident[EI_CLASS] = ELFCLASS64;
    eh->e_ident[EI_DATA] = ELFDATA2LSB;
    eh->e_machine = (uint16_t)machine;
    eh->e_phoff = sizeof *eh;
    eh->e_phentsize = sizeof(Elf64_Phdr);
    eh->e_phnum = 1;
    Elf64_Phdr *ph = (Elf64_Phdr *)(buf + sizeof *eh);
    ph->p_type = PT_NOTE;
    ph->p_offset = 256;
    /* a foreign note first, then Xen's: the walk must step over it */
    unsigned char *n = buf + 256;
    Elf64_Nhdr gnu = {4, 4, 3}, xen = {4, 4, note_type};
    memcpy(n, &gnu, sizeof gnu);
    memcpy(n + 12, "GNU", 4);
    memcpy(n + 20, &xen, sizeof xen); /* 12-byte header, name, desc */
    memcpy(n + 32, "Xen", 4);
    ph->p_filesz = 40;
    char *path;
    assert_true(asprintf(&path, "%s/%s", tmpdir, rel) > 0);
    assert_int_equal(st_fs_write_atomic(path, buf, sizeof buf, 0644), 0);
    return path;
}

static void test_kernel__pvh_entry(void **state)
{
    (void)state;
    char *yes = write_elf("pvh.elf", 18, EM_X86_64);
    char *other = write_elf("other-note.elf", 17, EM_X86_64);
    char *arm = write_elf("arm.elf", 18, EM_AARCH64);
    char *bz = write_image("plain/bzImage", "6.1.0");
    assert_int_equal(st_kernel_pvh_entry(yes), 1);
    assert_int_equal(st_kernel_pvh_entry(other), 0);
    assert_int_equal(st_kernel_pvh_entry(arm), 0);
    assert_int_equal(st_kernel_pvh_entry(bz), 0);
    assert_int_equal(st_kernel_pvh_entry("/nonexistent/vmlinux"), ST_ENOENT);
    free(yes);
    free(other);
    free(arm);
    free(bz);
}

static void test_kernel__payload(void **state)
{
    (void)state;
    unsigned char buf[0x2000];
    fake_image(buf, sizeof buf, "6.12.1");
    buf[0x1f1] = 3;                    /* setup: (3 + 1) * 512 = 0x800 */
    buf[0x248] = 0x10;                 /* payload_offset 0x10 */
    buf[0x24c] = 0x00;                 /* payload_length 0x400 */
    buf[0x24d] = 0x04;
    memcpy(buf + 0x810, "\x28\xb5\x2f\xfd", 4);
    char *path;
    assert_true(asprintf(&path, "%s/payload-bz", tmpdir) > 0);
    assert_int_equal(st_fs_write_atomic(path, buf, sizeof buf, 0644), 0);
    st_kernel_payload pl;
    assert_int_equal(st_kernel_payload_of(&pl, path), 0);
    assert_int_equal(pl.offset, 0x810);
    assert_int_equal(pl.length, 0x400);
    assert_string_equal(pl.format, "zstd");
    /* gzip magic; then a payload running past the end of the file */
    memcpy(buf + 0x810, "\x1f\x8b\x08\x00", 4);
    assert_int_equal(st_fs_write_atomic(path, buf, sizeof buf, 0644), 0);
    assert_int_equal(st_kernel_payload_of(&pl, path), 0);
    assert_string_equal(pl.format, "gzip");
    buf[0x24d] = 0x40;
    assert_int_equal(st_fs_write_atomic(path, buf, sizeof buf, 0644), 0);
    assert_int_equal(st_kernel_payload_of(&pl, path), ST_EKERNEL);
    assert_non_null(strstr(st_error_last(), "outside the 8192-byte file"));
    /* boot protocol 2.07 has no payload fields */
    buf[0x24d] = 0x04;
    buf[0x206] = 0x07;
    assert_int_equal(st_fs_write_atomic(path, buf, sizeof buf, 0644), 0);
    assert_int_equal(st_kernel_payload_of(&pl, path), ST_EKERNEL);
    assert_non_null(strstr(st_error_last(), "need >= 2.08"));
    free(path);
}

/* boot_path: a cache entry's PVH vmlinux; a tree's only when it is not
 * newer than the bzImage (else it may be from another build). */
static void test_kernel__boot_path(void **state)
{
    (void)state;
    free(write_image("cache/kernels/7.0.1-cccccccccccc/bzImage", "7.0.1"));
    st_kernel_info *k;
    assert_int_equal(st_kernel_resolve(&k, "7.0.1-c"), 0);
    assert_string_equal(k->boot_path, k->path); /* no vmlinux yet */
    st_kernel_info_free(k);
    free(write_elf("cache/kernels/7.0.1-cccccccccccc/vmlinux", 18,
                   EM_X86_64));
    assert_int_equal(st_kernel_resolve(&k, "7.0.1-c"), 0);
    assert_non_null(strstr(k->boot_path, "7.0.1-cccccccccccc/vmlinux"));
    st_kernel_info_free(k);

    char *image = write_image("tree/arch/x86/boot/bzImage", "7.0.2");
    free(write_image("tree/include/config/unused", "7.0.2")); /* the dir */
    write_text("tree/include/config/kernel.release", "7.0.2\n");
    char *vmlinux = write_elf("tree/vmlinux", 18, EM_X86_64);
    char *tree;
    assert_true(asprintf(&tree, "%s/tree", tmpdir) > 0);
    struct timespec older[2] = {{1000, 0}, {1000, 0}};
    struct timespec newer[2] = {{2000, 0}, {2000, 0}};
    assert_int_equal(utimensat(AT_FDCWD, vmlinux, older, 0), 0);
    assert_int_equal(utimensat(AT_FDCWD, image, newer, 0), 0);
    assert_int_equal(st_kernel_resolve(&k, tree), 0);
    assert_non_null(strstr(k->boot_path, "tree/vmlinux"));
    st_kernel_info_free(k);
    /* relinked after the bzImage: not the same build, boot the bzImage */
    assert_int_equal(utimensat(AT_FDCWD, vmlinux, newer, 0), 0);
    assert_int_equal(utimensat(AT_FDCWD, image, older, 0), 0);
    assert_int_equal(st_kernel_resolve(&k, tree), 0);
    assert_string_equal(k->boot_path, k->path);
    st_kernel_info_free(k);
    free(tree);
    free(image);
    free(vmlinux);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kernel__version_from_header),
        cmocka_unit_test(test_kernel__image_file_errors),
        cmocka_unit_test(test_kernel__resolve_file_with_config),
        cmocka_unit_test(test_kernel__resolve_tree),
        cmocka_unit_test(test_kernel__resolve_cache_and_errors),
        cmocka_unit_test(test_kernel__pvh_entry),
        cmocka_unit_test(test_kernel__payload),
        cmocka_unit_test(test_kernel__boot_path),
    };
    return cmocka_run_group_tests_name("kernel", tests, setup, teardown);
}
