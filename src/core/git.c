/*
 * git.c: everything schedtest does with git, through libgit2.
 */
#include "schedtest/git.h"
#include "schedtest/error.h"

#include <git2.h>
#include <stdio.h>

int st_git_global_init(void)
{
    int rc = git_libgit2_init();
    if (rc < 0) {
        const git_error *e = git_error_last();
        return st_error_set(ST_EGIT, "libgit2 init failed: %s",
                            e ? e->message : "unknown error");
    }
    return 0;
}

void st_git_global_shutdown(void)
{
    git_libgit2_shutdown();
}

const char *st_git_libgit2_version(void)
{
    static char buf[32];
    int major, minor, rev;
    git_libgit2_version(&major, &minor, &rev);
    snprintf(buf, sizeof buf, "%d.%d.%d", major, minor, rev);
    return buf;
}
