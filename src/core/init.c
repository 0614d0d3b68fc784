/*
 * init.c: one-time process setup of the libraries the core wraps.
 */
#include "schedtest/schedtest.h"
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
    /* libgit2 is initialised by the schedtest.git module, when needed */
    initialised = 1;
    return 0;
}

void st_shutdown(void)
{
    if (!initialised)
        return;
    initialised = 0;
}

const char *st_version(void)
{
    return ST_VERSION;
}
