/*
 * initramfs.c: guest images as cpio "newc" archives, plus the ELF
 * dependency walk that packs a dynamically linked scheduler.
 *
 * The format (Documentation/driver-api/early-userspace/buffer-format.rst):
 * each entry is a 110-byte ASCII header "070701" + 13 eight-digit hex
 * fields, the NUL-terminated name padded to 4 bytes, then the data padded
 * to 4 bytes; "TRAILER!!!" ends the archive.  We write it ourselves: it is
 * 40 lines, and it lets file data go straight from the page cache to the
 * output with copy_file_range (no user-space copy) when not compressing.
 */
#include "schedtest/initramfs.h"
#include "schedtest/error.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

typedef struct {
    char *name;       /* path in the image, without the leading '/' */
    mode_t mode;      /* type and permission bits */
    char *host_path;  /* regular file from the host, or NULL */
    unsigned char *data; /* regular file from memory, or NULL */
    char *target;     /* symbolic link target */
    uint64_t size;    /* file size (host files: at add time) */
    unsigned rmajor, rminor;
    int implicit;     /* a parent directory nobody asked for */
} entry;

struct st_initramfs {
    entry *e;
    size_t n, cap;
    unsigned long long bytes;
};

/* ---- description --------------------------------------------------- */

int st_initramfs_new(st_initramfs **out)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return st_error_set(ST_ENOMEM, "out of memory creating an initramfs");
    return 0;
}

static void entry_clear(entry *e)
{
    free(e->name);
    free(e->host_path);
    free(e->data);
    free(e->target);
}

void st_initramfs_free(st_initramfs *ir)
{
    if (!ir)
        return;
    for (size_t i = 0; i < ir->n; i++)
        entry_clear(&ir->e[i]);
    free(ir->e);
    free(ir);
}

size_t st_initramfs_count(const st_initramfs *ir) { return ir->n; }

unsigned long long st_initramfs_content_bytes(const st_initramfs *ir)
{
    return ir->bytes;
}

/*
 * "/a//b/./c/" -> "a/b/c".  Rejects relative paths and "..", which could
 * only mean a caller bug (the kernel would happily unpack "../x").
 */
static int normalize(char **out, const char *path)
{
    *out = NULL;
    if (!path || path[0] != '/')
        return st_error_set(ST_EINVAL,
                            "initramfs path '%s' must be absolute",
                            path ? path : "(null)");
    size_t len = strlen(path);
    char *s = malloc(len + 1);
    if (!s)
        return st_error_set(ST_ENOMEM, "out of memory");
    size_t o = 0;
    const char *p = path;
    while (*p) {
        while (*p == '/')
            p++;
        const char *q = p;
        while (*q && *q != '/')
            q++;
        size_t n = (size_t)(q - p);
        if (n == 0)
            break;
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            free(s);
            return st_error_set(ST_EINVAL,
                                "initramfs path '%s' must not contain '..'",
                                path);
        }
        if (!(n == 1 && p[0] == '.')) {
            if (o)
                s[o++] = '/';
            memcpy(s + o, p, n);
            o += n;
        }
        p = q;
    }
    s[o] = '\0';
    if (o == 0) {
        free(s);
        return st_error_set(ST_EINVAL, "initramfs path '%s' names the root",
                            path);
    }
    *out = s;
    return 0;
}

static entry *find(st_initramfs *ir, const char *name)
{
    for (size_t i = 0; i < ir->n; i++)
        if (strcmp(ir->e[i].name, name) == 0)
            return &ir->e[i];
    return NULL;
}

static entry *append(st_initramfs *ir)
{
    if (ir->n == ir->cap) {
        size_t cap = ir->cap ? 2 * ir->cap : 32;
        entry *e = realloc(ir->e, cap * sizeof *e);
        if (!e)
            return NULL;
        ir->e = e;
        ir->cap = cap;
    }
    entry *e = &ir->e[ir->n++];
    memset(e, 0, sizeof *e);
    return e;
}

/* Create every missing ancestor of `name` as an implicit 0755 directory. */
static int add_parents(st_initramfs *ir, const char *name)
{
    char buf[PATH_MAX];
    size_t len = strlen(name);
    if (len >= sizeof buf)
        return st_error_set(ST_EINVAL, "initramfs path too long: /%s", name);
    memcpy(buf, name, len + 1);
    for (char *s = strchr(buf, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        entry *d = find(ir, buf);
        if (d && !S_ISDIR(d->mode)) {
            return st_error_set(ST_EINVAL,
                                "initramfs: /%s is needed as a directory for "
                                "/%s but was added as a file or link",
                                buf, name);
        }
        if (!d) {
            entry *e = append(ir);
            if (!e || !(e->name = strdup(buf)))
                return st_error_set(ST_ENOMEM, "out of memory");
            e->mode = S_IFDIR | 0755;
            e->implicit = 1;
        }
        *s = '/';
    }
    return 0;
}

/*
 * Common path of every add: normalise, refuse a conflicting duplicate,
 * create parents, append.  `*dup` is set when an identical entry exists
 * (same type, and same host file for files), which callers treat as done:
 * two binaries sharing libc must not fail.
 */
static int prepare(st_initramfs *ir, entry **out, int *dup, const char *path,
                   mode_t type, const char *host_path)
{
    *out = NULL;
    *dup = 0;
    char *name;
    int rc = normalize(&name, path);
    if (rc < 0)
        return rc;
    entry *old = find(ir, name);
    if (old) {
        int same = (old->mode & S_IFMT) == type;
        if (same && type == S_IFDIR) {
            *out = old;
            *dup = 1;
            free(name);
            return 0;
        }
        if (same && type == S_IFREG && host_path && old->host_path &&
            strcmp(old->host_path, host_path) == 0) {
            *out = old;
            *dup = 1;
            free(name);
            return 0;
        }
        rc = st_error_set(ST_EINVAL, "initramfs: /%s was already added", name);
        free(name);
        return rc;
    }
    if ((rc = add_parents(ir, name)) < 0) {
        free(name);
        return rc;
    }
    entry *e = append(ir);
    if (!e) {
        free(name);
        return st_error_set(ST_ENOMEM, "out of memory");
    }
    e->name = name;
    e->mode = type;
    *out = e;
    return 0;
}

int st_initramfs_add_dir(st_initramfs *ir, const char *path, mode_t mode)
{
    entry *e;
    int dup, rc = prepare(ir, &e, &dup, path, S_IFDIR, NULL);
    if (rc < 0)
        return rc;
    /* An explicit mode wins over the default of an implicit parent. */
    e->mode = S_IFDIR | (mode & 07777);
    e->implicit = 0;
    return 0;
}

int st_initramfs_add_file(st_initramfs *ir, const char *path,
                          const char *host_path, mode_t mode)
{
    struct stat st;
    if (stat(host_path, &st) < 0)
        return st_error_set_errno(st_error_from_errno(errno), errno,
                                  "initramfs: cannot add %s as %s", host_path,
                                  path);
    if (!S_ISREG(st.st_mode))
        return st_error_set(ST_EINVAL,
                            "initramfs: %s is not a regular file", host_path);
    entry *e;
    int dup, rc = prepare(ir, &e, &dup, path, S_IFREG, host_path);
    if (rc < 0 || dup)
        return rc;
    if (!(e->host_path = strdup(host_path))) {
        ir->n--;
        entry_clear(e);
        return st_error_set(ST_ENOMEM, "out of memory");
    }
    e->mode = S_IFREG | ((mode ? mode : st.st_mode) & 07777);
    e->size = (uint64_t)st.st_size;
    ir->bytes += e->size;
    return 0;
}

int st_initramfs_add_bytes(st_initramfs *ir, const char *path,
                           const void *data, size_t len, mode_t mode)
{
    entry *e;
    int dup, rc = prepare(ir, &e, &dup, path, S_IFREG, NULL);
    if (rc < 0)
        return rc;
    if (!(e->data = malloc(len ? len : 1))) {
        ir->n--;
        entry_clear(e);
        return st_error_set(ST_ENOMEM, "out of memory");
    }
    if (len)
        memcpy(e->data, data, len);
    e->mode = S_IFREG | (mode & 07777);
    e->size = len;
    ir->bytes += len;
    return 0;
}

int st_initramfs_add_symlink(st_initramfs *ir, const char *path,
                             const char *target)
{
    entry *e;
    int dup, rc = prepare(ir, &e, &dup, path, S_IFLNK, NULL);
    if (rc < 0)
        return rc;
    if (!(e->target = strdup(target))) {
        ir->n--;
        entry_clear(e);
        return st_error_set(ST_ENOMEM, "out of memory");
    }
    e->mode = S_IFLNK | 0777;
    e->size = strlen(target);
    return 0;
}

int st_initramfs_add_chardev(st_initramfs *ir, const char *path,
                             mode_t mode, unsigned major, unsigned minor)
{
    entry *e;
    int dup, rc = prepare(ir, &e, &dup, path, S_IFCHR, NULL);
    if (rc < 0)
        return rc;
    e->mode = S_IFCHR | (mode & 07777);
    e->rmajor = major;
    e->rminor = minor;
    return 0;
}

/* ---- ELF dependencies ------------------------------------------------ */

typedef struct {
    unsigned char *map;
    size_t len;
    const char *interp;     /* PT_INTERP, NUL-terminated inside map */
    const char *strtab;     /* dynamic string table, or NULL */
    size_t strsz;
    const Elf64_Dyn *dyn;   /* dynamic section, or NULL (static) */
    size_t ndyn;
} elf_file;

static void elf_close(elf_file *f)
{
    if (f->map)
        munmap(f->map, f->len);
    memset(f, 0, sizeof *f);
}

/* File offset of virtual address `va`, through the PT_LOAD segments. */
static int va_to_off(const elf_file *f, const Elf64_Ehdr *eh, uint64_t va,
                     uint64_t *off)
{
    const Elf64_Phdr *ph = (const Elf64_Phdr *)(f->map + eh->e_phoff);
    for (unsigned i = 0; i < eh->e_phnum; i++)
        if (ph[i].p_type == PT_LOAD && va >= ph[i].p_vaddr &&
            va < ph[i].p_vaddr + ph[i].p_filesz) {
            *off = ph[i].p_offset + (va - ph[i].p_vaddr);
            return 0;
        }
    return -1;
}

/*
 * Map and check an x86-64 ELF object.  `quiet` makes mismatches return
 * ST_EELF without a message, for the library search (which, like ld.so,
 * skips a 32-bit libfoo.so and keeps looking).
 */
static int elf_open(elf_file *f, const char *path, int quiet)
{
    memset(f, 0, sizeof *f);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return quiet ? ST_ENOENT
                     : st_error_set_errno(st_error_from_errno(errno), errno,
                                          "cannot open %s", path);
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
        (size_t)st.st_size < sizeof(Elf64_Ehdr)) {
        close(fd);
        return quiet ? ST_EELF
                     : st_error_set(ST_EELF, "%s is not an ELF file (too "
                                    "small or not a regular file)", path);
    }
    f->len = (size_t)st.st_size;
    f->map = mmap(NULL, f->len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (f->map == MAP_FAILED) {
        f->map = NULL;
        return st_error_set_errno(ST_EIO, errno, "cannot map %s", path);
    }
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)f->map;
    const char *why = NULL;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0)
        why = "is not an ELF file";
    else if (eh->e_ident[EI_CLASS] != ELFCLASS64 ||
             eh->e_ident[EI_DATA] != ELFDATA2LSB)
        why = "is not a 64-bit little-endian ELF file (the guest is x86-64)";
    else if (eh->e_machine != EM_X86_64)
        why = "is not an x86-64 binary";
    else if (eh->e_type != ET_EXEC && eh->e_type != ET_DYN)
        why = "is not an executable or shared object";
    else if (eh->e_phoff == 0 || eh->e_phentsize != sizeof(Elf64_Phdr) ||
             eh->e_phoff + (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > f->len)
        why = "has a truncated program header table";
    if (why) {
        elf_close(f);
        return quiet ? ST_EELF : st_error_set(ST_EELF, "%s %s", path, why);
    }
    const Elf64_Phdr *ph = (const Elf64_Phdr *)(f->map + eh->e_phoff);
    for (unsigned i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_offset > f->len || ph[i].p_filesz > f->len - ph[i].p_offset)
            continue;
        if (ph[i].p_type == PT_INTERP && ph[i].p_filesz > 1 &&
            f->map[ph[i].p_offset + ph[i].p_filesz - 1] == '\0')
            f->interp = (const char *)f->map + ph[i].p_offset;
        else if (ph[i].p_type == PT_DYNAMIC) {
            f->dyn = (const Elf64_Dyn *)(f->map + ph[i].p_offset);
            f->ndyn = ph[i].p_filesz / sizeof(Elf64_Dyn);
        }
    }
    if (f->dyn) {
        uint64_t strva = 0, off;
        for (size_t i = 0; i < f->ndyn && f->dyn[i].d_tag != DT_NULL; i++) {
            if (f->dyn[i].d_tag == DT_STRTAB)
                strva = f->dyn[i].d_un.d_ptr;
            else if (f->dyn[i].d_tag == DT_STRSZ)
                f->strsz = f->dyn[i].d_un.d_val;
        }
        if (!strva || va_to_off(f, eh, strva, &off) < 0 || off > f->len ||
            f->strsz > f->len - off) {
            elf_close(f);
            return quiet ? ST_EELF
                         : st_error_set(ST_EELF, "%s has a dynamic section "
                                        "without a usable string table", path);
        }
        f->strtab = (const char *)f->map + off;
    }
    return 0;
}

static const char *dyn_str(const elf_file *f, uint64_t off)
{
    if (!f->strtab || off >= f->strsz ||
        !memchr(f->strtab + off, '\0', f->strsz - off))
        return NULL;
    return f->strtab + off;
}

static const char *dyn_find(const elf_file *f, int64_t tag)
{
    for (size_t i = 0; f->dyn && i < f->ndyn && f->dyn[i].d_tag != DT_NULL; i++)
        if (f->dyn[i].d_tag == tag)
            return dyn_str(f, f->dyn[i].d_un.d_val);
    return NULL;
}

/* ld.so.cache ("glibc-ld.so.cache1.1"), mapped once per walk. */
typedef struct {
    unsigned char *map;
    size_t len;
    const unsigned char *base; /* the new-format header */
    uint32_t nlibs;
} ldcache;

#define LDCACHE_MAGIC "glibc-ld.so.cache1.1"
#define LDCACHE_OLD "ld.so-1.7.0"

static void ldcache_open(ldcache *c, const char *path)
{
    memset(c, 0, sizeof *c);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    struct stat st;
    if (fstat(fd, &st) == 0 && st.st_size > 48) {
        c->len = (size_t)st.st_size;
        c->map = mmap(NULL, c->len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (c->map == MAP_FAILED)
            c->map = NULL;
    }
    close(fd);
    if (!c->map)
        return;
    size_t off = 0;
    if (memcmp(c->map, LDCACHE_OLD, strlen(LDCACHE_OLD)) == 0) {
        /* Old format first: 16-byte header, 12-byte entries, align 8. */
        uint32_t n;
        memcpy(&n, c->map + 12, 4);
        off = (16 + (size_t)n * 12 + 7) & ~(size_t)7;
    }
    if (off + 48 > c->len ||
        memcmp(c->map + off, LDCACHE_MAGIC, strlen(LDCACHE_MAGIC)) != 0) {
        munmap(c->map, c->len);
        memset(c, 0, sizeof *c);
        return;
    }
    c->base = c->map + off;
    memcpy(&c->nlibs, c->base + 20, 4);
    if (off + 48 + (size_t)c->nlibs * 24 > c->len)
        c->nlibs = 0;
}

static void ldcache_close(ldcache *c)
{
    if (c->map)
        munmap(c->map, c->len);
    memset(c, 0, sizeof *c);
}

/* Path of the x86-64 libc6 entry for `soname` without hwcaps, or NULL. */
static const char *ldcache_lookup(const ldcache *c, const char *soname)
{
    size_t blen = c->len - (size_t)(c->base - c->map);
    for (uint32_t i = 0; i < c->nlibs; i++) {
        const unsigned char *e = c->base + 48 + (size_t)i * 24;
        int32_t flags;
        uint32_t key, value;
        uint64_t hwcap;
        memcpy(&flags, e, 4);
        memcpy(&key, e + 4, 4);
        memcpy(&value, e + 8, 4);
        memcpy(&hwcap, e + 16, 8);
        /* FLAG_ELF_LIBC6 (0x03) | FLAG_X8664_LIB64 (0x0300). */
        if ((flags & 0xffff) != 0x0303 || hwcap != 0 || key >= blen ||
            value >= blen)
            continue;
        const char *k = (const char *)c->base + key;
        if (!memchr(k, '\0', blen - key) ||
            !memchr(c->base + value, '\0', blen - value))
            continue;
        if (strcmp(k, soname) == 0)
            return (const char *)c->base + value;
    }
    return NULL;
}

static const char *const default_dirs[] = {
    "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
    "/lib64", "/usr/lib64", "/lib", "/usr/lib", NULL
};

typedef struct {
    char **host;   /* host path of each object, [0] = the executable */
    char **guest;  /* its path in the image */
    size_t n, cap;
    ldcache cache;
    int cache_used; /* a library came from ld.so.cache outside default dirs */
} walk;

static int walk_push(walk *w, const char *host, const char *guest)
{
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 16;
        char **h = realloc(w->host, cap * sizeof *h);
        if (!h)
            return st_error_set(ST_ENOMEM, "out of memory");
        w->host = h;
        char **g = realloc(w->guest, cap * sizeof *g);
        if (!g)
            return st_error_set(ST_ENOMEM, "out of memory");
        w->guest = g;
        w->cap = cap;
    }
    w->host[w->n] = strdup(host);
    w->guest[w->n] = strdup(guest);
    if (!w->host[w->n] || !w->guest[w->n]) {
        free(w->host[w->n]);
        free(w->guest[w->n]);
        return st_error_set(ST_ENOMEM, "out of memory");
    }
    w->n++;
    return 0;
}

static void walk_free(walk *w)
{
    for (size_t i = 0; i < w->n; i++) {
        free(w->host[i]);
        free(w->guest[i]);
    }
    free(w->host);
    free(w->guest);
    ldcache_close(&w->cache);
}

static int walk_has_guest(const walk *w, const char *guest)
{
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->guest[i], guest) == 0)
            return 1;
    return 0;
}

static void dirname_of(char *out, size_t cap, const char *path)
{
    snprintf(out, cap, "%s", path);
    char *s = strrchr(out, '/');
    if (s == out)
        out[1] = '\0';
    else if (s)
        *s = '\0';
    else
        snprintf(out, cap, ".");
}

/* Replace $ORIGIN / ${ORIGIN} in `dir` with `origin`. */
static void expand_origin(char *out, size_t cap, const char *dir,
                          const char *origin)
{
    size_t o = 0;
    for (const char *p = dir; *p && o + 1 < cap;) {
        size_t skip = 0;
        if (strncmp(p, "$ORIGIN", 7) == 0)
            skip = 7;
        else if (strncmp(p, "${ORIGIN}", 9) == 0)
            skip = 9;
        if (skip) {
            o += (size_t)snprintf(out + o, cap - o, "%s", origin);
            if (o >= cap)
                o = cap - 1;
            p += skip;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
}

/*
 * Collapse "." and ".." in an absolute image path in place, lexically:
 * the image has no symbolic links in library directories, so
 * "/opt/t/bin/../lib" is "/opt/t/lib" there.
 */
static void clean_path(char *path)
{
    char *out = path, *p = path;
    while (*p) {
        while (*p == '/')
            p++;
        char *q = p;
        while (*q && *q != '/')
            q++;
        size_t n = (size_t)(q - p);
        if (n == 0)
            break;
        if (n == 1 && p[0] == '.') {
            /* skip */
        } else if (n == 2 && p[0] == '.' && p[1] == '.') {
            while (out > path && *--out != '/')
                ;
        } else {
            *out++ = '/';
            memmove(out, p, n);
            out += n;
        }
        p = q;
    }
    if (out == path)
        *out++ = '/';
    *out = '\0';
}

static int is_default_dir(const char *dir)
{
    for (const char *const *d = default_dirs; *d; d++)
        if (strcmp(*d, dir) == 0)
            return 1;
    return 0;
}

/*
 * Try `name` in each ':'-separated dir of `list`; on success fill host and
 * guest paths.  $ORIGIN expands to the host directory for the lookup and
 * to the guest directory for the placement.
 */
static int search_list(const char *list, const char *name,
                       const char *host_origin, const char *guest_origin,
                       char *host, char *guest, size_t cap,
                       char *tried, size_t tcap)
{
    if (!list)
        return 0;
    char *copy = strdup(list);
    if (!copy)
        return 0;
    int found = 0;
    for (char *save = NULL, *d = strtok_r(copy, ":", &save); d && !found;
         d = strtok_r(NULL, ":", &save)) {
        char hdir[PATH_MAX], gdir[PATH_MAX];
        expand_origin(hdir, sizeof hdir, d, host_origin);
        expand_origin(gdir, sizeof gdir, d, guest_origin);
        size_t tl = strlen(tried);
        snprintf(tried + tl, tcap - tl, "%s%s", tl ? ", " : "", hdir);
        if (snprintf(host, cap, "%s/%s", hdir, name) >= (int)cap ||
            snprintf(guest, cap, "%s/%s", gdir, name) >= (int)cap)
            continue; /* too long to exist */
        elf_file f;
        if (elf_open(&f, host, 1) == 0) {
            elf_close(&f);
            clean_path(guest);
            found = 1;
        }
    }
    free(copy);
    return found;
}

/*
 * Resolve one DT_NEEDED `name` of object `idx` as ld.so would; push it
 * unless an object with that guest path is already there.
 */
static int resolve_needed(walk *w, size_t idx, const elf_file *obj,
                          const elf_file *exe, const char *name)
{
    char host[PATH_MAX], guest[PATH_MAX], tried[2048] = "";
    char horigin[PATH_MAX], gorigin[PATH_MAX];
    dirname_of(horigin, sizeof horigin, w->host[idx]);
    dirname_of(gorigin, sizeof gorigin, w->guest[idx]);
    int found = 0;
    if (strchr(name, '/')) {
        /* A path in DT_NEEDED is used as is (relative to the cwd; rare). */
        snprintf(host, sizeof host, "%s", name);
        snprintf(guest, sizeof guest, "%s", name);
        elf_file f;
        found = elf_open(&f, host, 1) == 0;
        if (found)
            elf_close(&f);
        snprintf(tried, sizeof tried, "%s", name);
    }
    const char *runpath = dyn_find(obj, DT_RUNPATH);
    if (!found && !runpath) {
        found = search_list(dyn_find(obj, DT_RPATH), name, horigin, gorigin,
                            host, guest, sizeof host, tried, sizeof tried);
        if (!found && exe != obj && !dyn_find(exe, DT_RUNPATH)) {
            char eh[PATH_MAX], eg[PATH_MAX];
            dirname_of(eh, sizeof eh, w->host[0]);
            dirname_of(eg, sizeof eg, w->guest[0]);
            found = search_list(dyn_find(exe, DT_RPATH), name, eh, eg, host,
                                guest, sizeof host, tried, sizeof tried);
        }
    }
    if (!found)
        found = search_list(runpath, name, horigin, gorigin, host, guest,
                            sizeof host, tried, sizeof tried);
    if (!found && w->cache.base) {
        const char *p = ldcache_lookup(&w->cache, name);
        size_t tl = strlen(tried);
        snprintf(tried + tl, sizeof tried - tl, "%s/etc/ld.so.cache",
                 tl ? ", " : "");
        elf_file f;
        if (p && elf_open(&f, p, 1) == 0) {
            elf_close(&f);
            snprintf(host, sizeof host, "%s", p);
            snprintf(guest, sizeof guest, "%s", p);
            char d[PATH_MAX];
            dirname_of(d, sizeof d, p);
            if (!is_default_dir(d))
                w->cache_used = 1;
            found = 1;
        }
    }
    if (!found) {
        char all[PATH_MAX] = "";
        for (const char *const *d = default_dirs; *d; d++) {
            size_t l = strlen(all);
            snprintf(all + l, sizeof all - l, "%s%s", l ? ":" : "", *d);
        }
        found = search_list(all, name, "", "", host, guest, sizeof host,
                            tried, sizeof tried);
    }
    if (!found)
        return st_error_set(ST_EELF,
                            "%s needs %s, which was not found (searched %s); "
                            "install it or link the binary statically",
                            w->host[idx], name, tried);
    if (walk_has_guest(w, guest))
        return 0;
    return walk_push(w, host, guest);
}

/* Walk `host_path` (placed at `guest_path`) and everything it needs. */
static int walk_run(walk *w, const char *host_path, const char *guest_path)
{
    memset(w, 0, sizeof *w);
    elf_file exe;
    int rc = elf_open(&exe, host_path, 0);
    if (rc < 0)
        return rc;
    if ((rc = walk_push(w, host_path, guest_path)) < 0)
        goto out;
    if (exe.interp) {
        elf_file f;
        if (elf_open(&f, exe.interp, 1) < 0) {
            rc = st_error_set(ST_EELF,
                              "%s needs the ELF interpreter %s, which is "
                              "missing or not an x86-64 ELF file",
                              host_path, exe.interp);
            goto out;
        }
        elf_close(&f);
        if ((rc = walk_push(w, exe.interp, exe.interp)) < 0)
            goto out;
    } else if (exe.dyn && dyn_find(&exe, DT_NEEDED)) {
        rc = st_error_set(ST_EELF, "%s needs shared libraries but has no ELF "
                          "interpreter (PT_INTERP)", host_path);
        goto out;
    }
    ldcache_open(&w->cache, "/etc/ld.so.cache");
    /* Breadth first, in load order; index 1 is the interpreter. */
    for (size_t i = 0; i < w->n; i++) {
        if (exe.interp && i == 1)
            continue;
        elf_file obj;
        if (i == 0) {
            obj = exe;
        } else if ((rc = elf_open(&obj, w->host[i], 0)) < 0) {
            goto out;
        }
        for (size_t k = 0; obj.dyn && k < obj.ndyn &&
                           obj.dyn[k].d_tag != DT_NULL; k++) {
            if (obj.dyn[k].d_tag != DT_NEEDED)
                continue;
            const char *name = dyn_str(&obj, obj.dyn[k].d_un.d_val);
            /* libc names the dynamic loader; ld.so matches it by soname
             * to itself, so the interpreter already covers it. */
            const char *base = exe.interp ? strrchr(exe.interp, '/') : NULL;
            if (name && base && strcmp(name, base + 1) == 0)
                continue;
            if (!name) {
                rc = st_error_set(ST_EELF, "%s has a corrupt DT_NEEDED entry",
                                  w->host[i]);
            } else {
                rc = resolve_needed(w, i, &obj, &exe, name);
            }
            if (rc < 0)
                break;
        }
        if (i != 0)
            elf_close(&obj);
        if (rc < 0)
            goto out;
    }
out:
    elf_close(&exe);
    return rc;
}

void st_initramfs_deps_free(char **deps)
{
    if (!deps)
        return;
    for (char **p = deps; *p; p++)
        free(*p);
    free(deps);
}

int st_initramfs_elf_deps(char ***out, size_t *count, const char *host_path)
{
    *out = NULL;
    *count = 0;
    walk w;
    int rc = walk_run(&w, host_path, host_path);
    if (rc < 0) {
        walk_free(&w);
        return rc;
    }
    char **list = calloc(w.n, sizeof *list); /* n-1 deps + NULL */
    if (!list) {
        walk_free(&w);
        return st_error_set(ST_ENOMEM, "out of memory");
    }
    for (size_t i = 1; i < w.n; i++) {
        list[i - 1] = w.host[i];
        w.host[i] = NULL;
    }
    *count = w.n - 1;
    *out = list;
    walk_free(&w);
    return 0;
}

int st_initramfs_add_binary_with_libs(st_initramfs *ir, const char *path,
                                      const char *host_path, mode_t mode)
{
    char *name;
    int rc = normalize(&name, path);
    if (rc < 0)
        return rc;
    char guest[PATH_MAX];
    snprintf(guest, sizeof guest, "/%s", name);
    free(name);
    walk w;
    if ((rc = walk_run(&w, host_path, guest)) < 0) {
        walk_free(&w);
        return rc;
    }
    rc = st_initramfs_add_file(ir, guest, host_path, mode);
    for (size_t i = 1; rc >= 0 && i < w.n; i++)
        rc = st_initramfs_add_file(ir, w.guest[i], w.host[i], 0755);
    if (rc >= 0 && w.cache_used)
        rc = st_initramfs_add_file(ir, "/etc/ld.so.cache", "/etc/ld.so.cache",
                                   0644);
    walk_free(&w);
    return rc;
}

/* ---- writing ----------------------------------------------------------- */

typedef struct {
    int fd;
    gzFile gz;
    unsigned char buf[1 << 16];
    size_t used;
    uint64_t offset; /* bytes of archive produced, for padding */
    const char *path;
} writer;

static int w_flush(writer *w)
{
    size_t done = 0;
    while (done < w->used) {
        ssize_t k;
        if (w->gz) {
            int g = gzwrite(w->gz, w->buf + done, (unsigned)(w->used - done));
            k = g > 0 ? g : -1;
        } else {
            k = write(w->fd, w->buf + done, w->used - done);
        }
        if (k < 0) {
            if (!w->gz && errno == EINTR)
                continue;
            return st_error_set_errno(ST_EIO, errno, "cannot write %s",
                                      w->path);
        }
        done += (size_t)k;
    }
    w->used = 0;
    return 0;
}

static int w_put(writer *w, const void *data, size_t len)
{
    const unsigned char *p = data;
    w->offset += len;
    while (len) {
        if (w->used == sizeof w->buf) {
            int rc = w_flush(w);
            if (rc < 0)
                return rc;
        }
        size_t k = sizeof w->buf - w->used;
        if (k > len)
            k = len;
        memcpy(w->buf + w->used, p, k);
        w->used += k;
        p += k;
        len -= k;
    }
    return 0;
}

static int w_pad(writer *w)
{
    static const char zeros[4];
    size_t pad = (4 - (w->offset & 3)) & 3;
    return pad ? w_put(w, zeros, pad) : 0;
}

static int w_header(writer *w, const char *name, uint32_t ino, mode_t mode,
                    uint32_t nlink, uint64_t size, unsigned rmaj,
                    unsigned rmin)
{
    char hdr[111];
    size_t namesize = strlen(name) + 1;
    if (size > 0xffffffffu)
        return st_error_set(ST_ERANGE, "initramfs: /%s is larger than the "
                            "4 GiB cpio newc limit", name);
    snprintf(hdr, sizeof hdr,
             "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
             ino, (unsigned)mode, 0u, 0u, nlink, 0u, (unsigned)size, 0u, 0u,
             rmaj, rmin, (unsigned)namesize, 0u);
    int rc = w_put(w, hdr, 110);
    if (rc >= 0)
        rc = w_put(w, name, namesize);
    if (rc >= 0)
        rc = w_pad(w);
    return rc;
}

/* Contents of a host file: copy_file_range when plain, read+gzwrite else. */
static int w_file(writer *w, const entry *e)
{
    int fd = open(e->host_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return st_error_set_errno(st_error_from_errno(errno), errno,
                                  "initramfs: cannot open %s", e->host_path);
    int rc = 0;
    struct stat st;
    if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != e->size) {
        rc = st_error_set(ST_EIO, "initramfs: %s changed size while the "
                          "image was being written", e->host_path);
        goto out;
    }
    uint64_t left = e->size;
    if (!w->gz) {
        if ((rc = w_flush(w)) < 0)
            goto out;
        while (left) {
            ssize_t k = copy_file_range(fd, NULL, w->fd, NULL, left, 0);
            if (k <= 0)
                break; /* unsupported here (EXDEV, ...): fall back */
            left -= (uint64_t)k;
        }
        w->offset += e->size - left;
    }
    while (left) {
        if (w->used == sizeof w->buf && (rc = w_flush(w)) < 0)
            goto out;
        size_t want = sizeof w->buf - w->used;
        if (want > left)
            want = (size_t)left;
        ssize_t k = read(fd, w->buf + w->used, want);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            rc = st_error_set_errno(ST_EIO, k < 0 ? errno : EIO,
                                    "initramfs: cannot read %s",
                                    e->host_path);
            goto out;
        }
        w->used += (size_t)k;
        w->offset += (uint64_t)k;
        left -= (uint64_t)k;
    }
    rc = w_pad(w);
out:
    close(fd);
    return rc;
}

int st_initramfs_write(st_initramfs *ir, const char *out_path, int flags)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", out_path) >= (int)sizeof tmp)
        return st_error_set(ST_EINVAL, "path too long: %s", out_path);
    writer *w = calloc(1, sizeof *w);
    if (!w)
        return st_error_set(ST_ENOMEM, "out of memory");
    w->path = out_path;
    w->fd = mkstemp(tmp);
    if (w->fd < 0) {
        int e = errno;
        free(w);
        return st_error_set_errno(st_error_from_errno(e), e,
                                  "cannot create %s", out_path);
    }
    int rc = 0;
    if (flags & ST_INITRAMFS_GZIP) {
        int dfd = dup(w->fd);
        if (dfd < 0 || !(w->gz = gzdopen(dfd, "wb1"))) {
            if (dfd >= 0)
                close(dfd);
            rc = st_error_set(ST_ENOMEM, "cannot start gzip for %s", out_path);
            goto out;
        }
        gzbuffer(w->gz, 1 << 17);
    }
    for (size_t i = 0; i < ir->n && rc >= 0; i++) {
        const entry *e = &ir->e[i];
        uint32_t nlink = S_ISDIR(e->mode) ? 2 : 1;
        uint64_t size = S_ISREG(e->mode) || S_ISLNK(e->mode) ? e->size : 0;
        rc = w_header(w, e->name, (uint32_t)(i + 1), e->mode, nlink, size,
                      e->rmajor, e->rminor);
        if (rc < 0)
            break;
        if (S_ISLNK(e->mode) || (S_ISREG(e->mode) && !e->host_path)) {
            rc = w_put(w, S_ISLNK(e->mode) ? (const void *)e->target
                                            : (const void *)e->data,
                       e->size);
            if (rc >= 0)
                rc = w_pad(w);
        } else if (S_ISREG(e->mode)) {
            rc = w_file(w, e);
        }
    }
    if (rc >= 0)
        rc = w_header(w, "TRAILER!!!", 0, 0, 1, 0, 0, 0);
    if (rc >= 0)
        rc = w_flush(w);
    if (w->gz) {
        if (gzclose(w->gz) != Z_OK && rc >= 0)
            rc = st_error_set(ST_EIO, "cannot finish gzip stream of %s",
                              out_path);
        w->gz = NULL;
    }
out:
    if (rc >= 0 && (fchmod(w->fd, 0644) < 0 || close(w->fd) < 0)) {
        rc = st_error_set_errno(ST_EIO, errno, "cannot write %s", out_path);
        w->fd = -1;
    } else if (rc < 0) {
        close(w->fd);
    }
    if (rc >= 0 && rename(tmp, out_path) < 0)
        rc = st_error_set_errno(st_error_from_errno(errno), errno,
                                "cannot publish %s", out_path);
    if (rc < 0)
        unlink(tmp);
    free(w);
    return rc < 0 ? rc : 0;
}
