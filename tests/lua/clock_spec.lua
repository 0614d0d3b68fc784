-- Clocks and seeds without a VM: which clock each test gets, what goes
-- into its VM options, and the --clock/--seed flags.  (The VMs themselves
-- are in tests/e2e/clock_spec.lua.)
local runner = require "schedtest.runner"
local sh = require "helpers.sh"

local function test(over)
  local t = { name = "t", clock = "auto", performance_mode = false }
  for k, v in pairs(over or {}) do t[k] = v end
  return t
end

local function never() error("the accelerator was probed needlessly") end
local function tcg() return "tcg" end
local function kvm() return "kvm" end

describe("runner.resolve_clock", function()
  local perf = test{ performance_mode = true }

  it("auto: virtual for performance tests under TCG, host otherwise",
     function()
    local how = { clock = "auto", accel = "auto", auto_accel = tcg }
    assert.are.equal("virtual", runner.resolve_clock(perf, how))
    how.auto_accel = kvm
    assert.are.equal("host", runner.resolve_clock(perf, how))
    -- an explicit accelerator needs no probe
    assert.are.equal("virtual", runner.resolve_clock(perf,
      { clock = "auto", accel = "tcg", auto_accel = never }))
    assert.are.equal("host", runner.resolve_clock(perf,
      { clock = "auto", accel = "kvm", auto_accel = never }))
    -- not a performance test: host, without asking
    assert.are.equal("host", runner.resolve_clock(test(),
      { clock = "auto", accel = "auto", auto_accel = never }))
  end)

  it("the suite's clock wins over auto, the flag over the suite", function()
    local declared = test{ clock = "virtual" }
    local how = { clock = "auto", accel = "auto", auto_accel = never }
    assert.are.equal("virtual", runner.resolve_clock(declared, how))
    assert.are.equal("host", runner.resolve_clock(test{ clock = "host",
      performance_mode = true }, how))
    how.clock = "host"
    assert.are.equal("host", runner.resolve_clock(declared, how))
    how.clock = "virtual"
    assert.are.equal("virtual", runner.resolve_clock(test(), how))
  end)

  it("refuses the virtual clock with --accel kvm, naming the test",
     function()
    local clock, why = runner.resolve_clock(test{ name = "pp",
      clock = "virtual" }, { clock = "auto", accel = "kvm" })
    assert.is_nil(clock)
    assert.matches("test pp: the virtual clock needs TCG", why, 1, true)
    assert.is_nil(runner.resolve_clock(test(), { clock = "virtual",
                                                 accel = "kvm" }))
    -- accel auto: the VM itself runs TCG for the virtual clock
    assert.are.equal("virtual", runner.resolve_clock(test(),
      { clock = "virtual", accel = "auto", auto_accel = kvm }))
  end)

  it("plans every test, with the shift for the virtual clock only",
     function()
    local plan = assert(runner.clock_plan({
      test{ name = "a", performance_mode = true, icount_shift = 3 },
      test{ name = "b", performance_mode = true },
      test{ name = "c", icount_shift = 2 },
    }, { clock = "auto", accel = "auto",
         auto_accel = runner.auto_accel("/nonexistent/bzImage") }))
    assert.are.same({ clock = "virtual", shift = 3 }, plan.a)
    assert.are.same({ clock = "virtual" }, plan.b)
    assert.are.same({ clock = "host" }, plan.c)
    local none, why, code = runner.clock_plan({ test{ clock = "virtual" } },
      { clock = "auto", accel = "kvm" })
    assert.is_nil(none)
    assert.matches("needs TCG", why)
    assert.are.equal("EINVAL", code)
  end)
end)

describe("runner.vm_options", function()
  local suite = { schedulers = {} }
  local t = test{ name = "pp", scheduler = "eevdf", performance_mode = true,
                  topology = { numa = 1, llcs = 1, cores = 2, threads = 1 },
                  duration = 1, cgroups = {} }

  it("carries the planned clock, shift and the invocation's seed", function()
    local o = runner.vm_options(t, { suite = suite, kernel = { path = "k" },
      clocks = { pp = { clock = "virtual", shift = 2 } }, seed = 99 })
    assert.are.equal("virtual", o.clock)
    assert.are.equal(2, o.shift)
    assert.are.equal(99, o.seed)
    -- no seed asked: the VM draws its own
    o = runner.vm_options(t, { suite = suite, kernel = { path = "k" },
      clocks = { pp = { clock = "host" } } })
    assert.are.equal("host", o.clock)
    assert.is_nil(o.shift)
    assert.is_nil(o.seed)
  end)

  it("are options the VM binding accepts", function()
    local o = runner.vm_options(t, { suite = suite, kernel = { path = "k" },
      clocks = { pp = { clock = "virtual", shift = 2 } }, seed = 7 })
    o.kernel, o.initramfs = "bzImage", "ir.cpio"
    local argv = assert(require("schedtest.vm").argv(o))
    assert.matches("shift=2,", table.concat(argv, " "), 1, true)
  end)

  it("say which clock and seed a result ran with", function()
    assert.are.equal(", virtual clock, seed 12",
      runner.clock_note{ host = { clock = "virtual", seed = 12 } })
    assert.are.equal("", runner.clock_note{ host = {} })
    assert.are.equal("", runner.clock_note(nil))
  end)
end)

describe("schedtest test --clock / --seed", function()
  it("rejects values it does not know, exit 2", function()
    for _, c in ipairs({
      { { "--clock", "wall" }, "must be one of" },
      { { "--seed", "-1" }, "must be 0 to 4294967295" },
      { { "--seed", "4294967296" }, "must be 0 to 4294967295" },
      { { "--seed", "x" }, "whole number" },
    }) do
      local argv = { sh.schedtest, "test" }
      for _, a in ipairs(c[1]) do argv[#argv + 1] = a end
      local r = sh.run(argv, { cwd = "/" })
      assert.are.equal(2, r.code, table.concat(c[1], " ") .. ": " .. r.err)
      assert.matches(c[2], r.err, 1, true)
    end
  end)
end)
