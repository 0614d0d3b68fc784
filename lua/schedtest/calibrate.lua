-- schedtest.calibrate: measure how often a policy is wrong, on synthetic
-- pools where the truth is known.
--
--   local cal = require "schedtest.calibrate"
--   local r = cal.run{ policies = { "ktstr", "schedtest" }, tests = 10,
--                      metrics = 5, n = 5, trials = 200, seed = 1,
--                      effects = { 0.5, 1, 1.5, 2 } }      -- x the gate
--   r.policies[2].aa.rate, r.policies[2].false_rows.rate,
--   r.policies[2].detection[3].rate                        -- at 1.5 x the gate
--
-- Each trial builds one A/A pool (both sides drawn from the same
-- distributions) and, per effect, one A/B pool (the same, but the
-- `changed` metrics of the first test are worse by the effect on side B),
-- runs compare.run over each with every policy, and counts: A/A gate
-- failures (false fails), false REGRESSION rows per A/A comparison, and
-- per effect the share of trials whose first changed metric is called
-- REGRESSION.  Rates carry 95 % Wilson intervals; the false rows per
-- comparison an exact Poisson interval widened by the observed
-- over-dispersion (false rows cluster when metrics move together).
--
-- Run-to-run shapes (`dist`): normal, lognormal, mixed (alternating), and
-- bimodal — TCG's per-boot modes: each boot (one test run) is 1.6x slower
-- in all its metrics with probability 1/3.  `outliers` adds outlier boots
-- (3x) with that probability.  `correlated` groups the metrics of a test
-- into registry families of `family_size` that share most of their noise
-- (derived metrics), and a change moves the whole family of the first
-- changed metric.  `paired` gives rows a `round` and a drift per round
-- that both sides share (`round_cv`).  `sequential = { first =, max = }`
-- runs --noise-adjust auto: looks at schedtest.sequential's plan, stopping
-- by its rule, and reports the runs per side used.

local compare = require "schedtest.compare"
local policy_mod = require "schedtest.policy"
local sequential = require "schedtest.sequential"

local math, string, table = math, string, table
local ipairs, pairs, assert, tonumber = ipairs, pairs, assert, tonumber

local M = {}

local function normal(rng)
  -- Box-Muller; one value per call is enough here
  local u1, u2 = rng(), rng()
  if u1 < 1e-300 then u1 = 1e-300 end
  return math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2)
end

-- Noise factor of one run with coefficient of variation `cv`, from a
-- standard normal z.
local function noise(dist, cv, z)
  if dist == "lognormal" then
    local s = math.sqrt(math.log(1 + cv * cv))
    return math.exp(-s * s / 2 + s * z)
  end
  return 1 + cv * z
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

-- P(Poisson(lambda) <= c), summed in log space.
local function poisson_cdf(c, lambda)
  if lambda <= 0 then return 1 end
  local s, lt = 0, -lambda
  for i = 0, c do
    if i > 0 then lt = lt + math.log(lambda) - math.log(i) end
    s = s + math.exp(lt)
  end
  return math.min(1, s)
end

-- lambda where f(lambda) crosses target (f falls with lambda), bisection.
local function solve_lambda(f, target, hi)
  local lo = 0
  for _ = 1, 200 do
    local mid = (lo + hi) / 2
    if f(mid) > target then lo = mid else hi = mid end
  end
  return (lo + hi) / 2
end

--- Mean count per trial with a 95 % interval: exact Poisson on the total
--- `c` over `n` trials, widened by the dispersion phi = var/mean of the
--- per-trial counts (>= 1; `sumsq` is the sum of their squares) when the
--- counts cluster.
function M.rate_interval(c, n, sumsq)
  if n == 0 then return 0, 0, 0 end
  local mean = c / n
  local phi = 1
  if c > 0 and n > 1 and sumsq then
    local var = (sumsq - n * mean * mean) / (n - 1)
    phi = math.max(1, var / mean)
  end
  -- the effective number of independent events
  local ce = c > 0 and math.max(1, math.floor(c / phi + 0.5)) or 0
  local top = 10 * (ce + 10)
  local lo = 0
  if ce > 0 then
    lo = solve_lambda(function(l) return poisson_cdf(ce - 1, l) end, 0.975, top)
  end
  local hi = solve_lambda(function(l) return poisson_cdf(ce, l) end, 0.025, top)
  local scale = ce > 0 and c / ce or phi -- back to counts
  return mean, lo * scale / n, hi * scale / n
end

--- Registry for the synthetic metrics: every metric is a lower-is-better
--- Gauge with abs gate 0 and relative gate `rel` (the registry's default
--- for unregistered names is 0.10); with `family_size`, metrics mNN fall
--- into families of that size.
function M.registry(rel, family_size)
  local entries = {}
  return {
    lookup = function(name)
      local e = entries[name]
      if not e then
        e = { name = name, polarity = "LowerBetter", kind = "Gauge", gauge = "Avg",
              abs = 0, rel = rel, registered = false }
        local m = tonumber(name:match("^m(%d+)_"))
        if family_size and m then e.family = "f" .. ((m - 1) // family_size + 1) end
        entries[name] = e
      end
      return e
    end,
  }
end

-- Per-trial "world": each metric's distribution, magnitude and CV.
local function world(o, rng)
  local w = {}
  local lo, hi = math.log(o.cv_min), math.log(o.cv_max)
  local fsize = o.correlated and o.family_size or 1
  for t = 1, o.tests do
    for m = 1, o.metrics do
      local idx = (t - 1) * o.metrics + m
      -- the first K metrics, test by test; correlated: their whole family
      local changed = idx <= o.changed
      if o.correlated and t == 1 then changed = (m - 1) // fsize < math.ceil(o.changed / fsize) end
      local dist = o.dist
      if dist == "mixed" or dist == "bimodal" then dist = idx % 2 == 0 and "lognormal" or "normal" end
      w[#w + 1] = {
        test = "t" .. t, name = string.format("m%02d_latency", m),
        family = (m - 1) // fsize,
        dist = dist, mu = 100 * 10 ^ ((idx % 7) - 3), -- magnitudes 0.1 .. 100000
        cv = changed and o.cv or math.exp(lo + (hi - lo) * rng()),
        changed = changed,
      }
    end
  end
  return w
end

-- Factors one boot (a test run) applies to all its metrics.
local function boot_factor(o, rng)
  local f = 1
  if o.dist == "bimodal" and rng() < 1 / 3 then f = f * 1.6 end
  if o.outliers > 0 and rng() < o.outliers then f = f * 3 end
  return f
end

-- Rows of a pool with `runs` runs per side; side B's changed metrics are
-- worse by `effect` (a fraction).  Rows are in run order, each carrying
-- its run index (and its round when paired).
local function pool(o, rng, w, effect, runs)
  local drift = {}
  for r = 1, runs do drift[r] = o.paired and math.exp(o.round_cv * normal(rng)) or 1 end
  local rows = {}
  for run = 1, runs do
    for _, side in ipairs{ "A", "B" } do
      local by_test, shared = {}, {}
      for _, m in ipairs(w) do
        local row = by_test[m.test]
        if not row then
          row = { test = m.test, commit = side, kernel = "6.12", scheduler = "synthetic",
                  topology = "1n1l4c1t", passed = true, skipped = false,
                  inconclusive = false, expected_failure = false, run_id = tostring(run),
                  run = run, round = o.paired and run or nil,
                  metrics = {}, perf_delta_assertions = {}, phases = {} }
          row.boot = boot_factor(o, rng) * drift[run]
          by_test[m.test] = row
          rows[#rows + 1] = row
        end
        local z = normal(rng)
        if o.correlated then
          local key = m.test .. "/" .. m.family
          shared[key] = shared[key] or normal(rng)
          z = o.rho * shared[key] + math.sqrt(1 - o.rho * o.rho) * z
        end
        local mu = m.mu
        if side == "B" and m.changed then mu = mu * (1 + effect) end
        row.metrics[m.name] = mu * row.boot * noise(m.dist, m.cv, z)
      end
    end
  end
  return rows
end

local function first_runs(rows, n)
  local out = {}
  for _, r in ipairs(rows) do if r.run <= n then out[#out + 1] = r end end
  return out
end

-- compare.run over one pool, fixed N or sequential.  Returns the result
-- and the runs per side it used.
local function judge(o, p, rows, registry)
  local common = { registry = registry, policy = p.policy, a = "A", b = "B", mode = "noise",
                   fail_threshold = o.fail_threshold }
  if not o.plan then
    common.rows = rows
    return compare.run(common), o.n
  end
  local n, previous = o.plan.looks[1], nil
  while true do
    common.rows = first_runs(rows, n)
    common.sequential = { plan = o.plan, runs = n, previous = previous }
    local r = compare.run(common)
    local d = sequential.decide(o.plan, r)
    if d.stop then return r, n end
    n, previous = d.next, r
  end
end

local defaults = { tests = 10, metrics = 5, n = 5, trials = 200, seed = 1,
                   cv = 0.03, cv_min = 0.01, cv_max = 0.30, changed = 1, dist = "mixed",
                   rel = 0.10, outliers = 0, correlated = false, family_size = 3, rho = 0.9,
                   paired = false, round_cv = 0.03, policies = { "ktstr", "schedtest" } }

local function options(opts)
  local o = {}
  for k, v in pairs(defaults) do o[k] = v end
  for k, v in pairs(opts or {}) do o[k] = v end
  if not o.effects then
    -- a single change given as a fraction (legacy `effect`), else the
    -- multiples of the gate the goals are stated at
    o.effects = o.effect and { o.effect / o.rel } or { 0.5, 1, 1.5, 2 }
  end
  if o.sequential then
    o.plan = sequential.plan{ first = o.sequential.first or 5, max = o.sequential.max or 20 }
    o.runs = o.plan.max
  else
    o.runs = o.n
  end
  assert(o.n >= 2, "calibrate: n must be at least 2")
  assert(o.changed <= o.metrics * o.tests, "calibrate: more changed metrics than metrics")
  return o
end

local function new_tally(o, pol)
  local t = { policy = pol, name = pol.name, aa_fail = 0, aa_rows = 0, aa_rows_sq = 0,
              aa_inconclusive = 0, aa_runs = 0, detection = {}, gate = {}, ab_runs = {} }
  for i = 1, #o.effects do t.detection[i], t.gate[i], t.ab_runs[i] = 0, 0, 0 end
  return t
end

-- The first changed metric's verdict in an A/B result.
local function first_changed(r, w)
  local want
  for _, m in ipairs(w) do if m.changed then want = m; break end end
  for _, row in ipairs(r.rows) do
    if row.test == want.test and row.metric == want.name then return row.verdict end
  end
end

local function summarize(o, t)
  local out = { name = t.name }
  local aa, lo, hi = M.wilson(t.aa_fail, o.trials)
  out.aa = { rate = aa, lo = lo, hi = hi, count = t.aa_fail }
  local fr, flo, fhi = M.rate_interval(t.aa_rows, o.trials, t.aa_rows_sq)
  out.false_rows = { rate = fr, lo = flo, hi = fhi, count = t.aa_rows }
  out.aa_false_regressions = fr
  out.aa_inconclusive = t.aa_inconclusive / o.trials
  out.aa_runs = t.aa_runs / o.trials
  out.detection, out.ab_gate = {}, {}
  for i, e in ipairs(o.effects) do
    local d, dlo, dhi = M.wilson(t.detection[i], o.trials)
    out.detection[i] = { effect = e, rate = d, lo = dlo, hi = dhi, count = t.detection[i],
                         of = o.trials, runs = t.ab_runs[i] / o.trials }
    local g, glo, ghi = M.wilson(t.gate[i], o.trials)
    out.ab_gate[i] = { effect = e, rate = g, lo = glo, hi = ghi, count = t.gate[i] }
  end
  return out
end

--- Run the calibration; see the module comment.  Options (all optional):
--- tests, metrics, n, trials, seed, effects (multiples of the gate) or
--- effect (one fraction), cv (of the changed metrics), cv_min/cv_max
--- (other metrics, log-uniform), changed, dist ("normal"|"lognormal"|
--- "mixed"|"bimodal"), outliers, correlated, family_size, rho, paired,
--- round_cv, sequential {first, max}, rel, fail_threshold, policies.
function M.run(opts)
  local o = options(opts)
  local state = { math.randomseed(o.seed) }
  local rng = math.random
  local registry = M.registry(o.rel, o.correlated and o.family_size or nil)
  local tallies = {}
  for i, p in ipairs(o.policies) do tallies[i] = new_tally(o, policy_mod.load(p)) end
  for _ = 1, o.trials do
    local w = world(o, rng)
    local aa = pool(o, rng, w, 0, o.runs)
    local ab = {}
    for i, e in ipairs(o.effects) do ab[i] = pool(o, rng, w, e * o.rel, o.runs) end
    for _, t in ipairs(tallies) do
      local r, runs = judge(o, t, aa, registry)
      if r.gate.fails then t.aa_fail = t.aa_fail + 1 end
      local regs = r.totals.regressions
      t.aa_rows, t.aa_rows_sq = t.aa_rows + regs, t.aa_rows_sq + regs * regs
      t.aa_inconclusive = t.aa_inconclusive + r.totals.inconclusive
      t.aa_runs = t.aa_runs + runs
      for i = 1, #o.effects do
        local rb, runs_b = judge(o, t, ab[i], registry)
        if first_changed(rb, w) == compare.REGRESSION then t.detection[i] = t.detection[i] + 1 end
        if rb.gate.fails then t.gate[i] = t.gate[i] + 1 end
        t.ab_runs[i] = t.ab_runs[i] + runs_b
      end
    end
  end
  local out = { options = o, policies = {}, state = state }
  for _, t in ipairs(tallies) do out.policies[#out.policies + 1] = summarize(o, t) end
  return out
end

return M
