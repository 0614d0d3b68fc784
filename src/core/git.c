/*
 * git.c: everything schedtest does with git, through libgit2.
 *
 * The user's repository is read-only for us except for loose objects
 * (snapshots).  Plain checkouts are written by walking the tree and
 * writing blobs straight to files through directory descriptors, which
 * avoids the index, the filter machinery and per-path lookups that make
 * git_checkout_tree slow on large trees.
 */
#include "schedtest/git.h"
#include "schedtest/error.h"
#include "schedtest/fs.h"

#include <git2.h>
#include <git2/sys/repository.h>

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* Content of our lock files: how sweep and checkout recognise them. */
#define LOCK_MARKER "schedtest plain checkout\n"

struct st_git_repo {
    git_repository *repo;
};

int st_git_global_init(void)
{
    int rc = git_libgit2_init();
    if (rc < 0) {
        const git_error *e = git_error_last();
        return st_error_set(ST_EGIT, "libgit2 init failed: %s",
                            e ? e->message : "unknown error");
    }
    return 0;
}

void st_git_global_shutdown(void)
{
    git_libgit2_shutdown();
}

const char *st_git_libgit2_version(void)
{
    static char buf[32];
    int major, minor, rev;
    git_libgit2_version(&major, &minor, &rev);
    snprintf(buf, sizeof buf, "%d.%d.%d", major, minor, rev);
    return buf;
}

/* Record `code` with the message "<fmt>: <libgit2's last error>". */
__attribute__((format(printf, 2, 3)))
static int git_fail(int code, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const git_error *e = git_error_last();
    if (e && e->message && e->message[0])
        return st_error_set(code, "%s: %s", msg, e->message);
    return st_error_set(code, "%s", msg);
}

/* ---- repositories --------------------------------------------------- */

int st_git_open(st_git_repo **out, const char *path)
{
    *out = NULL;
    if (!path || !*path)
        path = ".";
    git_repository *r = NULL;
    int rc = git_repository_open_ext(&r, path, 0, NULL);
    if (rc == GIT_ENOTFOUND)
        return st_error_set(ST_EGITREPO,
                            "%s is not inside a git repository (no .git "
                            "found walking up from it); run schedtest from "
                            "your project's checkout or pass its path",
                            path);
    if (rc < 0)
        return git_fail(ST_EGITREPO, "cannot open the git repository at %s",
                        path);
    st_git_repo *repo = calloc(1, sizeof *repo);
    if (!repo) {
        git_repository_free(r);
        return st_error_set(ST_ENOMEM, "out of memory");
    }
    repo->repo = r;
    *out = repo;
    return 0;
}

void st_git_close(st_git_repo *repo)
{
    if (!repo)
        return;
    git_repository_free(repo->repo);
    free(repo);
}

const char *st_git_workdir(const st_git_repo *repo)
{
    return git_repository_workdir(repo->repo);
}

/* ---- labels ------------------------------------------------------------ */

static void short_label(char label[ST_GIT_LABELSZ], const git_oid *oid)
{
    char hex[ST_GIT_HEXSZ];
    git_oid_tostr(hex, sizeof hex, oid);
    snprintf(label, ST_GIT_LABELSZ, "%.*s", ST_GIT_SHORT, hex);
}

static const char *env_override(void)
{
    const char *v = getenv("SCHEDTEST_PROJECT_COMMIT");
    if (v && *v)
        return v;
    v = getenv("KTSTR_PROJECT_COMMIT");
    if (v && *v)
        return v;
    return NULL;
}

/* HEAD's commit id; ST_EGITUNBORN when the branch has no commit yet. */
static int head_oid(git_oid *out, git_repository *r)
{
    int rc = git_reference_name_to_id(out, r, "HEAD");
    if (rc == 0)
        return 0;
    if (git_repository_head_unborn(r) == 1)
        return st_error_set(ST_EGITUNBORN,
                            "HEAD of %s has no commit yet (unborn branch); "
                            "make a first commit",
                            git_repository_workdir(r)
                                ? git_repository_workdir(r)
                                : git_repository_path(r));
    return git_fail(ST_EGIT, "cannot read HEAD of %s",
                    git_repository_path(r));
}

int st_git_is_dirty(st_git_repo *repo)
{
    if (git_repository_is_bare(repo->repo))
        return 0;
    git_status_options so;
    git_status_options_init(&so, GIT_STATUS_OPTIONS_VERSION);
    so.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
    /* Tracked files only, like ktstr: no untracked scan, no submodules,
     * no rename detection (it only costs time here). */
    so.flags = GIT_STATUS_OPT_EXCLUDE_SUBMODULES;
    git_status_list *list = NULL;
    if (git_status_list_new(&list, repo->repo, &so) < 0) {
        git_error_clear(); /* a failed probe counts as clean */
        return 0;
    }
    int dirty = git_status_list_entrycount(list) > 0;
    git_status_list_free(list);
    return dirty;
}

int st_git_head_label(char label[ST_GIT_LABELSZ], char full[ST_GIT_HEXSZ],
                      st_git_repo *repo, int use_env)
{
    const char *env = use_env ? env_override() : NULL;
    if (env) {
        snprintf(label, ST_GIT_LABELSZ, "%s", env);
        if (full)
            full[0] = '\0';
        return 0;
    }
    git_oid oid;
    int rc = head_oid(&oid, repo->repo);
    if (rc < 0)
        return rc;
    short_label(label, &oid);
    if (full)
        git_oid_tostr(full, ST_GIT_HEXSZ, &oid);
    if (st_git_is_dirty(repo))
        strncat(label, "-dirty", ST_GIT_LABELSZ - strlen(label) - 1);
    return 0;
}

int st_git_project_commit(char label[ST_GIT_LABELSZ], const char *dir)
{
    const char *env = env_override();
    if (env) {
        snprintf(label, ST_GIT_LABELSZ, "%s", env);
        return 0;
    }
    st_git_repo *repo;
    int rc = st_git_open(&repo, dir);
    if (rc < 0)
        return rc;
    rc = st_git_head_label(label, NULL, repo, 0);
    st_git_close(repo);
    return rc;
}

/* ---- revisions and baselines ------------------------------------------ */

/* Commit named by `spec` (single-commit spec; "^rev" means rev, as gix
 * accepts it).  ST_EGITREF when it names nothing or not a commit. */
static int resolve_commit(git_oid *out, git_repository *r, const char *spec)
{
    const char *s = spec;
    if (s[0] == '^' && s[1] != '\0')
        s++;
    git_object *obj = NULL;
    int rc = git_revparse_single(&obj, r, s);
    if (rc < 0) {
        if (rc == GIT_EAMBIGUOUS)
            return git_fail(ST_EGITREF, "'%s' is ambiguous; give more "
                            "characters of the commit id", spec);
        return git_fail(ST_EGITREF,
                        "unknown git revision '%s' (not a branch, tag or "
                        "commit in %s; fetch it or check the spelling)",
                        spec, git_repository_path(r));
    }
    git_object *peeled = NULL;
    rc = git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT);
    git_object_free(obj);
    if (rc < 0)
        return git_fail(ST_EGITREF, "'%s' does not name a commit", spec);
    git_oid_cpy(out, git_object_id(peeled));
    git_object_free(peeled);
    return 0;
}

static int merge_base(git_oid *out, git_repository *r, const git_oid *head,
                      const git_oid *other, const char *what)
{
    int rc = git_merge_base(out, r, head, other);
    if (rc == 0)
        return 0;
    if (git_repository_is_shallow(r) == 1)
        return git_fail(ST_EGITSHALLOW,
                        "no merge base between HEAD and %s: this clone is "
                        "shallow, so the common history is missing; fetch "
                        "the full history (git fetch --unshallow, or "
                        "fetch-depth: 0 in actions/checkout) or pass "
                        "--base <commit>",
                        what);
    if (rc == GIT_ENOTFOUND)
        return st_error_set(ST_EGITNOBASE,
                            "HEAD and %s have no common ancestor; pass "
                            "--base <commit> to pick the baseline",
                            what);
    return git_fail(ST_EGIT, "cannot compute the merge base of HEAD and %s",
                    what);
}

int st_git_resolve_baseline(st_git_baseline *out, st_git_repo *repo,
                            const st_git_baseline_opts *opts)
{
    static const st_git_baseline_opts none;
    if (!opts)
        opts = &none;
    memset(out, 0, sizeof *out);
    git_repository *r = repo->repo;
    git_oid head, base;
    int rc = head_oid(&head, r);
    if (rc < 0)
        return rc;

    if (opts->base && *opts->base) {
        rc = resolve_commit(&base, r, opts->base);
        if (rc < 0)
            return rc;
        out->source = "base";
        snprintf(out->how, sizeof out->how, "explicit --base %s",
                 opts->base);
    } else {
        git_oid other;
        char what[300];
        if (opts->base_ref && *opts->base_ref) {
            snprintf(what, sizeof what, "%s", opts->base_ref);
            out->source = "base_ref";
            rc = resolve_commit(&other, r, what);
        } else if (opts->github_base_ref && *opts->github_base_ref) {
            snprintf(what, sizeof what, "origin/%s", opts->github_base_ref);
            out->source = "github_base_ref";
            rc = resolve_commit(&other, r, what);
        } else {
            const char *b = opts->default_branch && *opts->default_branch
                                ? opts->default_branch
                                : "main";
            snprintf(what, sizeof what, "%s", b);
            out->source = "default_branch";
            rc = resolve_commit(&other, r, what);
            if (rc == ST_EGITREF) {
                /* CI clones often have only origin/<branch>. */
                char remote[300];
                snprintf(remote, sizeof remote, "origin/%s", b);
                if (resolve_commit(&other, r, remote) == 0) {
                    snprintf(what, sizeof what, "%s", remote);
                    rc = 0;
                } else {
                    rc = st_error_set(
                        ST_EGITREF,
                        "default branch '%s' not found (neither %s nor "
                        "origin/%s exists); pass --base, --base-ref or "
                        "the right default branch",
                        b, b, b);
                }
            }
        }
        if (rc < 0)
            return rc;
        rc = merge_base(&base, r, &head, &other, what);
        if (rc < 0)
            return rc;
        snprintf(out->how, sizeof out->how, "merge-base(HEAD, %s)%s", what,
                 strcmp(out->source, "github_base_ref") == 0
                     ? " from $GITHUB_BASE_REF"
                     : "");
    }

    int dirty = st_git_is_dirty(repo);
    git_oid_tostr(out->commit, sizeof out->commit, &base);
    git_oid_tostr(out->head, sizeof out->head, &head);
    short_label(out->head_label, &head);
    short_label(out->label, &base);
    if (dirty)
        strcat(out->head_label, "-dirty");
    if (git_oid_equal(&base, &head) && dirty) {
        /* Nothing committed since the baseline, but the work tree has
         * edits: compare them against HEAD, the question a developer asks
         * before committing.  The labels differ ("abc1234" vs
         * "abc1234-dirty"), so the sides stay apart. */
        size_t len = strlen(out->how);
        snprintf(out->how + len, sizeof out->how - len,
                 " = HEAD; comparing the work tree's uncommitted changes "
                 "against it");
        out->worktree_only = 1;
    }
    if (strcmp(out->label, out->head_label) == 0)
        return st_error_set(ST_EGITSAME,
                            "baseline (%s, %s) resolves to HEAD — nothing "
                            "to compare",
                            out->label, out->how);
    return 0;
}

int st_git_resolve_tree(char out[ST_GIT_HEXSZ], st_git_repo *repo,
                        const char *spec)
{
    git_object *obj = NULL, *tree = NULL;
    if (git_revparse_single(&obj, repo->repo, spec) < 0)
        return git_fail(ST_EGITREF,
                        "unknown git revision or tree '%s' in %s", spec,
                        git_repository_path(repo->repo));
    int rc = git_object_peel(&tree, obj, GIT_OBJECT_TREE);
    git_object_free(obj);
    if (rc < 0)
        return git_fail(ST_EGITREF, "'%s' does not name a tree", spec);
    git_oid_tostr(out, ST_GIT_HEXSZ, git_object_id(tree));
    git_object_free(tree);
    return 0;
}

int st_git_read_file(char **out, size_t *len, st_git_repo *repo,
                     const char *spec, const char *path)
{
    *out = NULL;
    *len = 0;
    git_object *obj = NULL, *tree = NULL;
    if (git_revparse_single(&obj, repo->repo, spec) < 0)
        return git_fail(ST_EGITREF, "unknown git revision '%s'", spec);
    int rc = git_object_peel(&tree, obj, GIT_OBJECT_TREE);
    git_object_free(obj);
    if (rc < 0)
        return git_fail(ST_EGITREF, "'%s' does not name a tree", spec);
    git_tree_entry *entry = NULL;
    rc = git_tree_entry_bypath(&entry, (git_tree *)tree, path);
    if (rc < 0) {
        git_object_free(tree);
        return git_fail(ST_ENOENT, "%s has no file %s", spec, path);
    }
    git_blob *blob = NULL;
    rc = git_blob_lookup(&blob, repo->repo, git_tree_entry_id(entry));
    git_tree_entry_free(entry);
    git_object_free(tree);
    if (rc < 0)
        return git_fail(ST_ENOENT, "%s:%s is not a file", spec, path);
    size_t n = (size_t)git_blob_rawsize(blob);
    char *buf = malloc(n + 1);
    if (!buf) {
        git_blob_free(blob);
        return st_error_set(ST_ENOMEM, "out of memory reading %s:%s", spec,
                            path);
    }
    memcpy(buf, git_blob_rawcontent(blob), n);
    buf[n] = '\0';
    git_blob_free(blob);
    *out = buf;
    *len = n;
    return 0;
}

/* ---- snapshots ---------------------------------------------------------- */

static int copy_file(const char *from, const char *to)
{
    char *data;
    size_t len;
    int rc = st_fs_read_file(&data, &len, from);
    if (rc < 0)
        return rc;
    int fd = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        free(data);
        return st_error_set_errno(st_error_from_errno(errno), errno,
                                  "cannot create %s", to);
    }
    ssize_t n = write(fd, data, len);
    int e = errno;
    close(fd);
    free(data);
    if (n < 0 || (size_t)n != len)
        return st_error_set_errno(ST_EIO, n < 0 ? e : EIO,
                                  "cannot write %s", to);
    return 0;
}

int st_git_snapshot(char tree[ST_GIT_HEXSZ], size_t *changes,
                    st_git_repo *repo)
{
    git_repository *r = repo->repo;
    const char *wd = git_repository_workdir(r);
    if (!wd)
        return st_error_set(ST_EGIT, "%s is a bare repository: there is no "
                            "work tree to snapshot", git_repository_path(r));
    if (changes) {
        git_status_options so;
    git_status_options_init(&so, GIT_STATUS_OPTIONS_VERSION);
        so.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
        so.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED |
                   GIT_STATUS_OPT_RECURSE_UNTRACKED_DIRS |
                   GIT_STATUS_OPT_EXCLUDE_SUBMODULES;
        git_status_list *list;
        if (git_status_list_new(&list, r, &so) < 0)
            return git_fail(ST_EGIT, "cannot read the status of %s", wd);
        *changes = git_status_list_entrycount(list);
        git_status_list_free(list);
    }

    /* Work on a private copy of the index owned by a second repository
     * object, so neither the index file nor the caller's repository object
     * ever sees the additions. */
    st_fs_scratch tmp = ST_FS_SCRATCH_INIT;
    char *idxcopy = NULL, *idxpath = NULL;
    git_repository *r2 = NULL;
    git_index *idx = NULL;
    int rc = st_fs_scratch_new(&tmp, ST_FS_SCRATCH_SNAP);
    if (rc < 0)
        return rc;
    if (asprintf(&idxcopy, "%s/index", tmp.path) < 0 ||
        asprintf(&idxpath, "%sindex", git_repository_path(r)) < 0) {
        rc = st_error_set(ST_ENOMEM, "out of memory");
        goto out;
    }
    if (access(idxpath, F_OK) == 0 && (rc = copy_file(idxpath, idxcopy)) < 0)
        goto out;
    if (git_repository_open(&r2, git_repository_path(r)) < 0 ||
        git_index_open(&idx, idxcopy) < 0) {
        rc = git_fail(ST_EGIT, "cannot open a private index for %s", wd);
        goto out;
    }
    git_repository_set_index(r2, idx);
    char *all[] = {"*"};
    git_strarray paths = {all, 1};
    git_oid oid;
    /* add_all: modified and untracked-not-ignored files; update_all:
     * deletions.  Blobs go to the object database as loose objects. */
    if (git_index_add_all(idx, &paths, GIT_INDEX_ADD_DEFAULT, NULL,
                          NULL) < 0 ||
        git_index_update_all(idx, &paths, NULL, NULL) < 0 ||
        git_index_write_tree(&oid, idx) < 0) {
        rc = git_fail(ST_EGIT, "cannot snapshot the work tree of %s", wd);
        goto out;
    }
    git_oid_tostr(tree, ST_GIT_HEXSZ, &oid);
    rc = 0;
out:
    git_index_free(idx);
    git_repository_free(r2);
    st_fs_scratch_remove(&tmp);
    free(idxcopy);
    free(idxpath);
    return rc;
}

/* ---- plain checkouts ---------------------------------------------------- */

struct st_git_checkout {
    char *dir;
    char *lock;
    char tree[ST_GIT_HEXSZ];
    int lockfd;
    size_t files;
    char **skipped;
    size_t nskipped, capskipped;
};

typedef struct {
    git_odb *odb;
    st_git_checkout *co;
    const st_git_checkout_opts *opts;
    char path[4096]; /* path inside the checkout, for messages */
    mode_t umask;
} writer;

static int add_skipped(st_git_checkout *co, const char *path)
{
    if (co->nskipped + 2 > co->capskipped) {
        size_t cap = co->capskipped ? co->capskipped * 2 : 8;
        char **v = realloc(co->skipped, cap * sizeof *v);
        if (!v)
            return st_error_set(ST_ENOMEM, "out of memory");
        co->skipped = v;
        co->capskipped = cap;
    }
    if (!(co->skipped[co->nskipped] = strdup(path)))
        return st_error_set(ST_ENOMEM, "out of memory");
    co->skipped[++co->nskipped] = NULL;
    return 0;
}

static int write_fail(writer *w, int e, const char *what)
{
    return st_error_set_errno(st_error_from_errno(e), e, "%s %s/%s", what,
                              w->co->dir, w->path);
}

static int write_blob(writer *w, int dirfd, const char *name,
                      const git_oid *id, git_filemode_t mode)
{
    git_odb_object *obj;
    if (git_odb_read(&obj, w->odb, id) < 0)
        return git_fail(ST_EGIT, "cannot read the blob of %s", w->path);
    const char *data = git_odb_object_data(obj);
    size_t len = git_odb_object_size(obj);
    int rc = 0;
    if (mode == GIT_FILEMODE_LINK) {
        char target[4096];
        if (len >= sizeof target) {
            rc = st_error_set(ST_ERANGE, "symbolic link %s is too long",
                              w->path);
        } else {
            memcpy(target, data, len);
            target[len] = '\0';
            if (symlinkat(target, dirfd, name) < 0)
                rc = write_fail(w, errno, "cannot create the link");
        }
    } else {
        mode_t m = mode == GIT_FILEMODE_BLOB_EXECUTABLE ? 0777 : 0666;
        int fd = openat(dirfd, name,
                        O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                        m & ~w->umask);
        if (fd < 0) {
            rc = write_fail(w, errno, "cannot create");
        } else {
            while (len > 0) {
                ssize_t n = write(fd, data, len);
                if (n < 0 && errno == EINTR)
                    continue;
                if (n <= 0) {
                    rc = write_fail(w, n < 0 ? errno : EIO, "cannot write");
                    break;
                }
                data += n;
                len -= (size_t)n;
            }
            if (close(fd) < 0 && rc == 0)
                rc = write_fail(w, errno, "cannot write");
        }
    }
    git_odb_object_free(obj);
    if (rc == 0)
        w->co->files++;
    return rc;
}

/* Write `tree` into the directory `dirfd`; w->path holds its path. */
static int write_tree(writer *w, git_repository *r, const git_tree *tree,
                      int dirfd)
{
    size_t plen = strlen(w->path);
    size_t n = git_tree_entrycount(tree);
    for (size_t i = 0; i < n; i++) {
        const git_tree_entry *e = git_tree_entry_byindex(tree, i);
        const char *name = git_tree_entry_name(e);
        git_filemode_t mode = git_tree_entry_filemode(e);
        /* libgit2 reads such trees; git itself refuses to check them out
         * because they would escape or turn the checkout into a repo. */
        if (!name[0] || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
            strcasecmp(name, ".git") == 0)
            return st_error_set(ST_EGIT, "tree %s has an unsafe entry '%s' "
                                "in '/%s'; refusing to check it out",
                                w->co->tree, name, w->path);
        if (plen + strlen(name) + 2 > sizeof w->path)
            return st_error_set(ST_ERANGE, "path too long: %s/%s", w->path,
                                name);
        snprintf(w->path + plen, sizeof w->path - plen, "%s%s",
                 plen ? "/" : "", name);
        int rc = 0;
        if (mode == GIT_FILEMODE_TREE || mode == GIT_FILEMODE_COMMIT) {
            if (mkdirat(dirfd, name, 0777 & ~w->umask) < 0)
                return write_fail(w, errno, "cannot create the directory");
            if (mode == GIT_FILEMODE_COMMIT) {
                /* A submodule: its commit is not in this repository. */
                rc = add_skipped(w->co, w->path);
            } else {
                int sub = openat(dirfd, name,
                                 O_RDONLY | O_DIRECTORY | O_CLOEXEC |
                                     O_NOFOLLOW);
                if (sub < 0)
                    return write_fail(w, errno, "cannot open");
                git_tree *t;
                if (git_tree_lookup(&t, r, git_tree_entry_id(e)) < 0) {
                    close(sub);
                    return git_fail(ST_EGIT, "cannot read the tree of %s",
                                    w->path);
                }
                rc = write_tree(w, r, t, sub);
                git_tree_free(t);
                close(sub);
            }
        } else {
            rc = write_blob(w, dirfd, name, git_tree_entry_id(e), mode);
            if (rc == 0 && w->opts->cancelled && (w->co->files & 63) == 0 &&
                w->opts->cancelled())
                rc = st_error_set(ST_EINTR, "checkout into %s interrupted",
                                  w->co->dir);
        }
        if (rc < 0)
            return rc;
        w->path[plen] = '\0';
    }
    return 0;
}

/* Is the open lock file ours (holds our marker)? */
static int lock_is_ours(int fd)
{
    char buf[sizeof LOCK_MARKER];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    return n == (ssize_t)(sizeof LOCK_MARKER - 1) &&
           memcmp(buf, LOCK_MARKER, sizeof LOCK_MARKER - 1) == 0;
}

/* Does `fd` still refer to the file at `path` (not unlinked by the
 * previous holder while we waited)? */
static int same_file(int fd, const char *path)
{
    struct stat a, b;
    return fstat(fd, &a) == 0 && stat(path, &b) == 0 &&
           a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static int interrupted(const st_git_checkout_opts *opts)
{
    return opts->cancelled && opts->cancelled();
}

/*
 * Take the exclusive lock on co->lock.  A new lock file is prepared
 * locked under a temporary name and then link()ed into place, so nobody
 * can ever see our lock file empty or unlocked.  *created tells whether
 * the lock file is new (then an existing directory is not ours).
 */
static int take_lock(st_git_checkout *co, const st_git_checkout_opts *opts,
                     int *created)
{
    for (;;) {
        int fd = open(co->lock, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
        if (fd >= 0) {
            if (!lock_is_ours(fd)) {
                close(fd);
                return st_error_set(ST_EEXIST,
                                    "%s exists and was not created by "
                                    "schedtest; not touching it or %s",
                                    co->lock, co->dir);
            }
            if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                if (errno != EWOULDBLOCK) {
                    int e = errno;
                    close(fd);
                    return st_error_set_errno(ST_EIO, e, "cannot lock %s",
                                              co->lock);
                }
                if (!opts->wait) {
                    close(fd);
                    return st_error_set(ST_EBUSY,
                                        "another schedtest run is using the "
                                        "checkout %s (lock %s is held); wait "
                                        "for it to finish or use another "
                                        "directory",
                                        co->dir, co->lock);
                }
                while (flock(fd, LOCK_EX) < 0) {
                    if (errno != EINTR || interrupted(opts)) {
                        int e = errno;
                        close(fd);
                        return e == EINTR
                                   ? st_error_set(ST_EINTR,
                                                  "interrupted while "
                                                  "waiting for %s",
                                                  co->lock)
                                   : st_error_set_errno(ST_EIO, e,
                                                        "cannot lock %s",
                                                        co->lock);
                    }
                }
            }
            if (!same_file(fd, co->lock)) {
                close(fd); /* the holder removed it: start over */
                continue;
            }
            co->lockfd = fd;
            *created = 0;
            return 0;
        }
        if (errno != ENOENT)
            return st_error_set_errno(st_error_from_errno(errno), errno,
                                      "cannot open %s", co->lock);

        char *tmp;
        if (asprintf(&tmp, "%s.%ld.tmp", co->lock, (long)getpid()) < 0)
            return st_error_set(ST_ENOMEM, "out of memory");
        fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                  0644);
        if (fd < 0) {
            int e = errno;
            free(tmp);
            return st_error_set_errno(st_error_from_errno(e), e,
                                      "cannot create the lock file %s",
                                      co->lock);
        }
        int ok = flock(fd, LOCK_EX) == 0 &&
                 write(fd, LOCK_MARKER, sizeof LOCK_MARKER - 1) ==
                     (ssize_t)(sizeof LOCK_MARKER - 1);
        int e = errno;
        int linked = ok ? link(tmp, co->lock) : -1;
        if (ok && linked < 0)
            e = errno;
        unlink(tmp);
        free(tmp);
        if (ok && linked == 0) {
            co->lockfd = fd;
            *created = 1;
            return 0;
        }
        close(fd);
        if (ok && e == EEXIST)
            continue; /* somebody else created it first: lock theirs */
        return st_error_set_errno(st_error_from_errno(e), e,
                                  "cannot create the lock file %s", co->lock);
    }
}

static void checkout_free(st_git_checkout *co)
{
    if (co->lockfd >= 0)
        close(co->lockfd);
    for (size_t i = 0; i < co->nskipped; i++)
        free(co->skipped[i]);
    free(co->skipped);
    free(co->dir);
    free(co->lock);
    free(co);
}

int st_git_checkout_open(st_git_checkout **out, st_git_repo *repo,
                    const char *spec, const char *dir,
                    const st_git_checkout_opts *opts)
{
    static const st_git_checkout_opts none;
    if (!opts)
        opts = &none;
    *out = NULL;
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/')
        dl--;
    if (dl == 0)
        return st_error_set(ST_EINVAL, "checkout directory is empty");

    git_repository *r = repo->repo;
    git_object *obj = NULL;
    git_tree *tree = NULL;
    if (git_revparse_single(&obj, r, spec) < 0)
        return git_fail(ST_EGITREF, "unknown git revision or tree '%s' in %s",
                        spec, git_repository_path(r));
    int rc = git_object_peel((git_object **)&tree, obj, GIT_OBJECT_TREE);
    git_object_free(obj);
    if (rc < 0)
        return git_fail(ST_EGITREF, "'%s' does not name a tree", spec);

    st_git_checkout *co = calloc(1, sizeof *co);
    if (!co || !(co->dir = strndup(dir, dl)) ||
        asprintf(&co->lock, "%s.lock", co->dir) < 0) {
        if (co) {
            co->lock = NULL;
            co->lockfd = -1;
            checkout_free(co);
        }
        git_tree_free(tree);
        return st_error_set(ST_ENOMEM, "out of memory");
    }
    co->lockfd = -1;
    git_oid_tostr(co->tree, sizeof co->tree, git_tree_id(tree));

    /* The parent must exist before the lock file can. */
    char *parent = strdup(co->dir);
    char *slash = parent ? strrchr(parent, '/') : NULL;
    if (slash && slash != parent) {
        *slash = '\0';
        rc = st_fs_mkdir_p(parent, 0777);
    }
    free(parent);
    int created = 0;
    if (rc < 0 || (rc = take_lock(co, opts, &created)) < 0)
        goto fail_nolock;

    struct stat st;
    if (lstat(co->dir, &st) == 0) {
        if (created) {
            /* Somebody else's directory: leave it, drop our lock file. */
            rc = st_error_set(ST_EEXIST,
                              "checkout target %s already exists and is not "
                              "a schedtest checkout; remove it or choose "
                              "another directory",
                              co->dir);
            unlink(co->lock);
            goto fail_nolock;
        }
        /* Ours, left behind by a run that died: replace it. */
        if ((rc = st_fs_remove_tree(co->dir)) < 0)
            goto fail;
    }
    if (mkdir(co->dir, 0777) < 0) {
        rc = st_error_set_errno(st_error_from_errno(errno), errno,
                                "cannot create %s", co->dir);
        goto fail;
    }
    int dfd = open(co->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        rc = st_error_set_errno(st_error_from_errno(errno), errno,
                                "cannot open %s", co->dir);
        goto fail;
    }
    writer w = {.co = co, .opts = opts};
    w.umask = umask(0);
    umask(w.umask);
    if (git_repository_odb(&w.odb, r) < 0) {
        close(dfd);
        rc = git_fail(ST_EGIT, "cannot open the object database");
        goto fail;
    }
    rc = write_tree(&w, r, tree, dfd);
    git_odb_free(w.odb);
    close(dfd);
    if (rc < 0)
        goto fail;
    git_tree_free(tree);
    *out = co;
    return 0;

fail:
    /* Keep the message of the failure, not of the cleanup. */
    {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", st_error_last());
        st_fs_remove_tree(co->dir);
        unlink(co->lock);
        st_error_set(rc, "%s", msg);
    }
fail_nolock:
    git_tree_free(tree);
    checkout_free(co);
    return rc;
}

const char *st_git_checkout_path(const st_git_checkout *co)
{
    return co->dir;
}

const char *st_git_checkout_tree(const st_git_checkout *co)
{
    return co->tree;
}

size_t st_git_checkout_files(const st_git_checkout *co)
{
    return co->files;
}

size_t st_git_checkout_skipped(const st_git_checkout *co,
                               const char *const **paths)
{
    static const char *const empty[] = {NULL};
    *paths = co->skipped ? (const char *const *)co->skipped : empty;
    return co->nskipped;
}

int st_git_checkout_close(st_git_checkout *co)
{
    if (!co)
        return 0;
    int rc = st_fs_remove_tree(co->dir);
    if (rc == 0 && unlink(co->lock) < 0 && errno != ENOENT)
        rc = st_error_set_errno(ST_EIO, errno, "cannot remove %s", co->lock);
    checkout_free(co);
    return rc;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

int st_git_sweep(size_t *removed, const char *pattern)
{
    size_t count = 0;
    glob_t g;
    int grc = glob(pattern, GLOB_NOSORT, NULL, &g);
    if (grc == GLOB_NOMATCH) {
        if (removed)
            *removed = 0;
        return 0;
    }
    if (grc != 0)
        return st_error_set(ST_EIO, "cannot expand %s", pattern);
    int rc = 0;
    for (size_t i = 0; i < g.gl_pathc && rc == 0; i++) {
        const char *p = g.gl_pathv[i];
        char *dir, *lock;
        if (ends_with(p, ".lock")) {
            dir = strndup(p, strlen(p) - 5);
            lock = strdup(p);
        } else {
            dir = strdup(p);
            lock = NULL;
            if (asprintf(&lock, "%s.lock", p) < 0)
                lock = NULL;
        }
        if (!dir || !lock) {
            free(dir);
            free(lock);
            rc = st_error_set(ST_ENOMEM, "out of memory");
            break;
        }
        int fd = open(lock, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
        if (fd >= 0 && lock_is_ours(fd) && flock(fd, LOCK_EX | LOCK_NB) == 0 &&
            same_file(fd, lock)) {
            struct stat st;
            int had_dir = lstat(dir, &st) == 0;
            rc = st_fs_remove_tree(dir);
            if (rc == 0) {
                unlink(lock);
                if (had_dir)
                    count++;
            }
        }
        if (fd >= 0)
            close(fd);
        free(dir);
        free(lock);
    }
    globfree(&g);
    if (removed)
        *removed = count;
    return rc;
}

/* ---- changed paths ------------------------------------------------------ */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct {
    char **v;
    size_t n, cap;
} strv;

static int strv_add(strv *s, const char *p)
{
    if (!p)
        return 0;
    if (s->n + 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 32;
        char **v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return st_error_set(ST_ENOMEM, "out of memory");
        s->v = v;
        s->cap = cap;
    }
    if (!(s->v[s->n] = strdup(p)))
        return st_error_set(ST_ENOMEM, "out of memory");
    s->v[++s->n] = NULL;
    return 0;
}

static int diff_paths(strv *s, git_diff *diff)
{
    size_t n = git_diff_num_deltas(diff);
    for (size_t i = 0; i < n; i++) {
        const git_diff_delta *d = git_diff_get_delta(diff, i);
        int rc = strv_add(s, d->old_file.path);
        if (rc == 0 && d->new_file.path &&
            (!d->old_file.path ||
             strcmp(d->new_file.path, d->old_file.path) != 0))
            rc = strv_add(s, d->new_file.path);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int commit_tree(git_tree **out, git_repository *r, const char *spec)
{
    git_oid oid;
    int rc = resolve_commit(&oid, r, spec);
    if (rc < 0)
        return rc;
    git_commit *c;
    if (git_commit_lookup(&c, r, &oid) < 0)
        return git_fail(ST_EGIT, "cannot read commit %s", spec);
    rc = git_commit_tree(out, c);
    git_commit_free(c);
    return rc < 0 ? git_fail(ST_EGIT, "cannot read the tree of %s", spec)
                  : 0;
}

void st_git_strv_free(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

int st_git_changed_paths(char ***out, size_t *count, st_git_repo *repo,
                         const char *a, const char *b, int worktree)
{
    git_repository *r = repo->repo;
    git_tree *ta = NULL, *tb = NULL;
    git_diff *diff = NULL;
    strv s = {0};
    int rc = commit_tree(&ta, r, a);
    if (rc == 0)
        rc = commit_tree(&tb, r, b ? b : "HEAD");
    git_diff_options o;
    git_diff_options_init(&o, GIT_DIFF_OPTIONS_VERSION);
    o.flags = GIT_DIFF_IGNORE_SUBMODULES;
    if (rc == 0) {
        if (git_diff_tree_to_tree(&diff, r, ta, tb, &o) < 0)
            rc = git_fail(ST_EGIT, "cannot diff %s and %s", a, b ? b : "HEAD");
        else
            rc = diff_paths(&s, diff);
        git_diff_free(diff);
        diff = NULL;
    }
    if (rc == 0 && worktree && git_repository_workdir(r)) {
        o.flags |= GIT_DIFF_INCLUDE_UNTRACKED | GIT_DIFF_RECURSE_UNTRACKED_DIRS;
        if (git_diff_tree_to_workdir_with_index(&diff, r, tb, &o) < 0)
            rc = git_fail(ST_EGIT, "cannot diff %s and the work tree",
                          b ? b : "HEAD");
        else
            rc = diff_paths(&s, diff);
        git_diff_free(diff);
    }
    git_tree_free(ta);
    git_tree_free(tb);
    if (rc < 0) {
        st_git_strv_free(s.v);
        return rc;
    }
    if (!s.v && strv_add(&s, "") == 0) { /* an empty, NULL-terminated list */
        free(s.v[0]);
        s.v[0] = NULL;
        s.n = 0;
    }
    if (!s.v)
        return st_error_set(ST_ENOMEM, "out of memory");
    qsort(s.v, s.n, sizeof *s.v, cmp_str);
    size_t k = 0;
    for (size_t i = 0; i < s.n; i++) {
        if (k > 0 && strcmp(s.v[k - 1], s.v[i]) == 0)
            free(s.v[i]);
        else
            s.v[k++] = s.v[i];
    }
    s.v[k] = NULL;
    *out = s.v;
    if (count)
        *count = k;
    return 0;
}
