-- The default policy of schedtest.  Same metrics, gates, verdict words,
-- fail threshold, must-fail and declared gates as the ktstr rule; what it
-- changes is what a REGRESSION promises, measured by `schedtest
-- calibrate` (docs/policies.md):
--
--  1. A REGRESSION is a change that is worse by at least the gate, not an
--     immaterial change whose interval happens to reach it.  A row is a
--     REGRESSION when all three hold:
--       a. the evidence test says B is worse, one-sided, at the per-row
--          level of the error control (below);
--       b. the one-sided bound at `immaterial_alpha` (5 %) says the change
--          is worse than `immaterial` (half) x the gate — so a true change
--          of half the gate is called REGRESSION at most 5 % of the time,
--          at any spread and any number of runs;
--       c. the robust estimate of the change reaches the gate (ktstr's
--          point-estimate materiality, on a location one outlier boot
--          cannot drag).
--  2. False REGRESSION rows are bounded, not only the gate: the expected
--     number of false REGRESSION rows per comparison is at most
--     `false_rows` (0.05), whatever the dependence between metrics, and a
--     count gate of k families fails falsely at most `false_fail` (1 %)
--     of the time (adjust = "pfer", see compare.error_control).  Derived
--     or duplicate metrics (a registry `family`) count once toward the
--     fail threshold (`count = "families"`); the report shows every row.
--  3. When the data cannot tell — not a REGRESSION, but the bound at
--     `immaterial_alpha` still reaches the gate — the row is INCONCLUSIVE,
--     with the runs per side that would tell (row.suggested_n) and the
--     smallest change this N detects (row.mde).  INCONCLUSIVE never fails
--     the gate.
--  4. Cached mode with two or more runs per side judges from the spread
--     too (`cached = "spread"`); one run per side gets ktstr's averaged
--     comparison.
-- The evidence (schedtest.evidence) is robust and design-aware: log ratios
-- for positive metrics, Hodges-Lehmann location and distribution-free
-- bounds where the run counts allow, paired rounds when they pair.
local compare = require "schedtest.compare"
local evidence = require "schedtest.evidence"
local stats = require "schedtest.stats"

local P = {
  name = "schedtest",
  description = "REGRESSION = worse by the gate with bounded false rows; INCONCLUSIVE with the N that would tell",
  fail_threshold = 5,
  alpha = 0.05,
  adjust = "pfer",
  false_rows = 0.05,
  false_fail = 0.01,
  immaterial = 0.5,
  immaterial_alpha = 0.05,
  power = 0.8,
  spread_threshold = 5,
  count = "families",
  cached = "spread",
}

local EPS = 1e-9

-- The relative gate of a row: the registry's (or declared) relative gate,
-- raised to the absolute gate where that is the stricter one (ktstr's
-- materiality needs both).  nil when the baseline is ~0: the gate is
-- then absolute only.
local function relative_gate(row)
  local g = row.gate
  local base = math.abs(row.a.mean or 0)
  if base < EPS then return nil end
  return math.max(g.rel, (g.abs or 0) / base)
end

-- Worse-is-positive view of a relative change for the row's polarity
-- (HigherBetter: a fall is worse).
local function worse(row, x)
  return row.polarity == "HigherBetter" and -x or x
end

-- Bounds of the worse-is-positive change at one-sided level alpha:
-- lo (the change is worse than this with confidence 1 - alpha), hi.
local function worse_bounds(row, alpha)
  local ev = row.evidence
  local lo = evidence.bound(ev, alpha, "lo")
  local hi = evidence.bound(ev, alpha, "hi")
  if row.polarity == "HigherBetter" then return -hi, -lo end
  return lo, hi
end

-- Shift bounds on the evidence scale for a zero baseline (absolute gate).
local function shift_bounds(row, alpha)
  local ev = row.evidence
  local _, _, lo = evidence.bound(ev, alpha, "lo")
  local _, _, hi = evidence.bound(ev, alpha, "hi")
  if row.polarity == "HigherBetter" then return -hi, -lo end
  return lo, hi
end

-- How the row compares with its gate, worse-is-positive, in units of the
-- gate: estimate, lower and upper bound at the immaterial level.
local function in_gate_units(row, ctx)
  local g = relative_gate(row)
  local alpha = ctx.immaterial_alpha or P.immaterial_alpha
  if g then
    local lo, hi = worse_bounds(row, alpha)
    local gg = g > 0 and g or EPS
    return worse(row, row.evidence.estimate) / gg, lo / gg, hi / gg, g
  end
  -- baseline ~0: absolute gate on the shift
  local ev = row.evidence
  local lo, hi = shift_bounds(row, alpha)
  local abs = row.gate.abs > 0 and row.gate.abs or EPS
  return worse(row, ev.shift) / abs, (lo or -math.huge) / abs, (hi or math.huge) / abs, nil
end

-- One-sided p-values of the evidence test: worse, better.
local function p_worse_better(row)
  local t = row.evidence.test
  if row.polarity == "HigherBetter" then return t.p_down, t.p_up end
  return t.p_up, t.p_down
end

-- Significant in a direction at the per-row level (a bh/holm policy
-- compares its adjusted two-sided p instead).
local function significant(row, ctx, p)
  local level = ctx.level or (2 * P.alpha)
  if row.p_adj then return row.p_adj < level and p <= 0.5 end
  return p < level / 2
end

-- Smallest detectable change at this N and the runs per side that would
-- tell: enough to catch a change of 1.5 x the gate at the per-row level
-- with `power`, and to bound a change of half the gate below the gate.
local function power_advice(row, ctx, g)
  local ev = row.evidence
  if not (g and ev.sd and ev.sd > 0) then return end
  local level = (ctx.level or 2 * P.alpha) / 2
  local mat = ctx.immaterial_alpha or P.immaterial_alpha
  local power = (ctx.policy and ctx.policy.power) or P.power
  local sd = ev.scale == "log" and ev.sd or ev.sd / math.abs(ev.baseline)
  if sd ~= sd or sd == math.huge then return end
  row.mde = stats.mde{ n = math.max(ev.n, 2), cv = sd, alpha = level, power = power, sides = 1,
                       paired = ev.design == "paired" }
  if ev.scale == "log" and row.mde then row.mde = math.exp(row.mde) - 1 end
  local n1 = evidence.n_for(ev, 1.5 * g, level, power, 1000)
  local n2 = evidence.n_for(ev, (1 + 1.5 * g) / (1 + P.immaterial * g) - 1, mat, power, 1000)
  row.suggested_n = n1 and n2 and math.max(n1, n2) or nil
  if row.suggested_n and ev.rank_only then
    -- a rank test needs runs enough to reach the per-row level at all
    row.suggested_n = math.max(row.suggested_n, evidence.RANK_MIN_N)
  end
end

local function directionless(row, ctx, est, lo, hi)
  local p_up, p_down = row.evidence.test.p_up, row.evidence.test.p_down
  local half = P.immaterial
  if significant(row, ctx, math.min(p_up, p_down)) and math.abs(est) >= 1
     and (lo > half or hi < -half) then
    return compare.INFORMATIONAL, "directionless metric, changed by at least the gate"
  end
  return compare.STABLE, "directionless metric: no material change shown"
end

local function pct(x) return string.format("%+.1f%%", 100 * x) end

function P.verdict(row, ctx)
  if (row.mode or ctx.mode) == "scalar" then return compare.ktstr_verdict(row, ctx) end
  if row.insufficient then
    return compare.NOISY, "fewer than 2 runs on a side"
  end
  local half = (ctx.policy and ctx.policy.immaterial) or P.immaterial
  local est, lo, hi, g = in_gate_units(row, ctx)
  if not compare.directed(row) then return directionless(row, ctx, est, lo, hi) end
  local p_worse, p_better = p_worse_better(row)
  local what = string.format("typical change %s (%s)", pct(row.evidence.estimate),
                             row.evidence.design == "paired" and
                             string.format("%d paired rounds", row.evidence.n) or
                             string.format("%d vs %d runs", row.evidence.n_a, row.evidence.n_b))
  if significant(row, ctx, p_worse) and lo > half and est >= 1 then
    return compare.REGRESSION, string.format(
      "worse by at least the gate: %s, p=%.3g < %.3g, and worse than %g x the gate with %.0f%% confidence",
      what, p_worse, (ctx.level or 0.1) / 2, half, 100 * (1 - (ctx.immaterial_alpha or 0.05)))
  end
  if significant(row, ctx, p_better) and hi < -half and est <= -1 then
    return compare.IMPROVEMENT, string.format("better by at least the gate: %s, p=%.3g", what,
                                              p_better)
  end
  if hi >= 1 then
    power_advice(row, ctx, g)
    local n = row.evidence.n
    local advice = row.suggested_n and string.format("; about %d runs per side would tell",
                                                     row.suggested_n)
                   or "; more than 1000 runs per side would be needed"
    return compare.INCONCLUSIVE, string.format(
      "cannot rule out a regression of the gate (%s): %s; smallest change detectable at n=%d is %s%s",
      g and pct(g) or "absolute", what, n, row.mde and pct(row.mde) or "?", advice)
  end
  if est > 0 and lo > 0 then
    return compare.STABLE, string.format("worse, but below the gate: %s", what)
  end
  return compare.STABLE, string.format("no material regression: %s", what)
end

return P
