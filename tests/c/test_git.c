/*
 * test_git.c: the git core without Lua, on a repository made by the git
 * CLI in a temporary directory.
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
#include "schedtest/git.h"

static char *repo_dir;

static void run(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    assert_int_equal(system(cmd), 0);
}

static int setup(void **state)
{
    (void)state;
    if (st_git_global_init() < 0 || st_fs_mkdtemp(&repo_dir, "st-gitc-") < 0)
        return -1;
    run("cd %s && export GIT_CONFIG_NOSYSTEM=1 HOME=/nonexistent "
        "GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@e GIT_COMMITTER_NAME=t "
        "GIT_COMMITTER_EMAIL=t@e && git init -q -b main . && "
        "echo one > a && mkdir d && printf '#!/bin/sh\\n' > d/x && "
        "chmod +x d/x && ln -s a l && git add -A && git commit -qm 1",
        repo_dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    st_fs_remove_tree(repo_dir);
    free(repo_dir);
    st_git_global_shutdown();
    return 0;
}

static void test_git__not_a_repository(void **state)
{
    (void)state;
    st_git_repo *r;
    assert_int_equal(st_git_open(&r, "/"), ST_EGITREPO);
    assert_null(r);
    assert_non_null(strstr(st_error_last(), "not inside a git repository"));
}

static void test_git__head_label_and_same_baseline(void **state)
{
    (void)state;
    st_git_repo *r;
    assert_int_equal(st_git_open(&r, repo_dir), 0);
    char label[ST_GIT_LABELSZ], full[ST_GIT_HEXSZ];
    assert_int_equal(st_git_head_label(label, full, r, 0), 0);
    assert_int_equal(strlen(label), 7);
    assert_int_equal(strlen(full), 40);
    assert_memory_equal(label, full, 7);
    st_git_baseline b;
    st_git_baseline_opts o = {.base = "HEAD"};
    assert_int_equal(st_git_resolve_baseline(&b, r, &o), ST_EGITSAME);
    assert_non_null(strstr(st_error_last(), "resolves to HEAD"));
    o.base = "no-such-ref";
    assert_int_equal(st_git_resolve_baseline(&b, r, &o), ST_EGITREF);
    st_git_close(r);
}

static void test_git__checkout_and_close(void **state)
{
    (void)state;
    st_git_repo *r;
    assert_int_equal(st_git_open(&r, repo_dir), 0);
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s-co", repo_dir);
    st_git_checkout *co, *co2;
    assert_int_equal(st_git_checkout_open(&co, r, "HEAD", dir, NULL), 0);
    assert_int_equal(st_git_checkout_files(co), 3);
    struct stat st;
    snprintf(path, sizeof path, "%s/d/x", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_mode & S_IXUSR);
    snprintf(path, sizeof path, "%s/l", dir);
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    /* a second checkout of the same directory is refused while held */
    assert_int_equal(st_git_checkout_open(&co2, r, "HEAD", dir, NULL),
                     ST_EBUSY);
    assert_int_equal(access(path, F_OK), 0);
    assert_int_equal(st_git_checkout_close(co), 0);
    assert_int_equal(access(dir, F_OK), -1);
    snprintf(path, sizeof path, "%s.lock", dir);
    assert_int_equal(access(path, F_OK), -1);
    st_git_close(r);
}

static void test_git__sweep_without_matches(void **state)
{
    (void)state;
    size_t n = 99;
    assert_int_equal(st_git_sweep(&n, "/nonexistent-dir/co-*"), 0);
    assert_int_equal(n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_git__not_a_repository),
        cmocka_unit_test(test_git__head_label_and_same_baseline),
        cmocka_unit_test(test_git__checkout_and_close),
        cmocka_unit_test(test_git__sweep_without_matches),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
