-- schedtest.calibrate: measure how often a policy is wrong, on synthetic
-- pools where the truth is known.
--
--   local cal = require "schedtest.calibrate"
--   local r = cal.run{ policies = { "ktstr", "schedtest" }, tests = 10,
--                      metrics = 5, n = 5, trials = 200, seed = 1 }
--   r.policies[1].aa.rate, r.policies[1].aa.lo, r.policies[1].aa.hi
--
-- Each trial builds one A/A pool (both sides drawn from the same
-- distributions) and one A/B pool (the same, but `changed` metrics of the
-- first test(s) are worse by `effect` on side B), runs compare.run over each
-- with every policy, and counts: A/A gate failures (false fails), A/B
-- detections of the changed metrics (verdict REGRESSION), and A/B gate
-- failures.  Rates come with 95 % Wilson intervals.

local compare = require "schedtest.compare"
local policy_mod = require "schedtest.policy"

local M = {}

local function normal(rng)
  -- Box-Muller; one value per call is enough here
  local u1, u2 = rng(), rng()
  if u1 < 1e-300 then u1 = 1e-300 end
  return math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2)
end

-- One run's value of a metric with mean `mu`, coefficient of variation `cv`.
local function draw(rng, dist, mu, cv)
  if dist == "lognormal" then
    local s = math.sqrt(math.log(1 + cv * cv))
    return math.exp(math.log(mu) - s * s / 2 + s * normal(rng))
  end
  return mu * (1 + cv * normal(rng))
end

--- 95 % Wilson score interval of k successes in n trials.
function M.wilson(k, n)
  if n == 0 then return 0, 0, 1 end
  local z = 1.959963984540054
  local p = k / n
  local den = 1 + z * z / n
  local centre = (p + z * z / (2 * n)) / den
  local half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
  local lo, hi = math.max(0, centre - half), math.min(1, centre + half)
  if k == 0 then lo = 0 end -- exact ends (rounding leaves ~1e-18)
  if k == n then hi = 1 end
  return p, lo, hi
end

--- Registry for the synthetic metrics: every metric is a lower-is-better
--- Gauge with abs gate 0 and relative gate `rel` (the registry's default
--- for unregistered names is 0.10).
function M.registry(rel)
  local entries = {}
  return {
    lookup = function(name)
      local e = entries[name]
      if not e then
        e = { name = name, polarity = "LowerBetter", kind = "Gauge", gauge = "Avg",
              abs = 0, rel = rel, registered = false }
        entries[name] = e
      end
      return e
    end,
  }
end

-- Per-trial "world": each metric's distribution and CV.
local function world(o, rng)
  local w = {}
  local lo, hi = math.log(o.cv_min), math.log(o.cv_max)
  for t = 1, o.tests do
    for m = 1, o.metrics do
      local idx = (t - 1) * o.metrics + m
      local changed = idx <= o.changed -- the first K metrics, test by test
      local dist = o.dist
      if dist == "mixed" then dist = idx % 2 == 0 and "lognormal" or "normal" end
      w[#w + 1] = {
        test = "t" .. t, name = string.format("m%02d_latency", m),
        dist = dist, mu = 100 * 10 ^ ((idx % 7) - 3), -- magnitudes 0.1 .. 100000
        cv = changed and o.cv or math.exp(lo + (hi - lo) * rng()),
        changed = changed,
      }
    end
  end
  return w
end

local function pool(o, rng, w, effect)
  local rows = {}
  for _, side in ipairs{ "A", "B" } do
    for run = 1, o.n do
      local by_test = {}
      for _, m in ipairs(w) do
        local row = by_test[m.test]
        if not row then
          row = { test = m.test, commit = side, kernel = "6.12", scheduler = "synthetic",
                  topology = "1n1l4c1t", passed = true, skipped = false,
                  inconclusive = false, expected_failure = false, run_id = tostring(run),
                  metrics = {}, perf_delta_assertions = {}, phases = {} }
          by_test[m.test] = row
          rows[#rows + 1] = row
        end
        local mu = m.mu
        if side == "B" and m.changed then mu = mu * (1 + effect) end
        row.metrics[m.name] = draw(rng, m.dist, mu, m.cv)
      end
    end
  end
  return rows
end

local defaults = { tests = 10, metrics = 5, n = 5, trials = 200, seed = 1, effect = 0.10,
                   cv = 0.03, cv_min = 0.01, cv_max = 0.30, changed = 1, dist = "mixed",
                   rel = 0.10, policies = { "ktstr", "schedtest" } }

--- Run the calibration; see the module comment.  Options (all optional):
--- tests, metrics, n, trials, seed, effect (fraction), cv (of the changed
--- metrics), cv_min/cv_max (other metrics, log-uniform), changed, dist
--- ("normal"|"lognormal"|"mixed"), rel, fail_threshold, policies.
function M.run(opts)
  local o = {}
  for k, v in pairs(defaults) do o[k] = v end
  for k, v in pairs(opts or {}) do o[k] = v end
  assert(o.n >= 2, "calibrate: n must be at least 2")
  assert(o.changed <= o.metrics * o.tests, "calibrate: more changed metrics than metrics")
  local seed = o.seed
  local state = { math.randomseed(seed) }
  local rng = math.random
  local registry = M.registry(o.rel)
  local pols = {}
  for i, p in ipairs(o.policies) do
    local pol = policy_mod.load(p)
    pols[i] = { policy = pol, name = pol.name, aa_fail = 0, ab_fail = 0, detected = 0,
                changed_total = 0, aa_false_regs = 0, aa_inconclusive = 0 }
  end
  for _ = 1, o.trials do
    local w = world(o, rng)
    local changed = {}
    for _, m in ipairs(w) do if m.changed then changed[m.test .. "/" .. m.name] = true end end
    local aa = pool(o, rng, w, 0)
    local ab = pool(o, rng, w, o.effect)
    for _, p in ipairs(pols) do
      local common = { registry = registry, policy = p.policy, a = "A", b = "B",
                       mode = "noise", fail_threshold = o.fail_threshold }
      common.rows = aa
      local r = compare.run(common)
      if r.gate.fails then p.aa_fail = p.aa_fail + 1 end
      p.aa_false_regs = p.aa_false_regs + r.totals.regressions
      p.aa_inconclusive = p.aa_inconclusive + r.totals.inconclusive
      common.rows = ab
      r = compare.run(common)
      if r.gate.fails then p.ab_fail = p.ab_fail + 1 end
      for _, row in ipairs(r.rows) do
        if changed[row.test .. "/" .. row.metric] then
          p.changed_total = p.changed_total + 1
          if row.verdict == compare.REGRESSION then p.detected = p.detected + 1 end
        end
      end
    end
  end
  local out = { options = o, policies = {}, state = state }
  for _, p in ipairs(pols) do
    local aa, aa_lo, aa_hi = M.wilson(p.aa_fail, o.trials)
    local det, det_lo, det_hi = M.wilson(p.detected, p.changed_total)
    local gd, gd_lo, gd_hi = M.wilson(p.ab_fail, o.trials)
    out.policies[#out.policies + 1] = {
      name = p.name,
      aa = { rate = aa, lo = aa_lo, hi = aa_hi, count = p.aa_fail },
      detection = { rate = det, lo = det_lo, hi = det_hi, count = p.detected, of = p.changed_total },
      ab_gate = { rate = gd, lo = gd_lo, hi = gd_hi, count = p.ab_fail },
      aa_false_regressions = p.aa_false_regs / o.trials,
      aa_inconclusive = p.aa_inconclusive / o.trials,
    }
  end
  return out
end

return M
