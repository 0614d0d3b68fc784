/*
 * test_vm.c: the launcher (argv, stream framing, watchdog, outcomes) and
 * folding, without a VM.  The "qemu" here is this very binary re-executed
 * with ST_FAKE_QEMU=<mode>: it finds the console and results paths in the
 * argv the launcher built and plays a guest that passes, truncates its
 * results, damages a record, panics, hangs or fails to start.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "guest/frame.h"
#include "schedtest/error.h"
#include "schedtest/fold.h"
#include "schedtest/fs.h"
#include "schedtest/vm.h"

static char self[4096];

/* {====================================================================
 * The fake qemu
 * ===================================================================== */

static FILE *res;
static unsigned seq;
static uint32_t crc_all;

static void frame(const char *payload)
{
    size_t len = strlen(payload);
    fprintf(res, "@R %u %zu %08x\n%s\n", seq++, len,
            st_frame_crc32(0, payload, len), payload);
    crc_all = st_frame_crc32(crc_all, payload, len);
    fflush(res);
}

static const char *const worker_a =
    "type worker\ncgroup a\nindex 0\nwork PipeIo\nis_messenger 0\n"
    "completed 1\nwork_units 100\niterations 100\ncpu_ns 500000000\n"
    "wall_ns 1000000000\noff_cpu_ns 500000000\nmigrations 10\n"
    "max_gap_ns 7000000\nmax_gap_cpu 1\nmax_gap_at_ns 5\nrun_delay_ns 2000\n"
    "run_count 5\nsched_cpu_ns 500000000\ncpus_used 0 1\n"
    "phase_iterations 0 60 100\nwake_total 4\nwake 1000 2000 3000 4000\n"
    "timer_total 0\ntimer\nrequest_total 0\nrequest\n";
static const char *const worker_b =
    "type worker\ncgroup a\nindex 1\nwork PipeIo\nis_messenger 0\n"
    "completed 1\nwork_units 300\niterations 300\ncpu_ns 800000000\n"
    "wall_ns 1000000000\noff_cpu_ns 200000000\nmigrations 0\n"
    "max_gap_ns 3000000\nmax_gap_cpu 0\nmax_gap_at_ns 5\nrun_delay_ns 6000\n"
    "run_count 5\nsched_cpu_ns 800000000\ncpus_used 1\n"
    "phase_iterations 0 200 300\nwake_total 2\nwake 5000 100000\n"
    "timer_total 0\ntimer\nrequest_total 0\nrequest\n";

static int fake_qemu(const char *mode, int argc, char **argv)
{
    const char *console = NULL, *results = NULL;
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "-serial") == 0 && strncmp(argv[i + 1], "file:", 5) == 0)
            console = argv[i + 1] + 5;
        const char *p = strstr(argv[i + 1], "id=results,path=");
        if (strcmp(argv[i], "-chardev") == 0 && p)
            results = p + strlen("id=results,path=");
    }
    if (strcmp(mode, "startfail") == 0) {
        fprintf(stderr, "qemu-system-x86_64: -device nope: 'nope' is not a "
                "valid device model name\n");
        return 1;
    }
    if (!console || !results)
        return 99;
    FILE *con = fopen(console, "w");
    res = fopen(results, "w");
    fprintf(con, "[    0.5] Linux version 6.12\nschedtest-agent: stage booted\n");
    fflush(con);
    frame("type hello\nkernel 6.12.0-fake\nuptime_ms 500\ncpus 2\nsched_ext 0\n"
          "clocksource tsc\ncpu 0 0 0 0 0 0-1 0\ncpu 1 0 0 1 0 0-1 1\nnode 0 0-1\n");
    frame("type stage\nname booted\nt_ms 1\n");
    if (strcmp(mode, "hang") == 0) {
        fprintf(con, "schedtest-agent: stuck here\n");
        fflush(con);
        sleep(60);
        return 0;
    }
    if (strcmp(mode, "panic") == 0) {
        fprintf(con, "[    1.0] Kernel panic - not syncing: sysrq triggered crash\n");
        fclose(con);
        return 1;
    }
    frame("type stage\nname workload\nt_ms 2\n");
    if (strcmp(mode, "racing_clock") == 0) {
        /* heartbeats whose guest time runs far ahead: a run that never
         * ends although the guest is alive */
        for (int i = 1; i < 600; i++) {
            char beat[64];
            snprintf(beat, sizeof beat, "type stage\nname beat\nt_ms %d\n",
                     2 + i * 500);
            frame(beat);
            usleep(10000);
        }
        return 0;
    }
    if (strcmp(mode, "slow_run") == 0) {
        /* a run that takes 0.6 s of host time for 0.3 s of guest time,
         * as a loaded host running the virtual clock would */
        for (int i = 1; i <= 6; i++) {
            char beat[64];
            usleep(100000);
            snprintf(beat, sizeof beat, "type stage\nname beat\nt_ms %d\n",
                     2 + i * 50);
            frame(beat);
        }
    }
    frame(worker_a);
    frame(worker_b);
    frame("type phases\nphase 0 BASELINE 1000000000 260 0 0 0 0 1.5\n"
          "phase 1 Step[0] 500000000 140 0 0 0 0 2.0\n");
    frame("type events\nevent 0 BASELINE 0\nevent 1000 Step[0] 260\n");
    frame("type monitor\ntotal_samples 3\nmax_imbalance_ratio 2.0\n"
          "avg_imbalance_ratio 1.5\navg_nr_running 1.5\nstall_detected 0\n"
          "schedstat 1000 10 20 0 1 8 6\ncputime 0 0\ns 0 1 2\ns 100 2 1\n");
    if (strcmp(mode, "badcrc") == 0) {
        fprintf(res, "@R %u 11 00000000\ntype result\n", seq);
        fclose(res);
        return 33;
    }
    frame("type sched\nbinary /bin/scx_vtime\nattached 1\nstate enabled\n"
          "ops vtime\nbpf_prog 1234 vtime_enqueue\nbpf_prog 56 vtime_init\n"
          "bpf_prog garbage\noutput loaded\n");
    frame(strcmp(mode, "fail") == 0
              ? "type result\nstatus failed\nreason scheduler exited mid-run\n"
              : "type result\nstatus passed\n");
    if (strcmp(mode, "truncate") != 0)
        fprintf(res, "@T %u %08x\n", seq, crc_all);
    fclose(res);
    fclose(con);
    return strcmp(mode, "fail") == 0 ? 35 : 33;
}

/* }==================================================================== */

static st_vm_opts fake_opts(const char *mode)
{
    setenv("ST_FAKE_QEMU", mode, 1);
    st_vm_opts o = {0};
    o.qemu = self;
    o.kernel = self; /* only has to exist */
    o.initramfs = "unused.cpio";
    o.topo.cores = 2;
    o.accel = ST_VM_ACCEL_TCG;
    o.timeouts.grace = 200;
    return o;
}

static st_vm *launch_opts(const st_vm_opts *o)
{
    st_vm *vm = NULL;
    assert_int_equal(st_vm_start(&vm, o), 0);
    assert_int_equal(st_vm_wait(vm), 0);
    return vm;
}

static st_vm *launch(const char *mode, int setup_ms)
{
    st_vm_opts o = fake_opts(mode);
    o.timeouts.setup = setup_ms;
    return launch_opts(&o);
}

static void test_vm__argv_microvm(void **state)
{
    (void)state;
    st_vm_opts o = {0};
    o.kernel = "bzImage";
    o.initramfs = "ir.cpio";
    o.topo = (st_vm_topology){1, 2, 2, 1};
    o.kargs = "sched_verbose";
    char **argv;
    assert_int_equal(st_vm_argv(&argv, &o, ST_VM_ACCEL_TCG, "c.log", "r.bin"), 0);
    int microvm = 0, smp = 0, serial = 0, append = 0, port = 0, exitdev = 0;
    for (int i = 0; argv[i]; i++) {
        if (!argv[i + 1])
            break;
        if (!strcmp(argv[i], "-M") && !strcmp(argv[i + 1], "microvm"))
            microvm = 1;
        if (!strcmp(argv[i], "-smp"))
            smp = !strcmp(argv[i + 1], "4,sockets=2,dies=1,cores=2,threads=1");
        if (!strcmp(argv[i], "-serial"))
            serial = !strcmp(argv[i + 1], "file:c.log");
        if (!strcmp(argv[i], "-append"))
            append = strstr(argv[i + 1], "console=ttyS0") &&
                     strstr(argv[i + 1], "tsc_early_khz=") &&
                     strstr(argv[i + 1], " sched_verbose");
        if (!strcmp(argv[i], "-device") &&
            !strcmp(argv[i + 1], "virtserialport,chardev=results,name="
                    ST_FRAME_PORT_NAME))
            port = 1;
        if (!strcmp(argv[i], "-device") && strstr(argv[i + 1], "isa-debug-exit"))
            exitdev = 1;
        assert_null(strstr(argv[i], "-numa"));
    }
    assert_true(microvm && smp && serial && append && port && exitdev);
    st_vm_argv_free(argv);
}

static void test_vm__argv_numa_on_pc(void **state)
{
    (void)state;
    st_vm_opts o = {0};
    o.kernel = "bzImage";
    o.initramfs = "ir.cpio";
    o.topo = (st_vm_topology){2, 2, 1, 1};
    o.memory_mb = 511; /* rounded up to split evenly */
    char **argv;
    assert_int_equal(st_vm_argv(&argv, &o, ST_VM_ACCEL_TCG, "c", "r"), 0);
    int pc = 0, node1 = 0, mem = 0, dist = 0, tsc_khz = 0;
    for (int i = 0; argv[i] && argv[i + 1]; i++) {
        pc |= !strcmp(argv[i], "-M") && !strcmp(argv[i + 1], "pc");
        node1 |= !strcmp(argv[i + 1], "node,nodeid=1,cpus=1-1,memdev=mem1");
        mem |= !strcmp(argv[i + 1], "memory-backend-ram,id=mem1,size=256M");
        dist |= !strcmp(argv[i + 1], "dist,src=0,dst=1,val=20");
        tsc_khz |= strstr(argv[i + 1], "tsc_early_khz") != NULL;
    }
    assert_true(pc && node1 && mem && dist);
    assert_false(tsc_khz);
    st_vm_argv_free(argv);

    o.topo = (st_vm_topology){2, 3, 1, 1};
    assert_int_equal(st_vm_argv(&argv, &o, ST_VM_ACCEL_TCG, "c", "r"), ST_EINVAL);
    assert_non_null(strstr(st_error_last(), "multiple of the NUMA node count"));
    char *name;
    assert_int_equal(st_vm_topology_name(&name, &o.topo), 0);
    assert_string_equal(name, "2n3l1c1t");
    free(name);
}

static void test_vm__passed_and_folded(void **state)
{
    (void)state;
    st_vm *vm = launch("pass", 0);
    assert_int_equal(st_vm_get_outcome(vm), ST_VM_PASSED);
    assert_string_equal(st_vm_stage(vm), "exit");
    assert_true(st_vm_stage_ms(vm, "booted") >= 0);
    assert_true(st_vm_stage_ms(vm, "workload") >= st_vm_stage_ms(vm, "booted"));
    st_fold_node *r;
    assert_int_equal(st_vm_result(&r, vm), 0);
    assert_string_equal(st_fold_get(r, "outcome")->v.s, "passed");
    st_fold_node *stats = st_fold_get(r, "stats");
    st_fold_node *cg = st_fold_get(stats, "cgroups")->items[0];
    /* off-CPU 50 % and 20 %: spread 30, avg 35 */
    assert_float_equal(st_fold_get(cg, "spread")->v.n, 30.0, 1e-9);
    assert_float_equal(st_fold_get(cg, "avg_off_cpu_pct")->v.n, 35.0, 1e-9);
    /* 10 migrations / 400 iterations */
    assert_float_equal(st_fold_get(cg, "migration_ratio")->v.n, 0.025, 1e-12);
    /* pooled wake samples 1,2,3,4,5,100 µs: nearest-rank median = 3 µs
     * (ceil(6*0.5)-1 = index 2), p99 = 100 µs, tail ratio 100/3 */
    assert_float_equal(st_fold_get(cg, "median_wake_latency_us")->v.n, 3.0, 1e-9);
    assert_float_equal(st_fold_get(cg, "p99_wake_latency_us")->v.n, 100.0, 1e-9);
    assert_float_equal(st_fold_get(cg, "wake_latency_tail_ratio")->v.n,
                       100.0 / 3.0, 1e-9);
    assert_int_equal(st_fold_get(cg, "max_gap_ms")->v.i, 7);
    assert_int_equal(st_fold_get(cg, "max_gap_cpu")->v.i, 1);
    assert_int_equal(st_fold_get(cg, "num_cpus")->v.i, 2);
    /* run delay 2 and 6 µs: mean 4, worst 6 */
    assert_float_equal(st_fold_get(cg, "mean_run_delay_us")->v.n, 4.0, 1e-9);
    assert_float_equal(st_fold_get(cg, "worst_run_delay_us")->v.n, 6.0, 1e-9);
    assert_float_equal(st_fold_get(cg, "iterations_per_worker")->v.n, 200.0, 1e-9);
    assert_int_equal(st_fold_get(stats, "total_iterations")->v.i, 400);
    assert_float_equal(st_fold_get(stats, "worst_spread")->v.n, 30.0, 1e-9);
    assert_int_equal(st_fold_get(stats, "worst_gap_ms")->v.i, 7);
    /* CV of {1,2,3,4,5,100}: mean 19.1667, population sd 36.1 */
    double cv = st_fold_get(cg, "wake_latency_cv")->v.n;
    assert_true(cv > 1.88 && cv < 1.89);
    st_fold_node *ext = st_fold_get(stats, "ext_metrics");
    assert_float_equal(st_fold_get(ext, "iteration_rate")->v.n, 400 / 1.5, 1e-6);
    assert_float_equal(st_fold_get(ext, "ttwu_local_fraction")->v.n, 0.75, 1e-9);
    st_fold_node *mon = st_fold_get(r, "monitor");
    assert_int_equal(st_fold_get(mon, "total_samples")->v.i, 3);
    assert_int_equal(st_fold_get(st_fold_get(mon, "schedstat_deltas"),
                                 "total_pcount")->v.i, 10);
    assert_int_equal(st_fold_get(stats, "phases")->n, 2);
    assert_int_equal(st_fold_get(r, "stimulus_events")->n, 2);
    /* verifier_stats from the scheduler record; a malformed line dropped */
    st_fold_node *vs = st_fold_get(r, "verifier_stats");
    assert_int_equal(vs->n, 2);
    assert_string_equal(st_fold_get(vs->items[0], "name")->v.s, "vtime_enqueue");
    assert_int_equal(st_fold_get(vs->items[0], "verified_insns")->v.i, 1234);
    assert_string_equal(st_fold_get(vs->items[1], "name")->v.s, "vtime_init");
    assert_true(st_fold_get(st_fold_get(r, "sched_ext"), "attached")->v.b);
    st_fold_node *g = st_fold_get(r, "guest");
    assert_int_equal(st_fold_get(g, "cores")->v.i, 2);
    assert_int_equal(st_fold_get(g, "llcs")->v.i, 1);
    st_fold_free(r);
    st_vm_free(vm);
}

static void test_vm__outcomes(void **state)
{
    (void)state;
    st_vm *vm = launch("truncate", 0);
    assert_int_equal(st_vm_get_outcome(vm), ST_VM_TRUNCATED);
    assert_non_null(strstr(st_vm_reason(vm), "without its trailer"));
    st_vm_free(vm);

    vm = launch("badcrc", 0);
    assert_int_equal(st_vm_get_outcome(vm), ST_VM_TRUNCATED);
    assert_non_null(strstr(st_vm_reason(vm), "checksum"));
    st_vm_free(vm);

    vm = launch("fail", 0);
    assert_int_equal(st_vm_get_outcome(vm), ST_VM_FAILED);
    assert_string_equal(st_vm_reason(vm), "scheduler exited mid-run");
    st_vm_free(vm);

    vm = launch("panic", 0);
    assert_int_equal(st_vm_get_outcome(vm), ST_VM_PANIC);
    assert_non_null(strstr(st_vm_reason(vm), "sysrq triggered crash"));
    st_vm_free(vm);

    vm = launch("startfail", 0);
    assert_int_equal(st_vm_get_outcome(vm), ST_VM_START_FAILED);
    assert_non_null(strstr(st_vm_reason(vm), "not a valid device model"));
    st_vm_free(vm);
}

static void test_vm__hang_is_killed_in_its_stage(void **state)
{
    (void)state;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    st_vm *vm = launch("hang", 300);
    clock_gettime(CLOCK_MONOTONIC, &b);
    assert_int_equal(st_vm_get_outcome(vm), ST_VM_HANG);
    assert_string_equal(st_vm_stage(vm), "setup");
    assert_non_null(strstr(st_vm_reason(vm), "hang in stage setup"));
    assert_non_null(strstr(st_vm_reason(vm), "stuck here"));
    /* killed at ~0.3 s, far before the fake's 60 s sleep */
    assert_true(b.tv_sec - a.tv_sec < 10);
    int pid = st_vm_pid(vm);
    st_vm_free(vm);
    assert_int_equal(kill(pid, 0), -1); /* reaped, no orphan */
}

/* A run hint or timeout the watchdog cannot hold fails before qemu
 * starts; an overflowed hint (INT_MIN) once became a bogus 30 s bound. */
static void test_vm__rejects_out_of_range_watchdog_bounds(void **state)
{
    (void)state;
    setenv("ST_FAKE_QEMU", "pass", 1);
    st_vm_opts o = {0};
    o.qemu = self;
    o.kernel = self;
    o.initramfs = "unused.cpio";
    o.accel = ST_VM_ACCEL_TCG;
    o.timeouts.grace = 200;
    const int bad[] = {ST_VM_MAX_MS + 1, INT_MAX, INT_MIN, -1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        st_vm *vm = NULL;
        o.run_hint_ms = bad[i];
        assert_int_equal(st_vm_start(&vm, &o), ST_ERANGE);
        assert_null(vm);
        assert_non_null(strstr(st_error_last(), "vm: run_hint_ms is "));
        assert_non_null(strstr(st_error_last(), "expected 0 to 86400000 ms"));
    }
    o.run_hint_ms = 0;
    o.timeouts.run = INT_MAX;
    st_vm *vm = NULL;
    assert_int_equal(st_vm_start(&vm, &o), ST_ERANGE);
    assert_non_null(strstr(st_error_last(), "timeouts.run is 2147483647 ms"));
    o.timeouts.run = 0;
    o.timeouts.silence = -5;
    assert_int_equal(st_vm_start(&vm, &o), ST_ERANGE);
    assert_non_null(strstr(st_error_last(), "timeouts.silence is -5 ms"));

    /* the largest hint is fine: its derived run bound fits an int */
    o.timeouts.silence = 0;
    o.run_hint_ms = ST_VM_MAX_MS;
    assert_int_equal(st_vm_start(&vm, &o), 0);
    assert_int_equal(st_vm_wait(vm), 0);
    assert_int_equal(st_vm_get_outcome(vm), ST_VM_PASSED);
    st_vm_free(vm);
}

/* The value following `flag` in argv, or NULL. */
static const char *arg_after(char **argv, const char *flag)
{
    for (int i = 0; argv[i] && argv[i + 1]; i++)
        if (!strcmp(argv[i], flag))
            return argv[i + 1];
    return NULL;
}

static void test_vm__argv_virtual_clock(void **state)
{
    (void)state;
    st_vm_opts o = {0};
    o.kernel = "bzImage";
    o.initramfs = "ir.cpio";
    o.clock = ST_VM_CLOCK_VIRTUAL;
    o.icount_shift = 2;
    o.seed = 1234;
    char **argv;
    assert_int_equal(st_vm_argv(&argv, &o, ST_VM_ACCEL_TCG, "c", "r"), 0);
    assert_string_equal(arg_after(argv, "-icount"),
                        "shift=2,align=off,sleep=off");
    assert_string_equal(arg_after(argv, "-rtc"),
                        "base=2024-01-01T00:00:00,clock=vm");
    assert_string_equal(arg_after(argv, "-seed"), "1234");
    const char *cmd = arg_after(argv, "-append");
    /* icount's TSC counts virtual ns, whatever the host's rate */
    assert_non_null(strstr(cmd, " tsc_early_khz=1000000"));
    assert_non_null(strstr(cmd, " schedtest.seed=1234"));
    st_vm_argv_free(argv);

    /* on pc (NUMA), the results port's notifications stay in the vCPU
     * thread: with an ioeventfd, host timing leaked into the metrics */
    o.topo = (st_vm_topology){2, 2, 1, 1};
    assert_int_equal(st_vm_argv(&argv, &o, ST_VM_ACCEL_TCG, "c", "r"), 0);
    assert_string_equal(arg_after(argv, "-M"), "pc");
    int found = 0;
    for (int i = 0; argv[i]; i++)
        found |= !strcmp(argv[i], "virtio-serial-pci,ioeventfd=off");
    assert_true(found);
    st_vm_argv_free(argv);
    o.topo = (st_vm_topology){0};

    /* the host clock: no instruction counter, the seed all the same */
    o.clock = ST_VM_CLOCK_HOST;
    assert_int_equal(st_vm_argv(&argv, &o, ST_VM_ACCEL_TCG, "c", "r"), 0);
    assert_null(arg_after(argv, "-icount"));
    assert_null(arg_after(argv, "-rtc"));
    assert_string_equal(arg_after(argv, "-seed"), "1234");
    st_vm_argv_free(argv);

    /* no seed given: none passed (st_vm_start draws one first) */
    o.seed = -1;
    assert_int_equal(st_vm_argv(&argv, &o, ST_VM_ACCEL_TCG, "c", "r"), 0);
    assert_null(arg_after(argv, "-seed"));
    assert_null(strstr(arg_after(argv, "-append"), "schedtest.seed"));
    st_vm_argv_free(argv);
}

static void test_vm__virtual_clock_refuses_kvm(void **state)
{
    (void)state;
    st_vm_opts o = {0};
    o.kernel = "bzImage";
    o.initramfs = "ir.cpio";
    o.clock = ST_VM_CLOCK_VIRTUAL;
    o.icount_shift = 1;
    char **argv;
    assert_int_equal(st_vm_argv(&argv, &o, ST_VM_ACCEL_KVM, "c", "r"),
                     ST_EINVAL);
    assert_non_null(strstr(st_error_last(), "the virtual clock needs TCG"));
    o.accel = ST_VM_ACCEL_KVM;
    st_vm *vm;
    assert_int_equal(st_vm_start(&vm, &o), ST_EINVAL);
    assert_null(vm);
    o.icount_shift = ST_VM_MAX_SHIFT + 1;
    assert_int_equal(st_vm_argv(&argv, &o, ST_VM_ACCEL_TCG, "c", "r"),
                     ST_EINVAL);
    o.icount_shift = 1;
    o.seed = ST_VM_MAX_SEED + 1;
    assert_int_equal(st_vm_argv(&argv, &o, ST_VM_ACCEL_TCG, "c", "r"),
                     ST_EINVAL);
}

static void test_vm__limits(void **state)
{
    (void)state;
    st_vm_opts o = {0};
    st_vm_limits l;
    /* host clock: derived from the planned run, unscaled */
    o.run_hint_ms = 3000;
    st_vm_limits_of(&l, &o);
    assert_int_equal(l.slowdown, 1);
    assert_int_equal(l.host.boot, 30000);
    assert_int_equal(l.host.setup, 30000);
    assert_int_equal(l.host.run, 2 * 3000 + 20000);
    assert_int_equal(l.host.silence, 15000);
    assert_int_equal(l.host.grace, 1000);
    assert_int_equal(l.guest_run, 26000);

    /* virtual clock: every host bound but grace scaled, the guest's not */
    o.clock = ST_VM_CLOCK_VIRTUAL;
    o.icount_shift = 1;
    int slow = st_vm_clock_slowdown(ST_VM_CLOCK_VIRTUAL, 1);
    assert_true(slow >= 3);
    st_vm_limits_of(&l, &o);
    assert_int_equal(l.slowdown, slow);
    assert_int_equal(l.host.boot, 30000 * slow);
    assert_int_equal(l.host.run, 26000 * slow);
    assert_int_equal(l.host.silence, 15000 * slow);
    assert_int_equal(l.host.grace, 1000);
    assert_int_equal(l.guest_run, 26000);

    /* explicit timeouts are guest-time bounds, scaled the same way */
    o.timeouts.run = 5000;
    o.timeouts.setup = 2000;
    o.timeouts.grace = 300;
    st_vm_limits_of(&l, &o);
    assert_int_equal(l.guest_run, 5000);
    assert_int_equal(l.host.run, 5000 * slow);
    assert_int_equal(l.host.setup, 2000 * slow);
    assert_int_equal(l.host.grace, 300);

    /* a smaller shift is a slower clock on the host: never a smaller
     * allowance; shifts past the measured ones keep the last factor */
    for (int s = 1; s <= ST_VM_MAX_SHIFT; s++)
        assert_true(st_vm_clock_slowdown(ST_VM_CLOCK_VIRTUAL, s - 1) >=
                    st_vm_clock_slowdown(ST_VM_CLOCK_VIRTUAL, s));
    assert_int_equal(st_vm_clock_slowdown(ST_VM_CLOCK_VIRTUAL, ST_VM_MAX_SHIFT),
                     3);
    assert_int_equal(st_vm_clock_slowdown(ST_VM_CLOCK_HOST, 0), 1);
}

static void test_vm__slow_virtual_run_is_not_a_hang(void **state)
{
    (void)state;
    /* 0.6 s of host time for a run bounded at 0.3 s: a hang on the host
     * clock... */
    st_vm_opts o = fake_opts("slow_run");
    o.timeouts.run = 0.3 * 1000;
    st_vm *vm = launch_opts(&o);
    assert_int_equal(st_vm_get_outcome(vm), ST_VM_HANG);
    assert_string_equal(st_vm_stage(vm), "run");
    st_vm_free(vm);
    /* ...but on the virtual clock the host may take longer */
    o.clock = ST_VM_CLOCK_VIRTUAL;
    o.icount_shift = 1;
    o.seed = 77;
    vm = launch_opts(&o);
    assert_int_equal(st_vm_get_outcome(vm), ST_VM_PASSED);
    st_fold_node *r;
    assert_int_equal(st_vm_result(&r, vm), 0);
    st_fold_node *host = st_fold_get(r, "host");
    assert_string_equal(st_fold_get(host, "clock")->v.s, "virtual");
    assert_int_equal(st_fold_get(host, "icount_shift")->v.i, 1);
    assert_int_equal(st_fold_get(host, "seed")->v.i, 77);
    st_fold_free(r);
    st_vm_free(vm);
}

static void test_vm__guest_clock_past_the_run_is_a_hang(void **state)
{
    (void)state;
    struct timespec a, b;
    st_vm_opts o = fake_opts("racing_clock");
    o.clock = ST_VM_CLOCK_VIRTUAL;
    o.icount_shift = 1;
    o.timeouts.run = 2000; /* guest ms; the host's bound is far larger */
    clock_gettime(CLOCK_MONOTONIC, &a);
    st_vm *vm = launch_opts(&o);
    clock_gettime(CLOCK_MONOTONIC, &b);
    assert_int_equal(st_vm_get_outcome(vm), ST_VM_HANG);
    assert_string_equal(st_vm_stage(vm), "run");
    assert_non_null(strstr(st_vm_reason(vm), "guest's clock ran"));
    /* caught after ~5 beats (0.05 s), long before the host's bound */
    assert_true(b.tv_sec - a.tv_sec < 3);
    st_vm_free(vm);
}

static void test_vm__unseeded_run_draws_a_seed(void **state)
{
    (void)state;
    st_vm_opts o = fake_opts("pass");
    o.seed = -1;
    st_vm *vm = launch_opts(&o);
    long long seed = st_vm_seed(vm);
    assert_true(seed >= 0 && seed <= ST_VM_MAX_SEED);
    st_fold_node *r;
    assert_int_equal(st_vm_result(&r, vm), 0);
    st_fold_node *host = st_fold_get(r, "host");
    assert_string_equal(st_fold_get(host, "clock")->v.s, "host");
    assert_null(st_fold_get(host, "icount_shift"));
    assert_int_equal(st_fold_get(host, "seed")->v.i, seed);
    st_fold_free(r);
    st_vm_free(vm);
}

static void test_vm__percentile_nearest_rank(void **state)
{
    (void)state;
    double v[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    assert_float_equal(st_fold_percentile(v, 10, 0.5), 5, 0);
    assert_float_equal(st_fold_percentile(v, 10, 0.99), 10, 0);
    assert_float_equal(st_fold_percentile(v, 10, 0.1), 1, 0);
    assert_float_equal(st_fold_percentile(v, 0, 0.5), 0, 0);
}

int main(int argc, char **argv)
{
    const char *mode = getenv("ST_FAKE_QEMU");
    if (mode && argc > 1)
        return fake_qemu(mode, argc, argv);
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0)
        self[n] = '\0';
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vm__argv_microvm),
        cmocka_unit_test(test_vm__argv_numa_on_pc),
        cmocka_unit_test(test_vm__passed_and_folded),
        cmocka_unit_test(test_vm__outcomes),
        cmocka_unit_test(test_vm__hang_is_killed_in_its_stage),
        cmocka_unit_test(test_vm__rejects_out_of_range_watchdog_bounds),
        cmocka_unit_test(test_vm__argv_virtual_clock),
        cmocka_unit_test(test_vm__virtual_clock_refuses_kvm),
        cmocka_unit_test(test_vm__limits),
        cmocka_unit_test(test_vm__slow_virtual_run_is_not_a_hang),
        cmocka_unit_test(test_vm__guest_clock_past_the_run_is_a_hang),
        cmocka_unit_test(test_vm__unseeded_run_draws_a_seed),
        cmocka_unit_test(test_vm__percentile_nearest_rank),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
