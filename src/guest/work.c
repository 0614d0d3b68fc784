/*
 * work.c: the worker processes of the guest agent and what they measure.
 *
 * Per worker, as ktstr's WorkerReport (ktstr-spec.md §5): work units,
 * CPU / wall / off-CPU time, migrations and the CPUs used (seen at work
 * checkpoints), the longest gap between checkpoints, wake latency samples
 * around every blocking operation, timer lateness, request latency (futex
 * fan-out), iterations, and the schedstat run delay / run count.
 */
#include "guest/agent.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

const char *const ag_work_names[W_COUNT] = {
    "CpuSpin", "SpinWait", "YieldHeavy", "PipeIo", "FutexFanOut",
    "Bursty", "Mixed",
};

uint64_t ag_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t cpu_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

void ag_reservoir_add(ag_reservoir *r, uint64_t v, uint64_t *rng)
{
    r->total++;
    if (r->n < AG_RESERVOIR) {
        r->v[r->n++] = v;
        return;
    }
    uint64_t j = xorshift(rng) % r->total;
    if (j < AG_RESERVOIR)
        r->v[j] = v;
}

/* /proc/thread-self/schedstat: on-CPU ns, run delay ns, timeslices. */
static void read_schedstat(uint64_t v[3])
{
    v[0] = v[1] = v[2] = 0;
    FILE *f = fopen("/proc/thread-self/schedstat", "r");
    if (!f)
        return;
    unsigned long long a, b, c;
    if (fscanf(f, "%llu %llu %llu", &a, &b, &c) == 3) {
        v[0] = a;
        v[1] = b;
        v[2] = c;
    }
    fclose(f);
}

static long futex(volatile uint32_t *uaddr, int op, uint32_t val,
                  const struct timespec *ts)
{
    return syscall(SYS_futex, uaddr, op, val, ts, NULL, 0);
}

typedef struct {
    ag_shared *sh;
    ag_slot *s;
    uint64_t last_cp;
    int last_cpu;
    uint64_t rng;
} wctx;

/* A work checkpoint: migrations, CPUs used, the longest gap. */
static void checkpoint(wctx *c)
{
    uint64_t t = ag_now_ns();
    int cpu = sched_getcpu();
    if (cpu >= 0 && cpu < AG_MAX_CPUS) {
        if (c->last_cpu >= 0 && cpu != c->last_cpu)
            c->s->migrations++;
        c->last_cpu = cpu;
        c->s->cpus_used[cpu / 64] |= 1ull << (cpu % 64);
    }
    uint64_t gap = t - c->last_cp;
    if (gap > c->s->max_gap_ns) {
        c->s->max_gap_ns = gap;
        c->s->max_gap_cpu = cpu < 0 ? 0 : cpu;
        c->s->max_gap_at_ns = t - c->sh->start_ns;
    }
    c->last_cp = t;
}

static volatile uint64_t sink;

/* `n` work units of pure computation (256 xorshift steps each). */
static void spin_units(wctx *c, uint64_t n)
{
    uint64_t x = c->rng | 1;
    for (uint64_t i = 0; i < n * 256; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    sink = x;
}

/* Spin for `us` microseconds of wall time, counting units. */
static void spin_for(wctx *c, uint32_t us)
{
    uint64_t end = ag_now_ns() + (uint64_t)us * 1000;
    while (ag_now_ns() < end && !c->sh->stop) {
        spin_units(c, 4);
        c->s->work_units += 4;
    }
}

static void sleep_until(uint64_t t)
{
    struct timespec ts = {(time_t)(t / 1000000000ull),
                          (long)(t % 1000000000ull)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
           EINTR)
        ;
}

static void run_cpu_spin(wctx *c)
{
    while (!c->sh->stop) {
        spin_units(c, 1024);
        c->s->work_units += 1024;
        c->s->iterations++;
        checkpoint(c);
    }
}

static void run_spin_wait(wctx *c)
{
    while (!c->sh->stop) {
        for (int u = 0; u < 1024; u++)
            for (int i = 0; i < 4; i++)
                __builtin_ia32_pause();
        c->s->work_units += 1024;
        c->s->iterations++;
        checkpoint(c);
    }
}

static void run_yield_heavy(wctx *c)
{
    while (!c->sh->stop) {
        for (int k = 0; k < 16; k++) {
            spin_units(c, 4);
            uint64_t t0 = ag_now_ns();
            sched_yield();
            ag_reservoir_add(&c->s->wake, ag_now_ns() - t0, &c->rng);
            c->s->work_units += 4;
        }
        c->s->iterations++;
        checkpoint(c);
    }
}

/* Pipe ping-pong: the timestamp travels; latency = write -> read return. */
static void run_pipe_io(wctx *c)
{
    ag_slot *s = c->s;
    int starter = s->index % 2 == 0;
    uint64_t ts;
    if (starter) {
        ts = ag_now_ns();
        if (write(s->wr_fd, &ts, sizeof ts) != sizeof ts)
            return;
    }
    while (!c->sh->stop) {
        ssize_t n = read(s->rd_fd, &ts, sizeof ts);
        if (n != sizeof ts)
            break; /* the partner stopped */
        ag_reservoir_add(&s->wake, ag_now_ns() - ts, &c->rng);
        s->work_units++;
        s->iterations++;
        checkpoint(c);
        if (c->sh->stop)
            break;
        ts = ag_now_ns();
        if (write(s->wr_fd, &ts, sizeof ts) != sizeof ts)
            break;
    }
}

/*
 * Futex fan-out (schbench-like): the messenger stamps t0 and wakes every
 * worker of its group; each worker records wake latency (t0 -> running),
 * does `work_us` of work, records request latency (t0 -> work done) and
 * acks; the messenger records its own request latency (t0 -> all acks).
 */
static void run_fan_out(wctx *c)
{
    ag_slot *s = c->s;
    ag_shared *sh = c->sh;
    struct timespec tmo = {0, 100 * 1000 * 1000};
    if (s->is_messenger) {
        uint32_t fan = 0;
        for (int i = 0; i < sh->nslots; i++)
            if (sh->slots[i].peer == (int)(s - sh->slots) && !sh->slots[i].is_messenger)
                fan++;
        while (!sh->stop) {
            s->acks = 0;
            uint64_t t0 = ag_now_ns();
            s->msg_t0 = t0;
            __atomic_add_fetch(&s->seq, 1, __ATOMIC_SEQ_CST);
            futex(&s->seq, FUTEX_WAKE, INT_MAX, NULL);
            for (;;) {
                uint32_t a = __atomic_load_n(&s->acks, __ATOMIC_SEQ_CST);
                if (a >= fan || sh->stop)
                    break;
                futex(&s->acks, FUTEX_WAIT, a, &tmo);
            }
            if (sh->stop)
                break;
            ag_reservoir_add(&s->request, ag_now_ns() - t0, &c->rng);
            s->work_units++;
            s->iterations++;
            checkpoint(c);
            /* a short think time so wakees block between requests */
            uint64_t t1 = ag_now_ns() + (uint64_t)sh->sleep_us * 1000;
            sleep_until(t1);
        }
        return;
    }
    ag_slot *m = &sh->slots[s->peer];
    /* seq is 0 until the messenger's first round: starting from 0 (not
     * from a load) cannot miss a round that began before we got here */
    uint32_t seen = 0;
    while (!sh->stop) {
        futex(&m->seq, FUTEX_WAIT, seen, &tmo);
        uint32_t now_seq = __atomic_load_n(&m->seq, __ATOMIC_SEQ_CST);
        if (now_seq == seen)
            continue; /* timeout or spurious */
        seen = now_seq;
        uint64_t t0 = m->msg_t0;
        ag_reservoir_add(&s->wake, ag_now_ns() - t0, &c->rng);
        spin_for(c, sh->work_us);
        ag_reservoir_add(&s->request, ag_now_ns() - t0, &c->rng);
        s->iterations++;
        checkpoint(c);
        __atomic_add_fetch(&m->acks, 1, __ATOMIC_SEQ_CST);
        futex(&m->acks, FUTEX_WAKE, 1, NULL);
    }
}

/* Bursty: run `burst_us`, sleep `sleep_us` to an absolute deadline. */
static void run_bursty(wctx *c)
{
    while (!c->sh->stop) {
        spin_for(c, c->sh->burst_us);
        uint64_t target = ag_now_ns() + (uint64_t)c->sh->sleep_us * 1000;
        sleep_until(target);
        uint64_t late = ag_now_ns() - target;
        ag_reservoir_add(&c->s->timer, late, &c->rng);
        ag_reservoir_add(&c->s->wake, late, &c->rng);
        c->s->iterations++;
        checkpoint(c);
    }
}

/* Mixed: compute, yield, then a short timed sleep, every iteration. */
static void run_mixed(wctx *c)
{
    while (!c->sh->stop) {
        spin_for(c, c->sh->work_us);
        sched_yield();
        uint64_t target = ag_now_ns() + (uint64_t)c->sh->sleep_us * 1000;
        sleep_until(target);
        uint64_t late = ag_now_ns() - target;
        ag_reservoir_add(&c->s->timer, late, &c->rng);
        ag_reservoir_add(&c->s->wake, late, &c->rng);
        c->s->iterations++;
        checkpoint(c);
    }
}

void ag_worker_main(ag_shared *sh, int i)
{
    ag_slot *s = &sh->slots[i];
    /* one stream per worker, a different one per seed; the same seed
     * gives the same choices (reservoir sampling), run after run */
    wctx c = {sh, s, 0, -1, 0x9E3779B97F4A7C15ull ^ (uint64_t)(i + 1) * 7919
                               ^ sh->seed * 0xBF58476D1CE4E5B9ull};
    signal(SIGPIPE, SIG_IGN);
    s->ready = 1;
    while (!sh->go)
        usleep(200);
    uint64_t ss0[3], ss1[3];
    read_schedstat(ss0);
    uint64_t cpu0 = cpu_now_ns();
    uint64_t t0 = ag_now_ns();
    c.last_cp = t0;
    checkpoint(&c);
    s->max_gap_ns = 0; /* the first checkpoint only primes the state */
    switch (s->work) {
    case W_CPU_SPIN: run_cpu_spin(&c); break;
    case W_SPIN_WAIT: run_spin_wait(&c); break;
    case W_YIELD_HEAVY: run_yield_heavy(&c); break;
    case W_PIPE_IO: run_pipe_io(&c); break;
    case W_FUTEX_FAN_OUT: run_fan_out(&c); break;
    case W_BURSTY: run_bursty(&c); break;
    case W_MIXED: run_mixed(&c); break;
    default: break;
    }
    uint64_t t1 = ag_now_ns();
    uint64_t cpu1 = cpu_now_ns();
    read_schedstat(ss1);
    s->wall_ns = t1 - t0;
    s->cpu_ns = cpu1 - cpu0;
    s->off_cpu_ns = s->wall_ns > s->cpu_ns ? s->wall_ns - s->cpu_ns : 0;
    s->sched_cpu_ns = ss1[0] - ss0[0];
    s->run_delay_ns = ss1[1] - ss0[1];
    s->run_count = ss1[2] - ss0[2];
    s->completed = 1;
    s->done = 1;
}
