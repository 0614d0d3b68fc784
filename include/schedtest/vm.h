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
    st_vm_timeouts timeouts;
    int run_hint_ms;       /* the workload's planned length, 0 to
                              ST_VM_MAX_MS (0: unknown, 5 s assumed) */
    /* polled while waiting; non-zero kills qemu and ends with ST_EINTR */
    int (*interrupted)(void);
} st_vm_opts;

/** "passed", "failed", "panic", "hang", "truncated", "start_failed". */
const char *st_vm_outcome_name(st_vm_outcome o);

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
 * not a multiple of numa).
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
 * ST_VM_MAX_MS.
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
 */
int st_vm_result(st_fold_node **out, const st_vm *vm);

#endif
