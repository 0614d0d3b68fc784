/*
 * test_initramfs.c: the cpio newc writer (checked by extracting with GNU
 * cpio) and the ELF dependency walk (on real host binaries).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "schedtest/error.h"
#include "schedtest/fs.h"
#include "schedtest/initramfs.h"

static char *tmpdir;

static int setup(void **state)
{
    (void)state;
    return st_fs_mkdtemp(&tmpdir, "test-initramfs-") < 0 ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    st_fs_remove_tree(tmpdir);
    free(tmpdir);
    return 0;
}

static int sh(const char *fmt, const char *a, const char *b)
{
    char cmd[4096];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    snprintf(cmd, sizeof cmd, fmt, a, b);
#pragma GCC diagnostic pop
    return system(cmd);
}

static char *path_in(const char *name)
{
    char *p;
    assert_true(asprintf(&p, "%s/%s", tmpdir, name) > 0);
    return p;
}

/* Write an image, extract it with `cpio -idm`, compare. */
static void check_roundtrip(int flags)
{
    st_initramfs *ir;
    assert_int_equal(st_initramfs_new(&ir), 0);
    char *src = path_in("src.txt");
    const char text[] = "hello from the host\n";
    assert_int_equal(st_fs_write_atomic(src, text, sizeof text - 1, 0600), 0);
    assert_int_equal(st_initramfs_add_file(ir, "/bin/tool", src, 0755), 0);
    assert_int_equal(st_initramfs_add_bytes(ir, "/etc/spec.json", "{}", 2,
                                            0640), 0);
    assert_int_equal(st_initramfs_add_bytes(ir, "/empty", "", 0, 0600), 0);
    assert_int_equal(st_initramfs_add_dir(ir, "/proc", 0555), 0);
    assert_int_equal(st_initramfs_add_symlink(ir, "/sbin/init", "/bin/tool"),
                     0);
    /* bin, etc, sbin implied; the rest added. */
    assert_int_equal(st_initramfs_count(ir), 8);
    assert_int_equal(st_initramfs_content_bytes(ir), sizeof text - 1 + 2);

    char *img = path_in(flags ? "img.cpio.gz" : "img.cpio");
    assert_int_equal(st_initramfs_write(ir, img, flags), 0);
    st_initramfs_free(ir);

    char *out = path_in(flags ? "outgz" : "out");
    assert_int_equal(st_fs_mkdir_p(out, 0755), 0);
    assert_int_equal(sh(flags ? "cd %s && gzip -dc %s | cpio -idm --quiet"
                              : "cd %s && cpio -idm --quiet < %s",
                        out, img), 0);

    char *p = path_in(flags ? "outgz/bin/tool" : "out/bin/tool");
    char *data;
    size_t len;
    assert_int_equal(st_fs_read_file(&data, &len, p), 0);
    assert_string_equal(data, text);
    free(data);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0755);
    free(p);

    p = path_in(flags ? "outgz/etc/spec.json" : "out/etc/spec.json");
    assert_int_equal(st_fs_read_file(&data, &len, p), 0);
    assert_string_equal(data, "{}");
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    free(data);
    free(p);

    p = path_in(flags ? "outgz/empty" : "out/empty");
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, 0);
    free(p);

    p = path_in(flags ? "outgz/proc" : "out/proc");
    assert_int_equal(stat(p, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0555);
    free(p);

    p = path_in(flags ? "outgz/sbin/init" : "out/sbin/init");
    char target[256];
    ssize_t n = readlink(p, target, sizeof target - 1);
    assert_true(n > 0);
    target[n] = '\0';
    assert_string_equal(target, "/bin/tool");
    free(p);

    free(out);
    free(img);
    free(src);
}

static void test_initramfs__cpio_roundtrip_plain(void **state)
{
    (void)state;
    check_roundtrip(0);
}

static void test_initramfs__cpio_roundtrip_gzip(void **state)
{
    (void)state;
    check_roundtrip(ST_INITRAMFS_GZIP);
}

/* The archive must be byte-identical for the same description. */
static void test_initramfs__reproducible(void **state)
{
    (void)state;
    char *a = path_in("a.cpio"), *b = path_in("b.cpio");
    for (int k = 0; k < 2; k++) {
        st_initramfs *ir;
        assert_int_equal(st_initramfs_new(&ir), 0);
        assert_int_equal(st_initramfs_add_bytes(ir, "/x/y", "abc", 3, 0644),
                         0);
        assert_int_equal(st_initramfs_add_chardev(ir, "/dev/console", 0600, 5,
                                                  1), 0);
        assert_int_equal(st_initramfs_write(ir, k ? b : a, 0), 0);
        st_initramfs_free(ir);
    }
    assert_int_equal(sh("cmp -s %s %s", a, b), 0);
    /* newc header of the first entry ("x", an implicit directory). */
    char *data;
    size_t len;
    assert_int_equal(st_fs_read_file(&data, &len, a), 0);
    assert_memory_equal(data, "070701", 6);
    assert_int_equal(len % 4, 0);
    assert_non_null(memmem(data, len, "TRAILER!!!", 10));
    free(data);
    free(a);
    free(b);
}

static void test_initramfs__path_rules(void **state)
{
    (void)state;
    st_initramfs *ir;
    assert_int_equal(st_initramfs_new(&ir), 0);
    assert_int_equal(st_initramfs_add_bytes(ir, "relative", "", 0, 0644),
                     ST_EINVAL);
    assert_int_equal(st_initramfs_add_bytes(ir, "/a/../b", "", 0, 0644),
                     ST_EINVAL);
    assert_int_equal(st_initramfs_add_bytes(ir, "/", "", 0, 0644), ST_EINVAL);
    assert_int_equal(st_initramfs_add_bytes(ir, "//a//b/", "", 0, 0644), 0);
    /* Same path again, different content: refused; as a dir parent: no. */
    assert_int_equal(st_initramfs_add_bytes(ir, "/a/b", "x", 1, 0644),
                     ST_EINVAL);
    assert_non_null(strstr(st_error_last(), "/a/b"));
    assert_int_equal(st_initramfs_add_bytes(ir, "/a/b/c", "", 0, 0644),
                     ST_EINVAL);
    assert_int_equal(st_initramfs_add_file(ir, "/f", "/nonexistent/x", 0),
                     ST_ENOENT);
    assert_non_null(strstr(st_error_last(), "/nonexistent/x"));
    /* The same host file twice at one path is fine (shared libraries). */
    assert_int_equal(st_initramfs_add_file(ir, "/l", "/etc/hostname", 0), 0);
    assert_int_equal(st_initramfs_add_file(ir, "/l", "/etc/hostname", 0), 0);
    st_initramfs_free(ir);
}

static int has_suffix_in(char **deps, const char *suffix)
{
    for (char **p = deps; *p; p++) {
        size_t a = strlen(*p), b = strlen(suffix);
        if (a >= b && strcmp(*p + a - b, suffix) == 0)
            return 1;
    }
    return 0;
}

static void test_initramfs__elf_deps_of_ls(void **state)
{
    (void)state;
    char **deps;
    size_t n;
    assert_int_equal(st_initramfs_elf_deps(&deps, &n, "/bin/ls"), 0);
    assert_true(n >= 3);
    /* The interpreter first, then at least libc and libselinux. */
    assert_string_equal(deps[0], "/lib64/ld-linux-x86-64.so.2");
    assert_true(has_suffix_in(deps, "/libc.so.6"));
    assert_true(has_suffix_in(deps, "/libselinux.so.1"));
    /* libselinux needs libpcre2-8: found transitively. */
    assert_true(has_suffix_in(deps, "/libpcre2-8.so.0"));
    for (char **p = deps; *p; p++)
        assert_int_equal(access(*p, R_OK), 0);
    st_initramfs_deps_free(deps);
}

static void test_initramfs__elf_refusals(void **state)
{
    (void)state;
    char **deps;
    size_t n;
    assert_int_equal(st_initramfs_elf_deps(&deps, &n, "/etc/hostname"),
                     ST_EELF);
    assert_non_null(strstr(st_error_last(), "not an ELF file"));
    assert_int_equal(st_initramfs_elf_deps(&deps, &n, "/nonexistent"),
                     ST_ENOENT);

    /* A copy of /bin/ls with a needed library renamed to one that does
     * not exist: refused, naming the library and where it looked. */
    char *bad = path_in("badls");
    assert_int_equal(sh("cp /bin/ls %s && sed -i 's/libselinux.so.1/"
                        "libzzzzzzz.so.1/' %s", bad, bad), 0);
    assert_int_equal(st_initramfs_elf_deps(&deps, &n, bad), ST_EELF);
    assert_non_null(strstr(st_error_last(), "libzzzzzzz.so.1"));
    assert_non_null(strstr(st_error_last(), "ld.so.cache"));
    st_initramfs *ir;
    assert_int_equal(st_initramfs_new(&ir), 0);
    assert_int_equal(st_initramfs_add_binary_with_libs(ir, "/bin/x", bad, 0),
                     ST_EELF);
    assert_int_equal(st_initramfs_count(ir), 0);
    st_initramfs_free(ir);
    free(bad);
}

/* The packed binary runs from the extracted image with nothing else. */
static void test_initramfs__binary_with_libs_runs_chrooted(void **state)
{
    (void)state;
    st_initramfs *ir;
    assert_int_equal(st_initramfs_new(&ir), 0);
    assert_int_equal(st_initramfs_add_binary_with_libs(ir, "/bin/ls",
                                                       "/bin/ls", 0755), 0);
    assert_true(st_initramfs_count(ir) >= 5);
    char *img = path_in("ls.cpio"), *out = path_in("lsroot");
    assert_int_equal(st_initramfs_write(ir, img, 0), 0);
    st_initramfs_free(ir);
    assert_int_equal(st_fs_mkdir_p(out, 0755), 0);
    assert_int_equal(sh("cd %s && cpio -idm --quiet < %s", out, img), 0);
    if (getuid() == 0) {
        assert_int_equal(sh("chroot %s /bin/ls / >/dev/null%s", out, ""), 0);
    } else {
        /* Without chroot: run through the packed loader and libraries. */
        char cmd[4096];
        snprintf(cmd, sizeof cmd,
                 "%s/lib64/ld-linux-x86-64.so.2 --inhibit-cache "
                 "--library-path %s/lib/x86_64-linux-gnu:%s/usr/lib/"
                 "x86_64-linux-gnu %s/bin/ls / >/dev/null",
                 out, out, out, out);
        assert_int_equal(system(cmd), 0);
    }
    free(img);
    free(out);
}

/* RUNPATH with $ORIGIN: the library lands relative to the image path. */
static void test_initramfs__origin_runpath(void **state)
{
    (void)state;
    char *d = path_in("origin");
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "set -e; mkdir -p %s/lib %s/bin; cd %s; "
             "printf 'int st_answer(void){return 42;}\\n' > lib/st.c; "
             "printf 'int st_answer(void);\\nint main(void)"
             "{return st_answer()==42?0:1;}\\n' > bin/app.c; "
             "cc -shared -fPIC -o lib/libst.so lib/st.c; "
             "cc -o bin/app bin/app.c -Llib -lst "
             "-Wl,--enable-new-dtags,-rpath,'$ORIGIN/../lib'",
             d, d, d);
    assert_int_equal(system(cmd), 0);
    char *app = path_in("origin/bin/app");
    char **deps;
    size_t n;
    assert_int_equal(st_initramfs_elf_deps(&deps, &n, app), 0);
    assert_true(has_suffix_in(deps, "/origin/bin/../lib/libst.so"));
    st_initramfs_deps_free(deps);

    st_initramfs *ir;
    assert_int_equal(st_initramfs_new(&ir), 0);
    assert_int_equal(st_initramfs_add_binary_with_libs(ir, "/opt/t/bin/app",
                                                       app, 0755), 0);
    char *img = path_in("origin.cpio"), *out = path_in("originroot");
    assert_int_equal(st_initramfs_write(ir, img, 0), 0);
    st_initramfs_free(ir);
    assert_int_equal(st_fs_mkdir_p(out, 0755), 0);
    assert_int_equal(sh("cd %s && cpio -idm --quiet < %s", out, img), 0);
    /* In the image: /opt/t/bin/../lib/libst.so, i.e. /opt/t/lib/libst.so. */
    char *lib = path_in("originroot/opt/t/lib/libst.so");
    assert_int_equal(access(lib, R_OK), 0);
    /* ld.so finds $ORIGIN of the executable through /proc/self/exe, which
     * a bare chroot lacks (the guest agent mounts /proc first); naming the
     * program to ld.so gives it the path instead. */
    if (getuid() == 0)
        assert_int_equal(sh("chroot %s /lib64/ld-linux-x86-64.so.2 "
                            "/opt/t/bin/app%s", out, ""), 0);
    free(lib);
    free(img);
    free(out);
    free(app);
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_initramfs__cpio_roundtrip_plain),
        cmocka_unit_test(test_initramfs__cpio_roundtrip_gzip),
        cmocka_unit_test(test_initramfs__reproducible),
        cmocka_unit_test(test_initramfs__path_rules),
        cmocka_unit_test(test_initramfs__elf_deps_of_ls),
        cmocka_unit_test(test_initramfs__elf_refusals),
        cmocka_unit_test(test_initramfs__binary_with_libs_runs_chrooted),
        cmocka_unit_test(test_initramfs__origin_runpath),
    };
    return cmocka_run_group_tests_name("initramfs", tests, setup, teardown);
}
