-- schedtest.evidence: what the runs of one metric say about B against A,
-- as relative changes (B/A - 1) with their uncertainty.
--
--   local evidence = require "schedtest.evidence"
--   local ev = evidence.unpaired(a_values, b_values)
--   local ev = evidence.paired(a_values, b_values)   -- a[i], b[i] share round i
--   ev.estimate                       -- typical relative change (Hodges-Lehmann)
--   ev.test.p_up, ev.test.p_down      -- one-sided p: B larger, B smaller
--   evidence.bound(ev, 0.05, "lo")    -- one-sided 95 % lower bound of the change
--
-- Positive metrics are judged on the log scale, where a change is a ratio
-- and an interval can never reach below -100 %; a metric with a value <= 0
-- is judged on its own scale relative to the baseline median.  The location
-- is the Hodges-Lehmann shift (the median of all B-A differences, or of the
-- Walsh averages of the paired differences): one outlier boot moves it by
-- at most one rank.  Bounds are distribution-free (Moses' interval, the
-- signed-rank interval) where the run counts can reach the level, and
-- Student-t where they cannot.  The test of "no change" is Student's t on
-- the logs with the pooled variance (a multiplicative change is a pure
-- shift there; Welch's t on a metric's own scale; paired: the t-test of
-- the log ratios), which keeps its level at the tiny per-metric levels a
-- family of metrics needs even at 3-5 runs, where rank tests cannot reach
-- them.

local stats = require "schedtest.stats"

local math, table, ipairs, type = math, table, ipairs, type

local M = {}

local EPS = 1e-9
local huge = math.huge

local function all_positive(t)
  for _, v in ipairs(t) do if not (v > 0) then return false end end
  return true
end

local function all_nonnegative(t)
  for _, v in ipairs(t) do if not (v >= 0) then return false end end
  return true
end

local function logs(t)
  local out = {}
  for i, v in ipairs(t) do out[i] = math.log(v) end
  return out
end

local function median(t)
  return stats.quantile(t, 0.5)
end

-- Welch-Satterthwaite dof of two variance terms.
local function satterthwaite(u, v, fa, fb)
  local den = u * u / fa + v * v / fb
  if den <= 0 then return fa + fb end
  return (u + v) ^ 2 / den
end

-- One-sided p-values of "B larger" and "B smaller" from a t statistic of
-- (B - A) / se; constant samples (se = 0) decide by the sign alone.
local function one_sided(shift, se, dof)
  if se == 0 then
    if shift > 0 then return 0, 1 elseif shift < 0 then return 1, 0 end
    return 1, 1
  end
  local t = shift / se
  return assert(stats.t_sf(t, dof)), assert(stats.t_sf(-t, dof))
end

-- The parametric (Student) part: the shift on the evidence scale, its
-- standard error and dof.
local function welch_parts(xa, xb)
  local da, db = stats.describe(xa), stats.describe(xb)
  local u, v = da.var / da.n, db.var / db.n
  return { shift = db.mean - da.mean, se = math.sqrt(u + v),
           dof = satterthwaite(u, v, da.n - 1, db.n - 1),
           sd = math.sqrt((da.var + db.var) / 2) }
end

local function pooled_parts(xa, xb)
  local da, db = stats.describe(xa), stats.describe(xb)
  local dof = da.n + db.n - 2
  local s2 = ((da.n - 1) * da.var + (db.n - 1) * db.var) / dof
  return { shift = db.mean - da.mean, se = math.sqrt(s2 * (1 / da.n + 1 / db.n)),
           dof = dof, sd = math.sqrt(s2) }
end


local function paired_parts(d)
  local dd = stats.describe(d)
  return { shift = dd.mean, se = math.sqrt(dd.var / dd.n), dof = dd.n - 1,
           sd = math.sqrt(dd.var) }
end

-- Relative change of a shift on the evidence scale.
local function relative(ev, shift)
  if shift == huge or shift == -huge then
    return shift == huge and huge or (ev.scale == "log" and -1 or -huge)
  end
  if ev.scale == "log" then return math.exp(shift) - 1 end
  if math.abs(ev.baseline) < EPS then
    if shift > 0 then return huge elseif shift < 0 then return -huge end
    return 0
  end
  return shift / math.abs(ev.baseline)
end
M.relative = relative

--- Runs per side (pairs) from which a rank test joins the t-test: where
--- its smallest attainable p (1/C(2n, n); 2^-n paired) is far below the
--- per-metric levels of a family of metrics (~1e-3), so it can reject.
M.RANK_MIN_N, M.RANK_MIN_PAIRS = 8, 14

-- The rank test's one-sided p-values (B larger, B smaller), or nil when
-- the run counts are too small for it to matter.
local function rank_test(ev)
  if ev.design == "paired" then
    if ev.n < M.RANK_MIN_PAIRS then return nil end
    local zero = {}
    for i = 1, #ev.d do zero[i] = 0 end
    local w = stats.wilcoxon(ev.d, zero)
    return w and w.p_greater, w and w.p_less, "Wilcoxon signed-rank"
  end
  if ev.n_a < M.RANK_MIN_N or ev.n_b < M.RANK_MIN_N then return nil end
  local mw = stats.mann_whitney(ev.xa, ev.xb)
  return mw and mw.p_less, mw and mw.p_greater, "Mann-Whitney"
end

-- The evidence test.  Student's (or the paired) t is exact for normal
-- log ratios and keeps power at 3-5 runs; TCG's bimodal boots and
-- outlier boots break its tails, which a rank test does not mind.  Where
-- the rank test can reach a family's levels, the row is tested by both
-- and the smaller p counts twice (Bonferroni: a valid p-value whatever the
-- shape).
local function evidence_test(ev, parts)
  local up, down = one_sided(parts.shift, parts.se, parts.dof)
  local test = { method = ev.design == "paired" and "paired t"
                          or (ev.scale == "log" and "Student t" or "Welch t"),
                 scale = ev.scale, t = parts.se > 0 and parts.shift / parts.se or nil,
                 dof = parts.dof, p_up_t = up, p_down_t = down }
  local r_up, r_down, r_name = rank_test(ev)
  if r_up and r_down then
    test.p_up_rank, test.p_down_rank, test.rank = r_up, r_down, r_name
    test.method = test.method .. " + " .. r_name .. " (Bonferroni)"
    up = math.min(1, 2 * math.min(up, r_up))
    down = math.min(1, 2 * math.min(down, r_down))
  end
  test.p_up, test.p_down = up, down
  return test
end

local function finish(ev, parts, robust)
  ev.parametric = parts
  ev.sd = parts.sd
  ev.estimate = relative(ev, robust.estimate)
  ev.shift = robust.estimate
  ev.test = evidence_test(ev, parts)
  return ev
end

-- ---- shapes: runs in modes ---------------------------------------------------

--- TCG boots come in modes (most runs at 1.0, some at 1.6): a side whose
--- log values split into two clusters at least MODE_GAP apart, the gap at
--- least MODE_RATIO within-cluster standard deviations (floored at
--- MODE_FLOOR), with MODE_MIN_N or more runs.  The t-test's tails do not
--- hold for such runs (one side all fast, the other mostly slow makes it
--- see a regression), so their rows are judged by ranks.
M.MODE_GAP, M.MODE_RATIO, M.MODE_FLOOR, M.MODE_MIN_N = math.log(1.2), 10, 0.01, 4

--- The largest gap between the sorted values of x and its ratio to the
--- pooled within-cluster standard deviation of the two sides of the gap.
function M.mode_split(x, floor)
  local n = #x
  if n < 2 then return 0, 0 end
  local s = {}
  for i, v in ipairs(x) do s[i] = v end
  table.sort(s)
  local at, gap = 1, -1
  for i = 1, n - 1 do
    if s[i + 1] - s[i] > gap then at, gap = i, s[i + 1] - s[i] end
  end
  local ss = 0
  for _, range in ipairs{ { 1, at }, { at + 1, n } } do
    local sum, k = 0, range[2] - range[1] + 1
    for i = range[1], range[2] do sum = sum + s[i] end
    for i = range[1], range[2] do ss = ss + (s[i] - sum / k) ^ 2 end
  end
  local sw = n > 2 and math.sqrt(ss / (n - 2)) or 0
  return gap, gap / math.max(sw, floor or M.MODE_FLOOR)
end

local function splits(x)
  if #x < M.MODE_MIN_N then return false end
  local gap, ratio = M.mode_split(x)
  return gap >= M.MODE_GAP and ratio >= M.MODE_RATIO
end

--- True when either side's runs (log scale) fall into modes.
function M.in_modes(ev)
  if ev.scale ~= "log" then return false end
  if ev.design == "paired" then return splits(ev.d) end
  return splits(ev.xa) or splits(ev.xb)
end

--- Judge the evidence by its rank test alone (Mann-Whitney; paired:
--- Wilcoxon signed-rank), saying why.  At few runs a rank test cannot
--- reach a family's per-row level: the row then stays INCONCLUSIVE.
function M.rank_only(ev, why)
  local up, down, name
  if ev.design == "paired" then
    local zero = {}
    for i = 1, #ev.d do zero[i] = 0 end
    local w = stats.wilcoxon(ev.d, zero)
    up, down, name = w and w.p_greater or 1, w and w.p_less or 1, "Wilcoxon signed-rank"
  else
    local mw = stats.mann_whitney(ev.xa, ev.xb)
    up, down, name = mw and mw.p_less or 1, mw and mw.p_greater or 1, "Mann-Whitney"
  end
  ev.test.p_up, ev.test.p_down = up, down
  ev.test.p_up_rank, ev.test.p_down_rank = up, down
  ev.test.method = name .. " (" .. why .. ")"
  ev.rank_only = why
  return ev
end

--- Evidence from independent runs: a[] on side A, b[] on side B (each at
--- least 2 finite values).
function M.unpaired(a, b)
  local ev = { design = "unpaired", n = math.min(#a, #b), n_a = #a, n_b = #b }
  if all_positive(a) and all_positive(b) then
    ev.scale, ev.xa, ev.xb = "log", logs(a), logs(b)
  else
    ev.scale, ev.xa, ev.xb = "linear", a, b
    ev.baseline = median(a)
  end
  local robust = assert(stats.hodges_lehmann(ev.xa, ev.xb, { level = 0.9 }))
  -- On the log scale a multiplicative change is a pure shift that leaves
  -- the spread alone, so the variance is pooled (Student's t, 2n - 2
  -- dof); on a metric's own scale a change may move the spread too (Welch).
  local parts = ev.scale == "log" and pooled_parts(ev.xa, ev.xb) or welch_parts(ev.xa, ev.xb)
  return finish(ev, parts, robust)
end

--- Evidence from paired rounds: a[i] and b[i] ran in the same round.
function M.paired(a, b)
  local ev = { design = "paired", n = #a, n_a = #a, n_b = #b }
  local d = {}
  if all_positive(a) and all_positive(b) then
    ev.scale = "log"
    for i = 1, #a do d[i] = math.log(b[i]) - math.log(a[i]) end
  else
    ev.scale = "linear"
    ev.baseline = median(a)
    for i = 1, #a do d[i] = b[i] - a[i] end
  end
  ev.d = d
  local robust = assert(stats.hodges_lehmann_one(d, { level = 0.9 }))
  local w = stats.wilcoxon(b, a) -- informational: the signed-rank test
  ev.wilcoxon = w and { p = w.p, p_up = w.p_greater, p_down = w.p_less,
                        method = w.method } or nil
  return finish(ev, paired_parts(d), robust)
end

-- The shift bound (evidence scale) at one-sided level alpha, and how.
local function shift_bound(ev, alpha, side)
  if alpha <= 0 then return side == "lo" and -huge or huge, "none" end
  local h
  if ev.design == "paired" then
    h = stats.hodges_lehmann_one(ev.d, { level = 1 - 2 * alpha })
  else
    h = stats.hodges_lehmann(ev.xa, ev.xb, { level = 1 - 2 * alpha })
  end
  if h and h.attainable then
    return side == "lo" and h.lo or h.hi, "Hodges-Lehmann"
  end
  local p = ev.parametric
  if p.se == 0 then return p.shift, "constant" end
  local t = stats.t_quantile(1 - alpha, p.dof)
  return side == "lo" and p.shift - t * p.se or p.shift + t * p.se,
         ev.design == "paired" and "paired t" or (ev.scale == "log" and "Student t" or "Welch t")
end

--- One-sided bound of the relative change at level 1 - alpha: side "lo"
--- (the change is above it with confidence 1 - alpha) or "hi".  Robust
--- (Hodges-Lehmann) where the run counts can reach the level, Student
--- otherwise.  Returns the bound, the method used and the bound of the
--- shift on the evidence scale (log ratio, or the raw difference).
function M.bound(ev, alpha, side)
  local key = side .. string.format("%.17g", alpha)
  ev.bounds = ev.bounds or {}
  local b = ev.bounds[key]
  if not b then
    local shift, how = shift_bound(ev, alpha, side)
    b = { relative(ev, shift), how, shift }
    ev.bounds[key] = b
  end
  return b[1], b[2], b[3]
end

--- Runs per side (pairs when paired) that would detect a change of
--- `change` (relative, > 0) at one-sided level `alpha` with `power`, from
--- the observed spread; nil when more than `max_n` would be needed.
function M.n_for(ev, change, alpha, power, max_n)
  if not (ev.sd and ev.sd > 0) then return nil end
  local delta = ev.scale == "log" and math.log(1 + change) or change
  if ev.scale ~= "log" then
    if math.abs(ev.baseline) < EPS then return nil end
    -- the spread relative to the baseline, like the change
    return stats.n_for{ change = delta, cv = ev.sd / math.abs(ev.baseline), alpha = alpha,
                        power = power, sides = 1, max_n = max_n,
                        paired = ev.design == "paired" }
  end
  return stats.n_for{ change = delta, cv = ev.sd, alpha = alpha, power = power, sides = 1,
                      max_n = max_n, paired = ev.design == "paired" }
end

--- The 95 % interval of the relative change of means shown in reports:
--- the ratio of means on the log scale (positive metrics) or by Fieller
--- (otherwise), never below -100 % for a non-negative metric; paired
--- evidence shows the interval of the typical per-round ratio instead.
function M.display_interval(ev, a, b, level)
  level = level or 0.95
  if ev.design == "paired" then
    local p = ev.parametric
    local t = p.se > 0 and stats.t_quantile(1 - (1 - level) / 2, p.dof) or 0
    local lo, hi = relative(ev, p.shift - t * p.se), relative(ev, p.shift + t * p.se)
    local clamped = false
    if lo < -1 and all_nonnegative(a) and all_nonnegative(b) then
      lo, clamped = -1, true -- a non-negative metric falls by 100 % at most
    end
    return { lo = lo, hi = hi, level = level, method = "paired " .. ev.scale,
             clamped = clamped }
  end
  local method = ev.scale == "log" and "log" or "fieller"
  local r = stats.ratio_ci(a, b, { level = level, method = method })
  if not r then return nil end
  return { lo = r.lo - 1, hi = r.hi - 1, level = level, method = method,
           clamped = r.clamped, bounded = r.bounded }
end

return M
