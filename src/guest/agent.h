/*
 * agent.h: the guest agent's shared declarations (static PID 1 in the VM).
 *
 * Workers are forked processes.  Everything they report lives in one
 * MAP_SHARED region so the agent reads live counters at phase boundaries
 * and final reports after the workers exit, with no pipes to drain.
 */
#ifndef SCHEDTEST_GUEST_AGENT_H
#define SCHEDTEST_GUEST_AGENT_H

#include <stdint.h>
#include <stdio.h>

#define AG_MAX_CGROUPS 16
#define AG_MAX_WORKERS 256
#define AG_MAX_PHASES 17      /* BASELINE + 16 steps */
#define AG_MAX_CPUS 256
#define AG_RESERVOIR 4096     /* samples kept per kind per worker */

typedef enum {
    W_CPU_SPIN,
    W_SPIN_WAIT,
    W_YIELD_HEAVY,
    W_PIPE_IO,
    W_FUTEX_FAN_OUT,
    W_BURSTY,
    W_MIXED,
    W_COUNT
} ag_work;

/* Work type names as ktstr spells them (sidecar `work_type`). */
extern const char *const ag_work_names[W_COUNT];

/* A bounded sample set: Algorithm R over every sample ever offered. */
typedef struct {
    uint64_t total; /* samples offered */
    uint32_t n;     /* samples kept (<= AG_RESERVOIR) */
    uint64_t v[AG_RESERVOIR];
} ag_reservoir;

/* One worker's slot in the shared region. */
typedef struct {
    /* written by the agent before the fork */
    int cgroup;            /* index into the spec's cgroups */
    int index;             /* worker index within its cgroup */
    ag_work work;
    int peer;              /* ping-pong partner / fan-out messenger slot */
    int is_messenger;
    int rd_fd, wr_fd;      /* ping-pong pipe ends */
    /* live counters, read by the agent while the worker runs */
    volatile uint64_t work_units;
    volatile uint64_t iterations;
    volatile int ready;
    volatile int done;
    /* futex fan-out: the messenger's sequence word and ack counter */
    volatile uint32_t seq;
    volatile uint32_t acks;
    volatile uint64_t msg_t0;  /* messenger's wake timestamp (ns) */
    /* final report */
    uint64_t cpu_ns, wall_ns, off_cpu_ns;
    uint64_t migrations;
    uint64_t cpus_used[AG_MAX_CPUS / 64];
    uint64_t max_gap_ns;
    int max_gap_cpu;
    uint64_t max_gap_at_ns;
    uint64_t run_delay_ns, run_count, sched_cpu_ns;
    int completed;
    uint64_t phase_units[AG_MAX_PHASES + 1]; /* filled by the agent */
    ag_reservoir wake;
    ag_reservoir timer;
    ag_reservoir request;
} ag_slot;

/* Shared region header. */
typedef struct {
    volatile int go;      /* start barrier */
    volatile int stop;    /* end of the run */
    uint64_t start_ns;
    uint64_t seed;        /* the run's seed (schedtest.seed=), mixed into
                             every worker's random choices */
    int nslots;
    /* per-work-type parameters (µs) */
    uint32_t spin_us, sleep_us, burst_us, work_us;
    ag_slot slots[];
} ag_shared;

/* CLOCK_MONOTONIC in ns. */
uint64_t ag_now_ns(void);

/* Run worker `i` until shared->stop; fills its report and returns. */
void ag_worker_main(ag_shared *sh, int i);

void ag_reservoir_add(ag_reservoir *r, uint64_t v, uint64_t *rng);

#endif
