/**
 * @file schedtest/kernel.h
 * @brief Guest kernels: the bzImage header, `--kernel` resolution, the cache.
 *
 * A kernel is named by one of three forms, tried in this order:
 *  1. a bzImage/vmlinuz file;
 *  2. a kernel source tree (arch/x86/boot/bzImage plus
 *     include/config/kernel.release);
 *  3. an entry of the kernel cache, by full name, name prefix or kind
 *     ("built", "debian").
 * The version used for run directory names always comes from the image's
 * own setup header (x86 boot protocol, kernel_version field), so a renamed
 * file cannot lie about it.
 *
 * Cache layout (docs/kernels.md): $SCHEDTEST_CACHE_DIR, else
 * $XDG_CACHE_HOME/schedtest, else ~/.cache/schedtest; kernels live in
 * <root>/kernels/<version>-<hash12>/ with bzImage, config, version, kind,
 * metadata.json and, for built kernels, vmlinux.h and sdk/.
 */
#ifndef SCHEDTEST_KERNEL_H
#define SCHEDTEST_KERNEL_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    ST_KERNEL_FILE,  /* a bzImage/vmlinuz path */
    ST_KERNEL_TREE,  /* a built kernel source tree */
    ST_KERNEL_CACHE  /* an entry of the kernel cache */
} st_kernel_source;

/** A resolved kernel.  Strings are owned by the struct. */
typedef struct {
    char *path;      /* absolute path of the bzImage */
    char *boot_path; /* what qemu boots: a PVH vmlinux of the same build
                        when there is one (see st_kernel_pvh_entry), else
                        `path` */
    char *version;   /* from the setup header: "6.12.117" */
    st_kernel_source source;
    char *config;    /* absolute path of its .config, or NULL if unknown */
    int sched_ext;   /* 1 when config has CONFIG_SCHED_CLASS_EXT=y */
    char *cache_dir; /* the cache entry directory (source CACHE), or NULL */
    char *name;      /* cache entry name (source CACHE), or NULL */
    char *kind;      /* cache entry kind ("built", "debian"), or NULL */
} st_kernel_info;

/** Stable lower-case name of a source: "file", "tree", "cache". */
const char *st_kernel_source_name(st_kernel_source s);

/**
 * Kernel version string from a bzImage held in memory: checks the "HdrS"
 * magic and boot protocol >= 2.00, then reads the NUL-terminated string at
 * 0x200 + kernel_version (offset 0x20e), up to the first space.
 * ST_EKERNEL when the bytes are not a bzImage.
 */
int st_kernel_version_from_image(char **out, const void *data, size_t len);

/** The same for a file (reads only its first 64 KiB). */
int st_kernel_image_version(char **out, const char *path);

/**
 * Whether the kernel config file at `config_path` enables sched_ext:
 * 1 yes, 0 no, negative code when unreadable.
 */
int st_kernel_config_sched_ext(const char *config_path);

/**
 * Whether `elf_path` is an x86-64 vmlinux qemu can boot directly through
 * PVH (an ELF note "Xen", type XEN_ELFNOTE_PHYS32_ENTRY): 1 yes, 0 no
 * (not ELF, other machine, no note), < 0 on I/O error.  Booting it skips
 * the bzImage's decompression, which under TCG costs about 0.45 s of
 * every boot (docs/vm.md).  A cache entry's `vmlinux`, and a tree's
 * `vmlinux` no newer than its bzImage (same build), become boot_path.
 */
int st_kernel_pvh_entry(const char *elf_path);

/**
 * Where a bzImage keeps its compressed vmlinux (boot protocol >= 2.08:
 * payload_offset at 0x248 and payload_length at 0x24c, counted from the
 * protected-mode code after the (setup_sects + 1) * 512-byte setup), and
 * the compression by its magic: "gzip", "zstd", "xz", "lzma", "bzip2",
 * "lz4" or "unknown".  Decompressed, the payload is the stripped vmlinux
 * ELF (plus relocations), which boots through PVH like the original.
 */
typedef struct {
    uint64_t offset;
    uint64_t length;
    const char *format;
} st_kernel_payload;

int st_kernel_payload_of(st_kernel_payload *out, const char *bzimage);

/** Root of schedtest's caches (see above); free `*out`. */
int st_kernel_cache_root(char **out);

/** <cache root>/kernels; free `*out`. */
int st_kernel_cache_dir(char **out);

/**
 * Resolve `spec` by the three forms above.  When none works, ST_EKERNEL
 * with a message naming each form and why it failed.
 */
int st_kernel_resolve(st_kernel_info **out, const char *spec);

/** Every usable cache entry, sorted by name; free with st_kernel_list_free. */
int st_kernel_list(st_kernel_info ***out, size_t *count);
void st_kernel_list_free(st_kernel_info **list, size_t count);

void st_kernel_info_free(st_kernel_info *info);

#endif
