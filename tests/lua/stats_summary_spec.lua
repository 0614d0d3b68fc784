-- Bare `schedtest stats`: the newest run analysed against the pool.
local sidecar = require "schedtest.sidecar"
local fs = require "schedtest.fs"
local sh = require "helpers.sh"
local S = require "helpers.sidecars"

local function stats(args, env)
  local argv = { "stats" }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  return sh.schedtest_run(argv, { env = env })
end

describe("schedtest stats (no command)", function()
  local tmp, env
  setup(function()
    tmp = assert(fs.tempdir("st-stats-run-"))
    env = { SCHEDTEST_RUNS_ROOT = tmp }
    -- four earlier runs: p99 wake latency 50.5, 51, 51.5, 52 us
    for k = 1, 4 do
      local t = S.make { project_commit = "h" .. k }
      t.stats.worst_p99_wake_latency_us = 50 + k * 0.5
      assert(sidecar.write(t, { runs_root = tmp }))
      os.execute(string.format("touch -d '2020-01-0%d' %s", k,
                               sh.quote(tmp .. "/6.12.9-h" .. k)))
    end
    -- the newest run: the same test three times slower, and a failure
    local t = S.make { project_commit = "new1" }
    t.stats.worst_p99_wake_latency_us = 150
    t.verifier_stats = { { name = "vtime_enqueue", verified_insns = 1234 } }
    assert(sidecar.write(t, { runs_root = tmp }))
    local f = S.make { project_commit = "new1", test_name = "broken",
                       passed = false }
    f.failure_reasons = { "stall: cpu 1 ran nothing for 2.0 s" }
    assert(sidecar.write(f, { runs_root = tmp }))
  end)
  teardown(function() fs.remove_tree(tmp) end)

  it("analyses the newest run: results, failures, outliers, verifier", function()
    local r = stats({}, env)
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.out:find("run 6.12.9-new1: 2 sidecar(s)", 1, true), r.out)
    assert.truthy(r.out:find("1 passed, 1 failed", 1, true), r.out)
    assert.truthy(r.out:find("\nbroken%s+scx_demo%s+1n2l4c1t%s+FAIL"), r.out)
    assert.truthy(r.out:find("failures:\n  broken (1n2l4c1t): stall: cpu 1 "
                             .. "ran nothing for 2.0 s", 1, true), r.out)
    assert.truthy(r.out:find("sched_perf_positive%s+1n2l4c1t%s+"
      .. "worst_p99_wake_latency_us%s+150 µs%s+51%.25 µs %(4%)%s+%+192%.7%% worse"),
      r.out)
    assert.truthy(r.out:find("\n  scx_demo%s+vtime_enqueue%s+1234\n"), r.out)
  end)

  it("--json holds the same analysis, one outlier and its history", function()
    local r = stats({ "--json" }, env)
    assert.are.equal(0, r.code, r.err)
    local j = assert(sidecar.decode(r.out))
    assert.are.equal("schedtest.stats-run/1", j.schema)
    assert.are.equal("6.12.9-new1", j.run)
    assert.are.same({ pass = 1, fail = 1, skip = 0, inconclusive = 0,
                      xfail = 0 }, j.counts)
    -- every other metric equals its history exactly: only p99 is unusual
    assert.are.equal(1, #j.outliers)
    local o = j.outliers[1]
    assert.are.equal("worst_p99_wake_latency_us", o.metric)
    assert.are.equal("worse", o.direction)
    assert.are.equal(4, o.history)
    assert.are.equal(51.25, o.median)
    assert.are.equal(0.5, o.mad)
    assert.near((150 - 51.25) / (1.4826 * 0.5), o.z, 1e-9)
    assert.are.equal("fail", j.tests[1].status)
    assert.are.same({ "stall: cpu 1 ran nothing for 2.0 s" }, j.tests[1].reasons)
    assert.are.same({ { test = "sched_perf_positive", scheduler = "scx_demo",
                        name = "vtime_enqueue", verified_insns = 1234 } },
                    j.verifier)
  end)

  it("--run picks another run; the sidecar directory variable one directory", function()
    local r = stats({ "--run", "6.12.9-h2", "--json" }, env)
    assert.are.equal(0, r.code, r.err)
    local j = assert(sidecar.decode(r.out))
    assert.are.equal("6.12.9-h2", j.run)
    assert.are.equal(0, #j.outliers) -- 51 is the middle of its history
    r = stats({}, { SCHEDTEST_SIDECAR_DIR = tmp .. "/6.12.9-h1/" })
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.out:find("run 6.12.9-h1: 1 sidecar(s)", 1, true), r.out)
    assert.truthy(r.out:find("outliers: none", 1, true), r.out)
  end)

  it("exits 2 with a clear message when there is no run", function()
    local r = stats({ "--run", "nope" }, env)
    assert.are.equal(2, r.code)
    assert.truthy(r.err:find("run nope has no sidecars under", 1, true), r.err)
    local empty = assert(fs.tempdir("st-stats-empty-"))
    r = stats({}, { SCHEDTEST_RUNS_ROOT = empty })
    assert.are.equal(2, r.code)
    assert.truthy(r.err:find("no sidecars under", 1, true), r.err)
    fs.remove_tree(empty)
    r = stats { "--help" }
    assert.are.equal(0, r.code)
    assert.truthy(r.out:find("without a command", 1, true) or
                  r.out:find("Without a command", 1, true), r.out)
  end)
end)
