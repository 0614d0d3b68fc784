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

/**
 * Upper tail P(T >= t) of Student's t with `dof` > 0 degrees of freedom
 * (t may be +-inf).
 */
int st_stats_t_sf(double *out, double t, double dof);

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

/** How st_stats_ratio_ci bounds the ratio of means. */
typedef enum {
    ST_STATS_RATIO_LOG,    /**< delta method on log(mean_b/mean_a); values > 0 */
    ST_STATS_RATIO_FIELLER /**< Fieller's interval; any finite values */
} st_stats_ratio_method;

/** Confidence interval of mean(b)/mean(a) (st_stats_ratio_ci). */
typedef struct {
    double estimate;   /**< mean(b)/mean(a) */
    double lo, hi;     /**< the interval at `level`; -inf/+inf when unbounded */
    double se;         /**< LOG: standard error of log(ratio); FIELLER: NaN */
    double dof;        /**< Welch-Satterthwaite degrees of freedom */
    int bounded;       /**< 1 when both ends are finite */
    int clamped;       /**< 1 when lo was raised to 0 (non-negative data) */
} st_stats_ratio;

/**
 * Two-sided `level` interval of the ratio mean(b)/mean(a) of independent
 * samples that accounts for the uncertainty of both means.
 *  - ST_STATS_RATIO_LOG (every value > 0, else ST_EDOMAIN): log(ratio)
 *    +- t * se, se^2 = var_a/(n_a mean_a^2) + var_b/(n_b mean_b^2), t of
 *    Student with the Welch-Satterthwaite dof of those two terms; the
 *    interval is exp() of that, so it is asymmetric and never below 0.
 *  - ST_STATS_RATIO_FIELLER: the set of r with (mean_b - r mean_a)^2 <=
 *    t^2 (var_b/n_b + r^2 var_a/n_a), t with the Satterthwaite dof of
 *    those terms at r = estimate.  When mean_a is not significantly away
 *    from 0 the set is unbounded: lo = -inf, hi = +inf, bounded = 0.
 * When every value of both samples is >= 0 the ratio cannot be negative
 * and lo is raised to 0 (clamped = 1).  Both samples constant: the
 * interval is the point estimate.  Needs na, nb >= 2, 0 < level < 1, and
 * |mean_a| >= 1e-9 (ST_EDOMAIN).
 */
int st_stats_ratio_ci(st_stats_ratio *out, const double *a, size_t na,
                      const double *b, size_t nb, double level,
                      st_stats_ratio_method method);

/** Hodges-Lehmann estimate and its distribution-free interval. */
typedef struct {
    double estimate;   /**< median of b[j] - a[i] (two-sample) or of the
                            Walsh averages (d[i] + d[j])/2, i <= j */
    double lo, hi;     /**< interval with coverage >= level; -inf/+inf when
                            the sizes cannot reach it (attainable = 0) */
    double coverage;   /**< exact (or normal-approximation) coverage */
    st_stats_method method;
    int attainable;
} st_stats_hl;

/**
 * Two-sample Hodges-Lehmann shift: the median of the na*nb differences
 * b[j] - a[i], with Moses' interval [D(k), D(nanb+1-k)] of the sorted
 * differences, k the largest with P(U <= k-1) <= (1 - level)/2 under the
 * null of Mann-Whitney (exact for na, nb <= ST_STATS_MWU_EXACT_MAX, else
 * normal with 0.5 continuity correction).  One outlier moves the estimate
 * by at most one rank.  Needs na, nb >= 1, 0 < level < 1.
 */
int st_stats_hodges_lehmann(st_stats_hl *out, const double *a, size_t na,
                            const double *b, size_t nb, double level);

/**
 * One-sample (paired) Hodges-Lehmann: the median of the n(n+1)/2 Walsh
 * averages of d, with the interval from the null of the signed-rank
 * statistic (exact for n <= ST_STATS_WILCOXON_EXACT_MAX, else normal).
 * Needs n >= 1, 0 < level < 1.
 */
int st_stats_hodges_lehmann1(st_stats_hl *out, const double *d, size_t n,
                             double level);

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

/**
 * Paired variants of st_stats_mde and st_stats_n_for: n pairs whose
 * differences have standard deviation `sd` (relative), dof n - 1:
 *   mde = (t_{1-alpha/sides, n-1} + t_{power, n-1}) * sd / sqrt(n).
 */
int st_stats_mde_paired(double *out, size_t n, double sd, double alpha,
                        double power, int sides);
int st_stats_n_for_paired(size_t *out, double change, double sd,
                          double alpha, double power, int sides,
                          size_t max_n);

/** Alpha-spending functions of a group-sequential plan. */
typedef enum {
    ST_STATS_SPEND_OBF,    /**< Lan-DeMets O'Brien-Fleming type:
                                2 - 2 Phi(z_{1-alpha/2} / sqrt(t)) */
    ST_STATS_SPEND_POCOCK, /**< Lan-DeMets Pocock type:
                                alpha ln(1 + (e - 1) t) */
    ST_STATS_SPEND_POWER   /**< alpha t^rho (rho = `param` > 0) */
} st_stats_spending;

/**
 * Cumulative one-sided alpha spent by information fractions t[0..k)
 * (each in (0, 1]): out[i] = f(t[i]).  0 < alpha < 0.5.
 */
int st_stats_gs_spend(double *out, const double *t, size_t k, double alpha,
                      st_stats_spending kind, double param);

/**
 * Upper group-sequential boundaries for looks at increasing information
 * fractions t[0..k) (0 < t <= 1) of one-sided standardized statistics
 * Z_i = S(t_i)/sqrt(t_i) (S a Brownian motion: corr(Z_i, Z_j) =
 * sqrt(t_i/t_j)), such that under the null the probability to cross
 * first at look i is alpha_cum[i] - alpha_cum[i-1] (alpha_cum
 * non-decreasing, < 0.5).  z[i] = +inf where nothing is spent.  The
 * crossing probabilities come from the recursive integration of
 * Armitage, McPherson and Rowe (1969) by Simpson's rule on a grid fine
 * against every increment; `nominal` (may be NULL) receives each look's
 * nominal one-sided level 1 - Phi(z[i]).
 */
int st_stats_gs_bounds(double *z, double *nominal, const double *t,
                       const double *alpha_cum, size_t k);

#endif
