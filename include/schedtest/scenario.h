/*
 * scenario.h: what a test VM runs -- the host-to-guest wire format.
 *
 * One description of a scenario, one writer and one reader:
 *
 *   Lua suite layer (lua/schedtest/scenario.lua)  decides every default
 *     -> binding (src/lua/l_vm.c)                 table -> st_scenario
 *     -> st_scenario_write (host core)            st_scenario -> text
 *     -> initramfs /schedtest/scenario
 *     -> st_scenario_parse (guest agent)          text -> st_scenario
 *
 * st_scenario_parse is compiled into both the core and the static guest
 * agent (it needs nothing but libc), so writer and reader cannot drift,
 * and tests/c/test_scenario.c round-trips every field.
 *
 * Nothing downstream of the Lua layer picks a default: the writer writes
 * every field and the reader refuses a text that lacks one.  Every limit
 * below is checked before a VM starts (suite.lua, with file, line, test
 * and field; again by st_scenario_check); the reader refuses a text that
 * exceeds one instead of dropping input.
 *
 * The text is line based ("directive args...", tokens separated by one
 * space, strings percent-encoded so they may hold spaces); the first line
 * is "schedtest-scenario <ST_SCN_VERSION>".  See docs/suites.md.
 */
#ifndef SCHEDTEST_SCENARIO_H
#define SCHEDTEST_SCENARIO_H

#include <stddef.h>
#include <stdint.h>

#define ST_SCN_VERSION 1

/* Where the host puts the scenario in the initramfs. */
#define ST_SCN_GUEST_PATH "/schedtest/scenario"

/* {====================================================================
 * Limits (exported to Lua as schedtest.vm.LIMITS)
 * ===================================================================== */

#define ST_SCN_MAX_CGROUPS 16     /* declared cgroups of a test */
#define ST_SCN_MAX_WORKERS 256    /* workers of a test, all cgroups */
#define ST_SCN_MAX_STEPS 16       /* steps after BASELINE */
#define ST_SCN_MAX_OPS 32         /* operations of one step */
#define ST_SCN_MAX_WRITES 64      /* writes + sysctls + features of a test */
#define ST_SCN_MAX_MODULES 32     /* kernel modules loaded at boot */
#define ST_SCN_MAX_SCHED_ARGS 31  /* arguments of the scheduler */
#define ST_SCN_MAX_PAYLOADS 8     /* programs run in the guest */
#define ST_SCN_MAX_PAYLOAD_ARGS 63
#define ST_SCN_MAX_PARAM 1000000  /* a work parameter's largest value */

#define ST_SCN_NAME_MAX 64        /* names, labels, cpu lists (with NUL) */
#define ST_SCN_COMM_MAX 16        /* a task's comm (TASK_COMM_LEN) */
#define ST_SCN_PATH_MAX 256       /* guest paths, values, arguments */

/* }==================================================================== */

/* {====================================================================
 * Work types: X(ENUM, ktstr's name (sidecar work_type), suite name)
 * ===================================================================== */

#define ST_WORK_TYPES(X)                                    \
    X(CPU_SPIN, "CpuSpin", "cpu_spin")                      \
    X(SPIN_WAIT, "SpinWait", "spin_wait")                   \
    X(YIELD_HEAVY, "YieldHeavy", "yield_heavy")             \
    X(PIPE_IO, "PipeIo", "pipe_pingpong")                   \
    X(FUTEX_FAN_OUT, "FutexFanOut", "futex_fanout")         \
    X(BURSTY, "Bursty", "bursty")                           \
    X(MIXED, "Mixed", "mix")                                \
    X(SCHBENCH, "Schbench", "schbench")                     \
    X(FORK_EXIT, "ForkExit", "fork_exit")                   \
    X(THREAD_CHURN, "ThreadChurn", "thread_churn")          \
    X(AFFINITY_CHURN, "AffinityChurn", "affinity_churn")    \
    X(CGROUP_CHURN, "CgroupChurn", "cgroup_churn")          \
    X(PIPELINE, "Pipeline", "pipeline")                     \
    X(FUTEX_MUTEX, "FutexMutex", "futex_mutex")             \
    X(PERIODIC_SLEEP, "PeriodicSleep", "periodic_sleep")    \
    X(PAGE_FAULT, "PageFault", "page_fault")                \
    X(MEM_BANDWIDTH, "MemBandwidth", "mem_bandwidth")       \
    X(NUMA_REMOTE, "NumaRemote", "numa_remote")             \
    X(RT_STARVATION, "RtStarvation", "rt_starvation")       \
    X(NICE_LADDER, "NiceLadder", "nice_ladder")             \
    X(WAKE_CHAIN, "WakeChain", "wake_chain")

typedef enum {
#define ST_X(e, k, s) ST_WORK_##e,
    ST_WORK_TYPES(ST_X)
#undef ST_X
    ST_WORK_COUNT
} st_work;

/* ktstr's name ("CpuSpin") and the suite's ("cpu_spin"); NULL if out of
 * range.  st_work_from_name accepts either; -1 when unknown. */
const char *st_work_name(st_work w);
const char *st_work_suite_name(st_work w);
int st_work_from_name(const char *name);

/*
 * Work parameters: X(field, what it means).  Every one is written; the
 * Lua layer holds the defaults (scenario.lua, WORK_PARAMS).  Values are
 * whole numbers from 0 to ST_SCN_MAX_PARAM.
 */
#define ST_WORK_PARAMS(X)                                           \
    X(spin_us, "work between checkpoints (spin_wait, bursty, mix)") \
    X(sleep_us, "sleep between bursts (bursty, mix)")               \
    X(burst_us, "length of a burst (bursty)")                       \
    X(work_us, "work per request (futex_fanout, schbench)")         \
    X(period_us, "period of periodic_sleep and rt_starvation")      \
    X(mem_kb, "memory per worker (page_fault, mem_bandwidth, numa)")\
    X(stages, "pipeline depth (pipeline), chain length (wake_chain)")\
    X(hold_us, "critical section (futex_mutex)")

typedef struct {
#define ST_X(f, doc) uint32_t f;
    ST_WORK_PARAMS(ST_X)
#undef ST_X
} st_work_params;

/* }==================================================================== */

/* {====================================================================
 * Per-task attributes: workers of a cgroup, payloads
 * ===================================================================== */

#define ST_SCHED_POLICIES(X) \
    X(NORMAL, "normal")      \
    X(BATCH, "batch")        \
    X(IDLE, "idle")          \
    X(FIFO, "fifo")          \
    X(RR, "rr")

typedef enum {
#define ST_X(e, s) ST_POLICY_##e,
    ST_SCHED_POLICIES(ST_X)
#undef ST_X
    ST_POLICY_COUNT
} st_sched_policy;

const char *st_policy_name(st_sched_policy p);
int st_policy_from_name(const char *name); /* -1 when unknown */

typedef struct {
    st_sched_policy policy;
    int priority;                /* 1..99 for fifo/rr, else 0 */
    int nice;                    /* -20..19 (normal, batch) */
    char affinity[ST_SCN_NAME_MAX]; /* cpu list; "" = inherit */
    char comm[ST_SCN_COMM_MAX];  /* "" = the agent's default */
} st_task_attrs;

/* }==================================================================== */

/* {====================================================================
 * The scenario
 * ===================================================================== */

typedef struct {
    char name[ST_SCN_NAME_MAX];
    int workers;
    st_work work;
    char cpuset[ST_SCN_NAME_MAX]; /* "" = none */
    int weight;                   /* cgroup cpu.weight; 0 = unset */
    int fanout;                   /* futex_fanout/schbench group size */
    st_work_params params;
    st_task_attrs attrs;
} st_scn_cgroup;

typedef struct {
    char path[ST_SCN_PATH_MAX];
    char value[ST_SCN_PATH_MAX];
} st_scn_write;

/*
 * Mid-run operations of a step, applied in order when the step begins:
 * X(ENUM, name, what `target` and `value` hold).
 */
#define ST_SCN_OPS(X)                                                 \
    X(WRITE, "write", "a guest path; the value to write")             \
    X(CPUSET, "cpuset", "a cgroup; its cpuset.cpus")                  \
    X(WEIGHT, "weight", "a cgroup; its cpu.weight")                   \
    X(CGROUP_ADD, "cgroup_add", "a new cgroup; its cpuset or \"\"")   \
    X(CGROUP_REMOVE, "cgroup_remove", "a cgroup (empty by then); -")  \
    X(MOVE, "move", "a declared cgroup; the cgroup its workers join") \
    X(AFFINITY, "affinity", "a declared cgroup; its workers' cpus")   \
    X(DETACH, "detach", "-; - (the scheduler stops)")                 \
    X(ATTACH, "attach", "-; - (the scheduler starts again)")

typedef enum {
#define ST_X(e, s, doc) ST_OP_##e,
    ST_SCN_OPS(ST_X)
#undef ST_X
    ST_OP_COUNT
} st_scn_op_kind;

const char *st_op_name(st_scn_op_kind k);
int st_op_from_name(const char *name); /* -1 when unknown */

typedef struct {
    st_scn_op_kind kind;
    char target[ST_SCN_PATH_MAX];
    char value[ST_SCN_PATH_MAX];
} st_scn_op;

typedef struct {
    int ms;
    char label[ST_SCN_NAME_MAX];
    st_scn_op ops[ST_SCN_MAX_OPS];
    int nops;
} st_scn_step;

/*
 * A program run inside the guest.  It starts when phase `from_phase`
 * begins (0 = BASELINE), in `cgroup` ("" = the root) with `attrs`; its
 * stdout and stderr are sent back to the host, where the suite's Lua
 * turns them into metrics.  After the last phase the agent waits for it
 * (SIGINT first when `interrupt_at_end`), at most `timeout_ms`.
 */
typedef struct {
    char name[ST_SCN_NAME_MAX];
    char path[ST_SCN_PATH_MAX];   /* guest path of the program */
    char args[ST_SCN_MAX_PAYLOAD_ARGS][ST_SCN_PATH_MAX];
    int nargs;
    char cgroup[ST_SCN_NAME_MAX];
    st_task_attrs attrs;
    int from_phase;
    int interrupt_at_end;
    int timeout_ms;
} st_scn_payload;

typedef struct {
    int duration_ms;        /* BASELINE */
    int settle_ms;
    int attach_timeout_ms;
    int monitor_ms;
    /* the scheduler under test ("" = the kernel's own) */
    char scheduler[ST_SCN_PATH_MAX];
    char sched_args[ST_SCN_MAX_SCHED_ARGS][ST_SCN_PATH_MAX];
    int nsched_args;
    int sched_from_phase;   /* phase at which it starts (0: BASELINE) */
    int sched_not_scx;      /* a user-space tuner, not sched_ext */
    char modules[ST_SCN_MAX_MODULES][ST_SCN_PATH_MAX];
    int nmodules;
    st_scn_write writes[ST_SCN_MAX_WRITES]; /* before the run */
    int nwrites;
    st_scn_cgroup cg[ST_SCN_MAX_CGROUPS];
    int ncg;
    st_scn_step steps[ST_SCN_MAX_STEPS];
    int nsteps;
    st_scn_payload payloads[ST_SCN_MAX_PAYLOADS];
    int npayloads;
    char fault[ST_SCN_NAME_MAX];       /* test-only fault injection */
    char fault_stage[ST_SCN_NAME_MAX];
} st_scenario;

/* }==================================================================== */

/*
 * Check every limit and cross-reference (cgroup names of operations and
 * payloads, worker totals, pipe_pingpong pairs, ...).  Returns 0, or -1
 * with a message naming the field ("cgroups[3].workers: ...") in `err`.
 */
int st_scenario_check(const st_scenario *s, char *err, size_t errsize);

/* The text of `s` in a malloc'ed, NUL-terminated buffer (`*len` bytes).
 * Checks `s` first; returns 0, or -1 with the reason in `err`. */
int st_scenario_write(const st_scenario *s, char **out, size_t *len,
                      char *err, size_t errsize);

/* Parse `text` into `s` (zeroed first).  Returns 0, or -1 with "line N:
 * ..." in `err`: an unknown directive, a missing field, a limit
 * exceeded, a wrong version.  Checks the result like st_scenario_check. */
int st_scenario_parse(st_scenario *s, const char *text, char *err,
                      size_t errsize);

#endif
