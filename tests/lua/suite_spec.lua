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

-- Load `text` as a suite that must fail; returns the message and the
-- path it names.  A Lua runtime error inside suite.lua would raise here
-- or show up as "suite.lua:" in the message: neither may happen.
local function load_error(text)
  local msg, file
  with_suite(text, function(path)
    local s, m, code = suite.load(path)
    assert.is_nil(s)
    assert.are.equal("EINVAL", code)
    msg, file = m, path
  end)
  assert.is_nil(msg:find("suite.lua:", 1, true), msg)
  return msg, file
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
      assert.are.equal("Step[0]", v.steps[1].label)
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
      assert.matches("field 'duration': expected seconds from 0.001 to " ..
                     "3600, got -1", msg, 1, true)
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

describe("schedtest.suite.load reports every bad field as a message", function()
  local NAME = "expected a name of letters, digits, '_' and '-', " ..
               "starting with a letter, got "

  for _, bad in ipairs({ '"../x"', '"a b"', '""', '"1st"', '5', '{}' }) do
    it("rejects the cgroup name " .. bad, function()
      local msg, path = load_error("test { name = \"t\",\n" ..
        "  cgroups = { { name = " .. bad .. " }, { name = \"ok\" } } }\n")
      local shown = bad:sub(1, 1) == '"' and bad or
                    (bad == "5" and "5" or "table")
      assert.matches(path .. ":1: test 't': field 'cgroups[1].name': " ..
                     NAME .. shown, msg, 1, true)
    end)
  end

  it("rejects a cgroup name longer than the agent holds", function()
    local msg, path = load_error("test { name = \"t\", cgroups = { " ..
      "{ name = \"" .. string.rep("c", 64) .. "\" } } }\n")
    assert.matches(path .. ":1: test 't': field 'cgroups[1].name': " ..
                   "expected at most 63 characters, got 64", msg, 1, true)
  end)

  it("still finds duplicate cgroup names next to a bad one", function()
    local msg, path = load_error([[
test { name = "t", cgroups = { { name = "a b" }, { name = "x" },
                               { name = "x" } } }
]])
    assert.matches(path .. ":1: test 't': field 'cgroups[3].name': " ..
                   "duplicate cgroup name 'x'", msg, 1, true)
  end)

  it("rejects a bad worker count of a pipe_pingpong cgroup", function()
    local msg, path = load_error([[
test { name = "t", cgroups = { { work = "pipe_pingpong", workers = "2" },
                               { work = "pipe_pingpong", workers = {} } } }
]])
    assert.matches(path .. ":1: test 't': field 'cgroups[1].workers': " ..
                   "expected a whole number from 1 to 256, got \"2\"", msg,
                   1, true)
    assert.matches("field 'cgroups[2].workers': expected a whole number " ..
                   "from 1 to 256, got table", msg, 1, true)
  end)

  it("rejects bad test and scheduler names", function()
    local msg, path = load_error([[
scheduler { name = "my sched", binary = "x" }
test { name = "a b", cgroups = { {} } }
test { name = "t", scheduler = "../s", cgroups = { {} } }
]])
    assert.matches(path .. ":1: scheduler 'my sched': field 'name': " ..
                   NAME .. '"my sched"', msg, 1, true)
    assert.matches(path .. ":2: test 'a b': field 'name': " .. NAME ..
                   '"a b"', msg, 1, true)
    assert.matches(path .. ":3: test 't': field 'scheduler': " .. NAME ..
                   '"../s"', msg, 1, true)
  end)

  it("rejects step labels that are not one word", function()
    local msg, path = load_error([[
test { name = "t", cgroups = { {} },
       steps = { { duration = 1, label = "with space" },
                 { duration = 1, label = 5 },
                 { duration = 1, label = "" } } }
]])
    local want = "expected one word (no spaces) of at most 63 characters, got "
    assert.matches(path .. ":1: test 't': field 'steps[1].label': " .. want ..
                   '"with space"', msg, 1, true)
    assert.matches("field 'steps[2].label': " .. want .. "5", msg, 1, true)
    assert.matches("field 'steps[3].label': " .. want .. '""', msg, 1, true)
  end)

  it("checks the cgroups a step's cpusets and weights name", function()
    local msg, path = load_error([[
test { name = "t", cgroups = { { name = "pp" } },
       steps = { { duration = 1, cpusets = { [1] = "0", hgo = "1" } },
                 { duration = 1, weights = { pp = 0 } },
                 { duration = 1, cpusets = { pp = "5" } },
                 { duration = 1, cpusets = "0" } } }
]])
    local at = path .. ":1: test 't': field "
    assert.matches(at .. "'steps[1].cpusets': keys must be cgroup names, " ..
                   "got 1", msg, 1, true)
    assert.matches(at .. "'steps[1].cpusets.hgo': no cgroup 'hgo' at this " ..
                   "step (cgroups then: pp)", msg, 1, true)
    assert.matches(at .. "'steps[2].weights.pp': expected a cgroup weight " ..
                   "from 1 to 10000, got 0", msg, 1, true)
    assert.matches(at .. "'steps[3].cpusets': cpuset of 'pp' names CPU 5 " ..
                   "but the topology has 2 vCPUs (0-1)", msg, 1, true)
    assert.matches(at .. "'steps[4].cpusets': expected { cgroup = " ..
                   "\"cpus\" }, got string", msg, 1, true)
  end)

  it("rejects steps and cgroups that are not lists", function()
    local msg, path = load_error([[
test { name = "t", cgroups = { {}, x = {} } }
test { name = "u", cgroups = { {} }, steps = { duration = 2 } }
]])
    assert.matches(path .. ":1: test 't': field 'cgroups': expected a list " ..
                   "of cgroups, found key 'x'", msg, 1, true)
    assert.matches(path .. ":2: test 'u': field 'steps': expected a list " ..
                   "of steps, found key 'duration'", msg, 1, true)
  end)

  it("rejects malformed CPU lists", function()
    local msg, path = load_error([[
test { name = "t", cgroups = { { cpuset = "0--1" }, { cpuset = "3-1" },
                               { cpuset = "99" }, { cpuset = {} },
                               { cpuset = "0,,1" } } }
]])
    local want = "expected a CPU list like \"0-1,3\" or {0, 1} (CPUs 0 " ..
                 "to 63, ranges low to high), got "
    local at = path .. ":1: test 't': field "
    assert.matches(at .. "'cgroups[1].cpuset': " .. want .. '"0--1"', msg, 1,
                   true)
    assert.matches(at .. "'cgroups[2].cpuset': " .. want .. '"3-1"', msg, 1,
                   true)
    assert.matches(at .. "'cgroups[3].cpuset': " .. want .. '"99"', msg, 1,
                   true)
    assert.matches(at .. "'cgroups[4].cpuset': " .. want .. "{}", msg, 1, true)
    assert.matches(at .. "'cgroups[5].cpuset': " .. want .. '"0,,1"', msg, 1,
                   true)
  end)

  it("keeps writes, sysctls, features and arguments on one spec line",
     function()
    local msg, path = load_error([[
scheduler { name = "s", binary = "s", args = { "-v\nfault panic" } }
test { name = "t", cgroups = { {} },
       writes = { ["/sys/a b"] = 1 },
       sysctls = { ["kernel.x"] = "1\nfault panic" },
       sched_features = { "HRTICK NO" } }
test { name = "u", cgroups = { {} }, writes = { ["/sys/x"] = "a\nb" },
       sysctls = { "kernel.y=1\n2" }, kargs = { "a\tb" } }
]])
    assert.matches(path .. ":1: scheduler 's': field 'args[1]': expected " ..
                   "text without control characters, got \"-v\\nfault " ..
                   "panic\"", msg, 1, true)
    local at = path .. ":2: test 't': field "
    assert.matches(at .. "'writes': keys must be absolute guest paths " ..
                   "without spaces, at most 255 characters, got " ..
                   '"/sys/a b"', msg, 1, true)
    assert.matches(at .. "'sysctls': 'kernel.x' must be a number or a " ..
                   "string on one line, got \"1\\n", msg, 1, true)
    assert.matches(at .. "'sched_features[1]': expected a feature name " ..
                   "like \"HRTICK\", got \"HRTICK NO\"", msg, 1, true)
    at = path .. ":6: test 'u': field "
    assert.matches(at .. "'writes./sys/x': expected a number or a string " ..
                   "on one line of at most 255 characters, got \"a\\nb\"",
                   msg, 1, true)
    assert.matches(at .. "'sysctls': item 1 must be \"name=value\" on one " ..
                   "line, got \"kernel.y=1\\n2\"", msg, 1, true)
    assert.matches(at .. "'kargs[1]': expected text without control " ..
                   "characters, got \"a\\9b\"", msg, 1, true)
  end)
end)

describe("schedtest.suite.load bounds numbers before any VM starts", function()
  local SECONDS = "expected seconds from 0.001 to 3600, got "

  for _, case in ipairs({ { "1e9", "1000000000" }, { "3e6", "3000000" },
                          { "0", "0" }, { "0.0001", "0.0001" },
                          { "1/0", "inf" }, { "\"3\"", "\"3\"" } }) do
    it("rejects duration = " .. case[1], function()
      local msg, path = load_error("test { name = \"t\", duration = " ..
                                   case[1] .. ", cgroups = { {} } }\n")
      assert.matches(path .. ":1: test 't': field 'duration': " .. SECONDS ..
                     case[2], msg, 1, true)
    end)
  end

  it("rejects NaN durations", function()
    local msg = load_error("test { name = \"t\", duration = 0/0, " ..
                           "cgroups = { {} } }\n")
    assert.matches("field 'duration': " .. SECONDS, msg, 1, true)
  end)

  it("bounds step durations and the test's total length", function()
    local msg, path = load_error([[
test { name = "t", cgroups = { {} }, steps = { { duration = 1e9 } } }
test { name = "u", cgroups = { {} }, duration = 3000,
       steps = { { duration = 500 }, { duration = 100.5 } } }
]])
    assert.matches(path .. ":1: test 't': field 'steps[1].duration': " ..
                   SECONDS .. "1000000000", msg, 1, true)
    assert.matches(path .. ":2: test 'u': field 'steps': BASELINE (3000 s) " ..
                   "and the steps (600.5 s) add up to 3600.5 s; a test runs " ..
                   "at most 3600 s", msg, 1, true)
  end)

  it("accepts the longest test", function()
    with_suite([[
test { name = "t", cgroups = { {} }, duration = 3000,
       steps = { { duration = 600 } }, timeout = 7200 }
]], function(path)
      local s = assert(suite.load(path))
      assert.are.equal(3000, s.tests[1].duration)
    end)
  end)

  it("bounds the timeout and wants it longer than the test", function()
    local msg, path = load_error([[
test { name = "t", cgroups = { {} }, timeout = 1e9 }
test { name = "u", cgroups = { {} }, duration = 3, steps = { { duration = 2 } },
       timeout = 5 }
]])
    assert.matches(path .. ":1: test 't': field 'timeout': expected seconds " ..
                   "from 0.001 to 7200, got 1000000000", msg, 1, true)
    assert.matches(path .. ":2: test 'u': field 'timeout': 5 s does not " ..
                   "cover the test's 5 s of phases (and the VM's exit): the " ..
                   "watchdog would call every run a hang; give more, e.g. 30",
                   msg, 1, true)
  end)

  it("bounds counts the guest agent holds", function()
    local many = {}
    for i = 1, 17 do many[i] = "{ name = \"c" .. i .. "\" }" end
    local steps = {}
    for i = 1, 17 do steps[i] = "{ duration = 1 }" end
    local writes = {}
    for i = 1, 33 do writes[i] = "[\"/sys/w" .. i .. "\"] = 1" end
    local args = {}
    for i = 1, 32 do args[i] = "\"-a\"" end
    local msg, path = load_error(
      "scheduler { name = \"s\", binary = \"s\", args = { " ..
      table.concat(args, ", ") .. " } }\n" ..
      "test { name = \"t\", cgroups = { " .. table.concat(many, ", ") ..
      " } }\n" ..
      "test { name = \"u\", cgroups = { { workers = 200 }, " ..
      "{ workers = 100 } }, steps = { " .. table.concat(steps, ", ") ..
      " } }\n" ..
      "test { name = \"v\", cgroups = { {} }, steps = { { duration = 1, " ..
      "writes = { " .. table.concat(writes, ", ") .. " } } } }\n")
    assert.matches(path .. ":1: scheduler 's': field 'args': has 32 " ..
                   "arguments; the guest agent passes at most 31", msg, 1,
                   true)
    assert.matches(path .. ":2: test 't': field 'cgroups': has 17 cgroups; " ..
                   "a test has at most 16", msg, 1, true)
    assert.matches(path .. ":3: test 'u': field 'cgroups': 300 workers in " ..
                   "total; the guest agent runs at most 256 per test", msg, 1,
                   true)
    assert.matches(path .. ":3: test 'u': field 'steps': has 17 steps; a " ..
                   "test has at most 16", msg, 1, true)
    assert.matches(path .. ":4: test 'v': field 'steps[1]': makes 33 " ..
                   "operations (writes, sysctls, cpusets, weights, cgroups " ..
                   "added, removed, moved, affinities, detach, attach); a " ..
                   "step holds at most 32", msg, 1, true)
  end)

  it("bounds the test's writes, sysctls and features together", function()
    local writes = {}
    for i = 1, 60 do writes[i] = "[\"/sys/w" .. i .. "\"] = 1" end
    local msg, path = load_error("test { name = \"t\", cgroups = { {} }, " ..
      "writes = { " .. table.concat(writes, ", ") .. " },\n" ..
      "  sysctls = { \"kernel.a=1\", \"kernel.b=1\", \"kernel.c=1\" },\n" ..
      "  sched_features = { \"HRTICK\", \"NO_WAKEUP_PREEMPTION\" } }\n")
    assert.matches(path .. ":1: test 't': field 'writes': the test's " ..
                   "writes, sysctls and sched_features add up to 65; the " ..
                   "guest agent applies at most 64", msg, 1, true)
  end)

  it("bounds every other number with what it got", function()
    local msg, path = load_error([[
test { name = "t", memory_mb = 1e6, topology = { cores = 65 },
       params = { spin_us = 1000001, sleep_us = -1 },
       cgroups = { { weight = 10001, fanout = 257, workers = 257 } },
       perf_delta_assertions = { { metric = "m", max_regression_pct = 1/0,
                                   min_abs = 0/0, phase = 17 } } }
]])
    local at = path .. ":1: test 't': field "
    assert.matches(at .. "'memory_mb': expected MiB as a whole number, 64 " ..
                   "to 16384, got 1000000", msg, 1, true)
    assert.matches(at .. "'topology': 'cores' must be a whole number from " ..
                   "1 to 64", msg, 1, true)
    assert.matches(at .. "'params.spin_us': expected a whole number from " ..
                   "0 to 1000000, got 1000001", msg, 1, true)
    assert.matches(at .. "'params.sleep_us': expected a whole number from " ..
                   "0 to 1000000, got -1", msg, 1, true)
    assert.matches(at .. "'cgroups[1].weight': expected a cgroup weight " ..
                   "from 1 to 10000, got 10001", msg, 1, true)
    assert.matches(at .. "'cgroups[1].fanout': expected the number of " ..
                   "workers one futex_fanout messenger wakes (1 to 256), " ..
                   "got 257", msg, 1, true)
    assert.matches(at .. "'cgroups[1].workers': expected a whole number " ..
                   "from 1 to 256, got 257", msg, 1, true)
    assert.matches(at .. "'perf_delta_assertions[1].max_regression_pct': " ..
                   "expected a finite number >= 0, got inf", msg, 1, true)
    assert.matches(at .. "'perf_delta_assertions[1].min_abs': expected a " ..
                   "finite number >= 0, got ", msg, 1, true)
    assert.matches(at .. "'perf_delta_assertions[1].phase': expected a " ..
                   "step index from 0 (BASELINE) to 16, got 17", msg, 1, true)
    local _, vcpus = suite.parse_topology("1n4l4c8t")
    assert.are.equal("128 vCPUs (llcs x cores x threads); at most 64", vcpus)
  end)

  it("publishes its bounds, the scenario's from vm.LIMITS", function()
    local vm = require "schedtest.vm"
    assert.are.equal(3600, suite.LIMITS.duration)
    assert.are.equal(7200, suite.LIMITS.timeout)
    for _, k in ipairs({ "workers", "cgroups", "steps", "ops", "writes",
                         "sched_args", "param" }) do
      assert.are.equal(vm.LIMITS[k], suite.LIMITS[k], k)
    end
    assert.are.equal(vm.LIMITS.name_max - 1, suite.LIMITS.name)
    assert.are.equal(#vm.WORK_TYPES, #suite.WORK_TYPES)
    assert.are.equal("wake_chain", suite.WORK_TYPES[#suite.WORK_TYPES])
  end)
end)

describe("schedtest.suite cgroup attributes and step operations", function()
  local runner = require "schedtest.runner"
  local vm = require "schedtest.vm"

  it("accepts every work type, params, attributes and operation", function()
    with_suite([[
scheduler { name = "s", binary = "s" }
test { name = "t", scheduler = "s",
  params = { spin_us = 5 },
  cgroups = {
    { name = "a", work = "schbench", params = { work_us = 9, stages = 3 },
      policy = "fifo", priority = 10, affinity = "0", comm = "worker a" },
    { name = "b", work = "wake_chain", policy = "batch", nice = -5 },
    { name = "c", policy = "idle" } },
  steps = {
    { duration = 1, add_cgroups = { n = "1", "m" }, move = { a = "n" },
      affinity = { b = "0-1" }, cpusets = { n = "0" }, weights = { m = 50 },
      writes = { ["/tmp/x"] = 1 }, detach = true },
    { duration = 1, attach = true, move = { a = "a" },
      remove_cgroups = { "n", "m" } } } }
]], function(path)
      local s = assert(suite.load(path))
      local t = s.tests[1]
      assert.are.same({ work_us = 9, stages = 3 }, t.cgroups[1].params)
      assert.are.equal("fifo", t.cgroups[1].policy)
      assert.are.equal(10, t.cgroups[1].priority)
      assert.are.equal(-5, t.cgroups[2].nice)
      assert.are.same({ n = "1", m = "" }, t.steps[1].add_cgroups)
      assert.is_true(t.steps[1].detach)
      -- what the runner hands the VM is a scenario the core accepts
      local o = runner.vm_options(t, { suite = s, kernel = { path = "k" },
                                       binaries = { s = "/x/s" } })
      local text = vm.spec(o)
      assert.matches("work=Schbench ", text, 1, true)
      assert.matches(" spin_us=5 sleep_us=500 burst_us=2000 work_us=9 ",
                     text, 1, true)
      assert.matches("policy=fifo priority=10 nice=0 affinity=0 " ..
                     "comm=worker%20a\n", text, 1, true)
      assert.matches("op kind=cgroup_add target=m value=-\n" ..
                     "op kind=cgroup_add target=n value=1\n", text, 1, true)
      assert.matches("op kind=detach target=- value=-\n", text, 1, true)
      assert.matches("op kind=cgroup_remove target=m value=-\n", text, 1,
                     true)
    end)
  end)

  it("rejects bad attributes, naming each field", function()
    local msg, path = load_error([[
test { name = "t", cgroups = {
  { work = "schbnech" },
  { policy = "deadline" },
  { policy = "fifo" },
  { policy = "rr", priority = 100 },
  { priority = 3 },
  { policy = "idle", nice = 1 },
  { nice = 20 },
  { comm = "much-longer-than-fifteen" },
  { comm = "tab	here" },
  { affinity = "0-" },
  { params = { spinus = 1, mem_kb = -1 } } } }
]])
    local at = path .. ":1: test 't': field "
    assert.matches(at .. "'cgroups[1].work': unknown work type 'schbnech' " ..
                   "(expected one of cpu_spin, ", msg, 1, true)
    assert.matches("did you mean 'schbench'?", msg, 1, true)
    assert.matches(at .. "'cgroups[2].policy': unknown policy 'deadline' " ..
                   "(expected one of normal, batch, idle, fifo, rr)", msg, 1,
                   true)
    assert.matches(at .. "'cgroups[3].priority': policy \"fifo\" needs a " ..
                   "priority from 1 to 99", msg, 1, true)
    assert.matches(at .. "'cgroups[4].priority': expected a real-time " ..
                   "priority from 1 to 99, got 100", msg, 1, true)
    assert.matches(at .. "'cgroups[5].priority': only policy \"fifo\" or " ..
                   "\"rr\" takes a priority", msg, 1, true)
    assert.matches(at .. "'cgroups[6].nice': only policy \"normal\" or " ..
                   "\"batch\" takes a nice value", msg, 1, true)
    assert.matches(at .. "'cgroups[7].nice': expected a nice value from " ..
                   "-20 to 19, got 20", msg, 1, true)
    assert.matches(at .. "'cgroups[8].comm': expected 1 to 15 printable " ..
                   "characters", msg, 1, true)
    assert.matches(at .. "'cgroups[9].comm': expected 1 to 15 printable", msg,
                   1, true)
    assert.matches(at .. "'cgroups[10].affinity': expected a CPU list", msg,
                   1, true)
    assert.matches("unknown field 'cgroups[11].params.spinus' (did you " ..
                   "mean 'spin_us'?)", msg, 1, true)
    assert.matches(at .. "'cgroups[11].params.mem_kb': expected a whole " ..
                   "number from 0 to 1000000, got -1", msg, 1, true)
  end)

  it("bounds sysctl paths and scheduler arguments by the scenario's " ..
     "buffers", function()
    local long = string.rep("x", 250)
    local msg, path = load_error(
      "scheduler { name = \"s\", binary = \"s\", args = { \"" ..
      string.rep("a", 256) .. "\" } }\n" ..
      "test { name = \"t\", cgroups = { {} }, sysctls = { [\"kernel." ..
      long .. "\"] = 1 } }\n")
    assert.matches(path .. ":1: scheduler 's': field 'args[1]': longer " ..
                   "than 255 characters", msg, 1, true)
    assert.matches(path .. ":2: test 't': field 'sysctls': 'kernel." .. long ..
                   "': the path /proc/sys/... and the value hold at most " ..
                   "255 characters each", msg, 1, true)
  end)

  it("checks what each step's operations name, in step order", function()
    local msg, path = load_error([[
scheduler { name = "s", binary = "s" }
test { name = "t", scheduler = "s", cgroups = { { name = "a" } },
  steps = {
    { duration = 1, move = { a = "n" }, add_cgroups = { n = "" } },
    { duration = 1, remove_cgroups = { "n" } },
    { duration = 1, cpusets = { n = "0" }, move = { n = "a" } },
    { duration = 1, affinity = { zz = "0" }, add_cgroups = { a = "" } },
    { duration = 1, attach = true },
    { duration = 1, detach = "yes" } } }
test { name = "u", scheduler = "eevdf", cgroups = { {} }, steps = { {
  duration = 1, detach = true } } }
test { name = "v", scheduler = "eevdf", cgroups = { {} }, steps = { {
  duration = 1, attach = true } } }
test { name = "w", cgroups = { {} }, steps = { { duration = 1,
  affinity = { cg0 = "7" } } } }
]])
    local at = path .. ":2: test 't': field "
    assert.matches(at .. "'steps[2].remove_cgroups[1]': cgroup 'n' still " ..
                   "holds the workers of 'a' (move them out first)", msg, 1,
                   true)
    assert.matches(at .. "'steps[3].cpusets.n': no cgroup 'n' at this " ..
                   "step (cgroups then: a)", msg, 1, true)
    assert.matches(at .. "'steps[3].move.n': 'n' is not a cgroup declared " ..
                   "by this test", msg, 1, true)
    assert.matches(at .. "'steps[4].affinity.zz': 'zz' is not a cgroup " ..
                   "declared by this test", msg, 1, true)
    assert.matches(at .. "'steps[4].add_cgroups.a': cgroup 'a' exists " ..
                   "already at this step", msg, 1, true)
    assert.matches(at .. "'steps[6].detach': expected true (or leave it " ..
                   "out), got \"yes\"", msg, 1, true)
    assert.matches(at .. "'steps[5].attach': the scheduler is attached " ..
                   "already", msg, 1, true)
    assert.matches(":10: test 'u': field 'steps[1].detach': no scheduler " ..
                   "of the test runs at this step", msg, 1, true)
    assert.matches(":12: test 'v': field 'steps[1].attach': the test runs " ..
                   "the built-in scheduler only", msg, 1, true)
    assert.matches(":14: test 'w': field 'steps[1].affinity': cpuset of " ..
                   "'cg0' names CPU 7 but the topology has 2 vCPUs", msg, 1,
                   true)
  end)
end)

describe("schedtest.suite.load evaluation", function()
  local LOOP = "test { name = \"t\", cgroups = { {} } }\nwhile true do end\n"

  it("stops an endless loop at the time limit, naming file and line",
     function()
    with_suite(LOOP, function(path)
      local t0 = os.clock()
      local s, msg, code = suite.load(path, { time_limit = 0.5 })
      local spent = os.clock() - t0
      assert.is_nil(s)
      assert.are.equal("ETIMEDOUT", code)
      assert.are.equal(path .. ":2: evaluation did not finish within 0.5 s " ..
                       "(an endless loop?)", msg)
      assert.is_true(spent >= 0.5 and spent < 5, tostring(spent))
    end)
  end)

  it("lets no pcall in the file swallow the deadline", function()
    with_suite([[
while true do pcall(function() while true do end end) end
]], function(path)
      local _, msg, code = suite.load(path, { time_limit = 0.3 })
      assert.are.equal("ETIMEDOUT", code)
      assert.matches("evaluation did not finish within 0.3 s", msg, 1, true)
    end)
  end)

  it("still lets the file catch its own errors", function()
    with_suite([[
local ok, err = pcall(error, "mine", 0)
assert(not ok and err == "mine")
test { name = "t", cgroups = { {} } }
]], function(path)
      assert(suite.load(path, { time_limit = 5 }))
    end)
  end)

  it("removes its hook afterwards, also on error, and restores one set before",
     function()
    local before = { debug.gethook() }
    with_suite("error('boom')\n", function(path)
      local _, msg = suite.load(path)
      assert.matches("boom", msg, 1, true)
      assert.are.same(before, { debug.gethook() })
    end)
    with_suite(LOOP, function(path)
      suite.load(path, { time_limit = 0.1 })
      assert.are.same(before, { debug.gethook() })
    end)
    local function mine() end
    debug.sethook(mine, "", 1000000)
    local ok, err = pcall(with_suite, GOOD, function(path)
      assert(suite.load(path))
      local f, mask, n = debug.gethook()
      assert.are.equal(mine, f)
      assert.are.equal("", mask)
      assert.are.equal(1000000, n)
    end)
    debug.sethook(table.unpack(before))
    assert(ok, err)
  end)

  it("rejects a bad time limit", function()
    assert.has_error(function() suite.load("x", { time_limit = 0 }) end,
      "suite.load: time_limit must be a positive number of seconds, got 0")
    assert.has_error(function() suite.load("x", { time_limt = 1 }) end,
      "suite.load: unknown option 'time_limt' (known: time_limit, display)")
  end)

  -- Ctrl-C while the file runs: the host's one protected path exits 130.
  for _, body in ipairs({ "while true do end",
                          "while true do pcall(function() while true do " ..
                          "end end) end" }) do
    it("exits 130 on Ctrl-C during `" .. body .. "`", function()
      local sh = require "helpers.sh"
      with_suite("print('evaluating')\n" .. body .. "\n", function(path, dir)
        local out = dir .. "/out"
        local r = sh.run({ "sh", "-c",
          sh.quote(sh.schedtest) .. " test --list --suite " .. sh.quote(path) ..
          " >" .. sh.quote(out) .. " & pid=$!; i=0; " ..
          "while ! grep -q evaluating " .. sh.quote(out) ..
          " && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; " ..
          -- a regression that ignores Ctrl-C must not hang the specs
          "(sleep 30; kill -KILL $pid) 2>/dev/null & w=$!; " ..
          "kill -INT $pid; wait $pid; rc=$?; kill $w; exit $rc" })
        assert.are.equal(130, r.code, r.err)
        assert.matches("schedtest: interrupted", r.err, 1, true)
        assert.is_nil(r.err:find("schedtest test:", 1, true), r.err)
      end)
    end)
  end
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
