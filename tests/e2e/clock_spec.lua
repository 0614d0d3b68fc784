-- The virtual clock end to end, in real VMs on the built sched_ext kernel:
-- a seed replays a run exactly, parallel runs measure what serial runs
-- measure, the sidecars say which clock and seed, and perf-delta warns
-- about comparing a host-clock run with a virtual-clock one.  Every run is
-- 1 s of guest time (about 3 s of host time at shift 1, plus the boot).
local vm = require "schedtest.vm"
local sh = require "helpers.sh"
local gitfix = require "helpers.gitfix"
local kernels = require "helpers.kernels"
local fs = require "schedtest.fs"
local sidecar = require "schedtest.sidecar"

local function explain(r)
  return ("outcome %s (%s), stage %s\n%s"):format(r.outcome, r.reason,
    r.stage, r.console_tail or "")
end

-- Two short performance tests: a pinned ping-pong next to a hog, and an
-- unpinned futex fan-out (the placement that varies from boot to boot on
-- the host clock).
local SUITE = [[
scheduler { name = "scx_vtime", build = { "make" },
            binary = "build/scx_vtime", args = { "--slice-us", "3000" } }
test { name = "perf_pingpong_vs_hog", performance_mode = true,
       topology = "1n1l2c1t", duration = 1,
       cgroups = { { name = "pingpong", workers = 2, work = "pipe_pingpong",
                     cpuset = "1" },
                   { name = "hog", workers = 1, work = "cpu_spin",
                     cpuset = "1" } } }
test { name = "perf_fanout", performance_mode = true, topology = "1n1l2c1t",
       duration = 1,
       cgroups = { { name = "fanout", workers = 4, work = "futex_fanout",
                     fanout = 3 } } }
]]

local function project()
  local dir = gitfix.init()
  gitfix.sh(dir, "cp -R " .. gitfix.q(fs.realpath("examples/scx_vtime")) ..
            "/. . && rm -rf build target")
  gitfix.write(dir, "schedtest.lua", SUITE)
  gitfix.sh(dir, "git add -A && git commit -qm init")
  return dir, gitfix.sh(dir, "git rev-parse --short=7 HEAD")
end

local function schedtest(dir, args)
  return sh.schedtest_run(args, { cwd = dir, env = { PWD = dir,
                                                     NO_COLOR = "1",
                                                     GITHUB_BASE_REF = "" } })
end

-- test name -> sidecar, for the sidecars of one run directory
local function sidecars(run_dir)
  local out = {}
  for _, n in ipairs(fs.list(run_dir) or {}) do
    if n:match("%.ktstr%.json$") then
      local sc = assert(sidecar.read(run_dir .. "/" .. n))
      out[sc.test_name] = sc
    end
  end
  return out
end

describe("the virtual clock", function()
  local k
  setup(function() k = kernels.built() end)

  it("replays a run exactly from its seed", function()
    local opts = { kernel = k.path, topology = "1n1l2c1t", duration = 1,
                   clock = "virtual", seed = 1234, accel = "auto",
                   cgroups = { { name = "pp", workers = 2,
                                 work = "pipe_pingpong", cpuset = "1" },
                               { name = "hog", workers = 1,
                                 work = "cpu_spin", cpuset = "1" } } }
    local a = assert(vm.run(opts))
    local b = assert(vm.run(opts))
    assert.are.equal("passed", a.outcome, explain(a))
    assert.are.equal("passed", b.outcome, explain(b))
    assert.are.equal("tcg", a.accelerator)
    assert.matches("virtual clock needs TCG", a.accelerator_reason, 1, true)
    assert.are.same({ "virtual", 1, 1234 },
                    { a.host.clock, a.host.icount_shift, a.host.seed })
    assert.is_true(a.stats.worst_median_wake_latency_us > 0)
    -- every guest-measured number, to the last digit
    assert.are.same(a.stats, b.stats)
    assert.are.same(a.monitor, b.monitor)
  end)

  it("still catches a hang and names its stage, with the bound scaled",
     function()
    local t0 = os.time()
    local r = assert(vm.run{ kernel = k.path, duration = 0.3, accel = "tcg",
                             clock = "virtual", cgroups = { { workers = 1 } },
                             fault = "hang=setup", timeouts = { setup = 1 } })
    assert.are.equal("hang", r.outcome, explain(r))
    assert.are.equal("setup", r.stage)
    assert.matches("hang in stage setup: the workload did not start " ..
                   "within 9000 ms of boot (x9 for the virtual clock)",
                   r.reason, 1, true)
    assert.is_true(os.time() - t0 < 60)
  end)

  describe("in schedtest test", function()
    local dir, commit
    setup(function() dir, commit = project() end)
    teardown(function() gitfix.cleanup(dir) end)

    it("measures the same in parallel as serially with the same seed, " ..
       "and records clock and seed", function()
      local run_dir = dir .. "/target/ktstr/" .. k.version .. "-" .. commit
      local serial = schedtest(dir, { "test", "--kernel", k.path,
        "--clock", "virtual", "--seed", "77", "--jobs", "1" })
      assert.are.equal(0, serial.code, serial.out .. serial.err)
      assert.matches("PASS%s+perf_fanout %(.-, virtual clock, seed 77%)",
                     serial.err)
      local s = sidecars(run_dir)
      local parallel = schedtest(dir, { "test", "--kernel", k.path,
        "--no-build", "--clock", "virtual", "--seed", "77", "--jobs", "2" })
      assert.are.equal(0, parallel.code, parallel.out .. parallel.err)
      local p = sidecars(run_dir)
      for _, name in ipairs({ "perf_pingpong_vs_hog", "perf_fanout" }) do
        assert.is_not_nil(s[name], name)
        assert.are.same({ "virtual", 1, 77 }, { s[name].host.clock,
          s[name].host.icount_shift, s[name].host.seed })
        assert.are.same(s[name].stats, p[name].stats, name)
      end
    end)

    it("warns when perf-delta compares host-clock runs with virtual ones",
       function()
      -- HEAD: the virtual-clock runs above; a new commit on the host clock
      local base = commit
      gitfix.sh(dir, "echo note >> NOTES.md && git add NOTES.md && " ..
                     "git commit -qm notes")
      local r = schedtest(dir, { "test", "--kernel", k.path, "--no-build",
        "--clock", "host", "-E", "pingpong" })
      assert.are.equal(0, r.code, r.out .. r.err)
      assert.matches("PASS%s+perf_pingpong_vs_hog %(.-, host clock, seed %d+%)",
                     r.err)
      local pd = schedtest(dir, { "perf-delta", "--base", base })
      assert.matches("THE SIDES RAN UNDER DIFFERENT CLOCKS (" .. base ..
                     ": virtual (icount shift 1), ", pd.out, 1, true)
    end)
  end)
end)
