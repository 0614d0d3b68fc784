/*
 * kernel.c: which kernel a `--kernel` argument means, and what it is.
 *
 * The version comes from the image's x86 boot protocol setup header
 * (Documentation/arch/x86/boot.rst): "HdrS" at 0x202, the protocol
 * version at 0x206, and at 0x20e a pointer (minus 0x200) to the
 * NUL-terminated kernel version string "6.12.117 (user@host) #1 ...".
 */
#include "schedtest/kernel.h"
#include "schedtest/error.h"
#include "schedtest/fs.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SETUP_READ (64 * 1024)

const char *st_kernel_source_name(st_kernel_source s)
{
    switch (s) {
    case ST_KERNEL_FILE: return "file";
    case ST_KERNEL_TREE: return "tree";
    case ST_KERNEL_CACHE: return "cache";
    }
    return "unknown";
}

static uint16_t le16(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

int st_kernel_version_from_image(char **out, const void *data, size_t len)
{
    *out = NULL;
    const unsigned char *b = data;
    if (len < 0x210 || memcmp(b + 0x202, "HdrS", 4) != 0)
        return st_error_set(ST_EKERNEL, "no \"HdrS\" setup header at 0x202 "
                            "(not an x86 bzImage; a vmlinux ELF or a "
                            "compressed file will not boot with -kernel)");
    uint16_t proto = le16(b + 0x206);
    if (proto < 0x0200)
        return st_error_set(ST_EKERNEL, "boot protocol %u.%02u is too old "
                            "(need >= 2.00)", proto >> 8, proto & 0xff);
    size_t off = 0x200 + (size_t)le16(b + 0x20e);
    if (le16(b + 0x20e) == 0 || off >= len)
        return st_error_set(ST_EKERNEL, "setup header has no kernel version "
                            "string (kernel_version = 0x%x)", le16(b + 0x20e));
    size_t end = off;
    while (end < len && end - off < 256 && b[end] && b[end] != ' ')
        end++;
    if (end == off || end - off >= 256)
        return st_error_set(ST_EKERNEL, "kernel version string at 0x%zx is "
                            "empty or unterminated", off);
    for (size_t i = off; i < end; i++)
        if (b[i] < 0x21 || b[i] > 0x7e)
            return st_error_set(ST_EKERNEL, "kernel version string at 0x%zx "
                                "is not printable text", off);
    char *v = strndup((const char *)b + off, end - off);
    if (!v)
        return st_error_set(ST_ENOMEM, "out of memory");
    *out = v;
    return 0;
}

int st_kernel_image_version(char **out, const char *path)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return st_error_set_errno(st_error_from_errno(errno), errno,
                                  "cannot open %s", path);
    unsigned char *buf = malloc(SETUP_READ);
    if (!buf) {
        close(fd);
        return st_error_set(ST_ENOMEM, "out of memory");
    }
    size_t len = 0;
    while (len < SETUP_READ) {
        ssize_t k = read(fd, buf + len, SETUP_READ - len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        len += (size_t)k;
    }
    close(fd);
    int rc = st_kernel_version_from_image(out, buf, len);
    free(buf);
    if (rc < 0) {
        char why[512]; /* st_error_last() is the buffer st_error_set fills */
        snprintf(why, sizeof why, "%s", st_error_last());
        rc = st_error_set(rc, "%s: %s", path, why);
    }
    return rc;
}

int st_kernel_config_sched_ext(const char *config_path)
{
    FILE *f = fopen(config_path, "r");
    if (!f)
        return st_error_set_errno(st_error_from_errno(errno), errno,
                                  "cannot read kernel config %s", config_path);
    char line[512];
    int yes = 0;
    while (fgets(line, sizeof line, f))
        if (strcmp(line, "CONFIG_SCHED_CLASS_EXT=y\n") == 0) {
            yes = 1;
            break;
        }
    fclose(f);
    return yes;
}

int st_kernel_cache_root(char **out)
{
    const char *env = getenv("SCHEDTEST_CACHE_DIR");
    int n;
    if (env && *env)
        n = asprintf(out, "%s", env);
    else if ((env = getenv("XDG_CACHE_HOME")) && *env == '/')
        n = asprintf(out, "%s/schedtest", env);
    else if ((env = getenv("HOME")) && *env)
        n = asprintf(out, "%s/.cache/schedtest", env);
    else
        return st_error_set(ST_ENOENT, "no cache directory: set "
                            "SCHEDTEST_CACHE_DIR or HOME");
    if (n < 0) {
        *out = NULL;
        return st_error_set(ST_ENOMEM, "out of memory");
    }
    return 0;
}

int st_kernel_cache_dir(char **out)
{
    char *root;
    int rc = st_kernel_cache_root(&root);
    if (rc < 0)
        return rc;
    rc = asprintf(out, "%s/kernels", root);
    free(root);
    if (rc < 0) {
        *out = NULL;
        return st_error_set(ST_ENOMEM, "out of memory");
    }
    return 0;
}

void st_kernel_info_free(st_kernel_info *info)
{
    if (!info)
        return;
    free(info->path);
    free(info->boot_path);
    free(info->version);
    free(info->config);
    free(info->cache_dir);
    free(info->name);
    free(info->kind);
    free(info);
}

void st_kernel_list_free(st_kernel_info **list, size_t count)
{
    if (!list)
        return;
    for (size_t i = 0; i < count; i++)
        st_kernel_info_free(list[i]);
    free(list);
}

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

int st_kernel_payload_of(st_kernel_payload *out, const char *bzimage)
{
    static const struct {
        const char *name;
        unsigned char magic[6];
        size_t n;
    } formats[] = {
        {"gzip", {0x1f, 0x8b}, 2},
        {"zstd", {0x28, 0xb5, 0x2f, 0xfd}, 4},
        {"xz", {0xfd, '7', 'z', 'X', 'Z', 0x00}, 6},
        {"lzma", {0x5d, 0x00, 0x00}, 3},
        {"bzip2", {'B', 'Z', 'h'}, 3},
        {"lz4", {0x02, 0x21, 0x4c, 0x18}, 4},
    };
    memset(out, 0, sizeof *out);
    int fd = open(bzimage, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return st_error_set_errno(st_error_from_errno(errno), errno,
                                  "cannot open %s", bzimage);
    unsigned char h[0x250];
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) < 0 || pread(fd, h, sizeof h, 0) != (ssize_t)sizeof h ||
        memcmp(h + 0x202, "HdrS", 4) != 0) {
        rc = st_error_set(ST_EKERNEL, "%s: not an x86 bzImage (no HdrS "
                          "setup header)", bzimage);
        goto out;
    }
    if (le16(h + 0x206) < 0x0208) {
        rc = st_error_set(ST_EKERNEL, "%s: boot protocol %u.%02u has no "
                          "payload fields (need >= 2.08)", bzimage,
                          le16(h + 0x206) >> 8, le16(h + 0x206) & 0xff);
        goto out;
    }
    unsigned setup_sects = h[0x1f1] ? h[0x1f1] : 4;
    out->offset = (uint64_t)(setup_sects + 1) * 512 + le32(h + 0x248);
    out->length = le32(h + 0x24c);
    if (out->length == 0 ||
        out->offset + out->length > (uint64_t)st.st_size) {
        rc = st_error_set(ST_EKERNEL, "%s: payload [%llu, +%llu) lies "
                          "outside the %lld-byte file", bzimage,
                          (unsigned long long)out->offset,
                          (unsigned long long)out->length,
                          (long long)st.st_size);
        goto out;
    }
    unsigned char m[6] = {0};
    if (pread(fd, m, sizeof m, (off_t)out->offset) != (ssize_t)sizeof m) {
        rc = st_error_set(ST_EKERNEL, "%s: cannot read the payload", bzimage);
        goto out;
    }
    out->format = "unknown";
    for (size_t i = 0; i < sizeof formats / sizeof *formats; i++)
        if (memcmp(m, formats[i].magic, formats[i].n) == 0) {
            out->format = formats[i].name;
            break;
        }
out:
    close(fd);
    return rc;
}

/* Xen's PHYS32_ENTRY note type (xen/include/public/elfnote.h). */
#define XEN_ELFNOTE_PHYS32_ENTRY 18

int st_kernel_pvh_entry(const char *elf_path)
{
    int fd = open(elf_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return st_error_set_errno(st_error_from_errno(errno), errno,
                                  "kernel: %s", elf_path);
    Elf64_Ehdr eh;
    int found = 0;
    if (pread(fd, &eh, sizeof eh, 0) != (ssize_t)sizeof eh ||
        memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
        eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_X86_64 ||
        eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum > 64)
        goto out;
    for (int i = 0; i < eh.e_phnum && !found; i++) {
        Elf64_Phdr ph;
        if (pread(fd, &ph, sizeof ph,
                  (off_t)(eh.e_phoff + (uint64_t)i * sizeof ph)) !=
                (ssize_t)sizeof ph)
            goto out;
        if (ph.p_type != PT_NOTE || ph.p_filesz > 65536)
            continue;
        unsigned char notes[65536];
        if (pread(fd, notes, ph.p_filesz, (off_t)ph.p_offset) !=
            (ssize_t)ph.p_filesz)
            goto out;
        /* notes: namesz, descsz, type, name and desc padded to 4 bytes */
        size_t at = 0;
        while (at + sizeof(Elf64_Nhdr) <= ph.p_filesz) {
            Elf64_Nhdr nh;
            memcpy(&nh, notes + at, sizeof nh);
            size_t name_at = at + sizeof nh;
            size_t desc_at = name_at + ((nh.n_namesz + 3u) & ~3u);
            size_t next = desc_at + ((nh.n_descsz + 3u) & ~3u);
            if (next > ph.p_filesz || next <= at)
                break;
            if (nh.n_type == XEN_ELFNOTE_PHYS32_ENTRY && nh.n_namesz == 4 &&
                memcmp(notes + name_at, "Xen", 4) == 0) {
                found = 1;
                break;
            }
            at = next;
        }
    }
out:
    close(fd);
    return found;
}

static double mtime_of(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return -1;
    return (double)st.st_mtim.tv_sec + st.st_mtim.tv_nsec / 1e9;
}

/* boot_path: `vmlinux` when it boots through PVH (and, with `same_build`,
 * is no newer than the bzImage, i.e. was linked by the same make), else
 * the bzImage itself. */
static int set_boot_path(st_kernel_info *k, const char *vmlinux,
                         int same_build)
{
    if (vmlinux && is_file(vmlinux) &&
        (!same_build || mtime_of(vmlinux) <= mtime_of(k->path))) {
        int pvh = st_kernel_pvh_entry(vmlinux);
        if (pvh < 0)
            st_error_clear(); /* unreadable: boot the bzImage */
        if (pvh > 0)
            return st_fs_realpath(&k->boot_path, vmlinux);
    }
    k->boot_path = strdup(k->path);
    return k->boot_path ? 0 : st_error_set(ST_ENOMEM, "out of memory");
}

/*
 * A resolved kernel for the image at `image` (already known to exist):
 * absolute path, header version, boot_path (`vmlinux` when usable, see
 * set_boot_path), and `config` when that file exists.
 */
static int make_info(st_kernel_info **out, const char *image,
                     st_kernel_source src, const char *config,
                     const char *vmlinux)
{
    *out = NULL;
    st_kernel_info *k = calloc(1, sizeof *k);
    if (!k)
        return st_error_set(ST_ENOMEM, "out of memory");
    k->source = src;
    int rc = st_fs_realpath(&k->path, image);
    if (rc >= 0)
        rc = st_kernel_image_version(&k->version, k->path);
    if (rc >= 0)
        rc = set_boot_path(k, vmlinux, src == ST_KERNEL_TREE);
    if (rc >= 0 && config && is_file(config)) {
        rc = st_fs_realpath(&k->config, config);
        if (rc >= 0) {
            int se = st_kernel_config_sched_ext(k->config);
            k->sched_ext = se > 0;
        }
    }
    if (rc < 0) {
        st_kernel_info_free(k);
        return rc;
    }
    *out = k;
    return 0;
}

static char *dup_trimmed_file(const char *path)
{
    char *data;
    size_t len;
    if (st_fs_read_file(&data, &len, path) < 0) {
        st_error_clear();
        return NULL;
    }
    while (len && (data[len - 1] == '\n' || data[len - 1] == ' '))
        data[--len] = '\0';
    return data;
}

/* The cache entry in directory `dir` named `name`. */
static int load_entry(st_kernel_info **out, const char *dir, const char *name)
{
    char image[PATH_MAX], config[PATH_MAX], kind[PATH_MAX];
    char vmlinux[PATH_MAX];
    snprintf(image, sizeof image, "%s/%s/bzImage", dir, name);
    snprintf(vmlinux, sizeof vmlinux, "%s/%s/vmlinux", dir, name);
    snprintf(config, sizeof config, "%s/%s/config", dir, name);
    snprintf(kind, sizeof kind, "%s/%s/kind", dir, name);
    if (!is_file(image))
        return st_error_set(ST_ENOENT, "cache entry %s/%s has no bzImage",
                            dir, name);
    int rc = make_info(out, image, ST_KERNEL_CACHE, config, vmlinux);
    if (rc < 0)
        return rc;
    st_kernel_info *k = *out;
    char entry[PATH_MAX];
    snprintf(entry, sizeof entry, "%s/%s", dir, name);
    k->name = strdup(name);
    k->kind = dup_trimmed_file(kind);
    if (!k->name || st_fs_realpath(&k->cache_dir, entry) < 0) {
        st_kernel_info_free(k);
        *out = NULL;
        return st_error_set(ST_ENOMEM, "out of memory");
    }
    return 0;
}

int st_kernel_list(st_kernel_info ***out, size_t *count)
{
    *out = NULL;
    *count = 0;
    char *dir;
    int rc = st_kernel_cache_dir(&dir);
    if (rc < 0)
        return rc;
    char **names;
    size_t n;
    if (st_fs_list(&names, &n, dir) < 0) {
        /* No cache yet is an empty list, not an error. */
        st_error_clear();
        free(dir);
        *out = calloc(1, sizeof **out);
        return *out ? 0 : st_error_set(ST_ENOMEM, "out of memory");
    }
    st_kernel_info **list = calloc(n + 1, sizeof *list);
    size_t k = 0;
    for (size_t i = 0; list && i < n; i++) {
        if (names[i][0] == '.')
            continue; /* .build, .tmp-*: work in progress */
        if (load_entry(&list[k], dir, names[i]) == 0)
            k++;
        else
            st_error_clear(); /* half-written entries are not listed */
    }
    st_fs_list_free(names);
    free(dir);
    if (!list)
        return st_error_set(ST_ENOMEM, "out of memory");
    *out = list;
    *count = k;
    return 0;
}

/* Form 1: a file.  Fills `why` when this form does not apply. */
static int try_file(st_kernel_info **out, const char *spec, char *why,
                    size_t cap)
{
    struct stat st;
    if (stat(spec, &st) < 0) {
        snprintf(why, cap, "no such file");
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        snprintf(why, cap, "is a directory");
        return -1;
    }
    /* Debian's /boot layout keeps config-<version> beside vmlinuz-<version>;
     * our cache keeps "config" beside "bzImage". */
    char *version;
    if (st_kernel_image_version(&version, spec) < 0) {
        snprintf(why, cap, "%s", st_error_last());
        return -1;
    }
    char dir[PATH_MAX - 64], config[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", spec);
    char *slash = strrchr(dir, '/');
    if (slash)
        slash[1] = '\0';
    else
        snprintf(dir, sizeof dir, "./");
    if (snprintf(config, sizeof config, "%sconfig-%s", dir, version) >=
            (int)sizeof config || !is_file(config))
        snprintf(config, sizeof config, "%sconfig", dir);
    free(version);
    if (make_info(out, spec, ST_KERNEL_FILE, config, NULL) < 0) {
        snprintf(why, cap, "%s", st_error_last());
        return -1;
    }
    return 0;
}

/* Form 2: a built kernel source tree. */
static int try_tree(st_kernel_info **out, const char *spec, char *why,
                    size_t cap)
{
    struct stat st;
    if (stat(spec, &st) < 0 || !S_ISDIR(st.st_mode)) {
        snprintf(why, cap, "not a directory");
        return -1;
    }
    char image[PATH_MAX], release[PATH_MAX], config[PATH_MAX];
    char vmlinux[PATH_MAX];
    snprintf(image, sizeof image, "%s/arch/x86/boot/bzImage", spec);
    snprintf(vmlinux, sizeof vmlinux, "%s/vmlinux", spec);
    snprintf(release, sizeof release, "%s/include/config/kernel.release",
             spec);
    snprintf(config, sizeof config, "%s/.config", spec);
    if (!is_file(release)) {
        snprintf(why, cap, "no include/config/kernel.release (not a "
                 "configured kernel tree)");
        return -1;
    }
    if (!is_file(image)) {
        snprintf(why, cap, "no arch/x86/boot/bzImage (run `make bzImage` "
                 "there first)");
        return -1;
    }
    if (make_info(out, image, ST_KERNEL_TREE, config, vmlinux) < 0) {
        snprintf(why, cap, "%s", st_error_last());
        return -1;
    }
    return 0;
}

/* Form 3: a cache entry by name, kind or name prefix. */
static int try_cache(st_kernel_info **out, const char *spec, char *why,
                     size_t cap)
{
    st_kernel_info **list;
    size_t n;
    char *dir = NULL;
    if (st_kernel_cache_dir(&dir) < 0 || st_kernel_list(&list, &n) < 0) {
        snprintf(why, cap, "%s", st_error_last());
        free(dir);
        return -1;
    }
    long exact = -1, hits = 0, hit = -1;
    size_t slen = strlen(spec);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(list[i]->name, spec) == 0)
            exact = (long)i;
        else if ((list[i]->kind && strcmp(list[i]->kind, spec) == 0) ||
                 strncmp(list[i]->name, spec, slen) == 0) {
            hits++;
            hit = (long)i;
        }
    }
    int rc = -1;
    if (exact < 0 && hits == 1)
        exact = hit;
    if (exact >= 0) {
        *out = list[exact];
        list[exact] = NULL;
        rc = 0;
    } else if (n == 0) {
        snprintf(why, cap, "the kernel cache %s is empty (run `schedtest "
                 "kernel build` or `schedtest kernel fetch debian`)", dir);
    } else {
        size_t o = (size_t)snprintf(why, cap, hits ? "ambiguous in %s, "
                                    "matches:" : "no entry of %s matches "
                                    "(entries:", dir);
        for (size_t i = 0; i < n && o < cap; i++) {
            int show = !hits || strncmp(list[i]->name, spec, slen) == 0 ||
                       (list[i]->kind && strcmp(list[i]->kind, spec) == 0);
            if (show)
                o += (size_t)snprintf(why + o, cap - o, " %s", list[i]->name);
        }
        if (!hits && o < cap)
            snprintf(why + o, cap - o, ")");
    }
    st_kernel_list_free(list, n);
    free(dir);
    return rc;
}

int st_kernel_resolve(st_kernel_info **out, const char *spec)
{
    *out = NULL;
    if (!spec || !*spec)
        return st_error_set(ST_EINVAL, "empty kernel name");
    char w1[1024], w2[1024], w3[2048];
    if (try_file(out, spec, w1, sizeof w1) == 0 ||
        try_tree(out, spec, w2, sizeof w2) == 0 ||
        try_cache(out, spec, w3, sizeof w3) == 0) {
        st_error_clear();
        return 0;
    }
    return st_error_set(ST_EKERNEL,
                        "kernel '%s' not found: as a bzImage/vmlinuz file: "
                        "%s; as a kernel source tree: %s; as a kernel cache "
                        "name/version prefix: %s",
                        spec, w1, w2, w3);
}
