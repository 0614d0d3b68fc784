-- The default policy of schedtest.  Built on the ktstr rule (same metrics,
-- gates, fail threshold and must-fail semantics), with three changes that
-- the calibration in docs/policies.md measures:
--  1. False alarms are controlled across all the metrics of a comparison:
--     the per-metric significance level is set so that, with m metrics and
--     no real change, the chance that at least `fail_threshold` of them
--     regress by chance stays at `false_fail` (1 %) ("gate" adjustment).
--     ("bh" = Benjamini-Hochberg and "holm" are available too.)  The
--     disjoint-band shortcut is dropped: at small n it fires by chance.
--  2. A change is material when the confidence interval of the relative
--     change reaches the gate, not only the point estimate: a true change of
--     exactly the gate is caught about as often as the test allows, instead
--     of half the time.
--  3. When the data cannot tell (not significant, but the interval still
--     reaches a material regression) the verdict is INCONCLUSIVE, with the
--     smallest detectable change at this n and a suggested n per side.
local compare = require "schedtest.compare"
local stats = require "schedtest.stats"

local P = {
  name = "schedtest",
  description = "gate-level false-alarm control, interval materiality, INCONCLUSIVE with suggested N",
  fail_threshold = 5,
  alpha = 0.05,
  adjust = "gate",
  false_fail = 0.01,
  power = 0.8,
  spread_threshold = 5,
}

local function pooled_cv(row)
  local a, b = row.a, row.b
  if not (a.var and b.var) or math.abs(a.mean) < 1e-9 then return nil end
  return math.sqrt((a.var + b.var) / 2) / math.abs(a.mean)
end

-- Smallest detectable change at this n, and the n that detects the gate.
local function power_advice(row, ctx)
  local cv = pooled_cv(row)
  if not cv then return end
  local n = math.min(row.a.n, row.b.n)
  local alpha = ctx.level or P.alpha
  row.mde = stats.mde{ n = n, cv = cv, alpha = alpha, power = P.power }
  row.suggested_n = stats.n_for{ change = row.gate.rel > 0 and row.gate.rel or 0.01, cv = cv,
                                 alpha = alpha, power = P.power }
end

function P.verdict(row, ctx)
  if ctx.mode == "scalar" then return compare.ktstr_verdict(row, ctx) end
  if row.insufficient then
    return compare.NOISY, "fewer than 2 runs on a side"
  end
  local g = row.gate
  local level = ctx.level or P.alpha
  local p = row.p_adj or row.p
  local significant = p ~= nil and p < level
  -- how far the change may plausibly reach (either end of the interval)
  local lo, hi = row.ci_lo, row.ci_hi
  local reach_worse, reach_any
  if lo == nil then
    reach_worse, reach_any = math.huge, math.huge
  else
    reach_any = math.max(math.abs(lo), math.abs(hi))
    if row.polarity == "HigherBetter" then reach_worse = -lo
    elseif row.polarity == "LowerBetter" then reach_worse = hi
    else reach_worse = 0 end
  end
  -- the absolute gate on the same reach (a baseline of ~0 has no relative
  -- interval: the delta itself is the reach)
  local abs_ok
  if lo == nil then
    abs_ok = math.abs(row.delta) >= g.abs
  else
    abs_ok = reach_any * math.abs(row.a.mean) >= g.abs
  end
  if significant and reach_any >= g.rel and abs_ok then
    if not compare.directed(row) then
      return compare.INFORMATIONAL, "directionless metric"
    end
    if row.worse then
      return compare.REGRESSION, string.format("worse: p=%.3g < %.3g and the interval reaches the %.3g gate",
                                               p, level, g.rel)
    end
    return compare.IMPROVEMENT, string.format("better: p=%.3g < %.3g", p, level)
  end
  if significant then
    return compare.STABLE, "significant but smaller than the materiality gate"
  end
  if compare.directed(row) and reach_worse >= g.rel then
    power_advice(row, ctx)
    local advice = row.suggested_n and string.format("; about %d runs per side would detect it", row.suggested_n)
                   or "; more than 1000 runs per side would be needed"
    return compare.INCONCLUSIVE, string.format(
      "cannot rule out a %.3g regression: smallest detectable change at n=%d is %.3g%s",
      g.rel, math.min(row.a.n, row.b.n), row.mde or math.huge, advice)
  end
  return compare.STABLE, "not significant and the interval excludes a material regression"
end

return P
