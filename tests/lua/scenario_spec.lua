-- schedtest.scenario: the one place a scenario's defaults are decided.
local scenario = require "schedtest.scenario"
local vm = require "schedtest.vm"

describe("schedtest.scenario.complete", function()
  it("fills every field from DEFAULTS", function()
    local o = scenario.complete{ cgroups = { {}, { name = "b" } },
                                 steps = { {}, { label = "x" } } }
    local D = scenario.DEFAULTS
    assert.are.equal(2, o.duration)
    assert.are.equal(0.3, o.settle)
    assert.are.equal(20, o.attach_timeout)
    assert.are.equal(100, o.monitor_ms)
    assert.are.same(D.params, o.params)
    assert.are.equal("cg0", o.cgroups[1].name)
    assert.are.equal("b", o.cgroups[2].name)
    for _, k in ipairs({ "workers", "work", "cpuset", "weight", "fanout",
                         "policy", "priority", "nice", "affinity", "comm" }) do
      assert.are.equal(D.cgroup[k], o.cgroups[1][k], k)
    end
    assert.are.same(D.params, o.cgroups[1].params)
    assert.are.equal("Step[0]", o.steps[1].label)
    assert.are.equal("x", o.steps[2].label)
    assert.are.equal(1, o.steps[1].duration)
    assert.are.same({}, o.steps[1].ops)
    assert.are.same({}, o.writes)
    assert.are.same({}, o.payloads)
    assert.are.equal("", o.fault)
    assert.are.equal("", o.fault_stage)
    assert.is_nil(o.scheduler)
  end)

  it("has a default for every work parameter", function()
    for _, p in ipairs(vm.WORK_PARAMS) do
      assert.is_number(scenario.DEFAULTS.params[p], p)
    end
    assert.are.equal(100, scenario.DEFAULTS.params.spin_us)
    assert.are.equal(500, scenario.DEFAULTS.params.sleep_us)
    assert.are.equal(2000, scenario.DEFAULTS.params.burst_us)
    assert.are.equal(50, scenario.DEFAULTS.params.work_us)
  end)

  it("layers test-wide params under a cgroup's own", function()
    local o = scenario.complete{ params = { spin_us = 7 },
                                 cgroups = { { params = { sleep_us = 9 } } } }
    assert.are.equal(7, o.cgroups[1].params.spin_us)
    assert.are.equal(9, o.cgroups[1].params.sleep_us)
    assert.are.equal(50, o.cgroups[1].params.work_us)
  end)

  it("turns writes, sysctls and features into writes", function()
    local o = scenario.complete{ writes = { ["/b"] = 2, ["/a"] = "x" },
                                 sysctls = { "kernel.y=1" },
                                 features = { "HRTICK" } }
    assert.are.same({ { path = "/a", value = "x" }, { path = "/b", value = "2" },
                      { path = "/proc/sys/kernel/y", value = "1" },
                      { path = "/sys/kernel/debug/sched/features",
                        value = "HRTICK" } }, o.writes)
    assert.is_nil(o.sysctls)
    assert.is_nil(o.features)
  end)

  it("turns a step's fields into operations in STEP_OPS order", function()
    local o = scenario.complete{ steps = { {
      detach = true, remove_cgroups = { "n" }, writes = { ["/w"] = 1 },
      sysctls = { ["kernel.s"] = 2 }, affinity = { a = "0" },
      move = { a = "n" }, weights = { a = 5 }, cpusets = { a = "1" },
      add_cgroups = { n = "0-1" }, attach = true } } }
    local kinds = {}
    for i, op in ipairs(o.steps[1].ops) do kinds[i] = op.kind end
    assert.are.same({ "cgroup_add", "cpuset", "weight", "move", "affinity",
                      "write", "write", "cgroup_remove", "detach", "attach" },
                    kinds)
    assert.are.same({ kind = "move", target = "a", value = "n" },
                    o.steps[1].ops[4])
    assert.are.same({ kind = "write", target = "/proc/sys/kernel/s",
                      value = "2" }, o.steps[1].ops[7])
    -- add_cgroups as a list: no cpuset
    o = scenario.complete{ steps = { { add_cgroups = { "p", "q" } } } }
    assert.are.same({ kind = "cgroup_add", target = "q", value = "" },
                    o.steps[1].ops[2])
  end)

  it("splits a fault from its stage", function()
    local o = scenario.complete{ fault = "hang=setup" }
    assert.are.equal("hang", o.fault)
    assert.are.equal("setup", o.fault_stage)
    o = scenario.complete{ fault = "panic" }
    assert.are.equal("panic", o.fault)
    assert.are.equal("", o.fault_stage)
  end)

  it("is idempotent and leaves its input alone", function()
    local input = { sysctls = { "kernel.y=1" }, fault = "hang=run",
                    cgroups = { { work = "bursty" } },
                    scheduler = { binary = "/s", args = { "-v" } },
                    payloads = { { name = "p", binary = "/bin/true",
                                   args = { "a" } } },
                    steps = { { cpusets = { cg0 = "0" }, detach = true } } }
    local once = scenario.complete(input)
    assert.are.same(once, scenario.complete(once))
    assert.are.same({ "kernel.y=1" }, input.sysctls)
    assert.is_nil(input.cgroups[1].name)
    assert.is_nil(input.steps[1].ops)
    assert.are.equal(10, once.payloads[1].timeout)
    assert.are.equal(true, once.scheduler.sched_ext)
  end)

  it("raises for a field of the wrong type, naming it", function()
    assert.has_error(function() scenario.complete{ cgroups = 3 } end,
                     "vm options: cgroups: table expected, got number")
    assert.has_error(function()
      scenario.complete{ steps = { { move = "x" } } }
    end, "vm options: steps[1].move: table expected, got string")
  end)

  it("is what vm.spec writes", function()
    local text = vm.spec{}
    assert.matches("\nduration_ms 2000\nsettle_ms 300\n" ..
                   "attach_timeout_ms 20000\nmonitor_ms 100\n", text, 1, true)
  end)
end)
