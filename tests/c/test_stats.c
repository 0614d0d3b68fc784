/*
 * test_stats.c: the statistics core without Lua.  Reference values come
 * from SciPy 1.10 (tests/fixtures/stats/make_reference.py has the full set;
 * these are a few hand-checked anchors plus the degenerate cases).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "schedtest/error.h"
#include "schedtest/schedtest.h"
#include "schedtest/stats.h"

static void assert_rel(double got, double want)
{
    if (fabs(got - want) > 1e-9 * fabs(want))
        fail_msg("got %.17g, want %.17g", got, want);
}

static void test_stats__describe(void **state)
{
    (void)state;
    const double x[] = {1, 2, 3, 4, 10};
    st_stats_desc d;
    assert_int_equal(st_stats_describe(&d, x, 5), 0);
    assert_rel(d.mean, 4);
    assert_rel(d.var, 12.5);
    assert_rel(d.median, 3);
    assert_rel(d.mad, 1);
    assert_rel(d.spread_pct, 225);
    double q;
    assert_int_equal(st_stats_quantile(&q, x, 5, 0.1), 0);
    assert_rel(q, 1.4); /* type 7: 1 + 0.4 * (2 - 1) */
}

static void test_stats__describe_one_value(void **state)
{
    (void)state;
    const double x[] = {7};
    st_stats_desc d;
    assert_int_equal(st_stats_describe(&d, x, 1), 0);
    assert_true(isnan(d.var));
    assert_true(d.spread_pct == 0);
}

static void test_stats__rejects_nan(void **state)
{
    (void)state;
    const double x[] = {1, NAN};
    st_stats_desc d;
    assert_int_equal(st_stats_describe(&d, x, 2), ST_EDOMAIN);
    assert_non_null(strstr(st_error_last(), "[2]"));
    assert_int_equal(st_stats_describe(&d, x, 0), ST_EDOMAIN);
}

static void test_stats__welch(void **state)
{
    (void)state;
    /* scipy.stats.ttest_ind([1,2,3,4],[2,3,4,5,7], equal_var=False) */
    const double a[] = {1, 2, 3, 4}, b[] = {2, 3, 4, 5, 7};
    st_stats_ttest t;
    assert_int_equal(st_stats_welch(&t, a, 4, b, 5), 0);
    assert_rel(t.t, -1.5806831048030201);
    assert_rel(t.dof, 6.8690005324408841);
    assert_rel(t.p, 0.15877605795711024);
    assert_rel(t.p_less + t.p_greater, 1);
}

static void test_stats__welch_constant(void **state)
{
    (void)state;
    const double a[] = {1, 1}, b[] = {2, 2};
    st_stats_ttest t;
    assert_int_equal(st_stats_welch(&t, a, 2, b, 2), ST_EDOMAIN);
    assert_int_equal(st_stats_welch(&t, a, 2, a, 2), 0);
    assert_true(t.p == 1);
    assert_non_null(t.note);
    int d;
    assert_int_equal(st_stats_disjoint(&d, a, 2, b, 2), 0);
    assert_int_equal(d, 1);
    assert_int_equal(st_stats_disjoint(&d, a, 2, a, 2), 0);
    assert_int_equal(d, 0); /* touching bands are not disjoint */
}

static void test_stats__mann_whitney_exact(void **state)
{
    (void)state;
    /* U = 3 of 20; exact two-sided p = 2 * 7/126 = 0.1111... */
    const double a[] = {1, 2, 3, 4}, b[] = {2.5, 3.5, 4.5, 5, 7};
    st_stats_rank r;
    assert_int_equal(st_stats_mann_whitney(&r, a, 4, b, 5), 0);
    assert_int_equal(r.method, ST_STATS_EXACT);
    assert_rel(r.stat, 3);
    assert_rel(r.p, 2.0 * 7.0 / 126.0);
}

static void test_stats__mann_whitney_all_tied(void **state)
{
    (void)state;
    const double a[] = {4, 4}, b[] = {4, 4, 4};
    st_stats_rank r;
    assert_int_equal(st_stats_mann_whitney(&r, a, 2, b, 3), 0);
    assert_true(r.p == 1);
    assert_non_null(r.note);
}

static void test_stats__wilcoxon_exact(void **state)
{
    (void)state;
    /* all 5 differences negative: W+ = 0, p = 2/32 */
    const double a[] = {1, 2, 3, 4, 5}, b[] = {2, 4, 6, 8, 10};
    st_stats_rank r;
    assert_int_equal(st_stats_wilcoxon(&r, a, b, 5), 0);
    assert_int_equal(r.method, ST_STATS_EXACT);
    assert_rel(r.stat2, 15);
    assert_rel(r.p, 2.0 / 32.0);
}

static void test_stats__adjust(void **state)
{
    (void)state;
    const double p[] = {0.01, 0.04, 0.03, 0.2};
    double bh[4], holm[4];
    assert_int_equal(st_stats_adjust(bh, p, 4, ST_STATS_BH), 0);
    assert_int_equal(st_stats_adjust(holm, p, 4, ST_STATS_HOLM), 0);
    assert_rel(bh[0], 0.04);
    assert_rel(bh[1], 0.04 * 4 / 3);
    assert_rel(holm[0], 0.04);
    assert_rel(holm[1], 0.09);
}

static void test_stats__bootstrap_reproducible(void **state)
{
    (void)state;
    const double a[] = {100, 102, 98, 101, 99}, b[] = {110, 112, 108, 111, 109};
    st_stats_ci c1, c2;
    assert_int_equal(st_stats_bootstrap_rel(&c1, a, 5, b, 5, ST_STATS_MEAN,
                                            0.95, 1000, 7), 0);
    assert_int_equal(st_stats_bootstrap_rel(&c2, a, 5, b, 5, ST_STATS_MEAN,
                                            0.95, 1000, 7), 0);
    assert_true(c1.lo == c2.lo && c1.hi == c2.hi);
    assert_rel(c1.estimate, 0.1);
    assert_true(c1.lo < 0.1 && c1.hi > 0.1);
}

static void test_stats__power(void **state)
{
    (void)state;
    double m;
    size_t n;
    assert_int_equal(st_stats_mde(&m, 5, 0.03, 0.05, 0.8, 2), 0);
    assert_true(m > 0.05 && m < 0.07);
    assert_int_equal(st_stats_n_for(&n, 0.1, 0.03, 0.05, 0.8, 2, 1000), 0);
    assert_int_equal(n, 3);
    assert_int_equal(st_stats_n_for(&n, 1e-6, 0.3, 0.05, 0.8, 2, 100),
                     ST_ERANGE);
    assert_int_equal(st_stats_mde(&m, 1, 0.03, 0.05, 0.8, 2), ST_EDOMAIN);
}

static void test_stats__ratio_ci(void **state)
{
    (void)state;
    const double a[] = {100, 101, 99, 100.5, 99.5};
    const double b[] = {110, 112, 108, 111, 109};
    st_stats_ratio r;
    assert_int_equal(st_stats_ratio_ci(&r, a, 5, b, 5, 0.95,
                                       ST_STATS_RATIO_LOG), 0);
    assert_rel(r.estimate, 1.1);
    assert_true(r.lo < 1.1 && r.hi > 1.1 && r.bounded);
    /* asymmetric on the ratio scale: symmetric on the log scale */
    assert_rel(log(r.hi / 1.1), log(1.1 / r.lo));
    const double z[] = {0, 1, 2, 3}, nz[] = {-1, 1, -1, 1};
    assert_int_equal(st_stats_ratio_ci(&r, z, 4, b, 5, 0.95,
                                       ST_STATS_RATIO_LOG), ST_EDOMAIN);
    assert_int_equal(st_stats_ratio_ci(&r, nz, 4, b, 5, 0.95,
                                       ST_STATS_RATIO_FIELLER), ST_EDOMAIN);
}

static void test_stats__hodges_lehmann(void **state)
{
    (void)state;
    /* differences of {1,2,3} and {2.5,4,5}: median 2; 3 vs 3 reaches a
     * 90 % interval (P(U = 0) = 0.05) but not a 95 % one */
    const double a[] = {1, 2, 3}, b[] = {2.5, 4, 5};
    st_stats_hl h;
    assert_int_equal(st_stats_hodges_lehmann(&h, a, 3, b, 3, 0.95), 0);
    assert_rel(h.estimate, 2);
    assert_int_equal(h.attainable, 0);
    assert_int_equal(st_stats_hodges_lehmann(&h, a, 3, b, 3, 0.90), 0);
    assert_int_equal(h.attainable, 1);
    assert_rel(h.lo, -0.5); /* min of the 9 differences */
    assert_rel(h.hi, 4);    /* max */
    assert_rel(h.coverage, 0.9);
}

static void test_stats__gs_bounds(void **state)
{
    (void)state;
    /* one look: the boundary is the fixed-sample quantile */
    const double t1[] = {1}, c1[] = {0.025};
    double z[3], nominal[3];
    assert_int_equal(st_stats_gs_bounds(z, nominal, t1, c1, 1), 0);
    assert_true(fabs(z[0] - 1.959963984540054) < 1e-9);
    /* two looks at 1/2 and 1, O'Brien-Fleming spending of 0.025: the
     * boundaries of SciPy's bivariate normal (make_reference.py) */
    const double t2[] = {0.5, 1};
    double c2[2];
    assert_int_equal(st_stats_gs_spend(c2, t2, 2, 0.025, ST_STATS_SPEND_OBF,
                                       0), 0);
    assert_int_equal(st_stats_gs_bounds(z, nominal, t2, c2, 2), 0);
    assert_true(fabs(z[0] - 2.9625880427275666) < 1e-7);
    assert_true(fabs(z[1] - 1.9685956406374352) < 1e-7);
    assert_true(nominal[1] < 0.025);
}

int main(void)
{
    st_stats_global_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stats__describe),
        cmocka_unit_test(test_stats__describe_one_value),
        cmocka_unit_test(test_stats__rejects_nan),
        cmocka_unit_test(test_stats__welch),
        cmocka_unit_test(test_stats__welch_constant),
        cmocka_unit_test(test_stats__mann_whitney_exact),
        cmocka_unit_test(test_stats__mann_whitney_all_tied),
        cmocka_unit_test(test_stats__wilcoxon_exact),
        cmocka_unit_test(test_stats__adjust),
        cmocka_unit_test(test_stats__bootstrap_reproducible),
        cmocka_unit_test(test_stats__power),
        cmocka_unit_test(test_stats__ratio_ci),
        cmocka_unit_test(test_stats__hodges_lehmann),
        cmocka_unit_test(test_stats__gs_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
