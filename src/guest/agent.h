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

#include "schedtest/scenario.h"

/* The scenario's limits (scenario.h): st_scenario_parse refuses more. */
#define AG_MAX_CGROUPS ST_SCN_MAX_CGROUPS
#define AG_MAX_WORKERS ST_SCN_MAX_WORKERS
#define AG_MAX_PHASES (ST_SCN_MAX_STEPS + 1) /* BASELINE + every step */
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

/* The first W_COUNT work types of ST_WORK_TYPES, in the same order; the
 * others are refused until work.c runs them. */
_Static_assert((int)W_CPU_SPIN == (int)ST_WORK_CPU_SPIN &&
               (int)W_SPIN_WAIT == (int)ST_WORK_SPIN_WAIT &&
               (int)W_YIELD_HEAVY == (int)ST_WORK_YIELD_HEAVY &&
               (int)W_PIPE_IO == (int)ST_WORK_PIPE_IO &&
               (int)W_FUTEX_FAN_OUT == (int)ST_WORK_FUTEX_FAN_OUT &&
               (int)W_BURSTY == (int)ST_WORK_BURSTY &&
               (int)W_MIXED == (int)ST_WORK_MIXED,
               "ag_work follows ST_WORK_TYPES");

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
    st_task_attrs attrs;   /* the cgroup's per-worker attributes */
    st_work_params params; /* the cgroup's work parameters */
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
    /* per-work-type parameters (µs): the first cgroup's, until every
     * work type reads its slot's `params` */
    uint32_t spin_us, sleep_us, burst_us, work_us;
    ag_slot slots[];
} ag_shared;

/* CLOCK_MONOTONIC in ns. */
uint64_t ag_now_ns(void);

/* Run worker `i` until shared->stop; fills its report and returns. */
void ag_worker_main(ag_shared *sh, int i);

void ag_reservoir_add(ag_reservoir *r, uint64_t v, uint64_t *rng);

#endif
