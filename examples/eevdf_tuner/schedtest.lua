-- schedtest suite of the eevdf_tuner example: a "scheduler" for kernels
-- without sched_ext (Debian's) that tunes the built-in EEVDF scheduler.
-- Run it with:  schedtest test --kernel debian
--
-- The tests pin their threads to one vCPU: unpinned placement is decided
-- per boot and makes run-to-run noise swamp the knobs (TCG measurements:
-- pinned ping-pong wake latency varies 1-2 %, unpinned 25-200 %).

scheduler {
  name = "eevdf_tuner",
  build = { "make" },
  binary = "build/eevdf_tuner",
  -- HRTICK makes base_slice_ns visible; without it slices round up to the
  -- 4 ms tick of a HZ=250 kernel.
  args = { "--hrtick", "--base-slice-ns", "3000000" },
}

-- Wake latency of a pipe ping-pong sharing vCPU 1 with a CPU hog: wakeup
-- preemption decides whether the woken task waits for the hog's slice.
test {
  name = "perf_pingpong_vs_hog",
  performance_mode = true,
  topology = "1n1l2c1t",
  duration = 3,
  cgroups = {
    { name = "pingpong", workers = 2, work = "pipe_pingpong", cpuset = "1" },
    { name = "hog", workers = 1, work = "cpu_spin", cpuset = "1" },
  },
  perf_delta_assertions = {
    { metric = "worst_median_wake_latency_us", max_regression_pct = 10 },
  },
}

-- Two CPU hogs sharing vCPU 1: each waits for the other's slice, so the
-- longest gap between work checkpoints follows base_slice_ns.
test {
  name = "perf_hogs_share_cpu",
  performance_mode = true,
  topology = "1n1l2c1t",
  duration = 3,
  cgroups = {
    { name = "hogs", workers = 2, work = "cpu_spin", cpuset = "1" },
  },
}

-- Not a performance test: the tuner starts, the workers all make progress.
test {
  name = "smoke_bursty",
  topology = "1n1l2c1t",
  duration = 1,
  cgroups = { { name = "bursty", workers = 2, work = "bursty" } },
}
