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
#include <sys/stat.h>
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
    };
    return cmocka_run_group_tests_name("fs", tests, NULL, NULL);
}
