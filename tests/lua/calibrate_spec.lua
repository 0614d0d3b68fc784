-- schedtest.calibrate and `schedtest calibrate`, kept small (a few dozen
-- simulated comparisons); the full measurements are in docs/policies.md.
local cal = require "schedtest.calibrate"
local sh = require "helpers.sh"

local function by_name(r)
  local out = {}
  for _, p in ipairs(r.policies) do out[p.name] = p end
  return out
end

describe("schedtest.calibrate", function()
  it("Wilson intervals bracket the rate", function()
    local p, lo, hi = cal.wilson(5, 100)
    assert.are.equal(0.05, p)
    assert.is_true(lo > 0.015 and lo < 0.05 and hi > 0.05 and hi < 0.12)
    local _, lo0, hi0 = cal.wilson(0, 50)
    assert.are.equal(0, lo0)
    assert.is_true(hi0 > 0.05 and hi0 < 0.1)
  end)

  it("Poisson intervals of a mean count, widened when counts cluster", function()
    -- 0 events in 100 trials: the upper bound is -ln(0.025)/100
    local m, lo, hi = cal.rate_interval(0, 100, 0)
    assert.are.equal(0, m); assert.are.equal(0, lo)
    assert.is_true(math.abs(hi - 3.689 / 100) < 1e-3)
    -- 10 events in 100 trials: exact Poisson [4.795, 18.39] / 100
    m, lo, hi = cal.rate_interval(10, 100, 10)
    assert.are.equal(0.1, m)
    assert.is_true(math.abs(lo - 0.04795) < 1e-4 and math.abs(hi - 0.1839) < 1e-3)
    -- the same 10 events in two clusters of 5: a wider interval
    local _, lo2, hi2 = cal.rate_interval(10, 100, 50)
    assert.is_true(lo2 < lo and hi2 > hi)
  end)

  it("is reproducible and separates a large change from none", function()
    local opts = { tests = 2, metrics = 3, n = 5, trials = 15, seed = 7, effects = { 5 } }
    local r1, r2 = cal.run(opts), cal.run(opts)
    for i, p in ipairs(r1.policies) do
      assert.are.same(p, r2.policies[i])
      assert.are.equal(0, p.aa.count)            -- 6 metrics cannot reach 5 false regressions here
      assert.are.equal(15, p.detection[1].of)
    end
    assert.are.equal(1, by_name(r1).schedtest.detection[1].rate) -- +50 % at CV 3 %
  end)

  it("the default policy keeps the gate's promise at half and 1.5 x the gate", function()
    local r = by_name(cal.run{ tests = 3, metrics = 3, trials = 40, seed = 3,
                               effects = { 0.5, 1.5 } })
    assert.is_true(r.schedtest.detection[1].rate <= 0.05)   -- half the gate
    assert.is_true(r.schedtest.detection[2].rate >= 0.9)    -- 1.5 x the gate, CV 3 %, N = 5
  end)

  it("simulates bimodal, correlated, paired and sequential pools", function()
    for _, extra in ipairs{ { dist = "bimodal", outliers = 0.05 }, { correlated = true },
                            { paired = true }, { sequential = { first = 3, max = 6 } } } do
      local opts = { tests = 2, metrics = 3, trials = 5, seed = 2, effects = { 3 } }
      for k, v in pairs(extra) do opts[k] = v end
      local r = by_name(cal.run(opts))
      assert.are.equal(5, r.schedtest.detection[1].of)
      assert.is_number(r.schedtest.false_rows.rate)
      if extra.sequential then
        assert.is_true(r.schedtest.aa_runs >= 3 and r.schedtest.aa_runs <= 6)
        assert.are.equal(3, r.ktstr.aa_runs) -- ktstr never says INCONCLUSIVE: first look
      end
    end
  end)

  it("correlated metrics fall into registry families", function()
    local reg = cal.registry(0.1, 3)
    assert.are.equal("f1", reg.lookup("m03_latency").family)
    assert.are.equal("f2", reg.lookup("m04_latency").family)
    assert.is_nil(cal.registry(0.1).lookup("m04_latency").family)
  end)
end)

describe("schedtest calibrate", function()
  it("prints one line per policy with intervals", function()
    local r = sh.run{ sh.schedtest, "calibrate", "--trials", "5", "--tests", "2", "--metrics", "2" }
    assert.are.equal(0, r.code, r.err)
    assert.matches("DETECTED 0.5x", r.out, 1, true)
    assert.matches("DETECTED 2x", r.out, 1, true)
    assert.matches("ktstr%s+%d+%.%d%% %[", r.out)
    assert.matches("schedtest%s+%d+%.%d%% %[", r.out)
    r = sh.run{ sh.schedtest, "calibrate", "--trials", "3", "--tests", "2", "--metrics", "2",
                "--auto", "3:6", "--dist", "bimodal", "--paired", "--correlated" }
    assert.are.equal(0, r.code, r.err)
    assert.matches("auto: looks at 3,6 runs per side", r.out, 1, true)
    assert.matches("RUNS/SIDE", r.out, 1, true)
  end)

  it("rejects a bad option with exit status 2", function()
    local r = sh.run{ sh.schedtest, "calibrate", "--n", "1" }
    assert.are.equal(2, r.code)
    r = sh.run{ sh.schedtest, "calibrate", "--auto", "9:4" }
    assert.are.equal(2, r.code)
    r = sh.run{ sh.schedtest, "calibrate", "--policy", "nope", "--trials", "1" }
    assert.are_not.equal(0, r.code)
    assert.matches("unknown policy", r.err)
  end)
end)
