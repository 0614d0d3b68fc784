/*
 * stats.c: the statistics of schedtest, over GSL.
 */
#include "schedtest/stats.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_version.h>

void st_stats_global_init(void)
{
    gsl_set_error_handler_off();
}

const char *st_stats_gsl_version(void)
{
    return gsl_version;
}
