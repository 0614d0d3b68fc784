-- schedtest.calibrate and `schedtest calibrate`, kept small (a few dozen
-- simulated comparisons); the full measurements are in docs/policies.md.
local cal = require "schedtest.calibrate"
local sh = require "helpers.sh"

describe("schedtest.calibrate", function()
  it("Wilson intervals bracket the rate", function()
    local p, lo, hi = cal.wilson(5, 100)
    assert.are.equal(0.05, p)
    assert.is_true(lo > 0.015 and lo < 0.05 and hi > 0.05 and hi < 0.12)
    local _, lo0, hi0 = cal.wilson(0, 50)
    assert.are.equal(0, lo0)
    assert.is_true(hi0 > 0.05 and hi0 < 0.1)
  end)

  it("is reproducible and separates a large change from none", function()
    local opts = { tests = 2, metrics = 3, n = 5, trials = 15, seed = 7, effect = 0.5 }
    local r1, r2 = cal.run(opts), cal.run(opts)
    for i, p in ipairs(r1.policies) do
      assert.are.same(p, r2.policies[i])
      assert.are.equal(0, p.aa.count)            -- 6 metrics cannot reach 5 false regressions here
      assert.are.equal(15, p.detection.of)
    end
    local by = {}
    for _, p in ipairs(r1.policies) do by[p.name] = p end
    assert.are.equal(1, by.schedtest.detection.rate) -- +50 % at CV 3 %
  end)

  it("the default policy beats ktstr on a change at the gate", function()
    local r = cal.run{ tests = 2, metrics = 3, trials = 30, seed = 3, effect = 0.10 }
    local by = {}
    for _, p in ipairs(r.policies) do by[p.name] = p end
    assert.is_true(by.schedtest.detection.rate >= by.ktstr.detection.rate)
    assert.is_true(by.schedtest.detection.rate >= 0.8)
  end)
end)

describe("schedtest calibrate", function()
  it("prints one line per policy with intervals", function()
    local r = sh.run{ sh.schedtest, "calibrate", "--trials", "5", "--tests", "2", "--metrics", "2" }
    assert.are.equal(0, r.code, r.err)
    assert.matches("ktstr%s+%d+%.%d%% %[", r.out)
    assert.matches("schedtest%s+%d+%.%d%% %[", r.out)
  end)

  it("rejects a bad option with exit status 2", function()
    local r = sh.run{ sh.schedtest, "calibrate", "--n", "1" }
    assert.are.equal(2, r.code)
    r = sh.run{ sh.schedtest, "calibrate", "--policy", "nope", "--trials", "1" }
    assert.are_not.equal(0, r.code)
    assert.matches("unknown policy", r.err)
  end)
end)
