-- bench_clock.lua: metric noise per clock (run by bench_clock.sh).
--
-- Each round runs `schedtest test --perf-only` on a copy of
-- examples/scx_vtime twice, once per clock (order alternating by round,
-- so host-load drift falls on both), each into a directory of its own.
-- The figure per test and metric: CV over the rounds, host vs virtual,
-- and their ratio (virtual / host; below 1 means the virtual clock sees
-- smaller changes).
local fs = require "schedtest.fs"
local proc = require "schedtest.proc"
local host = require "schedtest.host"
local pool_mod = require "schedtest.pool"
local stats = require "schedtest.stats"

local N = tonumber(os.getenv("BENCH_CLOCK_N") or "") or 10
local HEADLINE = { "worst_median_wake_latency_us", "worst_p99_wake_latency_us",
                   "iteration_rate", "worst_mean_run_delay_us",
                   "worst_gap_ms" }

local function sh(cmd)
  assert(os.execute(cmd), "command failed: " .. cmd)
end

local tmp = assert(fs.tempdir("bench-clock-"))
local project = tmp .. "/scx_vtime"
sh("cp -R examples/scx_vtime " .. project .. " && rm -rf " .. project ..
   "/build " .. project .. "/target")

local clocks = { "host", "virtual" }
local started = os.time()
for round = 1, N do
  local order = round % 2 == 1 and { 1, 2 } or { 2, 1 }
  for _, c in ipairs(order) do
    local clock = clocks[c]
    local dir = string.format("%s/runs/%s-%02d", tmp, clock, round)
    assert(fs.mkdir_p(dir))
    local argv = { host.exe, "test", "--kernel", "built", "--perf-only",
                   "--clock", clock, "--seed", tostring(1000 + round) }
    if round > 1 or c ~= order[1] then argv[#argv + 1] = "--no-build" end
    local r = assert(proc.run(argv, { cwd = project, stdout = tmp .. "/log",
      stderr = "stdout", env = { PWD = project,
                                 SCHEDTEST_SIDECAR_DIR = dir } }))
    if not r.ok then
      io.stderr:write(fs.read_file(tmp .. "/log") or "", "\n")
      error(("bench_clock: schedtest test --clock %s failed (round %d)")
            :format(clock, round))
    end
  end
  io.stderr:write(("bench_clock: round %d/%d done (%ds)\n"):format(round, N,
                  os.time() - started))
end

local pool = assert(pool_mod.open(tmp .. "/runs"))
local function cv_of(view, metric)
  local vals = {}
  for _, v in ipairs((view:metric(metric))) do
    if v == v then vals[#vals + 1] = v end
  end
  if #vals < 2 then return nil end
  local d = assert(stats.describe(vals))
  return d.cv and d.cv * 100, #vals
end

print(("%-22s %-30s %10s %10s %8s"):format("test", "metric", "host CV",
      "virtual CV", "ratio"))
for _, test in ipairs(pool:values("test")) do
  for _, metric in ipairs(HEADLINE) do
    local byclock = {}
    for _, clock in ipairs(clocks) do
      local view = pool:filter{ test = test, run_dir = function(d)
        return tostring(d):match("^" .. clock .. "%-") ~= nil end }
      byclock[clock] = cv_of(view, metric)
    end
    if byclock.host and byclock.virtual then
      print(("%-22s %-30s %9.2f%% %9.2f%% %8s"):format(test, metric,
        byclock.host, byclock.virtual, byclock.host > 0 and
        ("%.3f"):format(byclock.virtual / byclock.host) or "-"))
    end
  end
end
print(("(%d rounds per clock, %ds)"):format(N, os.time() - started))
fs.remove_tree(tmp)
