-- End-to-end: real qemu, real kernels (the sched_ext kernel built from
-- kernel/schedtest.config and Debian's 6.12), the real guest agent.
-- Kernels come from the cache (helpers.kernels builds/fetches them once).
-- Every workload is short (0.3-1.5 s): the whole file stays near 2-4
-- minutes under TCG on 2 cores.
local vm = require "schedtest.vm"
local kernels = require "helpers.kernels"

local function run(opts)
  local r, msg, code = vm.run(opts)
  assert(r, ("vm.run failed: %s (%s)"):format(tostring(msg), tostring(code)))
  return r
end

local function explain(r)
  return ("outcome %s (%s), stage %s\n%s"):format(r.outcome, r.reason,
    r.stage, r.console_tail or "")
end

local function passed(r)
  assert.are.equal("passed", r.outcome, explain(r))
end

describe("schedtest.vm", function()
  local built, debian

  setup(function()
    built = kernels.built()
    debian = kernels.debian()
  end)

  it("runs every work type with plausible metrics on the built kernel "
     .. "(1n1l2c1t, auto -> tcg)", function()
    local cgs = {}
    for _, w in ipairs{ "cpu_spin", "spin_wait", "yield_heavy",
                        "pipe_pingpong", "futex_fanout", "bursty", "mix" } do
      cgs[#cgs + 1] = { name = w, work = w,
                        workers = w == "futex_fanout" and 3 or 2 }
    end
    local r = run{ kernel = built.path, topology = "1n1l2c1t", duration = 1.5,
                   cgroups = cgs, accel = "auto",
                   steps = { { duration = 0.5, label = "Step1" } } }
    passed(r)
    -- no usable KVM here: auto must end on TCG and say why
    assert.are.equal("tcg", r.accelerator)
    assert.matches("^tcg: ", r.accelerator_reason)
    assert.are.equal("tcg", r.host.accelerator)
    assert.matches("QEMU", r.qemu_version)
    -- the guest sees 1 node, 1 LLC, 2 cores, 1 thread each
    assert.are.same({ 1, 1, 2, 1 }, { r.guest.numa_nodes, r.guest.llcs,
                                      r.guest.cores, r.guest.threads_per_core })
    assert.matches("^tsc", r.guest.clocksource) -- tsc or tsc-early
    local by = {}
    for _, c in ipairs(r.stats.cgroups) do by[c.cgroup_name] = c end
    for name, c in pairs(by) do
      assert.is_true(c.total_iterations > 0, name .. " did no work")
      assert.is_true(c.num_cpus >= 1, name)
      assert.is_true(c.avg_off_cpu_pct >= 0 and c.avg_off_cpu_pct <= 100, name)
      assert.is_true(c.mean_run_delay_us > 0, name .. ": no run delay")
    end
    for _, name in ipairs{ "yield_heavy", "pipe_pingpong", "futex_fanout",
                           "bursty", "mix" } do
      assert.is_true(by[name].median_wake_latency_us > 0, name)
      assert.is_true(by[name].p99_wake_latency_us
                     >= by[name].median_wake_latency_us, name)
    end
    assert.is_true(by.futex_fanout.ext_metrics.request_p50_latency_us > 0)
    assert.is_true(by.bursty.ext_metrics.median_timer_latency_us > 0)
    assert.is_true(r.stats.ext_metrics.worst_p99_timer_latency_us > 0)
    assert.are.equal(15, r.stats.total_workers)
    assert.are.equal(15, #r.workers)
    -- monitor and phases
    assert.is_true(r.monitor.total_samples > 0)
    assert.is_true(r.monitor.avg_nr_running > 0)
    assert.is_false(r.monitor.stall_detected)
    assert.is_true(r.monitor.schedstat_deltas.total_pcount > 0)
    assert.are.equal(2, #r.stats.phases)
    assert.are.equal("BASELINE", r.stats.phases[1].label)
    assert.are.equal(1, r.stats.phases[2].step_index)
    assert.is_true(r.stats.phases[2].metrics.total_phase_iterations > 0)
    assert.are.equal(2, #r.stimulus_events)
    assert.are.equal("Mixed", r.work_type)
    assert.are.equal("eevdf", r.scheduler)
  end)

  it("shows 1n2l2c1t to the guest on Debian's kernel", function()
    local r = run{ kernel = debian.path, topology = "1n2l2c1t", duration = 0.3,
                   accel = "tcg", cgroups = { { workers = 1 } } }
    passed(r)
    assert.are.equal(4, r.guest.cpus)
    assert.are.same({ 1, 2, 4, 1 }, { r.guest.numa_nodes, r.guest.llcs,
                                      r.guest.cores, r.guest.threads_per_core })
    assert.matches("^6%.12", r.guest.kernel)
  end)

  it("shows 2n2l1c1t (two NUMA nodes, -M pc) to the guest", function()
    local r = run{ kernel = built.path, topology = { numa = 2, llcs = 2,
                   cores = 1, threads = 1 }, duration = 0.3, accel = "tcg",
                   cgroups = { { workers = 1 } } }
    passed(r)
    assert.are.equal("pc", r.machine)
    assert.are.same({ 2, 2, 2, 1 }, { r.guest.numa_nodes, r.guest.llcs,
                                      r.guest.cores, r.guest.threads_per_core })
  end)

  it("kills an agent that hangs, within its bound, naming the stage", function()
    local t0 = os.time()
    local r = run{ kernel = built.path, duration = 0.3, accel = "tcg",
                   cgroups = { { workers = 1 } }, fault = "hang=setup",
                   timeouts = { setup = 2 } }
    assert.are.equal("hang", r.outcome, explain(r))
    assert.are.equal("setup", r.stage)
    assert.matches("hang in stage setup", r.reason)
    assert.matches("fault injection: hanging in stage setup", r.reason, 1, true)
    assert.is_true(os.time() - t0 < 60)
  end)

  it("reports a kernel panic (sysrq) as a panic", function()
    local r = run{ kernel = built.path, duration = 0.3, accel = "tcg",
                   cgroups = { { workers = 1 } }, fault = "panic" }
    assert.are.equal("panic", r.outcome, explain(r))
    assert.matches("sysrq triggered crash", r.reason, 1, true)
  end)

  it("detects a truncated result stream", function()
    local r = run{ kernel = debian.path, duration = 0.3, accel = "tcg",
                   cgroups = { { workers = 1 } }, fault = "truncate" }
    assert.are.equal("truncated", r.outcome, explain(r))
    assert.matches("without its trailer", r.reason)
  end)

  it("fails the test with the stderr of a scheduler that exits at start",
     function()
    local fs = require "schedtest.fs"
    local dir = assert(fs.tempdir("schedtest-e2e-"))
    local src = dir .. "/badsched.c"
    local f = assert(io.open(src, "w"))
    f:write('#include <stdio.h>\nint main(void){fprintf(stderr,'
            .. '"badsched: cannot load the BPF program\\n");return 3;}\n')
    f:close()
    assert(os.execute("cc -static -o " .. dir .. "/badsched " .. src))
    local r = run{ kernel = built.path, duration = 0.3, accel = "tcg",
                   scheduler = { binary = dir .. "/badsched" },
                   cgroups = { { workers = 1 } } }
    fs.remove_tree(dir)
    assert.are.equal("failed", r.outcome, explain(r))
    assert.matches("scheduler exited with status 3 before attaching",
                   r.reason, 1, true)
    assert.matches("cannot load the BPF program", r.reason, 1, true)
    assert.is_false(r.sched_ext.attached)
  end)

  it("attaches a sched_ext scheduler (scx_simple) and records it", function()
    assert(built.sdk, "the built kernel has no sched_ext SDK")
    local r = run{ kernel = built.path, duration = 1, accel = "tcg",
                   scheduler = { binary = built.sdk .. "/bin/scx_simple" },
                   cgroups = { { workers = 2, work = "pipe_pingpong" } } }
    passed(r)
    assert.is_true(r.sched_ext.attached)
    assert.are.equal("simple", r.sched_ext.ops)
    assert.are.equal("scx_simple", r.scheduler)
    assert.is_false(r.monitor.stall_detected)
    assert.is_true(r.stats.total_iterations > 0)
  end)

  it("reports a sched_ext scheduler killed mid-run as a stall", function()
    local r = run{ kernel = built.path, duration = 1.5, accel = "tcg",
                   scheduler = { binary = built.sdk .. "/bin/scx_simple" },
                   cgroups = { { workers = 2, work = "pipe_pingpong" } },
                   fault = "kill_scheduler" }
    assert.are.equal("failed", r.outcome, explain(r))
    assert.matches("mid-run", r.reason, 1, true)
    assert.is_true(r.monitor.stall_detected)
    assert.is_true(r.sched_ext.attached)
    local seen = false
    for _, l in ipairs(r.sched_ext.kmsg) do
      seen = seen or l:find("simple", 1, true) ~= nil
    end
    assert.is_true(seen, "no sched_ext kernel log line")
  end)

  it("applies every step operation, phase by phase (scx_simple detached "
     .. "and attached again)", function()
    assert(built.sdk, "the built kernel has no sched_ext SDK")
    local r = run{ kernel = built.path, duration = 0.5, accel = "tcg",
      topology = "1n1l2c1t",
      scheduler = { binary = built.sdk .. "/bin/scx_simple" },
      cgroups = { { name = "a", workers = 2, work = "pipe_pingpong" },
                  { name = "b", workers = 1 } },
      steps = {
        { duration = 0.5, label = "grow", add_cgroups = { n = "0" },
          move = { b = "n" }, cpusets = { a = "1" }, weights = { a = 200 },
          affinity = { b = "0" },
          writes = { ["/proc/sys/kernel/sched_schedstats"] = 1 } },
        { duration = 0.5, label = "eevdf", detach = true,
          move = { b = "b" }, remove_cgroups = { "n" } },
        { duration = 0.5, label = "back", attach = true } } }
    passed(r)
    local labels = {}
    for i, p in ipairs(r.stats.phases) do
      labels[i] = p.label
      assert.is_true(p.metrics.total_phase_iterations > 0, p.label)
    end
    assert.are.same({ "BASELINE", "grow", "eevdf", "back" }, labels)
    local ops = {}
    for _, e in ipairs(r.stimulus_events) do
      if e.op_kind ~= "phase" then
        ops[#ops + 1] = e.op_kind .. "@" .. e.label
      end
    end
    assert.are.same({ "cgroup_add@grow", "cpuset@grow", "weight@grow",
                      "move@grow", "affinity@grow", "write@grow",
                      "move@eevdf", "cgroup_remove@eevdf", "detach@eevdf",
                      "attach@back" }, ops)
    assert.is_true(r.sched_ext.attached)
    assert.is_false(r.monitor.stall_detected)
  end)

  it("refuses a scenario beyond a limit before any VM, naming the field",
     function()
    local many = {}
    for i = 1, vm.LIMITS.cgroups + 1 do many[i] = { name = "c" .. i } end
    local t0 = os.time()
    local ok, msg = pcall(vm.run, { kernel = built.path, cgroups = many })
    assert.is_false(ok)
    assert.matches("cgroups: 17 items; at most 16", msg, 1, true)
    local long = string.rep("x", vm.LIMITS.name_max)
    ok, msg = pcall(vm.run, { kernel = built.path,
                              steps = { { label = long } } })
    assert.is_false(ok)
    assert.matches("steps[1].label: '" .. long .. "' is longer than 63 bytes",
                   msg, 1, true)
    assert.is_true(os.time() - t0 < 5)
  end)
end)
