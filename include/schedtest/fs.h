/**
 * @file schedtest/fs.h
 * @brief Small file-system helpers the other core modules and Lua share.
 */
#ifndef SCHEDTEST_FS_H
#define SCHEDTEST_FS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef enum {
    ST_FS_FILE,
    ST_FS_DIR,
    ST_FS_LINK,
    ST_FS_OTHER
} st_fs_type;

typedef struct {
    st_fs_type type;
    uint64_t size;
    double mtime; /* seconds since the epoch, with nanoseconds */
    mode_t mode;  /* permission bits */
} st_fs_info;

/**
 * Names in `dir` (without "." and ".."), sorted bytewise.  `*out` is a
 * NULL-terminated array; free it with st_fs_list_free().
 */
int st_fs_list(char ***out, size_t *count, const char *dir);
void st_fs_list_free(char **names);

/** lstat (follow = 0) or stat (follow = 1) of `path`. */
int st_fs_stat(st_fs_info *out, const char *path, int follow);

/** mkdir -p with `mode` for the directories it creates. */
int st_fs_mkdir_p(const char *path, mode_t mode);

/**
 * rm -rf `path`: never follows symbolic links, succeeds when `path` does
 * not exist.
 */
int st_fs_remove_tree(const char *path);

/** Canonical absolute path; free `*out`. */
int st_fs_realpath(char **out, const char *path);

/**
 * Create a fresh directory "$TMPDIR/<prefix>XXXXXX" (TMPDIR defaults to
 * /tmp); free `*out`.
 */
int st_fs_mkdtemp(char **out, const char *prefix);

/**
 * Write `len` bytes to `path` atomically: a temporary file in the same
 * directory, fsync, rename, fsync of the directory.  A crash leaves either
 * the old file or the new one, never a half-written file.
 */
int st_fs_write_atomic(const char *path, const void *data, size_t len,
                       mode_t mode);

/** The current working directory (getcwd); free `*out`. */
int st_fs_cwd(char **out);

/** Read a whole file; `*out` is NUL-terminated, free it. */
int st_fs_read_file(char **out, size_t *len, const char *path);

/**
 * Take an exclusive advisory lock (flock) on `path`, creating the file
 * (0644) and its directory if missing.  With `wait` zero a lock held by
 * someone else fails at once with ST_EBUSY, and the message quotes the
 * holder's note.  On success `*fd` is the lock (close it to release: the
 * kernel also releases it when the process dies, so a crash never leaves
 * a stale lock) and "pid N, <note>" replaces the file's contents so the
 * next contender can say who holds it.  The descriptor is
 * O_CLOEXEC: children never keep the lock alive.
 */
int st_fs_lock(int *fd, const char *path, int wait, const char *note);

#endif
