local suite = require "schedtest.suite"
local fs = require "schedtest.fs"

local function with_suite(text, fn)
  local dir = assert(fs.tempdir("suite-spec-"))
  local path = dir .. "/schedtest.lua"
  assert(fs.write_atomic(path, text))
  local ok, err = pcall(fn, path, dir)
  fs.remove_tree(dir)
  if not ok then error(err, 0) end
end

local GOOD = [[
scheduler {
  name = "scx_vtime",
  build = { "make", "-j2" },
  binary = "build/scx_vtime",
  args = { "--slice-us", "5000" },
}

test {
  name = "perf_pingpong",
  performance_mode = true,
  topology = "1n1l2c1t",
  duration = 3,
  sysctls = { ["kernel.sched_rt_runtime_us"] = 950000 },
  cgroups = { { name = "pp", workers = 2, work = "pipe_pingpong", cpuset = {1} } },
  params = { work_us = 50 }, sched_features = { "HRTICK" },
  perf_delta_assertions = { { metric = "worst_p99_wake_latency_us",
                              max_regression_pct = 20 } },
}

test {
  name = "versus_eevdf",
  steps = { { duration = 2, scheduler = "eevdf" },
            { duration = 2, scheduler = "scx_vtime" } },
  cgroups = { { workers = 2, work = "cpu_spin" } },
  check = function(result) return true end,
}
]]

describe("schedtest.suite.load", function()
  it("takes a clock per test and suite-wide defaults", function()
    with_suite([[
defaults { clock = "virtual", icount_shift = 2 }
test { name = "a", performance_mode = true, cgroups = { { workers = 1 } } }
test { name = "b", clock = "host", cgroups = { { workers = 1 } } }
test { name = "c", clock = "auto", icount_shift = 0,
       cgroups = { { workers = 1 } } }
]], function(path)
      local s = assert(suite.load(path))
      assert.are.same({ clock = "virtual", icount_shift = 2 }, s.defaults)
      local by = {}
      for _, t in ipairs(s.tests) do by[t.name] = t end
      assert.are.equal("virtual", by.a.clock)
      assert.are.equal(2, by.a.icount_shift)
      assert.are.equal("host", by.b.clock)
      assert.are.equal("auto", by.c.clock)
      assert.are.equal(0, by.c.icount_shift)
    end)
    -- without any: auto, and the VM's default shift
    with_suite("test { name = 'x', cgroups = { { workers = 1 } } }",
               function(path)
      local t = assert(suite.load(path)).tests[1]
      assert.are.equal("auto", t.clock)
      assert.is_nil(t.icount_shift)
    end)
  end)

  it("rejects bad clocks, shifts and defaults", function()
    with_suite([[
defaults { clock = "virtaul", colck = "host" }
defaults { clock = "host" }
test { name = "a", clock = "wall", cgroups = { { workers = 1 } } }
test { name = "b", icount_shift = 11, cgroups = { { workers = 1 } } }
test { name = "c", clock = "host", icount_shift = 1,
       cgroups = { { workers = 1 } } }
]], function(path)
      local s, err = suite.load(path)
      assert.is_nil(s)
      assert.matches(":1: defaults {}: field 'clock': expected one of " ..
                     "auto, virtual, host, got virtaul — did you mean " ..
                     "'virtual'?", err, 1, true)
      assert.matches(":1: defaults {}: unknown field 'colck' (did you " ..
                     "mean 'clock'?)", err, 1, true)
      assert.matches(":2: defaults are declared twice (first at line 1)",
                     err, 1, true)
      assert.matches(":3: test 'a': field 'clock': expected one of", err,
                     1, true)
      assert.matches(":4: test 'b': field 'icount_shift': expected a " ..
                     "whole number from 0 to 10", err, 1, true)
      assert.matches(":5: test 'c': field 'icount_shift': it applies to " ..
                     "the virtual clock", err, 1, true)
    end)
  end)

  it("loads schedulers and tests with defaults filled in", function()
    with_suite(GOOD, function(path, dir)
      local s = assert(suite.load(path))
      assert.are.equal(dir, s.root)
      assert.are.equal("build/scx_vtime", s.schedulers.scx_vtime.binary)
      assert.are.equal(2, #s.tests)
      local t = s.tests[1]
      assert.are.equal("scx_vtime", t.scheduler) -- the only scheduler
      assert.are.same({ numa = 1, llcs = 1, cores = 2, threads = 1 },
                      t.topology)
      assert.are.equal(2, t.vcpus)
      assert.are.same({ "sysctl.kernel.sched_rt_runtime_us=950000" },
                      t.sysctls)
      assert.are.equal("1", t.cgroups[1].cpuset)
      assert.are.equal(8, t.line)
      local v = s.tests[2]
      assert.is_false(v.performance_mode)
      assert.are.equal("cg0", v.cgroups[1].name)
      assert.are.equal("BASELINE", v.steps[1].label)
      assert.are.equal("Step[1]", v.steps[2].label)
      assert.is_function(v.check)
    end)
  end)

  it("names file, line, test and field, with a suggestion", function()
    with_suite([[
test {
  name = "t1",
  duraton = 3,
  cgroups = { { workers = 2, work = "pipe_pingpnog" } },
}
test { name = "t2", scheduler = "scx_vtmie", cgroups = { {} } }
]], function(path)
      local s, msg, code = suite.load(path)
      assert.is_nil(s)
      assert.are.equal("EINVAL", code)
      assert.matches(path .. ":1: test 't1': unknown field 'duraton' " ..
                     "(did you mean 'duration'?)", msg, 1, true)
      assert.matches("field 'cgroups[1].work': unknown work type " ..
                     "'pipe_pingpnog'", msg, 1, true)
      assert.matches("did you mean 'pipe_pingpong'?", msg, 1, true)
      assert.matches(":6: test 't2': field 'scheduler': unknown scheduler " ..
                     "'scx_vtmie'", msg, 1, true)
    end)
  end)

  it("rejects bad values with what was expected", function()
    with_suite([[
test { name = "t", duration = -1, topology = "2x", cgroups = { { workers = 0,
  cpuset = "7" } } }
]], function(path)
      local _, msg = suite.load(path)
      assert.matches("field 'duration': expected a positive number", msg, 1,
                     true)
      assert.matches("field 'topology': expected a topology like", msg, 1,
                     true)
      assert.matches("field 'cgroups[1].workers': expected a whole number",
                     msg, 1, true)
    end)
  end)

  it("checks cpusets against the topology", function()
    with_suite([[
test { name = "t", cgroups = { { cpuset = "0-3" } } }
]], function(path)
      local _, msg = suite.load(path)
      assert.matches("names CPU 2 but the topology has 2 vCPUs (0-1)", msg,
                     1, true)
    end)
  end)

  it("reports duplicates and missing binaries", function()
    with_suite([[
scheduler { name = "s" }
test { name = "t", cgroups = { {} } }
test { name = "t", cgroups = { {} } }
]], function(path)
      local _, msg = suite.load(path)
      assert.matches("scheduler 's': field 'binary' is missing", msg, 1, true)
      assert.matches(":3: test 't' is declared twice (first at line 2)", msg,
                     1, true)
    end)
  end)

  it("sandboxes the file: no io, no require", function()
    with_suite([[
io.open("/tmp/x", "w")
]], function(path)
      local _, msg, code = suite.load(path)
      assert.are.equal("EINVAL", code)
      assert.matches("attempt to index a nil value (global 'io')", msg, 1,
                     true)
    end)
  end)

  it("reports a syntax error with its line", function()
    with_suite("test { name = \n", function(path)
      local _, msg = suite.load(path)
      assert.matches("schedtest.lua:2:", msg, 1, true)
    end)
  end)

  it("says what to do when the file has no test", function()
    with_suite("-- nothing\n", function(path)
      local _, msg = suite.load(path)
      assert.matches("declares no test", msg, 1, true)
    end)
  end)
end)

describe("schedtest.suite.find", function()
  it("walks up from a subdirectory", function()
    with_suite(GOOD, function(path, dir)
      assert(fs.mkdir_p(dir .. "/a/b"))
      assert.are.equal(fs.realpath(path), suite.find(dir .. "/a/b"))
    end)
  end)

  it("says what to do when there is none", function()
    local dir = assert(fs.tempdir("suite-none-"))
    local p, msg, code = suite.find(dir)
    fs.remove_tree(dir)
    assert.is_nil(p)
    assert.are.equal("ENOENT", code)
    assert.matches("--suite FILE", msg, 1, true)
  end)
end)

describe("schedtest.suite topology", function()
  it("parses ktstr's names and reports vCPUs", function()
    local t = assert(suite.parse_topology("2n2l1c1t"))
    assert.are.same({ numa = 2, llcs = 2, cores = 1, threads = 1 }, t)
    assert.are.equal("2n2l1c1t", suite.topology_name(t))
    assert.are.equal(2, suite.vcpus(t)) -- LLCs count in total
    assert.are.equal(8, suite.vcpus(assert(suite.parse_topology("1n2l2c2t"))))
    local _, odd = suite.parse_topology("2n3l1c1t")
    assert.matches("multiple of numa", odd, 1, true)
    local _, why = suite.parse_topology({ numa = 1, cpus = 2 })
    assert.matches("unknown key 'cpus'", why, 1, true)
  end)
end)
