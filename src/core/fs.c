/*
 * fs.c: file-system helpers with ST_E* errors that name the path.
 */
#include "schedtest/fs.h"
#include "schedtest/error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int fail_errno(int errnum, const char *what, const char *path)
{
    return st_error_set_errno(st_error_from_errno(errnum), errnum, "%s %s",
                              what, path);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void st_fs_list_free(char **names)
{
    if (!names)
        return;
    for (char **p = names; *p; p++)
        free(*p);
    free(names);
}

int st_fs_list(char ***out, size_t *count, const char *dir)
{
    *out = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (!d)
        return fail_errno(errno, "cannot open directory", dir);
    size_t n = 0, cap = 16;
    char **names = malloc(cap * sizeof *names);
    if (!names) {
        closedir(d);
        return st_error_set(ST_ENOMEM, "out of memory listing %s", dir);
    }
    struct dirent *e;
    errno = 0;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (n + 1 >= cap) {
            char **grown = realloc(names, 2 * cap * sizeof *names);
            if (!grown)
                goto nomem;
            names = grown;
            cap *= 2;
        }
        if ((names[n] = strdup(e->d_name)) == NULL)
            goto nomem;
        n++;
    }
    closedir(d);
    names[n] = NULL;
    qsort(names, n, sizeof *names, cmp_names);
    *out = names;
    *count = n;
    return 0;
nomem:
    closedir(d);
    names[n] = NULL;
    st_fs_list_free(names);
    return st_error_set(ST_ENOMEM, "out of memory listing %s", dir);
}

int st_fs_stat(st_fs_info *out, const char *path, int follow)
{
    struct stat st;
    if ((follow ? stat(path, &st) : lstat(path, &st)) < 0)
        return fail_errno(errno, "cannot stat", path);
    if (S_ISREG(st.st_mode))
        out->type = ST_FS_FILE;
    else if (S_ISDIR(st.st_mode))
        out->type = ST_FS_DIR;
    else if (S_ISLNK(st.st_mode))
        out->type = ST_FS_LINK;
    else
        out->type = ST_FS_OTHER;
    out->size = (uint64_t)st.st_size;
    out->mtime = (double)st.st_mtim.tv_sec + st.st_mtim.tv_nsec / 1e9;
    out->mode = st.st_mode & 07777;
    return 0;
}

int st_fs_mkdir_p(const char *path, mode_t mode)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return st_error_set(ST_EINVAL, "path too long: %s", path);
    for (char *p = buf + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(buf, mode) < 0 && errno != EEXIST)
                return fail_errno(errno, "cannot create directory", buf);
            *p = saved;
            if (saved == '\0')
                break;
        }
    }
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
        return st_error_set(ST_EEXIST, "%s exists and is not a directory",
                            path);
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    int rc = (flag == FTW_DP) ? rmdir(path) : unlink(path);
    if (rc < 0 && errno != ENOENT) {
        fail_errno(errno, "cannot remove", path);
        return -1;
    }
    return 0;
}

int st_fs_remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : fail_errno(errno, "cannot stat", path);
    if (!S_ISDIR(st.st_mode))
        return unlink(path) < 0 ? fail_errno(errno, "cannot remove", path)
                                : 0;
    if (nftw(path, remove_entry, 32, FTW_DEPTH | FTW_PHYS) < 0)
        return st_error_last_code() < 0 ? st_error_last_code() : ST_EIO;
    return 0;
}

int st_fs_realpath(char **out, const char *path)
{
    *out = realpath(path, NULL);
    if (!*out)
        return fail_errno(errno, "cannot resolve", path);
    return 0;
}

int st_fs_cwd(char **out)
{
    *out = getcwd(NULL, 0);
    if (!*out)
        return st_error_set_errno(st_error_from_errno(errno), errno,
                                  "cannot get the working directory");
    return 0;
}

static const char *tmp_dir(void)
{
    const char *tmp = getenv("TMPDIR");
    return tmp && *tmp ? tmp : "/tmp";
}

int st_fs_mkdtemp(char **out, const char *prefix)
{
    const char *tmp = tmp_dir();
    char *buf;
    if (asprintf(&buf, "%s/%sXXXXXX", tmp, prefix) < 0)
        return st_error_set(ST_ENOMEM, "out of memory");
    if (!mkdtemp(buf)) {
        int e = errno;
        free(buf);
        return fail_errno(e, "cannot create a temporary directory in", tmp);
    }
    *out = buf;
    return 0;
}

/* {====================================================================
 * Scratch directories
 * ===================================================================== */

/*
 * Create and lock `dir`/ST_FS_SCRATCH_LOCK.  The file is made and locked
 * under a temporary name and only then renamed into place, so a sweep
 * never finds the lock file of a live directory unlocked.
 */
static int hold_scratch_lock(const char *dir, int *out)
{
    char tmp[PATH_MAX], lock[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s/%s.new", dir, ST_FS_SCRATCH_LOCK) >=
            (int)sizeof tmp ||
        snprintf(lock, sizeof lock, "%s/%s", dir, ST_FS_SCRATCH_LOCK) >=
            (int)sizeof lock)
        return st_error_set(ST_EINVAL, "path too long: %s", dir);
    int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  0600);
    if (fd < 0)
        return fail_errno(errno, "cannot create", tmp);
    if (flock(fd, LOCK_EX | LOCK_NB) < 0 || rename(tmp, lock) < 0) {
        int e = errno;
        close(fd);
        return fail_errno(e, "cannot lock", tmp);
    }
    *out = fd;
    return 0;
}

int st_fs_scratch_new(st_fs_scratch *s, const char *prefix)
{
    s->path = NULL;
    s->lock_fd = -1;
    char *dir;
    int rc = st_fs_mkdtemp(&dir, prefix);
    if (rc < 0)
        return rc;
    int fd;
    if ((rc = hold_scratch_lock(dir, &fd)) < 0) {
        st_fs_remove_tree(dir);
        free(dir);
        return rc;
    }
    s->path = dir;
    s->lock_fd = fd;
    return 0;
}

/* Close the lock (if any) and forget the directory. */
static void scratch_forget(st_fs_scratch *s)
{
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    free(s->path);
    s->path = NULL;
    s->lock_fd = -1;
}

int st_fs_scratch_remove(st_fs_scratch *s)
{
    /* Remove before unlocking: a sweep then never races us for it. */
    int rc = s->path ? st_fs_remove_tree(s->path) : 0;
    scratch_forget(s);
    return rc;
}

void st_fs_scratch_keep(st_fs_scratch *s)
{
    if (s->path) {
        char lock[PATH_MAX], keep[PATH_MAX];
        snprintf(lock, sizeof lock, "%s/%s", s->path, ST_FS_SCRATCH_LOCK);
        snprintf(keep, sizeof keep, "%s/%s", s->path, ST_FS_SCRATCH_KEEP);
        rename(lock, keep); /* best effort: at worst a sweep removes it */
    }
    scratch_forget(s);
}

/* The newest mtime of the directory `dfd` (stat `st`) and its entries. */
static time_t newest_mtime(int dfd, const struct stat *st)
{
    time_t newest = st->st_mtime;
    int fd = dup(dfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return newest;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        struct stat est;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue; /* "." is `st`; ".." is $TMPDIR, always fresh */
        if (fstatat(dfd, e->d_name, &est, AT_SYMLINK_NOFOLLOW) == 0 &&
            est.st_mtime > newest)
            newest = est.st_mtime;
    }
    closedir(d);
    return newest;
}

/*
 * Whether the scratch directory open as `dfd` is stale.  When its lock
 * file could be taken, `*lock` holds it: keep it until the directory is
 * gone, so a second sweep running at once leaves the directory alone.
 */
static int scratch_stale(int dfd, const struct stat *st, int *lock)
{
    *lock = -1;
    if (faccessat(dfd, ST_FS_SCRATCH_KEEP, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
        return 0;
    int fd = openat(dfd, ST_FS_SCRATCH_LOCK,
                    O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
            close(fd); /* held: in use (or cannot tell: leave it) */
            return 0;
        }
        *lock = fd;
        return 1;
    }
    if (errno != ENOENT)
        return 0;
    return time(NULL) - newest_mtime(dfd, st) > ST_FS_SCRATCH_UNLOCKED_AGE_S;
}

/* Sweep one `$TMPDIR/name`; 1 removed, 0 left, < 0 removal failed. */
static int sweep_one(const char *path)
{
    int dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return 0; /* gone meanwhile, not a directory, or not ours */
    struct stat st;
    int lock = -1, rc = 0;
    if (fstat(dfd, &st) == 0 && st.st_uid == geteuid() &&
        scratch_stale(dfd, &st, &lock)) {
        rc = st_fs_remove_tree(path);
        if (rc == 0)
            rc = 1;
    }
    if (lock >= 0)
        close(lock);
    close(dfd);
    return rc;
}

static int sweep_prefix(const char *prefix, size_t *removed)
{
    const char *tmp = tmp_dir();
    char **names;
    size_t n;
    int rc = st_fs_list(&names, &n, tmp);
    if (rc < 0)
        return rc;
    int first_err = 0;
    size_t plen = strlen(prefix);
    for (size_t i = 0; i < n; i++) {
        if (strncmp(names[i], prefix, plen) != 0)
            continue;
        char path[PATH_MAX];
        if (snprintf(path, sizeof path, "%s/%s", tmp, names[i]) >=
            (int)sizeof path)
            continue;
        int r = sweep_one(path);
        if (r > 0)
            (*removed)++;
        else if (r < 0 && first_err == 0)
            first_err = r;
    }
    st_fs_list_free(names);
    return first_err;
}

int st_fs_sweep_scratch(const char *prefix, size_t *removed)
{
    static const char *const all[] = {
        ST_FS_SCRATCH_VM, ST_FS_SCRATCH_PROC, ST_FS_SCRATCH_SNAP, NULL
    };
    size_t count = 0;
    if (removed)
        *removed = 0;
    if (prefix && (strncmp(prefix, "schedtest-", 10) != 0 ||
                   strchr(prefix, '/')))
        return st_error_set(ST_EINVAL, "scratch prefix '%s' must start "
                            "with 'schedtest-' and name no directory",
                            prefix);
    int rc = 0;
    if (prefix) {
        rc = sweep_prefix(prefix, &count);
    } else {
        for (int i = 0; all[i]; i++) {
            int r = sweep_prefix(all[i], &count);
            if (r < 0 && rc == 0)
                rc = r;
        }
    }
    if (removed)
        *removed = count;
    return rc;
}
/* }==================================================================== */

static int write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

int st_fs_write_atomic(const char *path, const void *data, size_t len,
                       mode_t mode)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= (int)sizeof tmp)
        return st_error_set(ST_EINVAL, "path too long: %s", path);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return fail_errno(errno, "cannot create a temporary file for", path);
    if (write_all(fd, data, len) < 0 || fchmod(fd, mode) < 0 ||
        fsync(fd) < 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return fail_errno(e, "cannot write", path);
    }
    if (close(fd) < 0 || rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        return fail_errno(e, "cannot publish", path);
    }
    /* Make the rename itself durable. */
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        dir[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

int st_fs_read_file(char **out, size_t *len, const char *path)
{
    *out = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail_errno(errno, "cannot open", path);
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return fail_errno(e, "cannot stat", path);
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return st_error_set(ST_EINVAL, "%s is a directory, not a file",
                            path);
    }
    size_t cap = st.st_size > 0 ? (size_t)st.st_size + 1 : 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf) {
        close(fd);
        return st_error_set(ST_ENOMEM, "out of memory reading %s", path);
    }
    for (;;) {
        if (n + 1 >= cap) {
            char *grown = realloc(buf, cap * 2);
            if (!grown) {
                free(buf);
                close(fd);
                return st_error_set(ST_ENOMEM, "out of memory reading %s",
                                    path);
            }
            buf = grown;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            free(buf);
            close(fd);
            return fail_errno(e, "cannot read", path);
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

/* The note a lock holder left in its lock file, for a busy message. */
static void read_holder_note(int fd, char *buf, size_t size)
{
    ssize_t n = pread(fd, buf, size - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
}

int st_fs_lock(int *fd, const char *path, int wait, const char *note)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        int rc = st_fs_mkdir_p(dir, 0755);
        if (rc < 0)
            return rc;
    }
    int lfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lfd < 0)
        return fail_errno(errno, "cannot open the lock file", path);
    if (flock(lfd, LOCK_EX | (wait ? 0 : LOCK_NB)) < 0) {
        int e = errno;
        if (e == EINTR) { /* a signal: let the caller see its interrupt */
            close(lfd);
            return st_error_set(ST_EINTR, "interrupted while waiting for %s",
                                path);
        }
        if (e == EWOULDBLOCK) {
            char holder[256];
            read_holder_note(lfd, holder, sizeof holder);
            close(lfd);
            return st_error_set(ST_EBUSY, "%s is locked by %s", path,
                                *holder ? holder : "another process");
        }
        close(lfd);
        return fail_errno(e, "cannot lock", path);
    }
    char line[512];
    int len = snprintf(line, sizeof line, "pid %ld%s%s\n", (long)getpid(),
                       note && *note ? ", " : "", note ? note : "");
    if (len >= (int)sizeof line)
        len = (int)sizeof line - 1;
    if (ftruncate(lfd, 0) < 0 || pwrite(lfd, line, (size_t)len, 0) < 0) {
        int e = errno;
        close(lfd);
        return fail_errno(e, "cannot write the lock file", path);
    }
    *fd = lfd;
    return 0;
}
