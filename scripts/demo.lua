-- Show perf-delta catching a real scheduler regression, end to end.
--
-- Builds (or reuses) the sched_ext kernel, makes a throwaway git repository
-- from examples/scx_vtime with the baseline on main and a branch that
-- makes the scheduler slower, runs perf-delta there and explains the
-- verdict.  `make demo` runs this.
local usage = require "schedtest.usage"
local fs = require "schedtest.fs"
local host = require "schedtest.host"
local proc = require "schedtest.proc"

local p = usage.parser{
  prog = "schedtest demo",
  summary = "Show perf-delta catching a real scheduler regression.",
  description = [[
The branch changes one line of examples/scx_vtime/schedtest.lua: the
scheduler's arguments gain `--fifo`, so it dispatches first-in first-out
instead of by weighted virtual time.  A task that wakes up next to a CPU
hog then waits for the hog's whole slice.]],
}
p:option{ "--runs", metavar = "N", type = "integer", default = 3,
          check = function(v) return v >= 2, "must be at least 2" end,
          help = "runs per side (perf-delta --noise-adjust)" }
p:option{ "--dir", metavar = "DIR",
          help = "where to create the demo repository [default: " ..
                 "build/demo in the schedtest tree]" }
local opts = p:parse({ ... })
if not opts then return 0 end

local function step(fmt, ...)
  io.stdout:write("\n== ", string.format(fmt, ...), "\n")
  io.stdout:flush()
end

local function run(argv, cwd)
  local r, msg = proc.run(argv, { cwd = cwd })
  if not r then error(msg, 0) end
  if r.interrupted then error("interrupted!", 0) end
  if not r.ok then
    error(table.concat(argv, " ") .. " failed (" ..
          (r.code and ("exit " .. r.code) or "signal") .. ")", 0)
  end
end

local started = os.time()
step("1/4 the sched_ext kernel (built once, then reused from the cache)")
local kernel, kmsg = require("schedtest.kernels").build{}
if not kernel then
  io.stderr:write("schedtest demo: cannot build the kernel: ", kmsg, "\n")
  return 2
end
print("kernel " .. kernel.version .. " at " .. kernel.path)

step("2/4 a throwaway scheduler project with a baseline and a slower branch")
local dir = opts.dir or (host.root .. "/build/demo")
fs.remove_tree(dir)
assert(fs.mkdir_p(dir))
run({ "cp", "-R", host.root .. "/examples/scx_vtime/.", dir })
fs.remove_tree(dir .. "/build")
local git_env = { "git", "-c", "user.name=schedtest demo",
                  "-c", "user.email=demo@schedtest.invalid",
                  "-c", "commit.gpgsign=false" }
local function git(...)
  local argv = {}
  for _, a in ipairs(git_env) do argv[#argv + 1] = a end
  for _, a in ipairs({ ... }) do argv[#argv + 1] = a end
  run(argv, dir)
end
git("init", "-q", "-b", "main")
git("add", "-A")
git("commit", "-q", "-m", "scx_vtime: weighted vtime, 3 ms slices")
git("checkout", "-q", "-b", "slower")
local suite_path = dir .. "/schedtest.lua"
local text = assert(fs.read_file(suite_path))
local changed, n = text:gsub('args = { "%-%-slice%-us", "3000" }',
                             'args = { "--slice-us", "3000", "--fifo" }')
assert(n == 1, "examples/scx_vtime/schedtest.lua no longer has the " ..
               "expected scheduler arguments")
assert(fs.write_atomic(suite_path, changed))
git("commit", "-q", "-am", "scx_vtime: dispatch FIFO (simpler)")
print("repository " .. dir .. ": main = baseline, slower = HEAD")

-- --fail-threshold 1: the demo has one scenario, and the default policy
-- counts its latency metrics as one family toward the fail threshold.
step("3/4 schedtest perf-delta --noise-adjust %d --kernel %s --fail-threshold 1",
     opts.runs, kernel.version)
local html = dir .. "/perf-delta.html"
local r = assert(proc.run({ host.exe, "perf-delta", "--noise-adjust",
                            tostring(opts.runs), "--kernel", kernel.path,
                            "--fail-threshold", "1", "--html", html },
                          { cwd = dir, env = { PWD = dir } }))
if r.interrupted then error("interrupted!", 0) end

step("4/4 what it means")
local code = r.code or 2
if code == 1 then
  print("perf-delta exited 1: the gate tripped.  The metrics marked " ..
        "REGRESSION above moved\nbeyond their run-to-run spread and past " ..
        "their registry gates — in CI this\nwould fail the pull request.")
elseif code == 0 then
  print("perf-delta exited 0: no confident regression at this number of " ..
        "runs.  Rows\nmarked INCONCLUSIVE (--all-metrics) say how many " ..
        "runs would tell.")
else
  print("perf-delta exited " .. code .. ": an error stopped it (see above).")
end
print("HTML report: " .. html)
print(string.format("demo wall time: %d:%02d", (os.time() - started) // 60,
                    (os.time() - started) % 60))
return code == 1 and 0 or code == 0 and 1 or code
