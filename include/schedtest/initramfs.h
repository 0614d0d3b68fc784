/**
 * @file schedtest/initramfs.h
 * @brief Guest initramfs images: a cpio "newc" archive written by the core.
 *
 * The image is described first (files, bytes, directories, symbolic links,
 * device nodes, and dynamically linked binaries with every shared library
 * they need), then written in one pass.  File contents are read only at
 * write time, so describing an image costs a few stat() calls.
 *
 * Paths in the image are absolute ("/init", "/bin/scx_simple"); missing
 * parent directories are created (mode 0755).  Every entry is owned by
 * root, with mtime 0, so the same description always gives the same bytes.
 *
 * Errors: ST_EINVAL (bad image path, an entry added twice with different
 * contents), ST_ENOENT (host file missing), ST_EELF (a binary that cannot
 * run in the guest: not an ELF file, wrong class/machine, a needed library
 * that cannot be found), ST_EIO (write failure).
 */
#ifndef SCHEDTEST_INITRAMFS_H
#define SCHEDTEST_INITRAMFS_H

#include <stddef.h>
#include <sys/types.h>

typedef struct st_initramfs st_initramfs;

/** Flags of st_initramfs_write(). */
enum {
    /*
     * gzip the archive (level 1).  The kernel takes plain cpio too; plain is
     * faster to build and, under TCG, to unpack (docs/kernels.md has the
     * measurement), so it is the default.
     */
    ST_INITRAMFS_GZIP = 1 << 0
};

/** A new, empty image description; free it with st_initramfs_free(). */
int st_initramfs_new(st_initramfs **out);

/** Free `ir` (NULL is allowed). */
void st_initramfs_free(st_initramfs *ir);

/** Directory `path` with permission bits `mode` (e.g. 0755). */
int st_initramfs_add_dir(st_initramfs *ir, const char *path, mode_t mode);

/**
 * Regular file `path` with the contents of `host_path` (symbolic links are
 * followed).  `mode` gives the permission bits; 0 copies the host file's.
 */
int st_initramfs_add_file(st_initramfs *ir, const char *path,
                          const char *host_path, mode_t mode);

/** Regular file `path` holding a copy of `len` bytes at `data`. */
int st_initramfs_add_bytes(st_initramfs *ir, const char *path,
                           const void *data, size_t len, mode_t mode);

/** Symbolic link `path` -> `target` (target stored as given). */
int st_initramfs_add_symlink(st_initramfs *ir, const char *path,
                             const char *target);

/**
 * Character device node (`mode` permission bits), e.g. /dev/console 5:1,
 * so the kernel can open a console for /init before devtmpfs is mounted.
 */
int st_initramfs_add_chardev(st_initramfs *ir, const char *path,
                             mode_t mode, unsigned major, unsigned minor);

/**
 * The ELF executable `host_path` as `path`, plus its ELF interpreter and
 * every shared library it needs, transitively: DT_NEEDED entries searched
 * as ld.so does (DT_RPATH when there is no DT_RUNPATH, DT_RUNPATH,
 * /etc/ld.so.cache, then the default directories; $ORIGIN expanded).
 * Libraries keep their host paths in the image (ld.so.cache is copied when
 * it was used), so the guest's loader finds them.  A static binary adds
 * just itself.  Fails with ST_EELF naming the binary, the missing library
 * and the directories searched.  Libraries opened with dlopen() cannot be
 * seen here; add them with st_initramfs_add_file().
 */
int st_initramfs_add_binary_with_libs(st_initramfs *ir, const char *path,
                                      const char *host_path, mode_t mode);

/**
 * Host paths `host_path` needs at run time, in load order: the ELF
 * interpreter first (when dynamic), then every library.  `*out` is a
 * NULL-terminated array; free it with st_initramfs_deps_free().  Used by
 * add_binary_with_libs and by tests.
 */
int st_initramfs_elf_deps(char ***out, size_t *count, const char *host_path);
void st_initramfs_deps_free(char **deps);

/** Number of entries so far, and the total bytes of file contents. */
size_t st_initramfs_count(const st_initramfs *ir);
unsigned long long st_initramfs_content_bytes(const st_initramfs *ir);

/**
 * Write the archive to `out_path` (atomically: temporary file + rename).
 * `flags` is 0 or ST_INITRAMFS_GZIP.
 */
int st_initramfs_write(st_initramfs *ir, const char *out_path, int flags);

#endif
