/**
 * @file schedtest/stats.h
 * @brief Statistics over GSL: summaries, tests, intervals, power.
 *
 * Conventions shared by every function here:
 *  - Inputs are plain arrays of doubles.  A NaN or infinite value makes the
 *    function return ST_EDOMAIN naming the sample and index; nothing is
 *    silently skipped (the caller decides what "missing" means).
 *  - Too few values (n < 2 where a variance is needed) is ST_EDOMAIN.
 *  - Degenerate but meaningful inputs (identical samples, all values equal)
 *    give a defined result with p = 1 and a static `note` saying why.
 *  - Degenerate inputs a test cannot answer (both samples constant with
 *    different values for a t-test: infinite t) are ST_EDOMAIN, so a caller
 *    never reads a NaN p-value as a verdict.
 *  - Two-sample tests use the orientation of SciPy: `p_less` tests the
 *    alternative "a is smaller than b", `p_greater` "a is larger than b".
 */
#ifndef SCHEDTEST_STATS_H
#define SCHEDTEST_STATS_H

#include <stddef.h>
#include <stdint.h>

/**
 * Turn GSL's abort-on-error handler off (GSL's own advice for production
 * programs); called by st_init().  Every GSL status is checked instead.
 */
void st_stats_global_init(void);

/** GSL's version string. */
const char *st_stats_gsl_version(void);

/** Descriptive summary of one sample (st_stats_describe). */
typedef struct {
    size_t n;
    double mean;
    double var;        /**< Bessel (n-1) variance; NaN when n < 2 */
    double sd;         /**< sqrt(var); NaN when n < 2 */
    double min, max;
    double median;     /**< R type 7 quantile at 0.5 */
    double mad;        /**< median absolute deviation, unscaled */
    double cv;         /**< sd/|mean|; NaN when n < 2, +inf when |mean| < 1e-9
                            and sd > 0, 0 when sd == 0 */
    double spread_pct; /**< (max-min)/|mean|*100; 0 when max == min, +inf
                            when |mean| < 1e-9 (ktstr noise.rs) */
} st_stats_desc;

/**
 * Summary of `x[0..n)`.  Needs n >= 1 and finite values (ST_EDOMAIN
 * otherwise).  Fields that need n >= 2 are NaN when n == 1; the Lua binding
 * turns them into nil.
 */
int st_stats_describe(st_stats_desc *out, const double *x, size_t n);

/**
 * Quantile `p` in [0, 1] of `x`, by R's type 7 definition (linear
 * interpolation between order statistics at h = (n-1)p; NumPy's default).
 */
int st_stats_quantile(double *out, const double *x, size_t n, double p);

/**
 * Quantile of Student's t with `dof` > 0 degrees of freedom at `p` in
 * (0, 1), polished by Newton steps on GSL's CDF (accurate to ~1e-15).
 */
int st_stats_t_quantile(double *out, double p, double dof);

/** Result of a t-test (Welch or paired). */
typedef struct {
    double t;          /**< statistic; 0 for identical samples */
    double dof;        /**< Welch-Satterthwaite (Welch) or n-1 (paired) */
    double p;          /**< two-sided */
    double p_less;     /**< H1: mean(a) < mean(b) */
    double p_greater;  /**< H1: mean(a) > mean(b) */
    double diff;       /**< mean(a) - mean(b) (paired: mean of a-b) */
    const char *note;  /**< NULL, or why the result is degenerate */
} st_stats_ttest;

/**
 * Welch's unequal-variance t-test.  t = (mean_a - mean_b)/sqrt(va/na +
 * vb/nb); dof by Welch-Satterthwaite; p from GSL's Student t.  Needs
 * na, nb >= 2.  Both samples constant: equal values give t = 0, p = 1 with a
 * note; different values are ST_EDOMAIN (no standard error).
 */
int st_stats_welch(st_stats_ttest *out, const double *a, size_t na,
                   const double *b, size_t nb);

/**
 * Paired t-test on d = a[i] - b[i] (dof n-1).  Needs n >= 2.  All
 * differences equal to zero: t = 0, p = 1, note; a constant non-zero
 * difference is ST_EDOMAIN.
 */
int st_stats_paired_t(st_stats_ttest *out, const double *a, const double *b,
                      size_t n);

/**
 * Disjoint-band test (ktstr): 1 when max(a) < min(b) or max(b) < min(a),
 * strictly (touching bands are not disjoint), else 0.
 */
int st_stats_disjoint(int *out, const double *a, size_t na, const double *b,
                      size_t nb);

/** How a rank test computed its p-values. */
typedef enum {
    ST_STATS_EXACT,  /**< exact null distribution (no ties, small n) */
    ST_STATS_NORMAL  /**< normal approximation, tie + continuity corrected */
} st_stats_method;

/** Result of a rank test. */
typedef struct {
    double stat;       /**< Mann-Whitney: U of a; Wilcoxon: W+ (sum of ranks
                            of positive a-b) */
    double stat2;      /**< Mann-Whitney: U of b; Wilcoxon: W- */
    double z;          /**< normal approximation's z (0 when exact) */
    size_t n_used;     /**< Wilcoxon: pairs left after dropping zeros */
    double p, p_less, p_greater;
    st_stats_method method;
    const char *note;
} st_stats_rank;

/**
 * Mann-Whitney U test (midranks).  Exact null distribution when there are
 * no ties and both na, nb <= ST_STATS_MWU_EXACT_MAX; otherwise the normal
 * approximation with the tie-corrected variance and a 0.5 continuity
 * correction (SciPy's mannwhitneyu with use_continuity=True).  Two-sided
 * p = min(1, 2 P(U >= max(Ua, Ub))).  Needs na, nb >= 1.  All values equal:
 * p = 1 with a note.
 */
#define ST_STATS_MWU_EXACT_MAX 50
int st_stats_mann_whitney(st_stats_rank *out, const double *a, size_t na,
                          const double *b, size_t nb);

/**
 * Wilcoxon signed-rank test on d = a[i] - b[i]; zero differences are
 * dropped (Wilcoxon's method).  Exact when no zeros were dropped, no ties
 * among |d| and n <= ST_STATS_WILCOXON_EXACT_MAX; otherwise normal
 * approximation with tie correction and 0.5 continuity correction
 * (SciPy's wilcoxon with correction=True).  Needs n >= 1; all differences
 * zero gives p = 1 with a note.
 */
#define ST_STATS_WILCOXON_EXACT_MAX 50
int st_stats_wilcoxon(st_stats_rank *out, const double *a, const double *b,
                      size_t n);

/** Statistic a bootstrap resamples. */
typedef enum { ST_STATS_MEAN, ST_STATS_MEDIAN } st_stats_which;

/** Bootstrap confidence interval of the relative change of a statistic. */
typedef struct {
    double estimate;   /**< (stat(b) - stat(a)) / |stat(a)| on the data */
    double lo, hi;     /**< percentile interval at `level` */
    size_t resamples;
} st_stats_ci;

/**
 * Percentile bootstrap CI of (stat(b) - stat(a))/|stat(a)|: each side is
 * resampled independently with replacement, `resamples` times, from
 * GSL's mt19937 seeded with `seed`, so one seed gives one answer.
 * Resamples whose stat(a) is ~0 (|x| < 1e-9) are skipped; ST_EDOMAIN when
 * stat(a) of the data is ~0 or more than half the resamples were skipped.
 * Needs na, nb >= 2, 0 < level < 1, resamples >= 100.
 */
int st_stats_bootstrap_rel(st_stats_ci *out, const double *a, size_t na,
                           const double *b, size_t nb, st_stats_which which,
                           double level, size_t resamples, uint64_t seed);

/** Multiple-comparison adjustment method. */
typedef enum { ST_STATS_BH, ST_STATS_HOLM } st_stats_adjust_method;

/**
 * Adjusted p-values (same order as `p`): Benjamini-Hochberg (false
 * discovery rate, step-up) or Holm (family-wise error, step-down), each
 * capped at 1 and monotone as in R's p.adjust.  Values must be in [0, 1].
 */
int st_stats_adjust(double *out, const double *p, size_t n,
                    st_stats_adjust_method method);

/**
 * Smallest relative change of the mean a two-sample t-test detects with
 * probability `power` at level `alpha` (`sides` 1 or 2), with n runs per
 * side and coefficient of variation `cv` on both sides:
 *   mde = (t_{1-alpha/sides, 2n-2} + t_{power, 2n-2}) * cv * sqrt(2/n).
 * (The usual shifted-central-t approximation of the noncentral t power.)
 * Needs n >= 2, cv >= 0, 0 < alpha < 1, 0 < power < 1.
 */
int st_stats_mde(double *out, size_t n, double cv, double alpha, double power,
                 int sides);

/**
 * Smallest n per side (2 <= n <= max_n) whose mde is <= `change` (> 0).
 * ST_ERANGE when even max_n does not reach it.
 */
int st_stats_n_for(size_t *out, double change, double cv, double alpha,
                   double power, int sides, size_t max_n);

#endif
