/*
 * test_fs.c: the file-system helpers of the core.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "schedtest/error.h"
#include "schedtest/fs.h"

#define assert_ok(expr)                                                   \
    do {                                                                  \
        int rc_ = (expr);                                                 \
        if (rc_ < 0)                                                      \
            fail_msg("%s failed: %s", #expr, st_error_last());            \
    } while (0)

static int setup(void **state)
{
    char *dir;
    if (st_fs_mkdtemp(&dir, "test-fs-") < 0)
        return -1;
    *state = dir;
    return 0;
}

static int teardown(void **state)
{
    char *dir = *state;
    int rc = st_fs_remove_tree(dir);
    free(dir);
    return rc;
}

static void path_in(char *out, size_t size, const char *dir,
                    const char *name)
{
    int n = snprintf(out, size, "%s/%s", dir, name);
    assert_true(n > 0 && (size_t)n < size);
}

static void test_fs__write_read_round_trip(void **state)
{
    char p[4096];
    path_in(p, sizeof p, *state, "data.bin");
    const char data[] = "a\0b\nc";
    assert_ok(st_fs_write_atomic(p, data, sizeof data, 0640));
    char *got;
    size_t len;
    assert_ok(st_fs_read_file(&got, &len, p));
    assert_int_equal(len, sizeof data);
    assert_memory_equal(got, data, sizeof data);
    assert_int_equal(got[len], '\0');
    free(got);
    st_fs_info info;
    assert_ok(st_fs_stat(&info, p, 1));
    assert_int_equal(info.type, ST_FS_FILE);
    assert_int_equal(info.mode, 0640);
}

static void test_fs__list_sorted_without_dots(void **state)
{
    char p[4096];
    const char *names[] = {"zeta", "alpha", "mid"};
    for (int i = 0; i < 3; i++) {
        path_in(p, sizeof p, *state, names[i]);
        assert_ok(st_fs_write_atomic(p, "x", 1, 0644));
    }
    char **list;
    size_t n;
    assert_ok(st_fs_list(&list, &n, *state));
    assert_int_equal(n, 3);
    assert_string_equal(list[0], "alpha");
    assert_string_equal(list[1], "mid");
    assert_string_equal(list[2], "zeta");
    assert_null(list[3]);
    st_fs_list_free(list);
}

static void test_fs__errors_name_the_path(void **state)
{
    char p[4096];
    path_in(p, sizeof p, *state, "missing/file");
    char *got;
    size_t len;
    assert_int_equal(st_fs_read_file(&got, &len, p), ST_ENOENT);
    assert_non_null(strstr(st_error_last(), p));
    st_fs_info info;
    assert_int_equal(st_fs_stat(&info, p, 0), ST_ENOENT);
}

static void test_fs__mkdir_p_and_remove_tree(void **state)
{
    char p[4096], f[4096];
    path_in(p, sizeof p, *state, "a/b/c");
    assert_ok(st_fs_mkdir_p(p, 0755));
    assert_ok(st_fs_mkdir_p(p, 0755));
    path_in(f, sizeof f, p, "file");
    assert_ok(st_fs_write_atomic(f, "x", 1, 0644));
    path_in(p, sizeof p, *state, "a");
    assert_ok(st_fs_remove_tree(p));
    st_fs_info info;
    assert_int_equal(st_fs_stat(&info, p, 0), ST_ENOENT);
    assert_ok(st_fs_remove_tree(p)); /* already gone is fine */
}

/* {====================================================================
 * Scratch directories: each test gets its own $TMPDIR (the setup's
 * directory), so sweeps see only what the test made.
 * ===================================================================== */

static char *saved_tmpdir;

static int scratch_setup(void **state)
{
    if (setup(state) < 0)
        return -1;
    const char *old = getenv("TMPDIR");
    saved_tmpdir = old ? strdup(old) : NULL;
    return setenv("TMPDIR", *state, 1);
}

static int scratch_teardown(void **state)
{
    if (saved_tmpdir)
        setenv("TMPDIR", saved_tmpdir, 1);
    else
        unsetenv("TMPDIR");
    free(saved_tmpdir);
    saved_tmpdir = NULL;
    return teardown(state);
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Make `dir`/name a directory (or a file) whose mtimes lie `age` s back. */
static void make_aged(char *out, size_t size, const char *dir,
                      const char *name, int is_dir, time_t age)
{
    path_in(out, size, dir, name);
    if (is_dir)
        assert_ok(st_fs_mkdir_p(out, 0755));
    else
        assert_ok(st_fs_write_atomic(out, "x", 1, 0644));
    struct timespec t[2] = {{time(NULL) - age, 0}, {time(NULL) - age, 0}};
    assert_int_equal(utimensat(AT_FDCWD, out, t, AT_SYMLINK_NOFOLLOW), 0);
}

static size_t sweep(const char *prefix)
{
    size_t n = 99;
    assert_ok(st_fs_sweep_scratch(prefix, &n));
    return n;
}

static void test_fs__scratch_is_locked_and_removed(void **state)
{
    st_fs_scratch s = ST_FS_SCRATCH_INIT;
    assert_ok(st_fs_scratch_new(&s, ST_FS_SCRATCH_VM));
    assert_non_null(s.path);
    assert_true(s.lock_fd >= 0);
    assert_int_equal(strncmp(s.path, *state, strlen(*state)), 0);
    assert_non_null(strstr(s.path, "/" ST_FS_SCRATCH_VM));
    char lock[4096];
    path_in(lock, sizeof lock, s.path, ST_FS_SCRATCH_LOCK);
    assert_true(exists(lock));
    /* Not inherited across exec. */
    assert_true(fcntl(s.lock_fd, F_GETFD) & FD_CLOEXEC);
    char *dir = strdup(s.path);
    assert_ok(st_fs_scratch_remove(&s));
    assert_false(exists(dir));
    assert_null(s.path);
    assert_int_equal(s.lock_fd, -1);
    assert_ok(st_fs_scratch_remove(&s)); /* idempotent */
    free(dir);
}

static void test_fs__sweep_keeps_a_held_scratch(void **state)
{
    (void)state;
    /* The sweep opens the lock file afresh: a new open file description,
     * so our lock conflicts with it even within this process. */
    st_fs_scratch s = ST_FS_SCRATCH_INIT;
    assert_ok(st_fs_scratch_new(&s, ST_FS_SCRATCH_VM));
    assert_int_equal(sweep(NULL), 0);
    assert_int_equal(sweep(ST_FS_SCRATCH_VM), 0);
    assert_true(exists(s.path));
    assert_ok(st_fs_scratch_remove(&s));
}

static void test_fs__sweep_removes_a_released_scratch(void **state)
{
    (void)state;
    /* Closing the lock without removing: what a crash leaves. */
    st_fs_scratch s = ST_FS_SCRATCH_INIT;
    assert_ok(st_fs_scratch_new(&s, ST_FS_SCRATCH_PROC));
    close(s.lock_fd);
    s.lock_fd = -1;
    assert_int_equal(sweep(NULL), 1);
    assert_false(exists(s.path));
    free(s.path);
}

static void test_fs__sweep_removes_a_killed_owners_scratch(void **state)
{
    (void)state;
    int to_parent[2], to_child[2];
    assert_int_equal(pipe(to_parent), 0);
    assert_int_equal(pipe(to_child), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        st_fs_scratch s = ST_FS_SCRATCH_INIT;
        if (st_fs_scratch_new(&s, ST_FS_SCRATCH_VM) < 0)
            _exit(1);
        ssize_t w = write(to_parent[1], s.path, strlen(s.path) + 1);
        char c;
        ssize_t r = read(to_child[0], &c, 1); /* until SIGKILL */
        (void)w;
        (void)r;
        _exit(0);
    }
    char path[4096] = "";
    assert_true(read(to_parent[0], path, sizeof path) > 0);
    assert_int_equal(sweep(ST_FS_SCRATCH_VM), 0); /* the child holds it */
    assert_true(exists(path));
    kill(pid, SIGKILL);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(exists(path)); /* nobody cleaned up... */
    assert_int_equal(sweep(ST_FS_SCRATCH_VM), 1); /* ...until the sweep */
    assert_false(exists(path));
    close(to_parent[0]);
    close(to_parent[1]);
    close(to_child[0]);
    close(to_child[1]);
}

static void test_fs__sweep_ages_out_unlocked_dirs(void **state)
{
    char young[4096], old[4096], busy[4096], entry[4096];
    make_aged(young, sizeof young, *state, "schedtest-vm-young", 1, 60);
    make_aged(old, sizeof old, *state, "schedtest-vm-old", 1, 7200);
    path_in(entry, sizeof entry, old, "console.log");
    assert_ok(st_fs_write_atomic(entry, "x", 1, 0644));
    struct timespec t[2] = {{time(NULL) - 7200, 0}, {time(NULL) - 7200, 0}};
    assert_int_equal(utimensat(AT_FDCWD, entry, t, 0), 0);
    assert_int_equal(utimensat(AT_FDCWD, old, t, 0), 0);
    /* An old directory with a fresh file in it is still in use. */
    make_aged(busy, sizeof busy, *state, "schedtest-vm-busy", 1, 7200);
    path_in(entry, sizeof entry, busy, "console.log");
    assert_ok(st_fs_write_atomic(entry, "x", 1, 0644));
    assert_int_equal(utimensat(AT_FDCWD, busy, t, 0), 0);

    assert_int_equal(sweep(ST_FS_SCRATCH_VM), 1);
    assert_true(exists(young));
    assert_false(exists(old));
    assert_true(exists(busy));
}

static void test_fs__sweep_leaves_unrelated_and_kept_alone(void **state)
{
    char p[4096];
    make_aged(p, sizeof p, *state, "other-tool-XXXX", 1, 7200);
    make_aged(p, sizeof p, *state, "schedtest-hash-old", 1, 7200);
    make_aged(p, sizeof p, *state, "schedtest-vm-a-file", 0, 7200);
    st_fs_scratch s = ST_FS_SCRATCH_INIT;
    assert_ok(st_fs_scratch_new(&s, ST_FS_SCRATCH_SNAP));
    char *kept = strdup(s.path);
    st_fs_scratch_keep(&s);
    assert_null(s.path);
    assert_int_equal(sweep(NULL), 0);
    assert_true(exists(kept));
    char **names;
    size_t n;
    assert_ok(st_fs_list(&names, &n, *state));
    assert_int_equal(n, 4);
    st_fs_list_free(names);
    free(kept);
}

static void test_fs__sweep_refuses_foreign_prefixes(void **state)
{
    (void)state;
    assert_int_equal(st_fs_sweep_scratch("", NULL), ST_EINVAL);
    assert_int_equal(st_fs_sweep_scratch("tmp", NULL), ST_EINVAL);
    assert_int_equal(st_fs_sweep_scratch("schedtest-x/../", NULL),
                     ST_EINVAL);
    assert_ok(st_fs_sweep_scratch("schedtest-other-", NULL));
}
/* }==================================================================== */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fs__write_read_round_trip,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_fs__list_sorted_without_dots,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_fs__errors_name_the_path,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_fs__mkdir_p_and_remove_tree,
                                        setup, teardown),
#define SCRATCH_TEST(f) \
        cmocka_unit_test_setup_teardown(f, scratch_setup, scratch_teardown)
        SCRATCH_TEST(test_fs__scratch_is_locked_and_removed),
        SCRATCH_TEST(test_fs__sweep_keeps_a_held_scratch),
        SCRATCH_TEST(test_fs__sweep_removes_a_released_scratch),
        SCRATCH_TEST(test_fs__sweep_removes_a_killed_owners_scratch),
        SCRATCH_TEST(test_fs__sweep_ages_out_unlocked_dirs),
        SCRATCH_TEST(test_fs__sweep_leaves_unrelated_and_kept_alone),
        SCRATCH_TEST(test_fs__sweep_refuses_foreign_prefixes),
    };
    return cmocka_run_group_tests_name("fs", tests, NULL, NULL);
}
