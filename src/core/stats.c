/*
 * stats.c: the statistics of schedtest, over GSL.
 *
 * Every routine checks its input for non-finite values first, so GSL is
 * only ever handed finite data, and returns ST_EDOMAIN (with a message
 * naming the sample) instead of producing a NaN that a caller could read as
 * a verdict.  Conventions are documented in include/schedtest/stats.h; the
 * reference values in tests/fixtures/stats/ come from SciPy.
 */
#include "schedtest/stats.h"

#include "schedtest/error.h"

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <gsl/gsl_version.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* |mean| below this counts as zero (ktstr's epsilon). */
#define ST_STATS_EPS 1e-9

static double t_quantile(double p, double nu);

void st_stats_global_init(void)
{
    gsl_set_error_handler_off();
}

const char *st_stats_gsl_version(void)
{
    return gsl_version;
}

static int check_sample(const double *x, size_t n, size_t min_n,
                        const char *what)
{
    if (n < min_n)
        return st_error_set(ST_EDOMAIN,
                            "%s has %zu value(s); at least %zu needed", what,
                            n, min_n);
    if (n > 0 && !x)
        return st_error_set(ST_EINVAL, "%s: NULL data", what);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return st_error_set(ST_EDOMAIN,
                                "%s[%zu] is %s; only finite values can be "
                                "summarised (drop missing runs first)",
                                what, i + 1, isnan(x[i]) ? "NaN" : "infinite");
    return 0;
}

/* Both samples of a two-sample statistic, each with at least min_n
 * values. */
static int check_two_samples(const double *a, size_t na, const double *b,
                             size_t nb, size_t min_n)
{
    int rc = check_sample(a, na, min_n, "sample a");
    return rc < 0 ? rc : check_sample(b, nb, min_n, "sample b");
}

/* A confidence level strictly between 0 and 1. */
static int check_level(double level)
{
    if (!(level > 0 && level < 1))
        return st_error_set(ST_EINVAL, "level %g must be in (0, 1)", level);
    return 0;
}

/* A sorted malloc'ed copy, or NULL (ST_ENOMEM recorded). */
static double *sorted_copy(const double *x, size_t n)
{
    double *s = malloc((n ? n : 1) * sizeof *s);
    if (!s) {
        st_error_set(ST_ENOMEM, "out of memory sorting %zu values", n);
        return NULL;
    }
    memcpy(s, x, n * sizeof *s);
    gsl_sort(s, 1, n);
    return s;
}

int st_stats_describe(st_stats_desc *out, const double *x, size_t n)
{
    int rc = check_sample(x, n, 1, "sample");
    if (rc < 0)
        return rc;
    double *s = sorted_copy(x, n);
    if (!s)
        return ST_ENOMEM;
    out->n = n;
    out->mean = gsl_stats_mean(x, 1, n);
    out->min = s[0];
    out->max = s[n - 1];
    out->median = gsl_stats_quantile_from_sorted_data(s, 1, n, 0.5);
    /* mad0 works in place on a work array: reuse the sorted copy. */
    out->mad = gsl_stats_mad0(s, 1, n, s);
    free(s);
    if (n >= 2) {
        out->var = gsl_stats_variance_m(x, 1, n, out->mean);
        out->sd = sqrt(out->var);
        if (out->sd == 0)
            out->cv = 0;
        else if (fabs(out->mean) < ST_STATS_EPS)
            out->cv = INFINITY;
        else
            out->cv = out->sd / fabs(out->mean);
    } else {
        out->var = out->sd = out->cv = NAN;
    }
    if (out->max == out->min)
        out->spread_pct = 0;
    else if (fabs(out->mean) < ST_STATS_EPS)
        out->spread_pct = INFINITY;
    else
        out->spread_pct = (out->max - out->min) / fabs(out->mean) * 100.0;
    return 0;
}

int st_stats_quantile(double *out, const double *x, size_t n, double p)
{
    int rc = check_sample(x, n, 1, "sample");
    if (rc < 0)
        return rc;
    if (!(p >= 0 && p <= 1))
        return st_error_set(ST_EINVAL, "quantile %g is outside [0, 1]", p);
    double *s = sorted_copy(x, n);
    if (!s)
        return ST_ENOMEM;
    *out = gsl_stats_quantile_from_sorted_data(s, 1, n, p);
    free(s);
    return 0;
}

static double clip1(double p)
{
    return p > 1 ? 1 : (p < 0 ? 0 : p);
}

static void t_pvalues(st_stats_ttest *out)
{
    out->p = clip1(2 * gsl_cdf_tdist_Q(fabs(out->t), out->dof));
    out->p_less = gsl_cdf_tdist_P(out->t, out->dof);
    out->p_greater = gsl_cdf_tdist_Q(out->t, out->dof);
}

static void t_identical(st_stats_ttest *out, double dof, const char *note)
{
    out->t = 0;
    out->dof = dof;
    out->p = out->p_less = out->p_greater = 1;
    out->note = note;
}

int st_stats_welch(st_stats_ttest *out, const double *a, size_t na,
                   const double *b, size_t nb)
{
    int rc;
    if ((rc = check_two_samples(a, na, b, nb, 2)) < 0)
        return rc;
    memset(out, 0, sizeof *out);
    double ma = gsl_stats_mean(a, 1, na), mb = gsl_stats_mean(b, 1, nb);
    double sa = gsl_stats_variance_m(a, 1, na, ma) / (double)na;
    double sb = gsl_stats_variance_m(b, 1, nb, mb) / (double)nb;
    double se2 = sa + sb;
    out->diff = ma - mb;
    if (se2 == 0) {
        if (ma == mb) {
            t_identical(out, (double)(na + nb - 2),
                        "both samples constant and equal");
            return 0;
        }
        return st_error_set(ST_EDOMAIN,
                            "both samples are constant (%g vs %g): no "
                            "standard error, the t-test is undefined; use the "
                            "disjoint-band test",
                            ma, mb);
    }
    double den = sa * sa / (double)(na - 1) + sb * sb / (double)(nb - 1);
    out->dof = se2 * se2 / den;
    out->t = (ma - mb) / sqrt(se2);
    if (!isfinite(out->t) || !isfinite(out->dof) || out->dof <= 0)
        return st_error_set(ST_EDOMAIN,
                            "Welch statistic overflows (t=%g, dof=%g)", out->t,
                            out->dof);
    t_pvalues(out);
    return 0;
}

int st_stats_paired_t(st_stats_ttest *out, const double *a, const double *b,
                      size_t n)
{
    int rc;
    if ((rc = check_sample(a, n, 2, "sample a")) < 0 ||
        (rc = check_sample(b, n, 2, "sample b")) < 0)
        return rc;
    memset(out, 0, sizeof *out);
    double *d = malloc(n * sizeof *d);
    if (!d)
        return st_error_set(ST_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        d[i] = a[i] - b[i];
    double m = gsl_stats_mean(d, 1, n);
    double v = gsl_stats_variance_m(d, 1, n, m);
    free(d);
    out->diff = m;
    if (v == 0) {
        if (m == 0) {
            t_identical(out, (double)(n - 1), "all paired differences are 0");
            return 0;
        }
        return st_error_set(ST_EDOMAIN,
                            "every paired difference is %g: no variance, the "
                            "paired t-test is undefined",
                            m);
    }
    out->dof = (double)(n - 1);
    out->t = m / sqrt(v / (double)n);
    if (!isfinite(out->t))
        return st_error_set(ST_EDOMAIN, "paired t overflows");
    t_pvalues(out);
    return 0;
}

int st_stats_disjoint(int *out, const double *a, size_t na, const double *b,
                      size_t nb)
{
    int rc;
    if ((rc = check_two_samples(a, na, b, nb, 1)) < 0)
        return rc;
    double amin, amax, bmin, bmax;
    gsl_stats_minmax(&amin, &amax, a, 1, na);
    gsl_stats_minmax(&bmin, &bmax, b, 1, nb);
    *out = amax < bmin || bmax < amin;
    return 0;
}

/* ---- ranks ----------------------------------------------------------- */

typedef struct {
    double v;
    size_t i;
} ranked;

static int cmp_ranked(const void *x, const void *y)
{
    double a = ((const ranked *)x)->v, b = ((const ranked *)y)->v;
    return (a > b) - (a < b);
}

/*
 * Midranks of v[0..n) into r, and the tie term sum(t^3 - t) over tie
 * groups.  Returns 0 or ST_ENOMEM.
 */
static int midranks(double *r, double *tie_term, const double *v, size_t n)
{
    ranked *w = malloc((n ? n : 1) * sizeof *w);
    if (!w)
        return st_error_set(ST_ENOMEM, "out of memory ranking %zu values", n);
    for (size_t i = 0; i < n; i++)
        w[i] = (ranked){v[i], i};
    qsort(w, n, sizeof *w, cmp_ranked);
    *tie_term = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && w[j + 1].v == w[i].v)
            j++;
        double t = (double)(j - i + 1);
        double rank = ((double)i + (double)j) / 2.0 + 1.0;
        for (size_t k = i; k <= j; k++)
            r[w[k].i] = rank;
        *tie_term += t * t * t - t;
        i = j + 1;
    }
    free(w);
    return 0;
}

/*
 * The null distribution of U for sizes m, n with no ties, as a malloc'ed
 * array of m*n + 1 probabilities (NULL, ST_ENOMEM recorded), by the
 * recurrence p_{i,j}(u) = i/(i+j) p_{i-1,j}(u-j) + j/(i+j) p_{i,j-1}(u)
 * (the largest value belongs to a or to b).  Rolling over i keeps the
 * memory at 2 (n+1) (mn+1) doubles.
 */
static double *mwu_pmf(size_t m, size_t n)
{
    size_t width = m * n + 1;
    double *prev = calloc((n + 1) * width, sizeof *prev);
    double *cur = calloc((n + 1) * width, sizeof *cur);
    double *pmf = malloc(width * sizeof *pmf);
    if (!prev || !cur || !pmf) {
        free(prev);
        free(cur);
        free(pmf);
        st_error_set(ST_ENOMEM, "out of memory (exact U, %zux%zu)", m, n);
        return NULL;
    }
    for (size_t j = 0; j <= n; j++)
        prev[j * width] = 1; /* i = 0: U = 0 surely */
    for (size_t i = 1; i <= m; i++) {
        memset(cur, 0, (n + 1) * width * sizeof *cur);
        cur[0] = 1; /* j = 0 */
        for (size_t j = 1; j <= n; j++) {
            double wa = (double)i / (double)(i + j), wb = 1.0 - wa;
            double *c = cur + j * width;
            const double *pa = prev + j * width, *pb = cur + (j - 1) * width;
            for (size_t u = 0; u <= i * j; u++)
                c[u] = wb * pb[u] + (u >= j ? wa * pa[u - j] : 0);
        }
        double *t = prev;
        prev = cur;
        cur = t;
    }
    memcpy(pmf, prev + n * width, width * sizeof *pmf);
    free(prev);
    free(cur);
    return pmf;
}

/* P(U >= k) under H0 for sizes m, n with no ties. */
static int mwu_sf(double *out, size_t m, size_t n, double k)
{
    double *dist = mwu_pmf(m, n);
    if (!dist)
        return ST_ENOMEM;
    double s = 0;
    /* sum the small tail terms first for accuracy */
    for (size_t u = m * n + 1; u-- > 0;) {
        if ((double)u < k)
            break;
        s += dist[u];
    }
    free(dist);
    *out = clip1(s);
    return 0;
}

int st_stats_mann_whitney(st_stats_rank *out, const double *a, size_t na,
                          const double *b, size_t nb)
{
    int rc;
    if ((rc = check_two_samples(a, na, b, nb, 1)) < 0)
        return rc;
    memset(out, 0, sizeof *out);
    size_t n = na + nb;
    double *v = malloc(2 * n * sizeof *v);
    if (!v)
        return st_error_set(ST_ENOMEM, "out of memory");
    double *r = v + n, tie_term;
    memcpy(v, a, na * sizeof *v);
    memcpy(v + na, b, nb * sizeof *v);
    if ((rc = midranks(r, &tie_term, v, n)) < 0) {
        free(v);
        return rc;
    }
    double r1 = 0;
    for (size_t i = 0; i < na; i++)
        r1 += r[i];
    free(v);
    double mn = (double)na * (double)nb;
    double u1 = r1 - (double)na * ((double)na + 1) / 2.0;
    double u2 = mn - u1;
    out->stat = u1;
    out->stat2 = u2;
    if (tie_term == 0 && na <= ST_STATS_MWU_EXACT_MAX &&
        nb <= ST_STATS_MWU_EXACT_MAX) {
        double sf_max, sf1, sf2;
        out->method = ST_STATS_EXACT;
        if ((rc = mwu_sf(&sf1, na, nb, u1)) < 0 ||
            (rc = mwu_sf(&sf2, na, nb, u2)) < 0)
            return rc;
        sf_max = u1 >= u2 ? sf1 : sf2;
        out->p = clip1(2 * sf_max);
        out->p_greater = sf1;
        out->p_less = sf2;
        return 0;
    }
    out->method = ST_STATS_NORMAL;
    double nn = (double)n;
    double var = mn / 12.0 * ((nn + 1) - tie_term / (nn * (nn - 1)));
    if (!(var > 0)) {
        out->p = out->p_less = out->p_greater = 1;
        out->note = "all values are equal";
        return 0;
    }
    double s = sqrt(var), mu = mn / 2.0;
    double umax = u1 > u2 ? u1 : u2;
    out->z = (umax - mu - 0.5) / s;
    out->p = clip1(2 * gsl_cdf_ugaussian_Q(out->z));
    out->p_greater = clip1(gsl_cdf_ugaussian_Q((u1 - mu - 0.5) / s));
    out->p_less = clip1(gsl_cdf_ugaussian_Q((u2 - mu - 0.5) / s));
    return 0;
}

/* Number of subsets of {1..n} per rank sum 0..n(n+1)/2 (exact W+). */
static double *signed_rank_counts(size_t n)
{
    size_t top = n * (n + 1) / 2;
    double *c = calloc(top + 1, sizeof *c);
    if (!c) {
        st_error_set(ST_ENOMEM, "out of memory (exact W, n=%zu)", n);
        return NULL;
    }
    c[0] = 1;
    for (size_t k = 1; k <= n; k++)
        for (size_t s = k * (k + 1) / 2 + 1; s-- > k;)
            c[s] += c[s - k];
    return c;
}

int st_stats_wilcoxon(st_stats_rank *out, const double *a, const double *b,
                      size_t n)
{
    int rc;
    if ((rc = check_sample(a, n, 1, "sample a")) < 0 ||
        (rc = check_sample(b, n, 1, "sample b")) < 0)
        return rc;
    memset(out, 0, sizeof *out);
    double *d = malloc(2 * n * sizeof *d);
    if (!d)
        return st_error_set(ST_ENOMEM, "out of memory");
    double *r = d + n, tie_term;
    size_t m = 0, zeros = 0;
    int *pos = malloc(n * sizeof *pos);
    if (!pos) {
        free(d);
        return st_error_set(ST_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        double x = a[i] - b[i];
        if (x == 0) {
            zeros++;
            continue;
        }
        pos[m] = x > 0;
        d[m++] = fabs(x);
    }
    out->n_used = m;
    if (m == 0) {
        free(d);
        free(pos);
        out->p = out->p_less = out->p_greater = 1;
        out->method = ST_STATS_EXACT;
        out->note = "all paired differences are 0";
        return 0;
    }
    if ((rc = midranks(r, &tie_term, d, m)) < 0) {
        free(d);
        free(pos);
        return rc;
    }
    double wp = 0, total = (double)m * ((double)m + 1) / 2.0;
    for (size_t i = 0; i < m; i++)
        if (pos[i])
            wp += r[i];
    free(d);
    free(pos);
    out->stat = wp;
    out->stat2 = total - wp;
    if (zeros == 0 && tie_term == 0 && m <= ST_STATS_WILCOXON_EXACT_MAX) {
        double *c = signed_rank_counts(m);
        if (!c)
            return ST_ENOMEM;
        size_t top = m * (m + 1) / 2, k = (size_t)wp;
        double all = ldexp(1.0, (int)m), le = 0, ge = 0;
        for (size_t s = 0; s <= top; s++) {
            if (s <= k)
                le += c[s];
            if (s >= k)
                ge += c[s];
        }
        free(c);
        out->method = ST_STATS_EXACT;
        out->p_less = le / all;
        out->p_greater = ge / all;
        /* SciPy: the centre of the distribution has p = 1 exactly. */
        out->p = k == top / 2 ? 1.0 : clip1(2 * (le < ge ? le : ge) / all);
        return 0;
    }
    out->method = ST_STATS_NORMAL;
    double mm = (double)m;
    double mu = mm * (mm + 1) / 4.0;
    double var = (mm * (mm + 1) * (2 * mm + 1) - 0.5 * tie_term) / 24.0;
    double se = sqrt(var);
    double tmin = wp < out->stat2 ? wp : out->stat2;
    double dcc = tmin > mu ? 0.5 : (tmin < mu ? -0.5 : 0);
    out->z = (tmin - mu - dcc) / se;
    out->p = clip1(2 * gsl_cdf_ugaussian_Q(fabs(out->z)));
    out->p_greater = clip1(gsl_cdf_ugaussian_Q((wp - mu - 0.5) / se));
    out->p_less = clip1(gsl_cdf_ugaussian_P((wp - mu + 0.5) / se));
    return 0;
}

/* ---- bootstrap --------------------------------------------------------- */

static double stat_of(double *x, size_t n, st_stats_which which)
{
    if (which == ST_STATS_MEAN)
        return gsl_stats_mean(x, 1, n);
    gsl_sort(x, 1, n);
    return gsl_stats_median_from_sorted_data(x, 1, n);
}

int st_stats_bootstrap_rel(st_stats_ci *out, const double *a, size_t na,
                           const double *b, size_t nb, st_stats_which which,
                           double level, size_t resamples, uint64_t seed)
{
    int rc;
    if ((rc = check_two_samples(a, na, b, nb, 2)) < 0 ||
        (rc = check_level(level)) < 0)
        return rc;
    if (resamples < 100)
        return st_error_set(ST_EINVAL, "%zu resamples; at least 100 needed",
                            resamples);
    double *wa = malloc((na + nb + resamples) * sizeof *wa);
    if (!wa)
        return st_error_set(ST_ENOMEM, "out of memory (%zu resamples)",
                            resamples);
    double *wb = wa + na, *rel = wb + nb;
    memcpy(wa, a, na * sizeof *wa);
    memcpy(wb, b, nb * sizeof *wb);
    double sa = stat_of(wa, na, which), sb = stat_of(wb, nb, which);
    if (fabs(sa) < ST_STATS_EPS) {
        free(wa);
        return st_error_set(ST_EDOMAIN,
                            "the baseline %s is ~0: a relative change is "
                            "undefined",
                            which == ST_STATS_MEAN ? "mean" : "median");
    }
    out->estimate = (sb - sa) / fabs(sa);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (!rng) {
        free(wa);
        return st_error_set(ST_ENOMEM, "out of memory (rng)");
    }
    gsl_rng_set(rng, (unsigned long)seed);
    size_t kept = 0;
    for (size_t r = 0; r < resamples; r++) {
        for (size_t i = 0; i < na; i++)
            wa[i] = a[gsl_rng_uniform_int(rng, na)];
        for (size_t i = 0; i < nb; i++)
            wb[i] = b[gsl_rng_uniform_int(rng, nb)];
        double ra = stat_of(wa, na, which), rb = stat_of(wb, nb, which);
        if (fabs(ra) < ST_STATS_EPS)
            continue;
        rel[kept++] = (rb - ra) / fabs(ra);
    }
    gsl_rng_free(rng);
    if (kept * 2 < resamples) {
        free(wa);
        return st_error_set(ST_EDOMAIN,
                            "%zu of %zu resamples had a ~0 baseline",
                            resamples - kept, resamples);
    }
    gsl_sort(rel, 1, kept);
    double tail = (1 - level) / 2;
    out->lo = gsl_stats_quantile_from_sorted_data(rel, 1, kept, tail);
    out->hi = gsl_stats_quantile_from_sorted_data(rel, 1, kept, 1 - tail);
    out->resamples = kept;
    free(wa);
    return 0;
}

/* ---- ratio intervals ----------------------------------------------------- */

static int all_at_least(const double *x, size_t n, double floor, int strict)
{
    for (size_t i = 0; i < n; i++)
        if (strict ? !(x[i] > floor) : !(x[i] >= floor))
            return 0;
    return 1;
}

/* Welch-Satterthwaite dof of two variance terms u, v with dof fa, fb. */
static double satterthwaite(double u, double v, double fa, double fb)
{
    double den = u * u / fa + v * v / fb;
    return den > 0 ? (u + v) * (u + v) / den : fa + fb;
}

static void ratio_log(st_stats_ratio *out, double ma, double ua, double mb,
                      double ub, double fa, double fb, double level)
{
    out->estimate = mb / ma;
    out->se = sqrt(ua + ub);
    out->dof = satterthwaite(ua, ub, fa, fb);
    double t = t_quantile(1 - (1 - level) / 2, out->dof);
    out->lo = out->estimate * exp(-t * out->se);
    out->hi = out->estimate * exp(t * out->se);
}

static void ratio_fieller(st_stats_ratio *out, double ma, double sa2,
                          double mb, double sb2, double fa, double fb,
                          double level)
{
    double r = mb / ma;
    out->estimate = r;
    out->se = NAN;
    out->dof = satterthwaite(sb2, r * r * sa2, fb, fa);
    double t = t_quantile(1 - (1 - level) / 2, out->dof);
    double qa = ma * ma - t * t * sa2;          /* r^2 coefficient */
    double qb = -2 * ma * mb;                   /* r coefficient */
    double qc = mb * mb - t * t * sb2;          /* constant */
    if (!(qa > 0)) {
        /* mean_a is not significantly away from 0: unbounded */
        out->lo = -INFINITY;
        out->hi = INFINITY;
        return;
    }
    double disc = qb * qb - 4 * qa * qc;
    double root = sqrt(disc > 0 ? disc : 0);
    out->lo = (-qb - root) / (2 * qa);
    out->hi = (-qb + root) / (2 * qa);
}

int st_stats_ratio_ci(st_stats_ratio *out, const double *a, size_t na,
                      const double *b, size_t nb, double level,
                      st_stats_ratio_method method)
{
    int rc;
    if ((rc = check_two_samples(a, na, b, nb, 2)) < 0 ||
        (rc = check_level(level)) < 0)
        return rc;
    memset(out, 0, sizeof *out);
    double ma = gsl_stats_mean(a, 1, na), mb = gsl_stats_mean(b, 1, nb);
    if (fabs(ma) < ST_STATS_EPS)
        return st_error_set(ST_EDOMAIN, "the baseline mean is ~0: a ratio "
                            "is undefined");
    double sa2 = gsl_stats_variance_m(a, 1, na, ma) / (double)na;
    double sb2 = gsl_stats_variance_m(b, 1, nb, mb) / (double)nb;
    double fa = (double)(na - 1), fb = (double)(nb - 1);
    if (sa2 + sb2 == 0) {
        out->estimate = out->lo = out->hi = mb / ma;
        out->se = 0;
        out->dof = fa + fb;
    } else if (method == ST_STATS_RATIO_LOG) {
        if (!all_at_least(a, na, 0, 1) || !all_at_least(b, nb, 0, 1))
            return st_error_set(ST_EDOMAIN, "a log-ratio interval needs "
                                "every value > 0; use Fieller's");
        ratio_log(out, ma, sa2 / (ma * ma), mb, sb2 / (mb * mb), fa, fb,
                  level);
    } else {
        ratio_fieller(out, ma, sa2, mb, sb2, fa, fb, level);
    }
    if (all_at_least(a, na, 0, 0) && all_at_least(b, nb, 0, 0) &&
        out->lo < 0) {
        out->lo = 0; /* a ratio of non-negative means is never negative */
        out->clamped = 1;
    }
    out->bounded = isfinite(out->lo) && isfinite(out->hi);
    return 0;
}

/* ---- Hodges-Lehmann --------------------------------------------------------- */

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/*
 * Interval [s[k-1], s[total-k]] of sorted values s[0..total) where k is
 * the largest with cdf(k-1) <= tail; cdf from `pmf` (exact) or from a
 * normal (mu, sd) with 0.5 continuity correction when pmf is NULL.
 */
static void hl_interval(st_stats_hl *out, const double *s, size_t total,
                        const double *pmf, double mu, double sd,
                        double tail)
{
    size_t k = 0;
    double below = 0; /* P(stat <= k - 1) for the chosen k */
    if (pmf) {
        double cdf = 0;
        for (size_t j = 0; j < total / 2 + 1; j++) {
            cdf += pmf[j]; /* cdf = P(stat <= j) */
            if (cdf > tail * (1 + 1e-12))
                break;
            k = j + 1;
            below = cdf;
        }
    } else {
        double z = gsl_cdf_ugaussian_Qinv(tail);
        double kk = floor(mu - z * sd + 0.5);
        if (kk >= 1) {
            k = (size_t)kk;
            below = gsl_cdf_ugaussian_P(((double)k - 0.5 - mu) / sd);
        }
    }
    if (k > total / 2 + (total % 2))
        k = total / 2 + (total % 2);
    out->attainable = k >= 1;
    if (!out->attainable) {
        out->lo = -INFINITY;
        out->hi = INFINITY;
        out->coverage = 1;
        return;
    }
    out->lo = s[k - 1];
    out->hi = s[total - k];
    out->coverage = 1 - 2 * below;
}

int st_stats_hodges_lehmann(st_stats_hl *out, const double *a, size_t na,
                            const double *b, size_t nb, double level)
{
    int rc;
    if ((rc = check_two_samples(a, na, b, nb, 1)) < 0 ||
        (rc = check_level(level)) < 0)
        return rc;
    memset(out, 0, sizeof *out);
    size_t total = na * nb;
    double *d = malloc(total * sizeof *d);
    if (!d)
        return st_error_set(ST_ENOMEM, "out of memory (%zu differences)",
                            total);
    for (size_t i = 0; i < na; i++)
        for (size_t j = 0; j < nb; j++)
            d[i * nb + j] = b[j] - a[i];
    qsort(d, total, sizeof *d, cmp_double);
    out->estimate = gsl_stats_median_from_sorted_data(d, 1, total);
    double *pmf = NULL;
    if (na <= ST_STATS_MWU_EXACT_MAX && nb <= ST_STATS_MWU_EXACT_MAX) {
        pmf = mwu_pmf(na, nb);
        if (!pmf) {
            free(d);
            return ST_ENOMEM;
        }
    }
    double mn = (double)total, nn = (double)(na + nb);
    out->method = pmf ? ST_STATS_EXACT : ST_STATS_NORMAL;
    hl_interval(out, d, total, pmf, mn / 2, sqrt(mn * (nn + 1) / 12),
                (1 - level) / 2);
    free(pmf);
    free(d);
    return 0;
}

int st_stats_hodges_lehmann1(st_stats_hl *out, const double *d, size_t n,
                             double level)
{
    int rc;
    if ((rc = check_sample(d, n, 1, "sample")) < 0 ||
        (rc = check_level(level)) < 0)
        return rc;
    memset(out, 0, sizeof *out);
    size_t total = n * (n + 1) / 2, w = 0;
    double *walsh = malloc(total * sizeof *walsh);
    if (!walsh)
        return st_error_set(ST_ENOMEM, "out of memory (%zu averages)",
                            total);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i; j < n; j++)
            walsh[w++] = (d[i] + d[j]) / 2;
    qsort(walsh, total, sizeof *walsh, cmp_double);
    out->estimate = gsl_stats_median_from_sorted_data(walsh, 1, total);
    double *pmf = NULL;
    if (n <= ST_STATS_WILCOXON_EXACT_MAX) {
        pmf = signed_rank_counts(n);
        if (!pmf) {
            free(walsh);
            return ST_ENOMEM;
        }
        double all = ldexp(1.0, (int)n);
        for (size_t s = 0; s <= total; s++)
            pmf[s] /= all;
    }
    double nn = (double)n;
    out->method = pmf ? ST_STATS_EXACT : ST_STATS_NORMAL;
    hl_interval(out, walsh, total, pmf, nn * (nn + 1) / 4,
                sqrt(nn * (nn + 1) * (2 * nn + 1) / 24), (1 - level) / 2);
    free(pmf);
    free(walsh);
    return 0;
}

/* ---- multiple comparisons ------------------------------------------------ */

/* By value, then by input position, so equal p-values keep their order. */
static int cmp_ranked_stable(const void *x, const void *y)
{
    const ranked *a = x, *b = y;
    if (a->v != b->v)
        return (a->v > b->v) - (a->v < b->v);
    return (a->i > b->i) - (a->i < b->i);
}

int st_stats_adjust(double *out, const double *p, size_t n,
                    st_stats_adjust_method method)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!(p[i] >= 0 && p[i] <= 1))
            return st_error_set(ST_EDOMAIN,
                                "p-value %zu is %g; expected a value in "
                                "[0, 1]",
                                i + 1, p[i]);
    ranked *o = malloc(n * sizeof *o);
    if (!o)
        return st_error_set(ST_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        o[i] = (ranked){p[i], i};
    qsort(o, n, sizeof *o, cmp_ranked_stable);
    double nn = (double)n;
    if (method == ST_STATS_BH) {
        double run = 1;
        for (size_t k = n; k-- > 0;) {
            double v = o[k].v * nn / (double)(k + 1);
            if (v < run)
                run = v;
            out[o[k].i] = run;
        }
    } else {
        double run = 0;
        for (size_t k = 0; k < n; k++) {
            double v = clip1(o[k].v * (nn - (double)k));
            if (v > run)
                run = v;
            out[o[k].i] = run;
        }
    }
    free(o);
    return 0;
}

/* ---- power ------------------------------------------------------------- */

static int check_power(double cv, double alpha, double power, int sides)
{
    if (!(cv >= 0) || !isfinite(cv))
        return st_error_set(ST_EINVAL, "cv %g must be finite and >= 0", cv);
    if (!(alpha > 0 && alpha < 1))
        return st_error_set(ST_EINVAL, "alpha %g must be in (0, 1)", alpha);
    if (!(power > 0 && power < 1))
        return st_error_set(ST_EINVAL, "power %g must be in (0, 1)", power);
    if (sides != 1 && sides != 2)
        return st_error_set(ST_EINVAL, "sides %d must be 1 or 2", sides);
    return 0;
}

/*
 * GSL's t quantiles are accurate to ~1e-9 only at small dof; two Newton
 * steps on the CDF (accurate to ~1e-15) make them as good as the CDF.
 */
static double t_quantile(double p, double nu)
{
    double x = gsl_cdf_tdist_Pinv(p, nu);
    for (int i = 0; i < 2 && isfinite(x); i++) {
        double f = gsl_ran_tdist_pdf(x, nu);
        if (!(f > 0))
            break;
        double err = p < 0.5 ? gsl_cdf_tdist_P(x, nu) - p
                             : (1 - p) - gsl_cdf_tdist_Q(x, nu);
        x -= err / f;
    }
    return x;
}

int st_stats_t_quantile(double *out, double p, double dof)
{
    if (!(p > 0 && p < 1))
        return st_error_set(ST_EINVAL, "probability %g must be in (0, 1)", p);
    if (!(dof > 0) || !isfinite(dof))
        return st_error_set(ST_EINVAL, "dof %g must be finite and > 0", dof);
    *out = t_quantile(p, dof);
    return 0;
}

int st_stats_t_sf(double *out, double t, double dof)
{
    if (isnan(t))
        return st_error_set(ST_EINVAL, "t is NaN");
    if (!(dof > 0) || !isfinite(dof))
        return st_error_set(ST_EINVAL, "dof %g must be finite and > 0", dof);
    *out = isinf(t) ? (t > 0 ? 0 : 1) : gsl_cdf_tdist_Q(t, dof);
    return 0;
}

/* Two independent samples of n (dof 2n - 2), or n pairs (dof n - 1). */
static double mde_of(size_t n, double cv, double alpha, double power,
                     int sides, int paired)
{
    double nu = paired ? (double)n - 1.0 : 2.0 * (double)n - 2.0;
    double ta = t_quantile(1 - alpha / sides, nu);
    double tb = t_quantile(power, nu);
    return (ta + tb) * cv * sqrt((paired ? 1.0 : 2.0) / (double)n);
}

static int mde_design(double *out, size_t n, double cv, double alpha,
                      double power, int sides, int paired)
{
    int rc = check_power(cv, alpha, power, sides);
    if (rc < 0)
        return rc;
    if (n < 2)
        return st_error_set(ST_EDOMAIN, "n = %zu %s; at least 2 needed for "
                            "a variance", n,
                            paired ? "pairs" : "runs per side");
    *out = mde_of(n, cv, alpha, power, sides, paired);
    return 0;
}

static int n_for_design(size_t *out, double change, double cv, double alpha,
                        double power, int sides, size_t max_n, int paired)
{
    int rc = check_power(cv, alpha, power, sides);
    if (rc < 0)
        return rc;
    if (!(change > 0) || !isfinite(change))
        return st_error_set(ST_EINVAL, "change %g must be > 0", change);
    if (max_n < 2)
        max_n = 2;
    for (size_t n = 2; n <= max_n; n++) {
        if (mde_of(n, cv, alpha, power, sides, paired) <= change) {
            *out = n;
            return 0;
        }
    }
    return st_error_set(ST_ERANGE,
                        "more than %zu %s are needed to detect a %.3g "
                        "change at cv %.3g",
                        max_n, paired ? "pairs" : "runs per side", change,
                        cv);
}

int st_stats_mde(double *out, size_t n, double cv, double alpha, double power,
                 int sides)
{
    return mde_design(out, n, cv, alpha, power, sides, 0);
}

int st_stats_n_for(size_t *out, double change, double cv, double alpha,
                   double power, int sides, size_t max_n)
{
    return n_for_design(out, change, cv, alpha, power, sides, max_n, 0);
}

int st_stats_mde_paired(double *out, size_t n, double sd, double alpha,
                        double power, int sides)
{
    return mde_design(out, n, sd, alpha, power, sides, 1);
}

int st_stats_n_for_paired(size_t *out, double change, double sd,
                          double alpha, double power, int sides,
                          size_t max_n)
{
    return n_for_design(out, change, sd, alpha, power, sides, max_n, 1);
}

/* ---- group-sequential boundaries ------------------------------------------- */

int st_stats_gs_spend(double *out, const double *t, size_t k, double alpha,
                      st_stats_spending kind, double param)
{
    if (!(alpha > 0 && alpha < 0.5))
        return st_error_set(ST_EINVAL, "alpha %g must be in (0, 0.5)", alpha);
    if (kind == ST_STATS_SPEND_POWER && !(param > 0 && isfinite(param)))
        return st_error_set(ST_EINVAL, "power spending needs rho > 0, got %g",
                            param);
    double z = gsl_cdf_ugaussian_Qinv(alpha / 2);
    for (size_t i = 0; i < k; i++) {
        double ti = t[i];
        if (!(ti > 0 && ti <= 1))
            return st_error_set(ST_EINVAL, "information fraction %g is "
                                "outside (0, 1]", ti);
        if (kind == ST_STATS_SPEND_OBF)
            out[i] = ti == 1 ? alpha : 2 * gsl_cdf_ugaussian_Q(z / sqrt(ti));
        else if (kind == ST_STATS_SPEND_POCOCK)
            out[i] = alpha * log(1 + (M_E - 1) * ti);
        else
            out[i] = alpha * pow(ti, param);
    }
    return 0;
}

/*
 * The sub-density of S(t) on (-inf, top] of paths that crossed no earlier
 * boundary, on `npts` equally spaced points from `lo` (Simpson weights in
 * w).  Kept between looks.
 */
typedef struct {
    double *s, *f, *w;
    size_t npts;
} gs_grid;

/* Simpson grid on [lo, hi] with step at most h (an odd number of points). */
static void gs_grid_place(gs_grid *g, double lo, double hi, double h)
{
    size_t intervals = (size_t)ceil((hi - lo) / h);
    if (intervals < 2)
        intervals = 2;
    if (intervals % 2)
        intervals++;
    double step = (hi - lo) / (double)intervals;
    g->npts = intervals + 1;
    for (size_t i = 0; i < g->npts; i++) {
        g->s[i] = lo + step * (double)i;
        g->w[i] = step / 3 * (i == 0 || i == intervals ? 1 : (i % 2 ? 4 : 2));
    }
}

/* P(S(t_i) >= c, no earlier crossing) from the previous look's grid. */
static double gs_tail(const gs_grid *g, double c, double sd)
{
    double p = 0;
    for (size_t j = 0; j < g->npts; j++)
        p += g->w[j] * g->f[j] * gsl_cdf_ugaussian_Q((c - g->s[j]) / sd);
    return p;
}

/* c with gs_tail(c) = target, by bisection (gs_tail falls with c). */
static double gs_solve(const gs_grid *g, double sd, double target, double lo,
                       double hi)
{
    for (int it = 0; it < 200 && hi - lo > 1e-13 * (1 + fabs(hi)); it++) {
        double mid = (lo + hi) / 2;
        if (gs_tail(g, mid, sd) > target)
            lo = mid;
        else
            hi = mid;
    }
    return (lo + hi) / 2;
}

/* Move the sub-density one look on: S(t_i) = S(t_{i-1}) + N(0, sd^2). */
static void gs_advance(gs_grid *next, const gs_grid *g, double sd)
{
    for (size_t i = 0; i < next->npts; i++) {
        double f = 0;
        for (size_t j = 0; j < g->npts; j++)
            f += g->w[j] * g->f[j] *
                 gsl_ran_ugaussian_pdf((next->s[i] - g->s[j]) / sd);
        next->f[i] = f / sd;
    }
}

/* Grid steps resolve the narrowest later increment and each look's sd. */
#define GS_SPAN 8.0       /* the grid starts GS_SPAN sd below 0 */
#define GS_PER_SD 24.0    /* points per sd of the narrowest kernel */
#define GS_MAX_PTS 20001

static int gs_check(const double *t, const double *alpha_cum, size_t k)
{
    for (size_t i = 0; i < k; i++) {
        if (!(t[i] > 0 && t[i] <= 1) || (i > 0 && !(t[i] > t[i - 1])))
            return st_error_set(ST_EINVAL, "information fractions must "
                                "increase within (0, 1]; look %zu has %g",
                                i + 1, t[i]);
        if (!(alpha_cum[i] >= 0 && alpha_cum[i] < 0.5) ||
            (i > 0 && alpha_cum[i] < alpha_cum[i - 1]))
            return st_error_set(ST_EINVAL, "cumulative alpha must not fall "
                                "and stay below 0.5; look %zu has %g",
                                i + 1, alpha_cum[i]);
    }
    return 0;
}

int st_stats_gs_bounds(double *z, double *nominal, const double *t,
                       const double *alpha_cum, size_t k)
{
    int rc = gs_check(t, alpha_cum, k);
    if (rc < 0 || k == 0)
        return rc;
    double narrow = sqrt(t[0]);
    for (size_t i = 1; i < k; i++)
        if (sqrt(t[i] - t[i - 1]) < narrow)
            narrow = sqrt(t[i] - t[i - 1]);
    double h = narrow / GS_PER_SD;
    if ((GS_SPAN + 40) / h > GS_MAX_PTS)
        h = (GS_SPAN + 40) / GS_MAX_PTS;
    gs_grid g[2];
    double *mem = malloc(6 * (size_t)(GS_MAX_PTS + 2) * sizeof *mem);
    if (!mem)
        return st_error_set(ST_ENOMEM, "out of memory (boundary grid)");
    for (int i = 0; i < 2; i++) {
        g[i].s = mem + (size_t)(3 * i) * (GS_MAX_PTS + 2);
        g[i].f = g[i].s + GS_MAX_PTS + 2;
        g[i].w = g[i].f + GS_MAX_PTS + 2;
    }
    gs_grid *cur = &g[0], *nxt = &g[1];
    double spent = 0;
    for (size_t i = 0; i < k; i++) {
        double step = alpha_cum[i] - spent, sd_t = sqrt(t[i]);
        double c; /* boundary on the S scale */
        if (step <= 0) {
            c = INFINITY;
        } else if (i == 0) {
            c = sd_t * gsl_cdf_ugaussian_Qinv(step);
        } else {
            double inc = sqrt(t[i] - t[i - 1]);
            c = gs_solve(cur, inc, step, -GS_SPAN * sd_t, 40 * sd_t);
        }
        z[i] = c / sd_t;
        if (nominal)
            nominal[i] = isfinite(c) ? gsl_cdf_ugaussian_Q(z[i]) : 0;
        spent = alpha_cum[i];
        if (i + 1 == k)
            break;
        double top = isfinite(c) ? c : 12 * sd_t;
        double lo = -GS_SPAN * sd_t;
        double hh = h;
        if ((top - lo) / hh > GS_MAX_PTS - 1)
            hh = (top - lo) / (GS_MAX_PTS - 1);
        gs_grid_place(nxt, lo, top, hh);
        if (i == 0) {
            for (size_t j = 0; j < nxt->npts; j++)
                nxt->f[j] = gsl_ran_ugaussian_pdf(nxt->s[j] / sd_t) / sd_t;
        } else {
            gs_advance(nxt, cur, sqrt(t[i] - t[i - 1]));
        }
        gs_grid *tmp = cur;
        cur = nxt;
        nxt = tmp;
    }
    free(mem);
    return 0;
}
