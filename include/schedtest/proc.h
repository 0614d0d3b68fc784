/**
 * @file schedtest/proc.h
 * @brief Running child processes from an argv (never through a shell),
 *        with a time limit, output redirection and clean termination.
 */
#ifndef SCHEDTEST_PROC_H
#define SCHEDTEST_PROC_H

typedef struct {
    const char *const *argv;    /**< NULL-terminated; argv[0] via PATH */
    const char *cwd;            /**< NULL: inherit */
    const char *const *env_set; /**< "K=V" entries added; NULL: none */
    const char *stdin_path;     /**< NULL: /dev/null */
    const char *stdout_path;    /**< NULL: inherit; else truncated file */
    const char *stderr_path;    /**< NULL: inherit; "=stdout": merge */
    double timeout_s;           /**< 0: no limit */
    /** Polled every few ms; non-zero stops the child (e.g. on Ctrl-C). */
    int (*should_stop)(void *payload);
    void *payload;
} st_proc_opts;

typedef struct {
    int exited;      /**< 1 when the child exited normally */
    int code;        /**< its exit status when exited */
    int signal;      /**< the terminating signal when not exited */
    int timed_out;   /**< killed because timeout_s passed */
    int stopped;     /**< killed because should_stop() asked */
    double wall_s;   /**< wall time from spawn to reaping */
} st_proc_result;

typedef struct st_proc st_proc;

/**
 * Start a child and return at once.  The child gets its own process group
 * and dies with us (PR_SET_PDEATHSIG).  `opts` need not outlive the call.
 * ST_ENOENT / ST_EIO when it could not be started, with the reason.
 */
int st_proc_start(st_proc **out, const st_proc_opts *opts);

/**
 * Wait up to `wait_ms` for the child, enforcing timeout_s and
 * should_stop (either stops its group: SIGINT, SIGTERM after 3 s, SIGKILL
 * after 2 s more).  Returns 1 once it has finished, with `out` filled
 * (again on every later call), 0 while it runs.
 */
int st_proc_poll(st_proc *p, st_proc_result *out, int wait_ms);

/** Poll until the child has finished; fills `out`. */
void st_proc_wait(st_proc *p, st_proc_result *out);

int st_proc_pid(const st_proc *p);

/** Stop the child's group if it still runs (as a stop), reap it, free. */
void st_proc_free(st_proc *p);

/**
 * Run a child to completion.  The child gets its own process group and
 * dies with us (PR_SET_PDEATHSIG), so no orphan outlives schedtest; on
 * timeout or stop the whole group gets SIGINT (a chance to clean up), then
 * SIGTERM after 3 s, then SIGKILL after 2 s more.
 * Returns 0 when the child ran (whatever its status: see `out`), or
 * ST_ENOENT / ST_EIO when it could not be started, with the reason.
 */
int st_proc_run(st_proc_result *out, const st_proc_opts *opts);

#endif
