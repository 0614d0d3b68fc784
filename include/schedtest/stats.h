/**
 * @file schedtest/stats.h
 * @brief Statistics over GSL: summaries, tests, intervals, power.
 */
#ifndef SCHEDTEST_STATS_H
#define SCHEDTEST_STATS_H

/**
 * Turn GSL's abort-on-error handler off (GSL's own advice for production
 * programs); called by st_init().  Every GSL status is checked instead.
 */
void st_stats_global_init(void);

/** GSL's version string. */
const char *st_stats_gsl_version(void);

#endif
