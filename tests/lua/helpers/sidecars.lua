-- helpers.sidecars: realistic sidecar tables (ktstr-spec §1.5 shape) for
-- tests; every field the writer knows, values of the right subtypes.
local M = {}

local function cgroup(i)
  return {
    num_workers = 2, num_cpus = 2, avg_off_cpu_pct = 10.5 + i,
    min_off_cpu_pct = 8.25, max_off_cpu_pct = 13.0, spread = 4.75,
    max_gap_ms = 12 + i, max_gap_cpu = i, total_migrations = 40 + i,
    migration_ratio = 0.125, p99_wake_latency_us = 51.5,
    median_wake_latency_us = 12.0, wake_latency_cv = 0.3,
    total_iterations = 250000 + i, mean_run_delay_us = 7.5,
    worst_run_delay_us = 90.0, page_locality = 1.0,
    cross_node_migration_ratio = 0.0, wake_latency_tail_ratio = 4.25,
    iterations_per_worker = 125000.0,
    ext_metrics = { cgroup_cpu_usage_usec = 1.5e6 + i },
  }
end

--- A full sidecar; `over` replaces top-level fields.
function M.make(over)
  local t = {
    test_name = "sched_perf_positive", topology = "1n2l4c1t",
    scheduler = "scx_demo", resolve_source = "path",
    project_commit = "abc1234", payload = nil, metrics = {},
    passed = true, skipped = false, inconclusive = false,
    expected_failure = false,
    stats = {
      cgroups = { cgroup(0), cgroup(1), cgroup(2), cgroup(3) },
      total_workers = 8, total_cpus = 8, total_migrations = 166,
      worst_spread = 4.75, worst_gap_ms = 15, worst_gap_cpu = 3,
      worst_migration_ratio = 0.125, worst_p99_wake_latency_us = 51.5,
      worst_median_wake_latency_us = 12.0, worst_wake_latency_cv = 0.3,
      total_iterations = 1000006, worst_mean_run_delay_us = 7.5,
      worst_run_delay_us = 90.0, worst_page_locality = 1.0,
      worst_cross_node_migration_ratio = 0.0,
      worst_wake_latency_tail_ratio = 4.25,
      worst_iterations_per_worker = 125000.0,
      ext_metrics = { user_time_ns = 17508213019.0, stuck_count = 0.0,
                      total_phase_iterations = 900000.0,
                      total_phase_duration_sec = 4.5 },
      phases = {
        { step_index = 0, label = "BASELINE", sample_count = 10,
          metrics = { user_time_ns = 8.0e9, system_time_ns = 1.25e8 } },
        { step_index = 1, label = "Step[0]", sample_count = 10,
          metrics = { user_time_ns = 9.5e9, system_time_ns = 1.5e8 } },
      },
    },
    monitor = {
      total_samples = 120, max_imbalance_ratio = 4.0, max_local_dsq_depth = 3,
      stall_detected = false, avg_imbalance_ratio = 1.5,
      avg_nr_running = 2.25, avg_local_dsq_depth = 0.5,
      schedstat_deltas = {
        total_run_delay = 123456789, run_delay_rate = 0.02,
        total_pcount = 4000, total_sched_count = 5000,
        sched_count_rate = 1000.5, total_yld_count = 0,
        total_sched_goidle = 250, total_ttwu_count = 3000,
        total_ttwu_local = 1500,
      },
    },
    periodic_fired = 4, periodic_target = 4, vcpus = 4, cpu_budget = 4,
    throughput_denomination = "wall",
    stimulus_events = {
      { elapsed_ms = 0, label = "BASELINE" },
      { elapsed_ms = 2000, label = "Step[0]", op_kind = "spawn",
        total_iterations = 500000 },
    },
    work_type = "SpinWait", verifier_stats = {}, kvm_stats = nil,
    sysctls = { "sysctl.kernel.sched_autogroup_enabled=0" },
    kargs = { "nosmt" },
    kernel_version = "6.12.9", kernel_commit = nil,
    timestamp = "2026-07-04T23:28:34Z", run_id = "20260704T232830Z-0",
    host = {
      cpu_model = "AMD EPYC", cpu_vendor = "AuthenticAMD",
      total_memory_kb = 65536000, hugepages_total = 0, hugepages_free = 0,
      hugepages_size_kb = 2048, thp_enabled = "madvise", thp_defrag = "never",
      sched_tunables = { sched_rr_timeslice_ms = "100",
                         sched_autogroup_enabled = "0" },
      online_cpus = 16, numa_nodes = 1,
      cpufreq_governor = { cpu0 = "performance" },
      kernel_name = "Linux", kernel_release = "6.1.0-18-amd64",
      arch = "x86_64", kernel_cmdline = "console=ttyS0",
      accelerator = "kvm", qemu_version = "7.2.0", vm_vcpus = 4,
      vm_memory_mb = 2048, guest_kernel = "6.12.9",
    },
    cleanup_duration_ms = 180, run_source = "local",
    perf_delta_assertions = {
      { metric = "worst_spread", direction = "LowerBetter",
        max_regression_pct = 10.0, min_abs = 1.0, phase = nil },
    },
  }
  for k, v in pairs(over or {}) do t[k] = v end
  return t
end

return M
