/*
 * test_pool.c: walking, extraction into columns, per-file errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schedtest/error.h"
#include "schedtest/fs.h"
#include "schedtest/pool.h"

static void put(const char *dir, const char *name, const char *text)
{
    char *p;
    assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
    assert_int_equal(st_fs_write_atomic(p, text, strlen(text), 0644), 0);
    free(p);
}

#define GOOD(name, extra)                                                   \
    "{\"test_name\": \"" name "\", \"topology\": \"1n1l2c1t\", "           \
    "\"scheduler\": \"eevdf\", \"work_type\": \"SpinWait\", "              \
    "\"timestamp\": \"2026-01-01T00:00:00Z\", \"run_id\": \"r-0\", "       \
    "\"passed\": true, \"skipped\": false, \"cpu_budget\": 4, "            \
    "\"unknown_key\": [1, {\"x\": null}], " extra "}"

static void test_pool__load_columns_and_errors(void **state)
{
    (void)state;
    char *root, *run, *sub;
    assert_int_equal(st_fs_mkdtemp(&root, "st-pool-"), 0);
    assert_true(asprintf(&run, "%s/6.1-abc1234", root) > 0);
    assert_true(asprintf(&sub, "%s/nested", run) > 0);
    assert_int_equal(st_fs_mkdir_p(sub, 0755), 0);
    put(run, "a-1.ktstr.json", GOOD("a",
        "\"project_commit\": \"abc1234\", \"stats\": {\"worst_spread\": 2.5, "
        "\"ext_metrics\": {\"worst_spread\": 99, \"user_time_ns\": 7, "
        "\"total_phase_iterations\": 10, \"total_phase_duration_sec\": 4}, "
        "\"phases\": [{\"step_index\": 0, \"label\": \"BASELINE\", "
        "\"metrics\": {\"user_time_ns\": 3}}]}, \"monitor\": "
        "{\"max_local_dsq_depth\": 3}"));
    put(sub, "b-2.ktstr.json", GOOD("b", "\"stats\": {}, "
        "\"perf_delta_assertions\": [{\"metric\": \"worst_spread\", "
        "\"direction\": \"LowerBetter\", \"max_regression_pct\": 5, "
        "\"min_abs\": null, \"phase\": 1}]"));
    put(run, "c-3.ktstr.json", "{\"test_name\": \"c\", \"stats\": {}}");
    put(run, "d-4.ktstr.json", GOOD("d", "\"stats\": {\"worst_spread\": "
                                    "\"big\"}"));
    put(run, "not-a-sidecar.json", "garbage");
    st_pool *p;
    assert_int_equal(st_pool_open(&p, root, NULL), 0);
    assert_int_equal(st_pool_count(p), 2);
    assert_int_equal(st_pool_walked(p), 4);
    assert_int_equal(st_pool_error_count(p), 2);
    const st_pool_error *e = st_pool_error_at(p, 0);
    assert_non_null(strstr(e->path, "c-3.ktstr.json"));
    assert_non_null(strstr(e->reason, "missing required key 'topology'"));
    e = st_pool_error_at(p, 1);
    assert_non_null(strstr(e->reason, "key 'worst_spread': a number "
                           "expected, got string"));
    assert_true(e->offset > 0);
    /* row 0 = a (sorted walk: files before the nested dir) */
    size_t row = strcmp(st_pool_string(p, st_pool_dim_id(p, 0, ST_DIM_TEST)),
                        "a") == 0 ? 0 : 1;
    assert_string_equal(st_pool_string(p, st_pool_dim_id(p, row,
                                                         ST_DIM_RUN_DIR)),
                        "6.1-abc1234");
    assert_string_equal(st_pool_string(p, st_pool_dim_id(p, row,
                                                         ST_DIM_CPU_BUDGET)),
                        "4");
    assert_int_equal(st_pool_dim_id(p, row, ST_DIM_KERNEL), 0);
    assert_true(st_pool_status(p, row) == ST_POOL_PASSED);
    long m = st_pool_metric_index(p, "worst_spread");
    assert_true(st_pool_value(p, row, (size_t)m) == 2.5); /* typed wins */
    assert_true(isnan(st_pool_value(p, 1 - row, (size_t)m)));
    m = st_pool_metric_index(p, "max_dsq_depth");
    assert_true(st_pool_value(p, row, (size_t)m) == 3);
    m = st_pool_metric_index(p, "iteration_rate");
    assert_true(st_pool_value(p, row, (size_t)m) == 2.5);
    const st_pool_phase *ph;
    assert_int_equal(st_pool_phases(p, row, &ph), 1);
    assert_string_equal(st_pool_string(p, ph[0].label), "BASELINE");
    const st_pool_assertion *as;
    assert_int_equal(st_pool_assertions(p, 1 - row, &as), 1);
    assert_true(as[0].max_regression_pct == 5 && isnan(as[0].min_abs));
    assert_int_equal(as[0].phase, 1);
    st_pool_free(p);
    assert_int_equal(st_pool_open(&p, "/nonexistent/x", NULL), ST_ENOENT);
    st_fs_remove_tree(root);
    free(root);
    free(run);
    free(sub);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool__load_columns_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
