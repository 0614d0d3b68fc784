-- Run the project's scheduler tests in VMs and write one sidecar per test.
local usage = require "schedtest.usage"
local suite_mod = require "schedtest.suite"
local runner = require "schedtest.runner"

local p = usage.parser{
  prog = "schedtest test",
  summary = "Run the tests declared in schedtest.lua, each in its own VM, " ..
            "and write one sidecar per test run.",
  description = [[
The suite is schedtest.lua, found by walking up from the current directory.
Schedulers are built once per invocation (their build argv, in the project
root).  performance_mode tests on the host clock run one at a time; the
others, and performance tests on the virtual clock, may run --jobs VMs at
once.

Clocks: a VM measures in virtual time (qemu's instruction counter under
TCG: deterministic, blind to host load) or in host time.  --clock auto
uses the suite's choice, else virtual for performance_mode tests under TCG
and host otherwise.  Every run has a seed, recorded in its sidecar
(host.seed); --seed S with the same clock, kernel and scheduler replays it.

Sidecars go to {runs_root}/{kernel}-{project_commit}/ (runs root:
$SCHEDTEST_RUNS_ROOT, $KTSTR_RUNS_ROOT, or target/ktstr under the project),
or to $SCHEDTEST_SIDECAR_DIR; the first write of an invocation clears the
run directory's old sidecars.

Filters: test(/regex/), test(=exact), test(substring), a bare word,
scheduler(...), perf(), all(), none(); combine with | & not - ( ).]],
  epilog = [[
exit status: 0 all passed (or nothing selected); 1 a test failed; 2 usage
or environment error (the suite does not load, a scheduler build fails,
qemu cannot start, the disk is full: the run stops there); 130 interrupted
(143 on SIGTERM, 129 on SIGHUP).]],
}
p:option{ "--kernel", metavar = "KERNEL",
          help = "bzImage, kernel source tree or cache name " ..
                 "(see 'schedtest kernel list')" }
p:option{ "-E", "--filter", metavar = "EXPR", repeatable = true,
          help = "select tests (repeat to OR)" }
p:flag{ "--perf-only", help = "only performance_mode tests (also " ..
        "SCHEDTEST_PERF_ONLY=1)" }
p:flag{ "--list", help = "print the selected tests and exit" }
p:option{ "--jobs", metavar = "N", type = "integer", default = 1,
          check = function(v) return v >= 1, "must be at least 1" end,
          help = "VMs at once for non-performance tests and for " ..
                 "virtual-clock ones" }
p:flag{ "--keep-going", help = "run every test even after a failure" }
p:flag{ "--no-build", help = "use the scheduler binaries as they are" }
p:option{ "--suite", metavar = "FILE", help = "the suite file " ..
          "[default: schedtest.lua found walking up]" }
p:option{ "--json-summary", metavar = "FILE",
          help = "also write the run's outcome as JSON to FILE: every " ..
                 "selected test with its status, reasons and sidecar, " ..
                 "and the environment error if one stopped the run" }
p:option{ "--accel", metavar = "MODE", default = "auto",
          choices = { "auto", "kvm", "tcg" },
          help = "VM acceleration; auto probes KVM and falls back to TCG" }
p:option{ "--clock", metavar = "MODE", default = "auto",
          choices = { "auto", "virtual", "host" },
          help = "what the VMs measure time with, for every test " ..
                 "(overrides the suite); auto: the suite's, else virtual " ..
                 "for performance tests under TCG" }
p:option{ "--seed", metavar = "S", type = "integer",
          check = require("schedtest.runner").check_seed,
          help = "every VM's seed (replays a run recorded with it); " ..
                 "default: a random one per run" }

local opts = p:parse({ ... })
if not opts then return 0 end

local summary_mod = require "schedtest.testsummary"

-- Every exit goes through here so that --json-summary always describes
-- the run, whatever stopped it.
local function finish(status, records, err)
  if opts.json_summary then
    local ok, msg = summary_mod.write(opts.json_summary,
      summary_mod.of(status, records, err))
    if not ok then
      io.stderr:write("schedtest test: cannot write --json-summary: ", msg,
                      "\n")
      return status == 0 and 2 or status
    end
  end
  return status
end

local function fail(msg, code)
  io.stderr:write("schedtest test: ", msg, "\n")
  return finish(2, nil, { message = msg, code = code })
end

local path, msg = opts.suite, nil
if not path then
  path, msg = suite_mod.find()
  if not path then return fail(msg) end
end
local suite, err, ecode = suite_mod.load(path)
if not suite then return fail(err, ecode) end

local perf_only = opts.perf_only or os.getenv("SCHEDTEST_PERF_ONLY") == "1"
                  or os.getenv("KTSTR_PERF_ONLY") == "1"
local tests, filtered = runner.select(suite, opts.filter, perf_only)
if not tests then usage.error("schedtest test: -E: %s", filtered) end
if opts.filter and #filtered == 0 then
  local names = {}
  for _, t in ipairs(suite.tests) do names[#names + 1] = t.name end
  return fail(string.format("the filter selects no test; the suite has: %s",
                            table.concat(names, ", ")))
end

if opts.list then
  for _, t in ipairs(tests) do
    io.write(string.format("%-32s %-12s %s %-10s %5.1fs%s\n", t.name,
      t.scheduler, t.performance_mode and "perf" or "    ",
      suite_mod.topology_name(t.topology),
      t.duration + (function()
        local d = 0
        for _, st in ipairs(t.steps or {}) do d = d + st.duration end
        return d
      end)(), t.description and ("  " .. t.description) or ""))
  end
  return 0
end
if #tests == 0 then
  io.stderr:write("schedtest test: no performance_mode test selected; " ..
                  "nothing to run\n")
  return finish(0, {})
end
if not opts.kernel then
  usage.error("schedtest test: --kernel is required to run tests (a " ..
              "bzImage, a kernel source tree or a cache name; see " ..
              "'schedtest kernel list')")
end
local kinfo, kmsg, kcode = require("schedtest.kernel").resolve(opts.kernel)
if not kinfo then return fail(kmsg, kcode) end

-- Scratch directories (3 MB per VM) of earlier runs that were killed
-- before they could clean up; ones a live run holds are left alone.
local swept, serr = require("schedtest.fs").sweep_scratch()
if not swept then
  io.stderr:write("schedtest test: warning: sweeping old scratch " ..
                  "directories: ", serr, "\n")
elseif swept > 0 then
  io.stderr:write(string.format("schedtest test: removed %d stale scratch " ..
                                "director%s\n", swept,
                                swept == 1 and "y" or "ies"))
end

local commit = require("schedtest.git").project_commit(suite.root)
local started = os.time()
local records, rerr, code = runner.run_tests(suite, tests, {
  kernel = kinfo, project_commit = commit or nil,
  runs_root = require("schedtest.sidecar").runs_root(suite.root),
  sidecar_dir = require("schedtest.sidecar").dir_override(),
  build = not opts.no_build, keep_going = opts.keep_going,
  jobs = opts.jobs, accel = opts.accel, clock = opts.clock, seed = opts.seed,
})
if not records then
  -- runner.run_tests raises on an interrupt; anything else that stops a
  -- run is the environment's doing (see runner.run_tests).
  if code == "EINTR" then
    return 128 + (require("schedtest.host").interrupt_signal() or 2)
  end
  return fail(rerr, code)
end
local text, counts = runner.summary(records, started)
io.stderr:write("\n", text)
return finish(counts.fail > 0 and 1 or 0, records)
