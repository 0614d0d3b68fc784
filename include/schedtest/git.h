/**
 * @file schedtest/git.h
 * @brief Git access through libgit2: repositories, labels, baselines,
 *        snapshots and plain checkouts.
 */
#ifndef SCHEDTEST_GIT_H
#define SCHEDTEST_GIT_H

/** Initialise libgit2's global state; called by st_init(). */
int st_git_global_init(void);
void st_git_global_shutdown(void);

/** libgit2's version as "major.minor.rev". */
const char *st_git_libgit2_version(void);

#endif
