/**
 * @file schedtest/schedtest.h
 * @brief Umbrella header of the schedtest C core, and its one-time setup.
 */
#ifndef SCHEDTEST_H
#define SCHEDTEST_H

#include "schedtest/error.h"

/**
 * Process-wide setup of the libraries the core wraps (libgit2's global
 * state, GSL's error handler).  Call once before any other core function;
 * repeated calls are harmless.  Returns 0 or a negative ST_E* code.
 */
int st_init(void);

/** Undo st_init(); call once at exit. */
void st_shutdown(void);

/** The version of schedtest itself ("git describe" at build time). */
const char *st_version(void);

#endif
