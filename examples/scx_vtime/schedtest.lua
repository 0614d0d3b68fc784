-- schedtest suite of the scx_vtime example: a small sched_ext scheduler.
-- Run it with:  schedtest test --kernel built
-- (a kernel from `schedtest kernel build`, which also caches the sched_ext
-- SDK the build below uses).
--
-- The performance tests pin the threads that compete to one vCPU: under
-- TCG, unpinned placement is decided per boot and its noise (CV 25-200 %)
-- would hide real changes; pinned, the wake latency varies by 1-2 %.

scheduler {
  name = "scx_vtime",
  build = { "make" },
  binary = "build/scx_vtime",
  args = { "--slice-us", "3000" },
}

-- A pipe ping-pong waking up next to a CPU hog on vCPU 1: how long the
-- woken task waits depends on wake-up preemption and the slice.
test {
  scheduler = "scx_vtime",
  name = "perf_pingpong_vs_hog",
  performance_mode = true,
  topology = "1n1l2c1t",
  duration = 3,
  cgroups = {
    { name = "pingpong", workers = 2, work = "pipe_pingpong", cpuset = "1" },
    { name = "hog", workers = 1, work = "cpu_spin", cpuset = "1" },
  },
  -- On the virtual clock (the default under TCG) the median wake latency
  -- is the instruction count of the wake-up path, the same in every run
  -- of the same binaries: a 3 % slower path is a real regression, and the
  -- registry's 20 µs absolute floor (made for host-clock noise) would
  -- hide it.
  perf_delta_assertions = {
    { metric = "worst_median_wake_latency_us", max_regression_pct = 3,
      min_abs = 0.2 },
  },
}

-- Two CPU hogs sharing vCPU 1: each waits one slice for the other, so
-- the longest gap between work checkpoints follows the slice length.
test {
  scheduler = "scx_vtime",
  name = "perf_hogs_share_cpu",
  performance_mode = true,
  topology = "1n1l2c1t",
  duration = 3,
  cgroups = { { name = "hogs", workers = 2, work = "cpu_spin", cpuset = "1" } },
}

-- Timer sleepers bursting next to a hog: timer-to-run latency.
test {
  scheduler = "scx_vtime",
  name = "perf_bursty_vs_hog",
  performance_mode = true,
  topology = "1n1l2c1t",
  duration = 3,
  cgroups = {
    { name = "bursty", workers = 2, work = "bursty", cpuset = "1" },
    { name = "hog", workers = 1, work = "cpu_spin", cpuset = "1" },
  },
}

-- A messenger waking three workers (schbench-like), over both vCPUs.
test {
  scheduler = "scx_vtime",
  name = "perf_futex_fanout",
  performance_mode = true,
  topology = "1n1l2c1t",
  duration = 3,
  cgroups = { { name = "fanout", workers = 4, work = "futex_fanout",
                fanout = 3 } },
}

-- Not a performance test: every work type makes progress under scx_vtime.
test {
  scheduler = "scx_vtime",
  name = "smoke_mix",
  topology = "1n1l2c1t",
  duration = 1,
  cgroups = { { name = "mix", workers = 3, work = "mix" } },
}

-- The same binary in FIFO mode, for comparing configurations in one run.
scheduler {
  name = "scx_vtime_fifo",
  build = { "make" },
  binary = "build/scx_vtime",
  args = { "--slice-us", "3000", "--fifo" },
}

-- The kernel's built-in scheduler (BASELINE phase) against scx_vtime in
-- FIFO mode (the step that starts it), in one VM: a ping-pong next to a
-- CPU hog waits a whole slice per wake-up under FIFO, so EEVDF must run
-- at least 50 % more round trips.  Measured: about 15,000/s against 2,300/s.
test {
  name = "eevdf_vs_fifo_pingpong",
  scheduler = "eevdf",
  topology = "1n1l2c1t",
  duration = 2,
  cgroups = {
    { name = "pingpong", workers = 2, work = "pipe_pingpong", cpuset = "1" },
    { name = "hog", workers = 1, work = "cpu_spin", cpuset = "1" },
  },
  steps = { { duration = 2, scheduler = "scx_vtime_fifo", label = "fifo" } },
  check = function(result)
    return result:better_across_phases("fifo", "BASELINE", "iteration_rate")
                 :by_at_least(0.5)
  end,
}
