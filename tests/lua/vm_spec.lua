-- schedtest.vm without booting: argv, the scenario spec, option checks.
-- (tests/c/test_vm.c drives the launcher with a fake qemu; the real VMs
-- are in tests/e2e/vm_spec.lua.)
local vm = require "schedtest.vm"

local function find(argv, flag, value)
  for i = 1, #argv - 1 do
    if argv[i] == flag and (value == nil or argv[i + 1] == value) then
      return argv[i + 1]
    end
  end
end

describe("schedtest.vm", function()
  it("builds qemu's argv from a topology: microvm for one node", function()
    local a = assert(vm.argv{ topology = "1n2l2c1t", kargs = { "a=1", "b" } })
    assert.are.equal("qemu-system-x86_64", a[1])
    assert.is_not_nil(find(a, "-M", "microvm"))
    assert.are.equal("4,sockets=2,dies=1,cores=2,threads=1", find(a, "-smp"))
    assert.matches("console=ttyS0 quiet panic=%-1", find(a, "-append"))
    assert.matches(" a=1 b$", find(a, "-append"))
    assert.is_not_nil(find(a, "-action", "panic=exit-failure"))
  end)

  it("uses pc with NUMA nodes for more than one node", function()
    local a = assert(vm.argv{ topology = { numa = 2, llcs = 2, cores = 2 } })
    assert.is_not_nil(find(a, "-M", "pc"))
    assert.is_not_nil(find(a, "-numa", "node,nodeid=1,cpus=2-3,memdev=mem1"))
  end)

  it("runs the virtual clock on TCG's instruction counter, with a seed",
     function()
    local a = assert(vm.argv{ clock = "virtual", shift = 3, seed = 42 })
    assert.are.equal("tcg", find(a, "-accel"))
    assert.are.equal("shift=3,align=off,sleep=off", find(a, "-icount"))
    assert.are.equal("base=2024-01-01T00:00:00,clock=vm", find(a, "-rtc"))
    assert.are.equal("42", find(a, "-seed"))
    assert.matches(" tsc_early_khz=1000000 ", find(a, "-append"))
    assert.matches(" schedtest.seed=42", find(a, "-append"))
    -- the default shift; the host clock has no instruction counter
    assert.matches("^shift=1,", find(vm.argv{ clock = "virtual" }, "-icount"))
    local h = assert(vm.argv{ seed = 7 })
    assert.is_nil(find(h, "-icount"))
    assert.are.equal("7", find(h, "-seed"))
  end)

  it("rejects a clock it cannot run, and shifts and seeds out of range",
     function()
    local function err(opts)
      local ok, msg = pcall(vm.argv, opts)
      assert.is_false(ok)
      return msg
    end
    assert.matches("needs TCG", err{ clock = "virtual", accel = "kvm" })
    assert.matches("expected host or virtual", err{ clock = "wall" })
    assert.matches("virtual\" only", err{ shift = 2 }, 1, true)
    assert.matches("expected 0 to 10", err{ clock = "virtual", shift = 11 })
    assert.matches("expected 0 to 4294967295", err{ seed = -1 })
    assert.matches("expected 0 to 4294967295", err{ seed = 1 << 32 })
  end)

  it("writes the scenario text the guest agent reads", function()
    local s = vm.spec{ duration = 1.5, sysctls = { ["kernel.sched_x"] = 3 },
                       features = { "HRTICK" },
                       scheduler = { binary = "/x/scx_simple", args = { "-v" } },
                       cgroups = { { name = "a", workers = 2, work = "pipe_pingpong",
                                     cpuset = "1", weight = 50,
                                     policy = "fifo", priority = 5,
                                     params = { spin_us = 7 } } },
                       steps = { { duration = 0.5, label = "S1",
                                   cpusets = { a = "0-1" }, detach = true },
                                 { attach = true, add_cgroups = { b = "1" },
                                   move = { a = "b" } } },
                       fault = "hang=run" }
    assert.matches("^schedtest%-scenario 1\n", s)
    assert.matches("\nduration_ms 1500\n", s)
    assert.matches("write path=/proc/sys/kernel/sched_x value=3\n", s, 1, true)
    assert.matches("write path=/sys/kernel/debug/sched/features value=HRTICK\n",
                   s, 1, true)
    assert.matches("scheduler /schedtest/sched/scx_simple\n", s, 1, true)
    assert.matches("sched_args 1\nsched_arg -v\n", s, 1, true)
    assert.matches("cgroup name=a workers=2 work=PipeIo cpuset=1 weight=50 " ..
                   "fanout=0 spin_us=7 sleep_us=500 ", s, 1, true)
    assert.matches(" policy=fifo priority=5 nice=0 affinity=- comm=-\n", s, 1,
                   true)
    assert.matches("step ms=500 label=S1 ops=2\nop kind=cpuset target=a " ..
                   "value=0-1\nop kind=detach target=- value=-\n", s, 1, true)
    -- the default label of a second step, and the order of its ops
    assert.matches("step ms=1000 label=Step[1] ops=3\n" ..
                   "op kind=cgroup_add target=b value=1\n" ..
                   "op kind=move target=a value=b\n" ..
                   "op kind=attach target=- value=-\n", s, 1, true)
    assert.matches("fault hang\nfault_stage run\n", s, 1, true)
    assert.matches("\nend\n$", s)
  end)

  it("exports the scenario's limits and names", function()
    assert.are.equal(16, vm.LIMITS.cgroups)
    assert.are.equal(256, vm.LIMITS.workers)
    assert.are.equal(16, vm.LIMITS.steps)
    assert.are.equal(32, vm.LIMITS.ops)
    assert.are.equal(64, vm.LIMITS.writes)
    assert.are.equal(31, vm.LIMITS.sched_args)
    assert.are.equal(8, vm.LIMITS.payloads)
    assert.are.equal(63, vm.LIMITS.payload_args)
    assert.are.equal(1000000, vm.LIMITS.param)
    assert.are.equal(64, vm.LIMITS.name_max)
    assert.are.equal(16, vm.LIMITS.comm_max)
    assert.are.equal(256, vm.LIMITS.path_max)
    assert.are.same({ name = "CpuSpin", suite = "cpu_spin" }, vm.WORK_TYPES[1])
    assert.are.same({ name = "PipeIo", suite = "pipe_pingpong" },
                    vm.WORK_TYPES[4])
    assert.are.equal(21, #vm.WORK_TYPES)
    assert.are.same({ "normal", "batch", "idle", "fifo", "rr" }, vm.POLICIES)
    assert.are.same({ "write", "cpuset", "weight", "cgroup_add",
                      "cgroup_remove", "move", "affinity", "detach",
                      "attach" }, vm.OPS)
    assert.are.same({ "spin_us", "sleep_us", "burst_us", "work_us",
                      "period_us", "mem_kb", "stages", "hold_us" },
                    vm.WORK_PARAMS)
  end)

  it("checks the scenario, naming the field", function()
    local function err(o)
      local ok, msg = pcall(vm.spec, o)
      assert.is_false(ok)
      return msg
    end
    local many = {}
    for i = 1, 17 do many[i] = { name = "c" .. i } end
    assert.matches("(cgroups: 17 items; at most 16)", err{ cgroups = many },
                   1, true)
    assert.matches("(cgroups[1].priority: fifo needs a priority from 1 to 99",
                   err{ cgroups = { { policy = "fifo" } } }, 1, true)
    assert.matches("(cgroups[1].comm: 'sixteen-chars-xx' is longer than 15",
                   err{ cgroups = { { comm = "sixteen-chars-xx" } } }, 1, true)
    assert.matches("(steps[1].ops[1] (cpuset).target: no cgroup 'x' at this " ..
                   "step)", err{ steps = { { cpusets = { x = "0" } } } }, 1,
                   true)
    assert.matches("(cgroups[1].policy: unknown policy 'deadline' (expected " ..
                   "one of normal, batch, idle, fifo, rr))",
                   err{ cgroups = { { policy = "deadline" } } }, 1, true)
    assert.matches("(cgroups[1].params: unknown option 'spinus'",
                   err{ cgroups = { { params = { spinus = 1 } } } }, 1, true)
    -- a field complete() leaves to the caller is named when missing
    assert.matches("(steps[1].ops[1].target: missing)",
                   err{ steps = { { ops = { { kind = "write" } } } } }, 1,
                   true)
    assert.matches("(scheduler.binary: missing)",
                   err{ scheduler = { args = {} } }, 1, true)
  end)

  it("rejects misuse with an error", function()
    assert.has_error(function() vm.spec{ bogus = 1 } end)
    assert.has_error(function() vm.spec{ cgroups = { { work = "nope" } } } end)
    assert.has_error(function()
      vm.spec{ cgroups = { { work = "PipeIo", workers = 3 } } }
    end)
    assert.has_error(function() vm.argv{ topology = "2n3l1c1t" } end)
    assert.has_error(function() vm.argv{ accel = "xen" } end)
  end)

  it("rejects numbers the launcher cannot hold, naming the option", function()
    local function err(f, o)
      local ok, msg = pcall(f, o)
      assert.is_false(ok)
      return msg
    end
    local day = "expected seconds from 0 to 86400 (a day), got "
    assert.matches("(duration: " .. day .. "1000000000.0",
                   err(vm.spec, { duration = 1e9 }), 1, true)
    assert.matches("(duration: " .. day .. "3000000.0",
                   err(vm.spec, { duration = 3e6 }), 1, true)
    assert.matches("(duration: " .. day,
                   err(vm.spec, { duration = 0/0 }), 1, true)
    assert.matches("(steps[2].duration: " .. day .. "-1.0",
                   err(vm.spec, { steps = { { duration = 1 },
                                            { duration = -1 } } }), 1, true)
    assert.matches("(settle: " .. day, err(vm.spec, { settle = 1/0 }), 1, true)
    assert.matches("(monitor_ms: expected 1 to 60000, got 0",
                   err(vm.spec, { monitor_ms = 0 }), 1, true)
    assert.matches("(params.spin_us: expected 0 to 1000000, got " ..
                   "4294967296", err(vm.spec, { params = { spin_us = 2^32 } }),
                   1, true)
    assert.matches("(cgroups[1].weight: expected 0 to 10000, got 10001",
                   err(vm.spec, { cgroups = { { weight = 10001 } } }), 1, true)
    -- run() checks before it looks for the kernel, so none is needed here
    assert.matches("(timeouts.run: " .. day .. "1000000000.0",
                   err(vm.run, { kernel = "/nonexistent",
                                 timeouts = { run = 1e9 } }), 1, true)
    assert.matches("(duration and steps add up to 86401000 ms; a run takes " ..
                   "at most 86400 s (a day))",
                   err(vm.run, { kernel = "/nonexistent", duration = 86400,
                                 steps = { { duration = 1 } } }), 1, true)
    assert.matches("(memory_mb: expected 1 to 1048576, got 4294967296",
                   err(vm.argv, { memory_mb = 2^32 }), 1, true)
    assert.matches("(topology.cores: expected 1 to 1024, got 4294967297",
                   err(vm.argv, { topology = { cores = 2^32 + 1 } }), 1, true)
  end)

  it("returns nil, msg, code for an unknown kernel", function()
    local r, msg, code = vm.run{ kernel = "/nonexistent/bzImage" }
    assert.is_nil(r)
    assert.are.equal("EKERNEL", code)
    assert.matches("/nonexistent/bzImage", msg, 1, true)
  end)

  it("knows qemu's version", function()
    assert.matches("^QEMU emulator version", assert(vm.qemu_version()))
  end)
end)
