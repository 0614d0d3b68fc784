/*
 * init.c: one-time process setup of the libraries the core wraps.
 */
#include "schedtest/schedtest.h"
#include "schedtest/git.h"
#include "schedtest/stats.h"

#ifndef ST_VERSION
#define ST_VERSION "unknown"
#endif

static int initialised;

int st_init(void)
{
    if (initialised)
        return 0;
    st_stats_global_init();
    int rc = st_git_global_init();
    if (rc < 0)
        return rc;
    initialised = 1;
    return 0;
}

void st_shutdown(void)
{
    if (!initialised)
        return;
    st_git_global_shutdown();
    initialised = 0;
}

const char *st_version(void)
{
    return ST_VERSION;
}
