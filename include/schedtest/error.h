/**
 * @file schedtest/error.h
 * @brief Error codes and the per-thread last-error message of the C core.
 *
 * Every core function returns 0 on success or a negative ST_E* code and
 * leaves a human-readable message in a per-thread buffer (libgit2 and LOVR
 * do the same).  The stable code *names* ("ENOENT", "EVMBOOT", ...) are what
 * Lua callers compare; they come from the one list below so that C and Lua
 * can never disagree.
 */
#ifndef SCHEDTEST_ERROR_H
#define SCHEDTEST_ERROR_H

#include <stdarg.h>

/*
 * X(NAME, value, description).  Values are part of the ABI of the core:
 * append new codes, never renumber.
 */
#define ST_ERROR_LIST(X)                                                   \
    X(OK,            0, "success")                                         \
    X(ERROR,        -1, "unspecified error")                               \
    X(ENOMEM,       -2, "out of memory")                                   \
    X(EINVAL,       -3, "invalid argument")                                \
    X(ENOENT,       -4, "no such file or directory")                       \
    X(EIO,          -5, "input/output error")                              \
    X(EPARSE,       -6, "malformed input")                                 \
    X(EEXIST,       -7, "already exists")                                  \
    X(EBUSY,        -8, "resource busy or locked")                         \
    X(ETIMEDOUT,    -9, "timed out")                                       \
    X(ENOTSUP,     -10, "not supported")                                   \
    X(EINTR,       -11, "interrupted")                                     \
    X(ERANGE,      -12, "value out of range")                              \
    X(EDOMAIN,     -13, "statistic undefined for this input")              \
    X(EGIT,        -20, "git operation failed")                            \
    X(EGITREPO,    -21, "not a git repository")                            \
    X(EGITREF,     -22, "unknown git reference")                           \
    X(EGITUNBORN,  -23, "HEAD has no commit yet")                          \
    X(EGITNOBASE,  -24, "no merge base")                                   \
    X(EGITSHALLOW, -25, "shallow clone lacks history")                     \
    X(EGITSAME,    -26, "baseline resolves to HEAD")                       \
    X(EKERNEL,     -30, "kernel not usable")                               \
    X(EVMSTART,    -31, "qemu failed to start")                            \
    X(EVMBOOT,     -32, "guest did not boot")                              \
    X(EVMHANG,     -33, "guest hung")                                      \
    X(EVMPANIC,    -34, "guest kernel panicked")                           \
    X(EVMTRUNC,    -35, "guest results truncated")                         \
    X(EVMFAIL,     -36, "guest test failed")                               \
    X(EELF,        -37, "binary cannot be packed into the guest")        \
    X(ENOSPC,      -14, "no space left on device")                       \
    X(EBUILD,      -38, "scheduler build failed")

typedef enum {
#define ST__ENUM(name, value, desc) ST_##name = value,
    ST_ERROR_LIST(ST__ENUM)
#undef ST__ENUM
} st_error_code;

/** Stable name of a code ("ENOENT"), or NULL for an unknown value. */
const char *st_error_name(int code);

/** One-line description of a code, or NULL for an unknown value. */
const char *st_error_describe(int code);

/** Code for a stable name, or ST_ERROR when the name is unknown. */
int st_error_from_name(const char *name);

/** Number of codes, and the i-th code (0 <= i < count), for iteration. */
int st_error_count(void);
int st_error_at(int i);

/**
 * Record `fmt` as this thread's last error and return `code`, so core
 * functions can write `return st_error_set(ST_ENOENT, "%s: ...", path);`.
 */
int st_error_set(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int st_error_setv(int code, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/** Like st_error_set, appending ": strerror(errnum)". */
int st_error_set_errno(int code, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** Code for an errno value (ENOENT -> ST_ENOENT, ...), ST_EIO otherwise. */
int st_error_from_errno(int errnum);

/** This thread's last message ("" when none) and code (ST_OK when none). */
const char *st_error_last(void);
int st_error_last_code(void);

/** Forget the last error, for callers that swallow a failure on purpose. */
void st_error_clear(void);

#endif
