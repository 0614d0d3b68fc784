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
 * @name Scratch directories
 *
 * A scratch directory is a private working directory under $TMPDIR that
 * the process creating it removes when done.  To let a later run clean up
 * after a process that could not (SIGKILL, power loss), the creator holds
 * an exclusive flock(2) on ST_FS_SCRATCH_LOCK inside the directory for the
 * directory's whole life; st_fs_sweep_scratch() removes the directories
 * whose lock nobody holds.
 *
 * The lock descriptor is O_CLOEXEC: children (qemu, programs run by
 * proc.run) do not inherit it.  The lock means "a schedtest process that
 * will remove this directory is alive".  qemu dies with schedtest
 * (PR_SET_PDEATHSIG), and should one survive anyway nobody would ever read
 * what it writes, so its directory is garbage; an inherited lock would
 * instead keep it forever behind a daemonised or hung child.
 * @{
 */

/** The prefixes of the scratch directories schedtest makes. */
#define ST_FS_SCRATCH_VM   "schedtest-vm-"
#define ST_FS_SCRATCH_PROC "schedtest-proc-"
#define ST_FS_SCRATCH_SNAP "schedtest-snap-"

/** The lock file inside a scratch directory, held while it is in use. */
#define ST_FS_SCRATCH_LOCK ".schedtest-lock"
/** Marker left by st_fs_scratch_keep(): sweeps never touch the directory. */
#define ST_FS_SCRATCH_KEEP ".schedtest-keep"
/**
 * A directory without a lock file (made by a schedtest older than the
 * lock, or caught between mkdtemp and locking) counts as stale once
 * neither it nor anything directly in it changed for this many seconds.
 */
#define ST_FS_SCRATCH_UNLOCKED_AGE_S 3600

typedef struct {
    char *path;  /**< "$TMPDIR/<prefix>XXXXXX"; NULL when there is none */
    int lock_fd; /**< the held ST_FS_SCRATCH_LOCK; -1 when there is none */
} st_fs_scratch;

#define ST_FS_SCRATCH_INIT {NULL, -1}

/**
 * Create "$TMPDIR/<prefix>XXXXXX" (like st_fs_mkdtemp) and lock it.  On
 * failure nothing is left behind and `*s` is ST_FS_SCRATCH_INIT.
 */
int st_fs_scratch_new(st_fs_scratch *s, const char *prefix);

/**
 * rm -rf the directory, then drop the lock; `*s` becomes
 * ST_FS_SCRATCH_INIT.  Idempotent.  Returns st_fs_remove_tree's result.
 */
int st_fs_scratch_remove(st_fs_scratch *s);

/**
 * Leave the directory in place for inspection (SCHEDTEST_KEEP_VM): the
 * lock file becomes ST_FS_SCRATCH_KEEP so no sweep removes it, and the
 * lock is dropped; `*s` becomes ST_FS_SCRATCH_INIT.  Idempotent.
 */
void st_fs_scratch_keep(st_fs_scratch *s);

/**
 * Remove every directory "$TMPDIR/<prefix>*" owned by this user that is
 * stale: its ST_FS_SCRATCH_LOCK exists and nobody holds it, or it has no
 * lock file and is older than ST_FS_SCRATCH_UNLOCKED_AGE_S.  Directories
 * with ST_FS_SCRATCH_KEEP, locked ones, other users' and non-directories
 * are left alone.  `prefix` must start with "schedtest-" (the age rule
 * would otherwise delete other programs' directories); NULL sweeps every
 * ST_FS_SCRATCH_* prefix.  `*removed` (may be NULL) counts what went.
 * Keeps going past a directory it cannot remove and returns the first
 * such error, else 0.
 */
int st_fs_sweep_scratch(const char *prefix, size_t *removed);

/** @} */

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
