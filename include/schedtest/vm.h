/**
 * @file schedtest/vm.h
 * @brief The qemu launcher: argv, acceleration, watchdog, outcome.
 *
 * One st_vm is one qemu process running one guest kernel with the guest
 * agent (src/guest/) as /init.  The launcher builds qemu's argv itself
 * (fork + exec, no shell, stdin from /dev/null), puts qemu in its own
 * process group with PR_SET_PDEATHSIG so no qemu outlives schedtest,
 * reads the framed result records (src/guest/frame.h) and the console as
 * they grow, and bounds every stage with a watchdog (TERM, then KILL).
 *
 * The outcome is one of st_vm_outcome; the records are folded into the
 * result tree by st_vm_result() (schedtest/fold.h).
 */
#ifndef SCHEDTEST_VM_H
#define SCHEDTEST_VM_H

#include <stddef.h>

#include "schedtest/fold.h"

typedef struct st_vm st_vm;

typedef enum {
    ST_VM_ACCEL_AUTO, /* KVM when a probe boot works, else TCG */
    ST_VM_ACCEL_KVM,
    ST_VM_ACCEL_TCG
} st_vm_accel;

/**
 * What the guest's clocks follow (docs/vm.md "Clocks").
 *
 * ST_VM_CLOCK_HOST: host time; TCG runs as fast as it can and host load
 * moves every timing.  ST_VM_CLOCK_VIRTUAL: qemu's instruction counter
 * (`-icount shift=S,align=off,sleep=off`, TCG only): each guest
 * instruction takes 2^S ns of guest time and an idle guest skips ahead to
 * its next timer, so timings depend on the instructions run, not on the
 * host; with a fixed -seed and a fixed RTC a run replays exactly.
 */
typedef enum {
    ST_VM_CLOCK_HOST,
    ST_VM_CLOCK_VIRTUAL
} st_vm_clock;

/* The virtual clock's default shift, chosen by measurement (docs/vm.md). */
#define ST_VM_DEFAULT_SHIFT 1
#define ST_VM_MAX_SHIFT 10
/* Seeds are 32-bit so they survive every JSON reader and are easy to type. */
#define ST_VM_MAX_SEED 4294967295LL

typedef enum {
    ST_VM_RUNNING,      /* not finished yet */
    ST_VM_PASSED,       /* agent reported success, results complete */
    ST_VM_FAILED,       /* agent reported the test failed */
    ST_VM_PANIC,        /* guest kernel panic (pvpanic) */
    ST_VM_HANG,         /* watchdog fired; see st_vm_stage() */
    ST_VM_TRUNCATED,    /* result stream cut short or damaged */
    ST_VM_START_FAILED  /* qemu did not start; see st_vm_stderr() */
} st_vm_outcome;

/** Guest topology; 0 fields count as 1. */
typedef struct {
    int numa;    /* NUMA nodes */
    int llcs;    /* last-level caches in total (one qemu socket each) */
    int cores;   /* cores per LLC */
    int threads; /* threads per core */
} st_vm_topology;

/**
 * The longest run hint or watchdog bound the launcher accepts, in ms: a
 * day, far beyond any scheduler test, and small enough that every sum
 * the watchdog makes of them stays far below INT_MAX.
 */
#define ST_VM_MAX_MS (24 * 60 * 60 * 1000)

/** Watchdog bounds in ms, 0 to ST_VM_MAX_MS; 0 means "derive from
 * run_hint_ms". */
typedef struct {
    int boot;    /* launch -> the agent's first record */
    int setup;   /* first record -> workload started (scheduler attach) */
    int run;     /* workload started -> qemu exit */
    int silence; /* neither console output nor a record for this long */
    int grace;   /* SIGTERM -> SIGKILL */
} st_vm_timeouts;

typedef struct {
    const char *qemu;      /* NULL: "qemu-system-x86_64" from PATH */
    const char *kernel;    /* bzImage */
    const char *initramfs; /* cpio archive with the agent as /init */
    const char *kargs;     /* extra kernel command line words, or NULL */
    st_vm_topology topo;
    int memory_mb;         /* 0: 512 */
    const char *machine;   /* NULL: microvm for one node, pc otherwise */
    st_vm_accel accel;
    const char *workdir;   /* NULL: a temporary directory, removed by free */
    st_vm_timeouts timeouts; /* in guest-time terms: scaled for the
                                 virtual clock, see st_vm_limits() */
    int run_hint_ms;       /* the workload's planned length, 0 to
                              ST_VM_MAX_MS (0: unknown, 5 s assumed) */
    st_vm_clock clock;
    int icount_shift;      /* virtual clock: 2^shift ns per instruction,
                              0..ST_VM_MAX_SHIFT */
    long long seed;        /* qemu -seed and the agent's RNG, 0..
                              ST_VM_MAX_SEED; < 0: st_vm_start draws one
                              (st_vm_argv then passes none) */
    /* polled while waiting; non-zero kills qemu and ends with ST_EINTR */
    int (*interrupted)(void);
} st_vm_opts;

/** "passed", "failed", "panic", "hang", "truncated", "start_failed". */
const char *st_vm_outcome_name(st_vm_outcome o);

/** "host" or "virtual". */
const char *st_vm_clock_name(st_vm_clock c);

/**
 * The watchdog's bounds for `opts`.  `host` holds the host-time bounds in
 * ms: the explicit timeouts, else derived from run_hint_ms (boot 30 s,
 * setup 30 s, run 2 x planned + 20 s, silence 15 s, grace 1 s), every one
 * but grace multiplied by `slowdown` under the virtual clock (icount runs
 * one host thread for all vCPUs, and host load slows it further).
 * `guest_run` bounds the run in the guest's own time, as the agent's
 * heartbeats report it: a guest whose clock went that far past the
 * workload's start without finishing hangs, however slow the host is.
 */
typedef struct {
    st_vm_timeouts host;
    int guest_run;
    int slowdown;
} st_vm_limits;

void st_vm_limits_of(st_vm_limits *out, const st_vm_opts *opts);

/**
 * Host ms the watchdog allows per ms of guest time: 1 for the host clock;
 * for the virtual clock the measured cost of a busy guest second at that
 * shift on an idle host, times 3 for host load (docs/vm.md).
 */
int st_vm_clock_slowdown(st_vm_clock clock, int icount_shift);

/** "kvm" or "tcg" for a resolved accelerator. */
const char *st_vm_accel_name(st_vm_accel a);

/** vCPUs of a topology (numa is not a multiplier: llcs are in total). */
int st_vm_topology_cpus(const st_vm_topology *t);

/** "1n2l4c1t" for a topology; free `*out`. */
int st_vm_topology_name(char **out, const st_vm_topology *t);

/**
 * qemu's argv for `opts` with accelerator `accel` (KVM or TCG), result
 * files at `console_path` / `results_path`.  NULL-terminated; free with
 * st_vm_argv_free().  ST_EINVAL for a topology qemu cannot express (llcs
 * not a multiple of numa), and for the virtual clock under KVM (qemu's
 * instruction counter exists only in TCG).
 */
int st_vm_argv(char ***out, const st_vm_opts *opts, st_vm_accel accel,
               const char *console_path, const char *results_path);
void st_vm_argv_free(char **argv);

/** "QEMU emulator version 7.2.22 ..." first line, cached; free `*out`. */
int st_vm_qemu_version(char **out, const char *qemu);

/**
 * Resolve ST_VM_ACCEL_AUTO once per process: no usable /dev/kvm, or a
 * short probe boot of `kernel`/`initramfs` under KVM that fails or hangs
 * (qemu's "KVM internal error"), gives TCG.  `*why` (free it) says how the
 * answer was reached.  Later calls return the cached answer.
 */
int st_vm_resolve_accel(st_vm_accel *out, char **why, const char *qemu,
                        const char *kernel, const char *initramfs);

/**
 * Launch qemu.  ST_EVMSTART when fork/exec fails outright; ST_ERANGE,
 * before anything starts, for a run hint or timeout outside 0 to
 * ST_VM_MAX_MS.  The virtual clock resolves ST_VM_ACCEL_AUTO to TCG
 * without a probe, and refuses KVM (ST_EINVAL).  A negative opts->seed is
 * replaced by a random one.
 */
int st_vm_start(st_vm **out, const st_vm_opts *opts);

/**
 * Read what arrived, enforce the watchdog, reap qemu.  Waits up to
 * `wait_ms`.  Returns 1 when the VM has finished, 0 while it runs,
 * ST_EINTR when opts->interrupted fired (qemu is then killed).
 */
int st_vm_poll(st_vm *vm, int wait_ms);

/** Poll until finished.  0, or ST_EINTR. */
int st_vm_wait(st_vm *vm);

/** Kill qemu now (TERM, then KILL after the grace period) and reap it. */
void st_vm_kill(st_vm *vm);

/** Kill if running, remove the temporary directory, free. */
void st_vm_free(st_vm *vm);

st_vm_outcome st_vm_get_outcome(const st_vm *vm);
/** Why: the agent's reason, the hang, the panic line...; "" if none. */
const char *st_vm_reason(const st_vm *vm);
/** Stage reached ("boot", "setup", "run", "collect", "exit"). */
const char *st_vm_stage(const st_vm *vm);
/** qemu's stderr so far (NUL-terminated, owned by vm). */
const char *st_vm_stderr(const st_vm *vm);
st_vm_accel st_vm_get_accel(const st_vm *vm);
/** Why this accelerator was chosen. */
const char *st_vm_accel_reason(const st_vm *vm);
int st_vm_pid(const st_vm *vm);
/** The seed the VM runs with (drawn by st_vm_start when none was given). */
long long st_vm_seed(const st_vm *vm);
/** Directory holding console.log, results.bin and qemu.stderr. */
const char *st_vm_workdir(const st_vm *vm);

/**
 * Console bytes that arrived since the last call (for streaming);
 * `*out` is malloc'ed and NUL-terminated, `*len` may be 0.
 */
int st_vm_console_read(st_vm *vm, char **out, size_t *len);

/** The last `lines` lines of the console; free `*out`. */
int st_vm_console_tail(const st_vm *vm, char **out, int lines);

/** Complete records received so far, and the i-th payload. */
size_t st_vm_record_count(const st_vm *vm);
const char *st_vm_record(const st_vm *vm, size_t i, size_t *len);

/** Host ms from launch to the stage's first record; -1 when not reached. */
long st_vm_stage_ms(const st_vm *vm, const char *stage);
/** Host ms from launch to qemu's exit (or now). */
long st_vm_wall_ms(const st_vm *vm);

/**
 * The folded result (interfaces.md §4): outcome, reason, stage,
 * console_tail, accelerator, qemu_version, boot_ms, wall_ms, stats,
 * monitor, phases, stimulus_events, workers, sched_ext, guest, host.
 * The host context carries the run's clock ("host" | "virtual"),
 * icount_shift (virtual clock only) and seed.
 */
int st_vm_result(st_fold_node **out, const st_vm *vm);

#endif
