-- What check(result) functions get: phase comparisons that follow the
-- registry's polarity and never pass on missing data.
local result = require "schedtest.result"

local function run_with(phases)
  return result.new({ stats = { worst_gap_ms = 12, phases = phases } })
end

local PHASES = {
  { step_index = 0, label = "BASELINE",
    metrics = { worst_p99_wake_latency_us = 100, total_iterations = 1000,
                total_hardirqs = 5 } },
  { step_index = 1, label = "Step[0]",
    metrics = { worst_p99_wake_latency_us = 80, total_iterations = 1050,
                total_hardirqs = 9 } },
}

describe("schedtest.result", function()
  it("reads whole-run and per-phase metrics", function()
    local r = run_with(PHASES)
    assert.are.equal(12, r:metric("worst_gap_ms"))
    assert.are.equal(80, r:phase_metric(1, "worst_p99_wake_latency_us"))
    assert.are.equal(1000, r:phase_metric("BASELINE", "total_iterations"))
    assert.is_nil(r:phase_metric(7, "total_iterations"))
  end)

  it("follows polarity: lower latency and higher throughput are better",
     function()
    local r = run_with(PHASES)
    local lat = r:better_across_phases(0, 1, "worst_p99_wake_latency_us")
    assert.are.equal("pass", lat:better_than().status)
    assert.are.equal("pass", lat:by_at_least(0.20).status) -- exactly 20 %
    local v = lat:by_at_least(0.25)
    assert.are.equal("fail", v.status)
    assert.matches("+20.0% better, wanted at least 25.0%", v.reason, 1, true)
    local thr = r:better_across_phases("BASELINE", "Step[0]",
                                       "total_iterations")
    assert.are.equal("pass", thr:by_at_least(0.05).status)
    assert.are.equal("fail", thr:by_at_least(0.06).status)
    -- reversed: the baseline phase is better, so "better than" fails
    assert.are.equal("fail", r:better_across_phases(1, 0,
      "worst_p99_wake_latency_us"):better_than().status)
  end)

  it("is inconclusive on missing phases, values and directions", function()
    local r = run_with(PHASES)
    local v = r:better_across_phases(0, 2, "total_iterations"):better_than()
    assert.are.equal("inconclusive", v.status)
    assert.matches("phase 2 is missing", v.reason, 1, true)
    v = r:better_across_phases(0, 1, "worst_gap_ms"):better_than()
    assert.are.equal("inconclusive", v.status)
    v = r:better_across_phases(0, 1, "total_hardirqs"):better_than()
    assert.are.equal("inconclusive", v.status)
    assert.matches("no better direction", v.reason, 1, true)
  end)

  it("fails on non-finite values; zero baseline with a margin is "
     .. "inconclusive", function()
    local r = run_with({
      { step_index = 0, metrics = { total_iterations = 0,
                                    worst_p99_wake_latency_us = 0 / 0 } },
      { step_index = 1, metrics = { total_iterations = 10,
                                    worst_p99_wake_latency_us = 5 } } })
    assert.are.equal("fail", r:better_across_phases(0, 1,
      "worst_p99_wake_latency_us"):better_than().status)
    assert.are.equal("inconclusive", r:better_across_phases(0, 1,
      "total_iterations"):by_at_least(0.1).status)
    assert.are.equal("pass", r:better_across_phases(0, 1,
      "total_iterations"):better_than().status)
  end)

  it("turns check return values into an outcome", function()
    local r = run_with(PHASES)
    local good = r:better_across_phases(0, 1, "total_iterations"):better_than()
    local bad = r:better_across_phases(0, 1, "total_iterations")
                 :by_at_least(0.5)
    local unsure = r:better_across_phases(0, 3, "total_iterations")
                    :better_than()
    assert.are.equal("pass", (result.outcome()))
    assert.are.equal("pass", (result.outcome(true)))
    assert.are.same({ "fail", { "too slow" } },
                    { result.outcome(false, "too slow") })
    assert.are.equal("fail", (result.outcome("plain reason")))
    assert.are.equal("pass", (result.outcome(good)))
    assert.are.equal("fail", (result.outcome({ good, bad, unsure })))
    assert.are.equal("inconclusive", (result.outcome({ good, unsure })))
    assert.are.equal("fail", (result.outcome(42)))
  end)

  it("rejects a negative margin", function()
    assert.has_error(function()
      run_with(PHASES):better_across_phases(0, 1, "total_iterations")
        :by_at_least(-1)
    end)
  end)
end)
