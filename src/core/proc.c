/*
 * proc.c: fork/exec with redirections, a time limit and group kill.
 */
#include "schedtest/proc.h"
#include "schedtest/error.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int redirect(int fd, const char *path, int flags)
{
    int f = open(path, flags | O_CLOEXEC, 0644);
    if (f < 0)
        return -1;
    if (dup2(f, fd) < 0) {
        close(f);
        return -1;
    }
    close(f);
    return 0;
}

/* In the child: report errno through the pipe and die. */
static void child_fail(int pipe_fd, int stage)
{
    int msg[2] = {stage, errno};
    ssize_t n = write(pipe_fd, msg, sizeof msg);
    (void)n;
    _exit(127);
}

enum { STAGE_CWD = 1, STAGE_STDIN, STAGE_STDOUT, STAGE_STDERR, STAGE_ENV,
       STAGE_EXEC };

static void run_child(const st_proc_opts *o, int pipe_fd, pid_t parent)
{
    setpgid(0, 0);
    /* Die with the parent; re-check in case it is already gone. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    if (o->cwd && chdir(o->cwd) < 0)
        child_fail(pipe_fd, STAGE_CWD);
    if (redirect(0, o->stdin_path ? o->stdin_path : "/dev/null", O_RDONLY))
        child_fail(pipe_fd, STAGE_STDIN);
    if (o->stdout_path &&
        redirect(1, o->stdout_path, O_WRONLY | O_CREAT | O_TRUNC) < 0)
        child_fail(pipe_fd, STAGE_STDOUT);
    if (o->stderr_path) {
        if (strcmp(o->stderr_path, "=stdout") == 0) {
            if (dup2(1, 2) < 0)
                child_fail(pipe_fd, STAGE_STDERR);
        } else if (redirect(2, o->stderr_path,
                            O_WRONLY | O_CREAT | O_TRUNC) < 0) {
            child_fail(pipe_fd, STAGE_STDERR);
        }
    }
    for (const char *const *e = o->env_set; e && *e; e++)
        if (putenv((char *)*e) < 0)
            child_fail(pipe_fd, STAGE_ENV);
    execvp(o->argv[0], (char *const *)o->argv);
    child_fail(pipe_fd, STAGE_EXEC);
}

static const char *stage_name(int stage)
{
    switch (stage) {
    case STAGE_CWD: return "cannot enter the working directory";
    case STAGE_STDIN: return "cannot open its input";
    case STAGE_STDOUT: return "cannot open its output file";
    case STAGE_STDERR: return "cannot open its error file";
    case STAGE_ENV: return "cannot set its environment";
    default: return "cannot execute it";
    }
}

/* Wait up to `ms` for the child; returns 1 with *status set when reaped. */
static int reap_within(pid_t pid, int *status, int ms)
{
    for (int waited = 0; waited < ms; waited += 10) {
        if (waitpid(pid, status, WNOHANG) == pid)
            return 1;
        sleep_ms(10);
    }
    return 0;
}

/*
 * Stop the child's process group: SIGINT first, so a child that cleans up
 * on Ctrl-C (schedtest itself: VMs, checkouts) gets to; then SIGTERM; then
 * SIGKILL.  Returns the wait status.
 */
static int terminate(pid_t pid)
{
    int status;
    kill(-pid, SIGINT);
    if (reap_within(pid, &status, 3000))
        goto done;
    kill(-pid, SIGTERM);
    if (reap_within(pid, &status, 2000))
        goto done;
    kill(-pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
done:
    kill(-pid, SIGKILL); /* stragglers of the group */
    return status;
}

struct st_proc {
    pid_t pid;
    double start, timeout_s;
    int (*should_stop)(void *payload);
    void *payload;
    int finished;
    st_proc_result result;
};

/* The child's errno report through the close-on-exec pipe, if exec failed. */
static int exec_failure(pid_t pid, int fd, const st_proc_opts *o)
{
    int msg[2];
    ssize_t n;
    while ((n = read(fd, msg, sizeof msg)) < 0 && errno == EINTR)
        ;
    if (n != (ssize_t)sizeof msg)
        return 0;
    int status;
    waitpid(pid, &status, 0);
    const char *where = msg[0] == STAGE_CWD && o->cwd ? o->cwd : "";
    return st_error_set(msg[1] == ENOENT ? ST_ENOENT : ST_EIO,
                        "cannot run '%s': %s%s%s: %s", o->argv[0],
                        stage_name(msg[0]), *where ? " " : "", where,
                        strerror(msg[1]));
}

int st_proc_start(st_proc **out, const st_proc_opts *o)
{
    *out = NULL;
    if (!o->argv || !o->argv[0])
        return st_error_set(ST_EINVAL, "no program to run");
    st_proc *p = calloc(1, sizeof *p);
    if (!p)
        return st_error_set(ST_ENOMEM, "out of memory");
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) {
        free(p);
        return st_error_set_errno(ST_EIO, errno, "pipe");
    }
    fflush(NULL);
    p->start = now_s();
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        free(p);
        return st_error_set_errno(ST_EIO, errno, "fork for %s", o->argv[0]);
    }
    if (pid == 0) {
        close(fds[0]);
        run_child(o, fds[1], parent);
    }
    setpgid(pid, pid); /* also here: no race with kill(-pid) */
    close(fds[1]);
    int rc = exec_failure(pid, fds[0], o);
    close(fds[0]);
    if (rc < 0) {
        free(p);
        return rc;
    }
    p->pid = pid;
    p->timeout_s = o->timeout_s;
    p->should_stop = o->should_stop;
    p->payload = o->payload;
    *out = p;
    return 0;
}

static void finish(st_proc *p, int status)
{
    st_proc_result *r = &p->result;
    r->wall_s = now_s() - p->start;
    if (WIFEXITED(status)) {
        r->exited = 1;
        r->code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        r->signal = WTERMSIG(status);
    }
    p->finished = 1;
}

/* One look at the child: reaped, or stopped for a reason.  1 if done. */
static int check_once(st_proc *p)
{
    int status = 0;
    pid_t r = waitpid(p->pid, &status, WNOHANG);
    if (r == p->pid || (r < 0 && errno != EINTR)) {
        finish(p, r == p->pid ? status : 0);
        return 1;
    }
    if (p->should_stop && p->should_stop(p->payload)) {
        p->result.stopped = 1;
        finish(p, terminate(p->pid));
        return 1;
    }
    if (p->timeout_s > 0 && now_s() - p->start > p->timeout_s) {
        p->result.timed_out = 1;
        finish(p, terminate(p->pid));
        return 1;
    }
    return 0;
}

int st_proc_poll(st_proc *p, st_proc_result *out, int wait_ms)
{
    double end = now_s() + (wait_ms > 0 ? wait_ms / 1e3 : 0);
    while (!p->finished && !check_once(p) && now_s() < end)
        sleep_ms(5);
    if (p->finished)
        *out = p->result;
    return p->finished;
}

void st_proc_wait(st_proc *p, st_proc_result *out)
{
    while (!st_proc_poll(p, out, 100))
        ;
}

int st_proc_pid(const st_proc *p) { return p->pid; }

void st_proc_free(st_proc *p)
{
    if (!p)
        return;
    if (!p->finished) {
        p->result.stopped = 1;
        finish(p, terminate(p->pid));
    }
    free(p);
}

int st_proc_run(st_proc_result *out, const st_proc_opts *o)
{
    memset(out, 0, sizeof *out);
    st_proc *p;
    int rc = st_proc_start(&p, o);
    if (rc < 0)
        return rc;
    st_proc_wait(p, out);
    st_proc_free(p);
    return 0;
}
