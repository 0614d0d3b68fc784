-- schedtest.compare: the comparison engine.
--
--   local compare = require "schedtest.compare"
--   local result = compare.run{ rows = pool, a = "abc1234", b = "def5678",
--                               mode = "noise", policy = "schedtest" }
--   os.exit(result.exit_code)
--
-- compare.run works in five stages, each a function below that a policy
-- author can read on its own:
--   1. partition      rows -> side A and side B, grouped by pairing key
--                     (the test plus every dimension that does not differ)
--   2. metric rows    per key and metric: both sides' summaries, the delta,
--                     the materiality gate and, from the run-to-run spread,
--                     the evidence (schedtest.evidence: a robust relative
--                     change, its bounds, paired when rounds pair)
--   3. error control  the per-metric level that keeps false REGRESSION rows
--                     and false gate failures bounded across all metrics
--                     (and across the looks of a sequential plan)
--   4. verdicts       the policy's verdict per row
--   5. gate           schedtest.gate: fails, reasons, exit code
-- and returns ONE result object from which every report and the exit code
-- are computed.  Its fields are documented in docs/lua-api.md
-- (## schedtest.compare).

local stats = require "schedtest.stats"
local evidence = require "schedtest.evidence"
local gate = require "schedtest.gate"

local M = {}

local EPS = 1e-9
local huge = math.huge

--- Dimensions of a row, in ktstr's order; `throughput_denomination` also
--- keys pairing (spec §3.4).
M.dimensions = { "kernel", "commit", "kernel_commit", "source", "resolve_source",
                 "cpu_budget", "scheduler", "topology", "work_type",
                 "throughput_denomination" }

--- Status fields that exclude a row from the statistics, with the reason.
M.exclusions = {
  { field = "passed", when = false, reason = "failed" },
  { field = "skipped", when = true, reason = "skipped" },
  { field = "inconclusive", when = true, reason = "inconclusive" },
  { field = "expected_failure", when = true, reason = "expected_failure" },
}

--- Verdict words (spec §3.6), plus INCONCLUSIVE of the schedtest policy.
M.REGRESSION, M.IMPROVEMENT, M.INFORMATIONAL = "REGRESSION", "improvement", "informational"
M.STABLE, M.NOISY, M.INCONCLUSIVE = "stable", "NOISY", "INCONCLUSIVE"

-- ---- helpers ---------------------------------------------------------------

local function finite(x)
  return type(x) == "number" and x == x and x ~= huge and x ~= -huge
end

local function sum(t)
  local s = 0
  for _, v in ipairs(t) do s = s + v end
  return s
end

local function mean(t) return sum(t) / #t end

local function max_of(t)
  local m = -huge
  for _, v in ipairs(t) do if v > m then m = v end end
  return m
end

local function row_iter(rows)
  -- A pool or view (userdata or table) with a rows() iterator.
  local ok, it = pcall(function() return rows.rows end)
  if ok and type(it) == "function" then
    return rows:rows()
  end
  assert(type(rows) == "table", "compare.run: rows must be an array of rows or a pool")
  local i = 0
  return function() i = i + 1; return rows[i] end
end

-- A side selector: a value of `by`, a list of values, a table of
-- {dim = value | {values}}, or a predicate function(row) -> boolean.
local function selector(sel, by)
  if type(sel) == "function" then return sel, {} end
  local filter
  if type(sel) == "table" and sel[1] == nil then
    filter = sel
  else
    filter = { [by] = sel }
  end
  local function match_one(want, got)
    if type(want) == "table" then
      for _, w in ipairs(want) do if w == got then return true end end
      return false
    end
    return want == got
  end
  return function(row)
    for dim, want in pairs(filter) do
      if not match_one(want, row[dim]) then return false end
    end
    return true
  end, filter
end

local function label_of(sel, filter, by)
  if type(sel) == "string" or type(sel) == "number" then return tostring(sel) end
  if type(sel) == "table" and sel[1] ~= nil then return table.concat(sel, "+") end
  if filter[by] ~= nil then return tostring(filter[by]) end
  local parts = {}
  for k, v in pairs(filter) do parts[#parts + 1] = k .. "=" .. tostring(v) end
  table.sort(parts)
  return #parts > 0 and table.concat(parts, ",") or "?"
end

local function excluded_reason(row)
  for _, e in ipairs(M.exclusions) do
    if row[e.field] == e.when then return e.reason end
  end
  return nil
end

-- ---- aggregation per metric kind (scalar mode) ------------------------------

--- Fold the per-run values of one metric across repeated rows of one side
--- (spec §2.1, §3.4).  `values` holds the rows' values in row order, `rows`
--- the rows (for Rate re-derivation).  Returns the aggregate or nil.
function M.aggregate(entry, values, rows)
  local kind = entry.kind
  if kind == "Rate" and entry.num and entry.den then
    local num, den = 0, 0
    for _, r in ipairs(rows) do
      local n, d = r.metrics and r.metrics[entry.num], r.metrics and r.metrics[entry.den]
      if finite(n) and finite(d) then num, den = num + n, den + d end
    end
    if den ~= 0 and finite(num / den) then return num / den end
    return #values > 0 and mean(values) or nil -- components not recorded
  end
  if #values == 0 then return nil end
  if kind == "Peak" or (kind == "Gauge" and entry.gauge == "Max")
     or (kind == "Distribution" and entry.reduction == "Worst") then
    return max_of(values)
  elseif kind == "Timestamp" then
    return values[#values]
  end
  -- Counter: the sum over runs divided by the runs, so sides with a different
  -- number of runs compare (ktstr averages repeated rows, §3.4); Gauge Avg and
  -- Last, DeltaSum, PerPhaseDeltaSum (unweighted), the Worst* ratios and
  -- the other distribution reductions: the mean across runs.
  return mean(values)
end

-- ---- thresholds --------------------------------------------------------------

-- Materiality gate of one metric: declared gate > policy per-metric >
-- --threshold > registry default (spec §2.3, §2.4).
local function thresholds(entry, policy, opts, declared)
  local t = policy.thresholds and policy.thresholds[entry.name] or {}
  local abs = t.abs or entry.abs or 0
  local rel = t.rel
  if rel == nil and policy.per_metric_percent and policy.per_metric_percent[entry.name] then
    rel = policy.per_metric_percent[entry.name] / 100
  end
  if rel == nil and opts.threshold then rel = opts.threshold / 100 end
  if rel == nil and policy.default_percent then rel = policy.default_percent / 100 end
  if rel == nil then rel = entry.rel or 0.10 end
  local polarity = entry.polarity
  local g = { abs = abs, rel = rel, polarity = polarity, declared = false }
  if declared then
    g.declared = true
    -- negative or NaN declared values fall back to the registry (§2.4)
    if finite(declared.min_abs) and declared.min_abs >= 0 then g.abs = declared.min_abs end
    if finite(declared.max_regression_pct) and declared.max_regression_pct >= 0 then
      g.rel = declared.max_regression_pct / 100
    end
    if declared.direction == "LowerBetter" or declared.direction == "HigherBetter"
       or declared.direction == "Informational" then
      g.polarity = declared.direction
    end
    g.phase = declared.phase
  end
  return g
end

-- ---- the built-in verdict rules ------------------------------------------------

--- True when the row's polarity says which direction is worse
--- (Informational, TargetValue and Unknown metrics are directionless).
function M.directed(row)
  return row.polarity == "LowerBetter" or row.polarity == "HigherBetter"
end

--- The ktstr rule (spec §2.3 scalar, §3.5 noise).  Returns verdict, reason.
function M.ktstr_verdict(row, ctx)
  if (row.mode or ctx.mode) == "scalar" then
    if not row.material then return M.STABLE, "below the materiality gate" end
  else
    if row.insufficient then return M.NOISY, "fewer than 2 runs on a side" end
    local separated = (row.p ~= nil and row.p < (ctx.alpha or 0.05)) or row.disjoint
    if not (separated and row.material) then
      return M.STABLE, separated and "separated but below the materiality gate"
                       or "not separated (Welch p >= alpha, bands overlap)"
    end
  end
  if not M.directed(row) then return M.INFORMATIONAL, "directionless metric" end
  if row.worse then return M.REGRESSION, "worse by a material, separated amount" end
  return M.IMPROVEMENT, "better by a material, separated amount"
end

-- P(Binomial(m, q) >= k)
local function binom_sf(m, q, k)
  if k <= 0 then return 1 end
  if k > m then return 0 end
  if q <= 0 then return 0 end
  if q >= 1 then return 1 end
  local s, lq, l1q = 0, math.log(q), math.log(1 - q)
  local lc = 0 -- log C(m, 0)
  local terms = {}
  for i = 0, m do
    if i > 0 then lc = lc + math.log(m - i + 1) - math.log(i) end
    terms[i] = lc + i * lq + (m - i) * l1q
  end
  for i = k, m do s = s + math.exp(terms[i]) end
  return s
end
M.binom_sf = binom_sf

--- Per-metric one-sided level q such that, with m independent metrics and
--- no real change, P(at least k false regressions) <= target.  Bisection.
function M.gate_level(m, k, target)
  if m <= 0 then return target end
  local lo, hi = 0, 1
  for _ = 1, 60 do
    local mid = (lo + hi) / 2
    if binom_sf(m, mid, k) > target then hi = mid else lo = mid end
  end
  return lo
end

-- ---- settings --------------------------------------------------------------

local function policy_of(opts)
  local p = opts.policy
  if p == nil or type(p) == "string" then
    return require("schedtest.policy").load(p or "schedtest")
  end
  assert(type(p) == "table", "compare.run: policy must be a name, a file or a table")
  return p
end

--- The settings of one comparison, by one precedence for every key: the
--- caller's option (the command line) over the policy file over the
--- built-in default.  (`threshold`, the relative gate of every metric, is
--- resolved per metric in thresholds(): a policy's per-metric entries are
--- more specific and win over it; it wins over the policy's
--- default_percent.)
function M.settings(opts, policy)
  local function pick(key, pkey, default)
    if opts[key] ~= nil then return opts[key] end
    if policy[pkey or key] ~= nil then return policy[pkey or key] end
    return default
  end
  return {
    fail_threshold = pick("fail_threshold", nil, 5),
    must_fail = pick("must_fail", nil, {}),
    spread_threshold = pick("spread_threshold", nil, 5),
    alpha = policy.alpha or 0.05,
    count = policy.count or "metrics",
    cached = opts.averaged and "averaged" or policy.cached or "averaged",
  }
end

-- ---- stage 1: partition -----------------------------------------------------------

local function key_of(row, pairing)
  local parts = { tostring(row.test) }
  for _, d in ipairs(pairing) do
    parts[#parts + 1] = row[d] == nil and "-" or tostring(row[d])
  end
  return table.concat(parts, "/")
end

-- Slicing dimensions (where the side filters differ) and pairing
-- dimensions (every other one).
local function dimensions_of(opts, filter_a, filter_b, by)
  local slicing, is_slicing = {}, {}
  for _, d in ipairs(M.dimensions) do
    if filter_a[d] ~= filter_b[d] or (d == by and type(opts.a) ~= "function") then
      if not is_slicing[d] then slicing[#slicing + 1] = d; is_slicing[d] = true end
    end
  end
  local pairing = {}
  for _, d in ipairs(M.dimensions) do
    if not is_slicing[d] then pairing[#pairing + 1] = d end
  end
  return slicing, pairing
end

local function new_result(opts, policy, settings, mode, by, labels, slicing, pairing)
  return {
    mode = mode, policy = policy.name or "custom", by = by,
    sides = { a = { label = labels.a, rows = 0, runs = 0 },
              b = { label = labels.b, rows = 0, runs = 0 } },
    slicing = slicing, pairing = { "test", table.unpack(pairing) },
    rows = {}, coverage = {}, unpaired = { a = {}, b = {} },
    excluded = { failed = 0, skipped = 0, inconclusive = 0, expected_failure = 0,
                 a = 0, b = 0 },
    excluded_pairs = 0, omitted = 0, nonfinite = 0, warnings = {}, notes = {},
    declared = { regressions = 0, evaluated = 0, unevaluated = {} },
    fail_threshold = settings.fail_threshold, must_fail = settings.must_fail,
    cached = opts.mode == "cached" or nil,
  }
end

--- Stage 1: sort the rows into sides and pairing keys.  Returns the
--- result skeleton and the groups { a = {key = rows}, b = ..., order,
--- excluded = {a = {key = true}, b = ...} }.
function M.partition(opts, policy, settings)
  local mode = opts.mode or "noise"
  assert(mode == "noise" or mode == "scalar" or mode == "cached",
         "compare.run: mode must be 'noise', 'scalar' or 'cached'")
  local by = opts.by or "commit"
  assert(opts.a ~= nil and opts.b ~= nil, "compare.run: sides 'a' and 'b' are required")
  local sel_a, filter_a = selector(opts.a, by)
  local sel_b, filter_b = selector(opts.b, by)
  local slicing, pairing = dimensions_of(opts, filter_a, filter_b, by)
  local result = new_result(opts, policy, settings, mode, by,
                            { a = label_of(opts.a, filter_a, by), b = label_of(opts.b, filter_b, by) },
                            slicing, pairing)
  local groups = { a = {}, b = {}, order = {}, excluded = { a = {}, b = {} } }
  local dirty, budgets = {}, {}
  for row in row_iter(opts.rows) do
    local side = sel_a(row) and "a" or (sel_b(row) and "b" or nil)
    if side then
      result.sides[side].rows = result.sides[side].rows + 1
      local key = key_of(row, pairing)
      local why = excluded_reason(row)
      if why then
        result.excluded[why] = result.excluded[why] + 1
        result.excluded[side] = result.excluded[side] + 1
        groups.excluded[side][key] = true
      else
        local g = groups[side][key]
        if not g then
          g = {}; groups[side][key] = g
          if not groups.order[key] then
            groups.order[#groups.order + 1] = key; groups.order[key] = true
          end
        end
        g[#g + 1] = row
        result.sides[side].runs = result.sides[side].runs + 1
        if type(row.commit) == "string" and row.commit:match("%-dirty$") then
          dirty[row.commit] = true
        end
        budgets[key] = budgets[key] or {}
        if row.cpu_budget ~= nil then budgets[key][row.cpu_budget] = true end
      end
    end
  end
  local function warn(fmt, ...) result.warnings[#result.warnings + 1] = string.format(fmt, ...) end
  local dirty_list = {}
  for c in pairs(dirty) do dirty_list[#dirty_list + 1] = c end
  table.sort(dirty_list)
  for _, c in ipairs(dirty_list) do
    warn("%s is a dirty build: uncommitted changes are part of what is measured", c)
  end
  for _, key in ipairs(groups.order) do
    local n = 0
    for _ in pairs(budgets[key] or {}) do n = n + 1 end
    if n > 1 then warn("%s: mixed CPU budgets in one group", key) end
  end
  if result.sides.a.rows == 0 then warn("side A (%s) matched no rows", result.sides.a.label) end
  if result.sides.b.rows == 0 then warn("side B (%s) matched no rows", result.sides.b.label) end
  return result, groups
end

-- ---- stage 2: metric rows ------------------------------------------------------------

-- Per-run values of `name` on one side's rows (phase: a step_index).
local function values_of(rows, name, phase)
  local vals, used, bad = {}, {}, 0
  for _, r in ipairs(rows) do
    local v
    if phase == nil then
      v = r.metrics and r.metrics[name]
    else
      for _, ph in ipairs(r.phases or {}) do
        if ph.step_index == phase and ph.metrics then v = ph.metrics[name] end
      end
    end
    if finite(v) then
      vals[#vals + 1] = v; used[#used + 1] = r
    elseif v ~= nil then
      bad = bad + 1
    end
  end
  return vals, used, bad
end

local function side_summary(entry, vals, used, mode)
  local s = { n = #vals, values = vals }
  if #vals == 0 then return s end
  if mode == "scalar" then
    s.value = M.aggregate(entry, vals, used)
    s.mean = s.value
    s.sum = sum(vals)
    return s
  end
  local d = assert(stats.describe(vals))
  for k, v in pairs(d) do s[k] = v end
  s.sample_mean = d.mean
  if entry.kind == "Rate" and entry.num and entry.den then
    -- reported/materiality mean: pooled sum(num)/sum(den) (§3.5)
    local pooled = M.aggregate(entry, vals, used)
    if pooled then s.mean = pooled end
  end
  return s
end

--- Round of a row for paired analysis: the row's own `round` field when
--- it has one; else opts.rounds as a function(row), or "auto" (the
--- trailing number of run_dir, as perf-delta's interleaved leaves
--- {base,head}-{short}-{i} carry when its invocation directory is the
--- pool).
function M.round_of(row, how)
  if row.round ~= nil then return row.round end
  if type(how) == "function" then return how(row) end
  if how and type(row.run_dir) == "string" then
    local i = row.run_dir:match("%-(%d+)/*$")
    return i and tonumber(i)
  end
  return nil
end

-- Values of the rounds both sides ran, in round order, or nil when the
-- rounds are unknown, repeated on a side, or fewer than `min` pair.
local function paired_values(ua, ub, va, vb, how, min)
  local by_round = {}
  for i, r in ipairs(ua) do
    local k = M.round_of(r, how)
    if k == nil or by_round[k] then return nil end
    by_round[k] = { a = va[i] }
  end
  local seen = {}
  for i, r in ipairs(ub) do
    local k = M.round_of(r, how)
    if k == nil or seen[k] then return nil end
    seen[k] = true
    if by_round[k] then by_round[k].b = vb[i] end
  end
  local keys = {}
  for k, v in pairs(by_round) do if v.b then keys[#keys + 1] = k end end
  if #keys < min then return nil end
  table.sort(keys)
  local a, b = {}, {}
  for i, k in ipairs(keys) do a[i], b[i] = by_round[k].a, by_round[k].b end
  return a, b
end

-- Paired tests over the rounds both sides ran (interleaved A/B rounds share
-- drift, which a paired test removes).  Sets row.paired and returns the
-- paired values, or nil.
local function paired_stats(row, ua, ub, va, vb, how)
  local a, b = paired_values(ua, ub, va, vb, how, 2)
  if not a then return nil end
  local t = stats.paired_t(a, b)
  local w = stats.wilcoxon(a, b)
  row.paired = { n = #a, p_t = t and t.p, p_wilcoxon = w and w.p,
                 wilcoxon_method = w and w.method }
  return a, b
end

-- ktstr's statistics of one metric row (noise mode, §3.5): Welch on the
-- raw values and the disjoint-band test.
local function ktstr_stats(row)
  local a, b = row.a, row.b
  row.disjoint = stats.disjoint(a.values, b.values)
  local w, msg = stats.welch(a.values, b.values)
  if w then
    row.t, row.dof, row.p = w.t, w.dof, w.p
    if w.note then row.notes[#row.notes + 1] = w.note end
  else
    -- both sides constant and different: no standard error; the bands
    -- decide (they are disjoint), recorded as p = 0 with the reason.
    row.notes[#row.notes + 1] = msg
    row.p = row.disjoint and 0 or 1
  end
end

--- Paired rounds from which the evidence is paired.  A paired test of n
--- rounds has n - 1 degrees of freedom against 2n - 2 unpaired: at the
--- per-row levels of a family of metrics (~1e-3) that costs more than a
--- round drift usually removes below about 8 rounds (at 5 rounds with no
--- drift it catches 1.5x the gate about half as often), so fewer rounds
--- are judged unpaired.
M.PAIRED_MIN_ROUNDS = 8

-- The evidence the default policy judges by (schedtest.evidence): paired
-- when the rounds pair (at least PAIRED_MIN_ROUNDS of them), else
-- unpaired; and the interval of the relative change shown in reports.
local function spread_evidence(row, pa, pb)
  local ev
  if pa and #pa >= M.PAIRED_MIN_ROUNDS then
    ev = evidence.paired(pa, pb)
  else
    ev = evidence.unpaired(row.a.values, row.b.values)
  end
  row.evidence = ev
  row.change = ev.estimate
  local ci = evidence.display_interval(ev, row.a.values, row.b.values, 0.95)
  if ci then
    row.ci_lo, row.ci_hi, row.ci_level, row.ci_method = ci.lo, ci.hi, ci.level, ci.method
  end
end

-- Optional seeded bootstrap CIs of the relative change of the mean and of
-- the median (opts.bootstrap = true or {resamples=, level=, seed=}).
local function bootstrap_row(row, how)
  how = type(how) == "table" and how or {}
  local o = { resamples = how.resamples or 2000, level = how.level or 0.95,
              seed = how.seed or 1 }
  for _, stat in ipairs{ "mean", "median" } do
    o.stat = stat
    local ci, msg = stats.bootstrap(row.a.values, row.b.values, o)
    if ci then
      row["boot_" .. stat] = { estimate = ci.estimate, lo = ci.lo, hi = ci.hi,
                               level = o.level, resamples = ci.resamples }
    else
      row.notes[#row.notes + 1] = "bootstrap " .. stat .. ": " .. msg
    end
  end
end

-- Statistics from the spread of one row (noise evidence).
local function spread_stats(row, ua, ub, opts, settings)
  row.insufficient = row.a.n < 2 or row.b.n < 2
  if row.insufficient then return end
  ktstr_stats(row)
  local pa, pb
  local rows_carry_rounds = M.round_of(ua[1], nil) ~= nil and M.round_of(ub[1], nil) ~= nil
  if opts.rounds or rows_carry_rounds then
    pa, pb = paired_stats(row, ua, ub, row.a.values, row.b.values, opts.rounds)
  end
  spread_evidence(row, pa, pb)
  if opts.bootstrap then bootstrap_row(row, opts.bootstrap) end
  row.high_spread = row.a.spread_pct > settings.spread_threshold
                    or row.b.spread_pct > settings.spread_threshold
  if row.high_spread then row.annotations[#row.annotations + 1] = "noisy spread" end
end

local function evaluate_materiality(row)
  local g = row.gate
  local dabs = math.abs(row.delta)
  row.material = dabs >= g.abs and row.rel >= g.rel
end

-- Which evidence a key gets: "noise" (from the spread) or "scalar" (two
-- aggregates).  Cached mode judges from the spread when both sides hold
-- at least two runs of the key, unless the policy (or the caller) asks
-- for ktstr's averaged comparison.
local function key_mode(mode, settings, ra, rb)
  if mode ~= "cached" then return mode end
  if settings.cached == "spread" and #ra >= 2 and #rb >= 2 then return "noise" end
  return "scalar"
end

-- ---- stage 2b: shapes ---------------------------------------------------------

--- Share of a comparison's test sides (3 or more runs) whose boots fall
--- into modes from which every row is judged by ranks.
M.MODE_SHARE = 0.25

-- Whether the runs of one test on one side fall into boot modes: per run,
-- the median over the metrics (positive in every run) of its log distance
-- from the metric's median run; TCG's slow boots move all of a run's
-- metrics together, so the median of many metrics shows the boot's mode
-- with little noise.
local function boot_modes(rows)
  if #rows < 3 then return nil end
  local names = {}
  for name, v in pairs(rows[1].metrics or {}) do
    local ok = finite(v) and v > 0
    for i = 2, #rows do
      local w = rows[i].metrics and rows[i].metrics[name]
      ok = ok and finite(w) and w > 0
    end
    if ok then names[#names + 1] = name end
  end
  if #names < 3 then return nil end
  local dev = {} -- dev[run] = { log distances }
  for i = 1, #rows do dev[i] = {} end
  for _, name in ipairs(names) do
    local logs = {}
    for i, r in ipairs(rows) do logs[i] = math.log(r.metrics[name]) end
    local med = stats.quantile(logs, 0.5)
    for i, l in ipairs(logs) do dev[i][#dev[i] + 1] = l - med end
  end
  local scores = {}
  for i = 1, #rows do scores[i] = stats.quantile(dev[i], 0.5) end
  local gap, ratio = evidence.mode_split(scores)
  return gap >= evidence.MODE_GAP and ratio >= evidence.MODE_RATIO
end

--- Stage 2b: runs in modes.  When at least MODE_SHARE of the test sides
--- have boots in modes, the whole comparison is judged by ranks (a side
--- whose few boots all landed in one mode looks like a regression of the
--- whole test, and only the other tests show that the boots are modal);
--- otherwise each row whose own runs split into modes is.  Records
--- result.shape = { sides, modal, regime, rank_only }.
function M.shape(result, groups)
  local sides, modal = 0, 0
  for _, key in ipairs(groups.order) do
    if groups.a[key] and groups.b[key] then
      for _, side in ipairs{ "a", "b" } do
        local m = boot_modes(groups[side][key])
        if m ~= nil then
          sides = sides + 1
          if m then modal = modal + 1 end
        end
      end
    end
  end
  local regime = modal >= 2 and modal >= M.MODE_SHARE * sides
  local ranked = 0
  for _, row in ipairs(result.rows) do
    local ev = row.evidence
    if ev then
      local why = regime and "boots in modes" or (evidence.in_modes(ev) and "runs in modes")
      if why then evidence.rank_only(ev, why); ranked = ranked + 1 end
    end
  end
  result.shape = { sides = sides, modal = modal, regime = regime, rank_only = ranked }
  if regime then
    result.warnings[#result.warnings + 1] = string.format(
      "the boots fall into modes in %d of %d test sides (TCG's slow boots?): every metric is " ..
      "judged by ranks, which need about 8 runs per side to show a regression", modal, sides)
  end
end

-- Metric names on either side, in a stable order, and the declared gates
-- (§2.4; B's declarations win over A's).
local function names_and_declared(ra, rb)
  local names, seen = {}, {}
  for _, rows in ipairs{ ra, rb } do
    for _, r in ipairs(rows) do
      for name in pairs(r.metrics or {}) do
        if not seen[name] then seen[name] = true; names[#names + 1] = name end
      end
    end
  end
  table.sort(names)
  local declared = {}
  for _, rows in ipairs{ ra, rb } do
    for _, r in ipairs(rows) do
      for _, d in ipairs(r.perf_delta_assertions or {}) do
        declared[d.metric .. "@" .. tostring(d.phase)] = d
      end
    end
  end
  local targets = {}
  for _, name in ipairs(names) do targets[#targets + 1] = { name = name } end
  local dkeys = {}
  for k in pairs(declared) do dkeys[#dkeys + 1] = k end
  table.sort(dkeys)
  for _, k in ipairs(dkeys) do
    local d = declared[k]
    if d.phase ~= nil then targets[#targets + 1] = { name = d.metric, phase = d.phase } end
  end
  return targets, declared
end

local function metric_selector(opts, policy)
  local selected = policy.metrics
  return function(entry)
    if opts.metrics then
      for _, m in ipairs(opts.metrics) do if m == entry.name then return true end end
      return false
    end
    if type(selected) == "function" then return selected(entry) end
    if type(selected) == "table" then
      for _, m in ipairs(selected) do if m == entry.name then return true end end
      return false
    end
    return true
  end
end

-- One metric row of one key, or nil (nothing to compare, or coverage).
local function metric_row(ctx, key, ra, rb, tgt, decl)
  local result, mode = ctx.result, ctx.mode
  local entry = ctx.registry.lookup(tgt.name)
  local va, ua, bad_a = values_of(ra, tgt.name, tgt.phase)
  local vb, ub, bad_b = values_of(rb, tgt.name, tgt.phase)
  result.nonfinite = result.nonfinite + bad_a + bad_b
  if #va == 0 and #vb == 0 then return nil end
  if #va == 0 or #vb == 0 then
    local side = #va > 0 and "a" or "b"
    local vals = #va > 0 and va or vb
    result.coverage[#result.coverage + 1] = {
      key = key, test = ra[1].test, metric = tgt.name, phase = tgt.phase, side = side,
      value = mean(vals), n = #vals,
    }
    return nil
  end
  local row = {
    key = key, test = ra[1].test, metric = tgt.name, phase = tgt.phase, entry = entry,
    unit = entry.unit, kind = entry.kind, mode = mode,
    a = side_summary(entry, va, ua, mode), b = side_summary(entry, vb, ub, mode),
    notes = {}, annotations = {},
  }
  row.gate = thresholds(entry, ctx.policy, ctx.opts, decl)
  row.polarity = row.gate.polarity
  local ma, mb = row.a.mean, row.b.mean
  if math.abs(ma) < EPS and math.abs(mb) < EPS then
    result.omitted = result.omitted + 1
    return nil
  end
  row.delta = mb - ma
  row.rel = math.abs(ma) > EPS and math.abs(row.delta / ma) or huge
  row.rel_delta = math.abs(ma) > EPS and row.delta / math.abs(ma) or nil
  if row.polarity == "HigherBetter" then
    row.worse = row.delta < 0
  elseif row.polarity == "LowerBetter" then
    row.worse = row.delta > 0
  else
    row.worse = false
  end
  evaluate_materiality(row)
  if mode == "noise" then spread_stats(row, ua, ub, ctx.opts, ctx.settings) end
  if decl then row.annotations[#row.annotations + 1] = "declared gate" end
  return row
end

-- The metric rows of one key present on both sides.
local function key_rows(ctx, key, ra, rb)
  local result = ctx.result
  local targets, declared = names_and_declared(ra, rb)
  local kmode = key_mode(ctx.base_mode, ctx.settings, ra, rb)
  local evaluated = {}
  for _, tgt in ipairs(targets) do
    local entry = ctx.registry.lookup(tgt.name)
    local decl = declared[tgt.name .. "@" .. tostring(tgt.phase)]
    local skip = not ctx.wanted(entry) or entry.suppressed
      or (entry.kind == "PerPhase" and tgt.phase == nil)
      or (entry.kind == "PerRunDistribution" and kmode == "scalar")
    if kmode == "scalar" then
      -- declared gates are evaluated only from the spread (§2.4): the
      -- metric is still compared with the registry's gates
      decl = nil
      if tgt.phase ~= nil then skip = true end
    end
    if not skip then
      ctx.mode = kmode
      local row = metric_row(ctx, key, ra, rb, tgt, decl)
      if row then
        if decl then evaluated[tgt.name .. "@" .. tostring(tgt.phase)] = true end
        result.rows[#result.rows + 1] = row
      end
    end
  end
  for k, d in pairs(declared) do
    if kmode == "noise" and not evaluated[k] then
      result.declared.unevaluated[#result.declared.unevaluated + 1] =
        { key = key, test = ra[1].test, metric = d.metric, phase = d.phase, gate = d }
    end
  end
  if kmode == "scalar" and next(declared) then
    result.notes[#result.notes + 1] = string.format(
      "%s: declared perf-delta gates are evaluated only in noise mode", key)
  end
  return kmode
end

--- Stage 2: one row per metric of every key both sides have.
function M.metric_rows(result, groups, opts, policy, settings)
  local ctx = { result = result, opts = opts, policy = policy, settings = settings,
                registry = opts.registry or require "schedtest.registry",
                base_mode = result.mode, wanted = metric_selector(opts, policy) }
  local modes = {}
  for _, key in ipairs(groups.order) do
    local ra, rb = groups.a[key], groups.b[key]
    if not (ra and rb) then
      local side = ra and "a" or "b"
      local other = ra and "b" or "a"
      if groups.excluded[other][key] then
        result.excluded_pairs = result.excluded_pairs + 1
      else
        result.unpaired[side][#result.unpaired[side] + 1] = key
      end
    else
      modes[key_rows(ctx, key, ra, rb)] = true
    end
  end
  if result.mode == "cached" then
    -- the report's layout: from the spread when any key was
    result.mode = modes.noise and "noise" or "scalar"
  end
  M.shape(result, groups)
  local function warn(fmt, ...) result.warnings[#result.warnings + 1] = string.format(fmt, ...) end
  if result.nonfinite > 0 then
    warn("%d NaN or infinite metric value(s) ignored (the runs count as missing for that metric)",
         result.nonfinite)
  end
  -- keys where both sides had only excluded rows
  for key in pairs(groups.excluded.a) do
    if groups.excluded.b[key] and not groups.a[key] and not groups.b[key] then
      result.excluded_pairs = result.excluded_pairs + 1
    end
  end
  for _, side in ipairs{ "a", "b" } do
    local keys = result.unpaired[side]
    if #keys > 0 then
      warn("%d pairing key(s) only on side %s (no partner)", #keys, side:upper())
    end
  end
end

-- ---- stage 3: error control ------------------------------------------------------------

-- Two-sided p-value of a row's evidence (the direction is the estimate's).
local function evidence_p(row)
  local t = row.evidence and row.evidence.test
  if not t then return row.p end
  return math.min(1, 2 * math.min(t.p_up, t.p_down))
end

-- Rows tested from the spread, and those of them that can regress.
local function tested_rows(result)
  local family, directed = {}, {}
  for _, r in ipairs(result.rows) do
    if r.mode == "noise" and not r.insufficient and evidence_p(r) then
      family[#family + 1] = r
      if M.directed(r) then directed[#directed + 1] = r end
    end
  end
  return family, directed
end

-- The sequential look of opts.sequential: plan, look index, runs.
local function sequential_look(opts)
  local s = opts.sequential
  if not s then return nil end
  local seq = require "schedtest.sequential"
  assert(s.plan, "compare.run: sequential needs a plan (schedtest.sequential.plan)")
  local look = s.look or seq.look_index(s.plan, assert(s.runs, "compare.run: sequential needs runs"))
  assert(look, "compare.run: sequential runs are before the plan's first look")
  return { plan = s.plan, look = look, runs = s.runs or s.plan.looks[look],
           previous = s.previous, seq = seq }
end

-- "pfer": bound the expected number of false REGRESSION rows (per-family
-- error rate) by `false_rows`, and the A/A false-fail of a count gate of k
-- by `false_fail`: with m rows that can regress, each is tested one-sided
-- at min(false_rows, false_fail * k) / m.  E[false rows] <= m * level
-- holds whatever the dependence between metrics (linearity of
-- expectation), and P(at least k false families) <= E / k (Markov), so
-- correlated metrics cannot break either bound.
local function pfer_level(policy, settings, m)
  local k = math.max(settings.fail_threshold, 1)
  local budget = math.min(policy.false_rows or 0.05, (policy.false_fail or 0.01) * k)
  return math.min(budget / math.max(m, 1), settings.alpha / 2), budget
end

--- Stage 3: the levels rows are tested at.  Returns the verdict context
--- ctx: mode, policy, opts, result, stats, alpha, level (two-sided
--- per-row level of the evidence test), immaterial_alpha (one-sided level
--- of the "more than `immaterial` x the gate" bound), family (the tested
--- rows), fail_threshold, count, sequential.
function M.error_control(result, policy, settings, opts)
  local family, directed = tested_rows(result)
  local ctx = { mode = result.mode, policy = policy, opts = opts, result = result, stats = stats,
                alpha = settings.alpha, family = family, fail_threshold = settings.fail_threshold,
                count = settings.count, immaterial_alpha = policy.immaterial_alpha or 0.05 }
  local look = sequential_look(opts)
  local method = policy.adjust
  if not method or #family == 0 then
    if look then ctx.sequential = look end
    return ctx
  end
  local one_sided -- the per-row one-sided level before any sequential spending
  if method == "pfer" then
    local budget
    one_sided, budget = pfer_level(policy, settings, #directed)
    result.adjust = { method = "pfer", m = #directed, budget = budget }
  elseif method == "gate" then
    -- per-metric level such that the count gate's A/A false-fail rate
    -- stays at or below policy.false_fail, metrics taken as independent
    local q = M.gate_level(#family, math.max(settings.fail_threshold, 1), policy.false_fail or 0.01)
    one_sided = math.min(q, settings.alpha / 2)
    result.adjust = { method = "gate", m = #family }
  elseif method == "bh" or method == "holm" then
    assert(not look, "compare.run: a sequential plan needs adjust = 'pfer' or 'gate'")
    local ps = {}
    for i, r in ipairs(family) do ps[i] = evidence_p(r) end
    local adj = assert(stats.adjust(ps, method))
    for i, r in ipairs(family) do r.p_adj = adj[i] end
    ctx.level = settings.alpha
    result.adjust = { method = method, m = #family, level = ctx.level }
    return ctx
  else
    error("policy " .. tostring(policy.name) .. ": unknown adjust '" .. tostring(method) .. "'")
  end
  if look then
    one_sided = look.seq.nominal(look.plan, one_sided, look.look)
    ctx.immaterial_alpha = look.seq.nominal(look.plan, ctx.immaterial_alpha, look.look)
    ctx.sequential = look
    result.adjust.look, result.adjust.runs = look.look, look.runs
  end
  ctx.level = 2 * one_sided
  result.adjust.level = ctx.level
  result.adjust.one_sided = one_sided
  result.adjust.immaterial_alpha = ctx.immaterial_alpha
  return ctx
end

-- ---- stage 4: verdicts ---------------------------------------------------------------------

local COUNT_KEY = { [M.REGRESSION] = "regressions", [M.IMPROVEMENT] = "improvements",
                    [M.INFORMATIONAL] = "informational", [M.STABLE] = "stable",
                    [M.NOISY] = "noisy", [M.INCONCLUSIVE] = "inconclusive" }

local function row_id(r)
  return tostring(r.key) .. "/" .. tostring(r.metric) .. "@" .. tostring(r.phase)
end

-- Final decisions of earlier looks of a sequential plan: a REGRESSION or
-- improvement found at a look stays (its error was spent there).
local function earlier_decisions(ctx)
  local prev = ctx.sequential and ctx.sequential.previous
  if not prev then return {} end
  local out = {}
  for _, r in ipairs(prev.rows or {}) do
    if r.verdict == M.REGRESSION or r.verdict == M.IMPROVEMENT then
      out[row_id(r)] = { verdict = r.verdict, runs = r.decided_at or
                         (prev.sequential and prev.sequential.runs) }
    end
  end
  return out
end

--- Stage 4: the policy's verdict per row, the totals and the regressions.
function M.verdicts(result, policy, ctx)
  local verdict = policy.verdict or M.ktstr_verdict
  local totals = { rows = #result.rows, regressions = 0, improvements = 0,
                   informational = 0, stable = 0, noisy = 0, inconclusive = 0,
                   coverage = #result.coverage, omitted = result.omitted }
  local earlier = earlier_decisions(ctx)
  result.regressions = {}
  for _, row in ipairs(result.rows) do
    local v, reason = verdict(row, ctx)
    local kept = earlier[row_id(row)]
    if kept and v ~= kept.verdict then
      v, reason = kept.verdict, string.format("%s at an earlier look (%s runs per side); final",
                                              kept.verdict, tostring(kept.runs))
    end
    if kept then row.decided_at = kept.runs end
    v = v or M.STABLE
    assert(COUNT_KEY[v], "policy verdict returned an unknown word: " .. tostring(v))
    row.verdict = v
    row.reasons = row.reasons or {}
    if reason then table.insert(row.reasons, 1, reason) end
    totals[COUNT_KEY[v]] = totals[COUNT_KEY[v]] + 1
    if v == M.REGRESSION then
      result.regressions[#result.regressions + 1] = row
      if row.gate.declared then result.declared.regressions = result.declared.regressions + 1 end
    end
    if row.gate.declared then result.declared.evaluated = result.declared.evaluated + 1 end
  end
  result.totals = totals
end

-- ---- the engine -------------------------------------------------------------------------------

-- Pairing keys present on both sides.
local function paired_keys(groups)
  local n = 0
  for _, key in ipairs(groups.order) do
    if groups.a[key] and groups.b[key] then n = n + 1 end
  end
  return n
end

--- Run a comparison.  See docs/lua-api.md for every option and field.
function M.run(opts)
  assert(type(opts) == "table", "compare.run: expected an options table")
  local policy = policy_of(opts)
  local settings = M.settings(opts, policy)
  local result, groups = M.partition(opts, policy, settings)
  M.metric_rows(result, groups, opts, policy, settings)
  local ctx = M.error_control(result, policy, settings, opts)
  M.verdicts(result, policy, ctx)
  result.totals.paired_keys = paired_keys(groups)
  if ctx.sequential then
    result.sequential = { look = ctx.sequential.look, runs = ctx.sequential.runs,
                          looks = ctx.sequential.plan.looks }
  end
  gate.evaluate(result, ctx, policy)
  return result
end

--- ktstr's gate (spec §3.4, §3.5), as schedtest.gate.default: kept here
--- for policies that call compare.default_gate.
M.default_gate = gate.default

return M
