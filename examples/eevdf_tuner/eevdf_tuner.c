/*
 * eevdf_tuner: tunes the kernel's built-in scheduler (EEVDF) for as long as
 * it runs, then puts every knob back.  It is the "scheduler" of the
 * eevdf_tuner example project: kernels without sched_ext (Debian's) can
 * still have their scheduling behaviour changed by a branch, and
 * schedtest can measure that change.
 *
 * Knobs:
 *   --base-slice-ns N          /sys/kernel/debug/sched/base_slice_ns
 *   --hrtick / --no-hrtick     the HRTICK feature: without it slices round
 *                              up to the tick, so base_slice_ns is invisible
 *   --no-wakeup-preemption     NO_WAKEUP_PREEMPTION: a woken task waits for
 *                              the running one's slice to end
 *   --batch COMM_PREFIX        move tasks whose comm starts with the prefix
 *                              to SCHED_BATCH (rescanned every 50 ms)
 *
 * It prints what it changed, runs until SIGINT or SIGTERM, restores the
 * previous values and exits 0.  A knob it cannot set is a fatal error
 * (exit 1) so a broken setup never passes silently.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEBUGFS_SCHED "/sys/kernel/debug/sched"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static int read_text(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    return 0;
}

static int write_text(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, text, strlen(text));
    int saved = errno;
    close(fd);
    errno = saved;
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* Is feature NAME on?  The features file lists NAME or NO_NAME. */
static int feature_on(const char *features, const char *name)
{
    char word[64];
    const char *p = features;
    int n;
    while (sscanf(p, "%63s%n", word, &n) == 1) {
        if (strcmp(word, name) == 0)
            return 1;
        if (strncmp(word, "NO_", 3) == 0 && strcmp(word + 3, name) == 0)
            return 0;
        p += n;
    }
    return -1; /* unknown feature */
}

static int set_feature(const char *name, int on)
{
    char text[80];
    snprintf(text, sizeof text, "%s%s", on ? "" : "NO_", name);
    if (write_text(DEBUGFS_SCHED "/features", text) < 0) {
        fprintf(stderr, "eevdf_tuner: cannot set %s in %s/features: %s\n",
                text, DEBUGFS_SCHED, strerror(errno));
        return -1;
    }
    return 0;
}

/* Move matching tasks to SCHED_BATCH; returns how many were moved. */
static int batch_tasks(const char *prefix)
{
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    int moved = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 0)
            continue;
        char path[64], comm[64];
        snprintf(path, sizeof path, "/proc/%ld/task", pid);
        DIR *t = opendir(path);
        if (!t)
            continue;
        struct dirent *te;
        while ((te = readdir(t)) != NULL) {
            long tid = strtol(te->d_name, &end, 10);
            if (*end || tid <= 0)
                continue;
            snprintf(path, sizeof path, "/proc/%ld/task/%ld/comm", pid, tid);
            if (read_text(path, comm, sizeof comm) < 0)
                continue;
            if (strncmp(comm, prefix, strlen(prefix)) != 0)
                continue;
            if (sched_getscheduler((pid_t)tid) == SCHED_BATCH)
                continue;
            struct sched_param sp = {0};
            if (sched_setscheduler((pid_t)tid, SCHED_BATCH, &sp) == 0)
                moved++;
        }
        closedir(t);
    }
    closedir(d);
    return moved;
}

static void usage(void)
{
    fprintf(stderr, "usage: eevdf_tuner [--base-slice-ns N] [--hrtick|"
            "--no-hrtick] [--no-wakeup-preemption] [--batch COMM_PREFIX]\n");
}

int main(int argc, char **argv)
{
    long slice_ns = -1;
    int hrtick = -1, wakeup_preemption = -1;
    const char *batch_prefix = NULL;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--base-slice-ns") == 0 && i + 1 < argc) {
            char *end;
            slice_ns = strtol(argv[++i], &end, 10);
            if (*end || slice_ns < 100000 || slice_ns > 100000000) {
                fprintf(stderr, "eevdf_tuner: --base-slice-ns wants 100000 "
                        "to 100000000, got %s\n", argv[i]);
                return 2;
            }
        } else if (strcmp(argv[i], "--hrtick") == 0) {
            hrtick = 1;
        } else if (strcmp(argv[i], "--no-hrtick") == 0) {
            hrtick = 0;
        } else if (strcmp(argv[i], "--no-wakeup-preemption") == 0) {
            wakeup_preemption = 0;
        } else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc) {
            batch_prefix = argv[++i];
        } else {
            usage();
            return 2;
        }
    }

    char old_slice[32] = "", features[4096] = "";
    if (read_text(DEBUGFS_SCHED "/features", features, sizeof features) < 0) {
        fprintf(stderr, "eevdf_tuner: cannot read %s/features: %s (is "
                "debugfs mounted and CONFIG_SCHED_DEBUG on?)\n",
                DEBUGFS_SCHED, strerror(errno));
        return 1;
    }
    int old_hrtick = feature_on(features, "HRTICK");
    int old_wakeup = feature_on(features, "WAKEUP_PREEMPTION");

    if (slice_ns > 0) {
        char text[32];
        if (read_text(DEBUGFS_SCHED "/base_slice_ns", old_slice,
                      sizeof old_slice) < 0) {
            fprintf(stderr, "eevdf_tuner: cannot read %s/base_slice_ns: %s\n",
                    DEBUGFS_SCHED, strerror(errno));
            return 1;
        }
        snprintf(text, sizeof text, "%ld", slice_ns);
        if (write_text(DEBUGFS_SCHED "/base_slice_ns", text) < 0) {
            fprintf(stderr, "eevdf_tuner: cannot set base_slice_ns: %s\n",
                    strerror(errno));
            return 1;
        }
        printf("eevdf_tuner: base_slice_ns %s -> %ld\n", old_slice, slice_ns);
    }
    if (hrtick >= 0) {
        if (old_hrtick < 0) {
            fprintf(stderr, "eevdf_tuner: this kernel has no HRTICK "
                    "feature\n");
            return 1;
        }
        if (set_feature("HRTICK", hrtick) < 0)
            return 1;
        printf("eevdf_tuner: HRTICK %s\n", hrtick ? "on" : "off");
    }
    if (wakeup_preemption >= 0) {
        if (old_wakeup < 0) {
            fprintf(stderr, "eevdf_tuner: this kernel has no "
                    "WAKEUP_PREEMPTION feature\n");
            return 1;
        }
        if (set_feature("WAKEUP_PREEMPTION", wakeup_preemption) < 0)
            return 1;
        printf("eevdf_tuner: WAKEUP_PREEMPTION %s\n",
               wakeup_preemption ? "on" : "off");
    }
    fflush(stdout);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int moved = 0;
    while (!stop) {
        if (batch_prefix)
            moved += batch_tasks(batch_prefix);
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (batch_prefix)
        printf("eevdf_tuner: moved %d task(s) to SCHED_BATCH\n", moved);

    /* Put everything back as it was. */
    if (slice_ns > 0 && old_slice[0])
        write_text(DEBUGFS_SCHED "/base_slice_ns", old_slice);
    if (hrtick >= 0)
        set_feature("HRTICK", old_hrtick);
    if (wakeup_preemption >= 0)
        set_feature("WAKEUP_PREEMPTION", old_wakeup);
    return 0;
}
