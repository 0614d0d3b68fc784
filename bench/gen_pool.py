#!/usr/bin/env python3
"""Generate a synthetic sidecar pool for bench_pool.sh: N sidecars of
realistic shape (ktstr pretty JSON, 4 cgroups, ~60 metrics, host context)
spread over run directories {kernel}-{commit}."""
import json, os, random, sys

root, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(42)
kernels = ["6.12.9", "6.14.2", "7.0.14"]
commits = ["%07x" % rng.getrandbits(28) for _ in range(20)]
tests = ["perf_test_%02d" % i for i in range(40)]
scheds = ["eevdf", "scx_demo", "scx_lavd"]

def cg(i):
    return {
        "num_workers": 4, "num_cpus": 4,
        "avg_off_cpu_pct": rng.uniform(0, 20), "min_off_cpu_pct": rng.uniform(0, 5),
        "max_off_cpu_pct": rng.uniform(10, 30), "spread": rng.uniform(0, 10),
        "max_gap_ms": rng.randint(1, 200), "max_gap_cpu": rng.randint(0, 7),
        "total_migrations": rng.randint(0, 1000), "migration_ratio": rng.random(),
        "p99_wake_latency_us": rng.uniform(10, 200), "median_wake_latency_us": rng.uniform(1, 50),
        "wake_latency_cv": rng.random(), "total_iterations": rng.randint(1, 10**7),
        "mean_run_delay_us": rng.uniform(1, 50), "worst_run_delay_us": rng.uniform(50, 500),
        "page_locality": 1.0, "cross_node_migration_ratio": 0.0,
        "wake_latency_tail_ratio": rng.uniform(1, 10), "iterations_per_worker": rng.uniform(1e5, 1e6),
        "ext_metrics": {"cgroup_cpu_usage_usec": rng.uniform(1e5, 1e7),
                        "cgroup_nr_throttled": float(rng.randint(0, 10))},
    }

EXT = ["user_time_ns", "system_time_ns", "stuck_count", "total_phase_iterations",
       "total_phase_duration_sec", "total_cpu_time_sec", "total_iterations_pooled",
       "total_hardirqs", "total_softirq_net_rx", "total_softirq_timer", "total_irq_time_ns",
       "total_phase_wall_sec", "total_phase_wall_ns", "avg_irq_util", "max_avg_irq_util",
       "worst_p99_timer_latency_us", "worst_median_timer_latency_us", "psi_irq_full_avg10",
       "total_schbench_loops", "worst_iterations_per_cpu_sec"]

for i in range(n):
    k, c, t, s = rng.choice(kernels), rng.choice(commits), tests[i % 40], rng.choice(scheds)
    d = os.path.join(root, "%s-%s" % (k, c))
    os.makedirs(d, exist_ok=True)
    sc = {
        "test_name": t, "topology": "1n2l4c1t", "scheduler": s, "scheduler_commit": None,
        "resolve_source": "auto_built", "project_commit": c, "payload": None, "metrics": [],
        "passed": rng.random() > 0.05, "skipped": False, "inconclusive": False,
        "expected_failure": False,
        "stats": {
            "cgroups": [cg(j) for j in range(4)],
            "total_workers": 16, "total_cpus": 8, "total_migrations": rng.randint(0, 4000),
            "worst_spread": rng.uniform(0, 10), "worst_gap_ms": rng.randint(1, 500),
            "worst_gap_cpu": rng.randint(0, 7), "worst_migration_ratio": rng.random(),
            "worst_p99_wake_latency_us": rng.uniform(10, 200),
            "worst_median_wake_latency_us": rng.uniform(1, 50), "worst_wake_latency_cv": rng.random(),
            "total_iterations": rng.randint(1, 10**8), "worst_mean_run_delay_us": rng.uniform(1, 50),
            "worst_run_delay_us": rng.uniform(50, 500), "worst_page_locality": 1.0,
            "worst_cross_node_migration_ratio": 0.0, "worst_wake_latency_tail_ratio": rng.uniform(1, 9),
            "worst_iterations_per_worker": rng.uniform(1e5, 1e6),
            "ext_metrics": {e: rng.uniform(0, 1e9) for e in EXT},
            "phases": [{"step_index": p, "label": "BASELINE" if p == 0 else "Step[%d]" % (p - 1),
                        "metrics": {"user_time_ns": rng.uniform(1e9, 1e10),
                                    "system_time_ns": rng.uniform(1e8, 1e9),
                                    "total_iterations": float(rng.randint(1, 10**7))},
                        "sample_count": 10} for p in range(2)],
        },
        "monitor": {
            "total_samples": 120, "max_imbalance_ratio": rng.uniform(1, 5),
            "max_local_dsq_depth": rng.randint(0, 20), "stall_detected": False,
            "avg_imbalance_ratio": rng.uniform(1, 2), "avg_nr_running": rng.uniform(1, 4),
            "avg_local_dsq_depth": rng.random(),
            "event_deltas": {"total_fallback": rng.randint(0, 10), "fallback_rate": rng.random(),
                             "max_fallback_burst": 1, "total_dispatch_offline": 0,
                             "total_dispatch_keep_last": rng.randint(0, 50), "keep_last_rate": rng.random(),
                             "total_enq_skip_exiting": 0},
            "schedstat_deltas": {"total_run_delay": rng.randint(10**6, 10**9), "run_delay_rate": rng.random(),
                                 "total_pcount": rng.randint(1000, 10**6), "total_sched_count": rng.randint(1000, 10**6),
                                 "sched_count_rate": rng.uniform(100, 1000), "total_yld_count": 0,
                                 "total_sched_goidle": rng.randint(0, 1000), "total_ttwu_count": rng.randint(1000, 10**5),
                                 "total_ttwu_local": rng.randint(0, 1000)},
        },
        "periodic_fired": 4, "periodic_target": 4, "vcpus": 8, "cpu_budget": rng.choice([4, 8]),
        "throughput_denomination": "wall",
        "stimulus_events": [{"elapsed_ms": 0, "label": "BASELINE"}, {"elapsed_ms": 2000, "label": "Step[0]"}],
        "work_type": rng.choice(["SpinWait", "CpuSpin", "Schbench"]), "verifier_stats": [], "kvm_stats": None,
        "sysctls": ["sysctl.kernel.sched_autogroup_enabled=0"], "kargs": ["nosmt"],
        "kernel_version": k, "kernel_commit": None,
        "timestamp": "2026-07-%02dT12:00:00Z" % (1 + i % 28), "run_id": "20260701T120000Z-%d" % i,
        "host": {"cpu_model": "AMD EPYC 7B13 64-Core Processor", "cpu_vendor": "AuthenticAMD",
                 "total_memory_kb": 65536000, "hugepages_total": 0, "hugepages_free": 0,
                 "hugepages_size_kb": 2048, "thp_enabled": "always [madvise] never",
                 "thp_defrag": "always defer defer+madvise [madvise] never",
                 "sched_tunables": {"sched_%s" % x: str(rng.randint(0, 10**6)) for x in
                                    ["autogroup_enabled", "cfs_bandwidth_slice_us", "child_runs_first",
                                     "deadline_period_max_us", "deadline_period_min_us", "energy_aware",
                                     "rr_timeslice_ms", "rt_period_us", "rt_runtime_us", "schedstats",
                                     "util_clamp_max", "util_clamp_min"]},
                 "online_cpus": 16, "numa_nodes": 1,
                 "cpufreq_governor": {"cpu%d" % x: "performance" for x in range(16)},
                 "kernel_name": "Linux", "kernel_release": "6.1.0-18-amd64", "arch": "x86_64",
                 "kernel_cmdline": "BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 root=UUID=0000 ro quiet",
                 "accelerator": "kvm", "qemu_version": "7.2.0", "vm_vcpus": 8, "vm_memory_mb": 4096},
        "cleanup_duration_ms": rng.randint(50, 300), "run_source": rng.choice(["local", "ci"]),
        "perf_delta_assertions": [],
    }
    with open(os.path.join(d, "%s-%016x.ktstr.json" % (t, i)), "w") as f:
        json.dump(sc, f, indent=2)
