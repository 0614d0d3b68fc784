/**
 * @file schedtest/git.h
 * @brief Git access through libgit2: repositories, labels, baselines,
 *        snapshots and plain checkouts.
 *
 * Nothing here ever changes the user's HEAD, index, refs, stash or work
 * tree.  The only writes are loose objects (snapshots) and the plain
 * checkout directories schedtest creates and removes itself.
 */
#ifndef SCHEDTEST_GIT_H
#define SCHEDTEST_GIT_H

#include <stddef.h>

/**
 * Take / release a reference on libgit2's global state (reference
 * counted, thread-safe).  Every other st_git_* call needs one held.  The
 * Lua module takes it when first required, not at process start:
 * libgit2's init loads the TLS certificate store (about 8 ms), which
 * commands that never touch git should not pay.
 */
int st_git_global_init(void);
void st_git_global_shutdown(void);

/** libgit2's version as "major.minor.rev". */
const char *st_git_libgit2_version(void);

/** Length of a short label: ktstr records 7 hex characters. */
#define ST_GIT_SHORT 7
/** Room for a full hex object id plus NUL. */
#define ST_GIT_HEXSZ 41
/** Room for any label this module produces ("abc1234-dirty" or an
 *  environment override, truncated). */
#define ST_GIT_LABELSZ 128

typedef struct st_git_repo st_git_repo;

/**
 * Find the repository containing `path` (default ".") by walking up, like
 * git itself.  ST_EGITREPO when there is none.  Close with st_git_close().
 */
int st_git_open(st_git_repo **out, const char *path);
void st_git_close(st_git_repo *repo);

/** Work tree root with a trailing '/', or NULL for a bare repository. */
const char *st_git_workdir(const st_git_repo *repo);

/**
 * HEAD's label: 7 hex characters plus "-dirty" when tracked files differ
 * between HEAD's tree, the index and the work tree (untracked files and
 * submodules ignored; a failed dirty probe counts as clean).  With
 * `use_env`, a non-empty SCHEDTEST_PROJECT_COMMIT or KTSTR_PROJECT_COMMIT
 * is returned verbatim instead.  ST_EGITUNBORN when HEAD has no commit.
 * `full`, when not NULL, receives HEAD's full hex id ("" on override).
 */
int st_git_head_label(char label[ST_GIT_LABELSZ], char full[ST_GIT_HEXSZ],
                      st_git_repo *repo, int use_env);

/**
 * project_commit for a process whose current directory is `dir`: the
 * environment override, else the head label of the repository found by
 * walking up from `dir`.  Fails like st_git_open / st_git_head_label.
 */
int st_git_project_commit(char label[ST_GIT_LABELSZ], const char *dir);

/** Is the work tree dirty in the head-label sense?  1 yes, 0 no. */
int st_git_is_dirty(st_git_repo *repo);

typedef struct {
    const char *base;            /**< --base C: any single-commit spec */
    const char *base_ref;        /**< --base-ref R: merge-base(HEAD, R) */
    const char *github_base_ref; /**< $GITHUB_BASE_REF (NULL/"" = unset) */
    const char *default_branch;  /**< NULL = "main" */
} st_git_baseline_opts;

typedef struct {
    char commit[ST_GIT_HEXSZ];     /**< baseline commit, full hex */
    char label[ST_GIT_LABELSZ];    /**< its 7-hex label */
    char head[ST_GIT_HEXSZ];       /**< HEAD commit, full hex */
    char head_label[ST_GIT_LABELSZ]; /**< HEAD's label (with -dirty) */
    char how[512];                 /**< "merge-base(HEAD, main)", ... */
    const char *source;            /**< "base", "base_ref",
                                        "github_base_ref", "default_branch" */
    int worktree_only;             /**< the baseline is HEAD itself and
                                        only the dirty work tree differs */
} st_git_baseline;

/**
 * Resolve the baseline in ktstr's order (spec §3.2): `base`, then
 * merge-base with `base_ref`, then with origin/`github_base_ref`, then
 * with `default_branch`.  When the baseline is HEAD and the work tree is
 * dirty, the sides are HEAD and the work tree (`worktree_only`).  Errors:
 * ST_EGITREF (unknown ref), ST_EGITSHALLOW (no merge base in a shallow
 * clone), ST_EGITNOBASE, ST_EGITSAME (the baseline resolves to HEAD and
 * the work tree is clean), ST_EGITUNBORN.
 */
int st_git_resolve_baseline(st_git_baseline *out, st_git_repo *repo,
                            const st_git_baseline_opts *opts);

/**
 * Full hex id of the tree `spec` names (a commit-ish, a tree id, "HEAD",
 * "main:sub/dir", ...).  ST_EGITREF when it names nothing.
 */
int st_git_resolve_tree(char out[ST_GIT_HEXSZ], st_git_repo *repo,
                        const char *spec);

/**
 * Contents of `path` in the tree of revision `spec` (e.g. a commit id);
 * `*out` is NUL-terminated, free it.  ST_ENOENT when there is no such file.
 */
int st_git_read_file(char **out, size_t *len, st_git_repo *repo,
                     const char *spec, const char *path);

/**
 * Write a tree object of the work tree as it is (staged, unstaged and
 * untracked-but-not-ignored files; deletions applied) into the object
 * database.  HEAD, the index file, refs, the stash and the files are left
 * alone.  `*changes` (may be NULL) receives the number of paths that
 * differ from HEAD (0 means the tree is HEAD's tree).
 */
int st_git_snapshot(char tree[ST_GIT_HEXSZ], size_t *changes,
                    st_git_repo *repo);

typedef struct st_git_checkout st_git_checkout;

typedef struct {
    /** Wait for a busy lock instead of failing with ST_EBUSY. */
    int wait;
    /** Polled during long work; non-zero aborts with ST_EINTR (and the
     *  partial checkout is removed).  May be NULL. */
    int (*cancelled)(void);
} st_git_checkout_opts;

/**
 * Plain checkout of the tree `spec` names into `dir` (created; must not
 * exist unless it is a stale checkout of ours): files with their mode
 * bits, symbolic links, no .git.  Blob contents are written raw (no
 * smudge or end-of-line filters).  Submodule entries become empty
 * directories and are listed by st_git_checkout_skipped().  An exclusive
 * flock on "<dir>.lock" is held until st_git_checkout_close(); busy gives
 * ST_EBUSY (or waits with opts->wait).  A `dir` that exists without our
 * lock file gives ST_EEXIST and is never touched.  On any failure nothing
 * is left behind.
 */
int st_git_checkout_open(st_git_checkout **out, st_git_repo *repo,
                    const char *spec, const char *dir,
                    const st_git_checkout_opts *opts);

const char *st_git_checkout_path(const st_git_checkout *co);
/** Hex id of the tree that was checked out. */
const char *st_git_checkout_tree(const st_git_checkout *co);
/** Number of files and symbolic links written. */
size_t st_git_checkout_files(const st_git_checkout *co);
/** Submodule paths that were skipped; `*paths` stays owned by `co`. */
size_t st_git_checkout_skipped(const st_git_checkout *co,
                               const char *const **paths);

/**
 * Remove the checkout directory and its lock file, release the lock and
 * free `co`.  Returns the removal's status; `co` is freed regardless.
 */
int st_git_checkout_close(st_git_checkout *co);

/**
 * Remove every stale checkout matching the glob `pattern` (for example
 * "/tmp/schedtest-co-*"): a directory whose "<dir>.lock" is ours and not
 * held by anyone.  Directories without our lock file are left alone.
 * `*removed` (may be NULL) receives how many were removed.
 */
int st_git_sweep(size_t *removed, const char *pattern);

/**
 * Paths that differ between the trees of commit-ish `a` and `b` (NULL =
 * HEAD), and with `worktree` also paths that differ between `b` and the
 * work tree (staged, unstaged, untracked-not-ignored).  No rename
 * detection: a rename lists both paths.  `*out` is a sorted,
 * NULL-terminated array of unique paths; free with st_git_strv_free().
 */
int st_git_changed_paths(char ***out, size_t *count, st_git_repo *repo,
                         const char *a, const char *b, int worktree);
void st_git_strv_free(char **v);

#endif
