-- schedtest.compare: the comparison engine.
--
--   local compare = require "schedtest.compare"
--   local result = compare.run{ rows = pool, a = "abc1234", b = "def5678",
--                               mode = "noise", policy = "schedtest" }
--   os.exit(result.exit_code)
--
-- It partitions rows into side A and side B by a dimension (commit by
-- default), pairs them on the test plus every dimension that does not
-- differ, aggregates repeated rows per metric kind, computes the statistics
-- (schedtest.stats), asks the policy for a verdict per metric and for the
-- gate, and returns ONE result object from which every report and the exit
-- code are computed.  The fields of that object are documented in
-- docs/lua-api.md (## schedtest.compare).

local stats = require "schedtest.stats"

local M = {}

local EPS = 1e-9
local huge = math.huge
local bootstrap_row -- defined below

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
  if ctx.mode == "scalar" then
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

-- ---- the engine ----------------------------------------------------------------

local function policy_of(opts)
  local p = opts.policy
  if p == nil or type(p) == "string" then
    return require("schedtest.policy").load(p or "schedtest")
  end
  assert(type(p) == "table", "compare.run: policy must be a name, a file or a table")
  return p
end

local function key_of(row, pairing)
  local parts = { tostring(row.test) }
  for _, d in ipairs(pairing) do
    parts[#parts + 1] = row[d] == nil and "-" or tostring(row[d])
  end
  return table.concat(parts, "/")
end

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

-- Welch confidence interval of the relative change of means, level 1-alpha.
local function rel_ci(row, alpha)
  local a, b = row.a, row.b
  if not (a.var and b.var) or math.abs(a.mean) < EPS then return nil end
  local se = math.sqrt(a.var / a.n + b.var / b.n)
  local dof = row.dof or (a.n + b.n - 2)
  local tq = assert(stats.t_quantile(1 - alpha / 2, dof))
  local half = tq * se / math.abs(a.mean)
  local r = row.delta / math.abs(a.mean)
  return r - half, r + half
end

-- Round of a row for paired analysis: opts.rounds is a function(row) or
-- "auto" (the trailing number of run_dir, as perf-delta's interleaved
-- leaves {base,head}-{short}-{i} carry when its invocation directory is
-- the pool).
local function round_of(row, how)
  if type(how) == "function" then return how(row) end
  if type(row.run_dir) == "string" then
    local i = row.run_dir:match("%-(%d+)/*$")
    return i and tonumber(i)
  end
  return nil
end

-- Paired tests over the rounds both sides ran (interleaved A/B rounds share
-- drift, which a paired test removes).  Sets row.paired or leaves it nil.
local function paired_stats(row, ua, ub, va, vb, how)
  local by_round = {}
  for i, r in ipairs(ua) do
    local k = round_of(r, how)
    if k == nil or by_round[k] then return end -- unknown or repeated round
    by_round[k] = { a = va[i] }
  end
  local seen = {}
  for i, r in ipairs(ub) do
    local k = round_of(r, how)
    if k == nil or seen[k] then return end
    seen[k] = true
    if by_round[k] then by_round[k].b = vb[i] end
  end
  local keys = {}
  for k, v in pairs(by_round) do if v.b then keys[#keys + 1] = k end end
  if #keys < 2 then return end
  table.sort(keys)
  local a, b = {}, {}
  for i, k in ipairs(keys) do a[i], b[i] = by_round[k].a, by_round[k].b end
  local t = stats.paired_t(a, b)
  local w = stats.wilcoxon(a, b)
  row.paired = { n = #keys, p_t = t and t.p, p_wilcoxon = w and w.p,
                 wilcoxon_method = w and w.method }
end

-- Statistics of one metric row (noise mode).
local function noise_stats(row)
  local a, b = row.a, row.b
  row.insufficient = a.n < 2 or b.n < 2
  if row.insufficient then return end
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

-- Optional seeded bootstrap CIs of the relative change of the mean and of
-- the median (opts.bootstrap = true or {resamples=, level=, seed=}).
bootstrap_row = function(row, how)
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

local function evaluate_materiality(row)
  local g = row.gate
  local dabs = math.abs(row.delta)
  row.material = dabs >= g.abs and row.rel >= g.rel
end

--- Run a comparison.  See docs/lua-api.md for every option and field.
function M.run(opts)
  assert(type(opts) == "table", "compare.run: expected an options table")
  local registry = opts.registry or require "schedtest.registry"
  local policy = policy_of(opts)
  local mode = opts.mode or "noise"
  assert(mode == "noise" or mode == "scalar", "compare.run: mode must be 'noise' or 'scalar'")
  local by = opts.by or "commit"
  assert(opts.a ~= nil and opts.b ~= nil, "compare.run: sides 'a' and 'b' are required")
  local sel_a, filter_a = selector(opts.a, by)
  local sel_b, filter_b = selector(opts.b, by)

  local fail_threshold = opts.fail_threshold
  if fail_threshold == nil then fail_threshold = policy.fail_threshold end
  if fail_threshold == nil then fail_threshold = 5 end
  local must_fail = {}
  for _, src in ipairs{ policy.must_fail or {}, opts.must_fail or {} } do
    for _, m in ipairs(src) do must_fail[m] = true end
  end
  local spread_threshold = opts.spread_threshold or policy.spread_threshold or 5

  -- slicing dims: where the filters differ; pairing: every other dimension
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

  local result = {
    mode = mode, policy = policy.name or "custom", by = by,
    sides = { a = { label = label_of(opts.a, filter_a, by), rows = 0, runs = 0 },
              b = { label = label_of(opts.b, filter_b, by), rows = 0, runs = 0 } },
    slicing = slicing, pairing = { "test", table.unpack(pairing) },
    rows = {}, coverage = {}, unpaired = { a = {}, b = {} },
    excluded = { failed = 0, skipped = 0, inconclusive = 0, expected_failure = 0,
                 a = 0, b = 0 },
    excluded_pairs = 0, omitted = 0, nonfinite = 0, warnings = {}, notes = {},
    declared = { regressions = 0, evaluated = 0, unevaluated = {} },
    fail_threshold = fail_threshold, must_fail = opts.must_fail or policy.must_fail or {},
  }
  local function warn(fmt, ...) result.warnings[#result.warnings + 1] = string.format(fmt, ...) end

  -- partition
  local groups = { a = {}, b = {} }
  local excluded_keys = { a = {}, b = {} }
  local order = {}
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
        excluded_keys[side][key] = true
      else
        local g = groups[side][key]
        if not g then
          g = {}; groups[side][key] = g
          if not (groups.a[key] and groups.b[key]) and not order[key] then
            order[#order + 1] = key; order[key] = row
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
  for c in pairs(dirty) do
    warn("%s is a dirty build: uncommitted changes are part of what is measured", c)
  end
  for key, set in pairs(budgets) do
    local n = 0
    for _ in pairs(set) do n = n + 1 end
    if n > 1 then warn("%s: mixed CPU budgets in one group", key) end
  end
  if result.sides.a.rows == 0 then warn("side A (%s) matched no rows", result.sides.a.label) end
  if result.sides.b.rows == 0 then warn("side B (%s) matched no rows", result.sides.b.label) end

  local selected = policy.metrics
  local function wanted(entry)
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

  local family = {} -- rows with a p-value, for multiple-comparison control
  for _, key in ipairs(order) do
    local ra, rb = groups.a[key], groups.b[key]
    if not (ra and rb) then
      local side = ra and "a" or "b"
      local other = ra and "b" or "a"
      if excluded_keys[other][key] then
        result.excluded_pairs = result.excluded_pairs + 1
      else
        result.unpaired[side][#result.unpaired[side] + 1] = key
      end
    else
      -- metric names on either side, in a stable order
      local names, seen = {}, {}
      for _, rows in ipairs{ ra, rb } do
        for _, r in ipairs(rows) do
          for name in pairs(r.metrics or {}) do
            if not seen[name] then seen[name] = true; names[#names + 1] = name end
          end
        end
      end
      table.sort(names)
      -- declared gates (§2.4): B's declarations win over A's
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
      for _, d in pairs(declared) do
        if d.phase ~= nil then targets[#targets + 1] = { name = d.metric, phase = d.phase } end
      end
      local evaluated = {}
      for _, tgt in ipairs(targets) do
        local name, phase = tgt.name, tgt.phase
        local entry = registry.lookup(name)
        local decl = declared[name .. "@" .. tostring(phase)]
        local skip = not wanted(entry) or entry.suppressed
          or (entry.kind == "PerPhase" and phase == nil)
          or (entry.kind == "PerRunDistribution" and mode == "scalar")
        if mode == "scalar" then
          -- declared gates are evaluated only in noise mode (§2.4): the
          -- metric is still compared with the registry's gates
          decl = nil
          if phase ~= nil then skip = true end
        end
        if not skip then
          local va, ua, bad_a = values_of(ra, name, phase)
          local vb, ub, bad_b = values_of(rb, name, phase)
          if bad_a + bad_b > 0 then
            result.nonfinite = result.nonfinite + bad_a + bad_b
          end
          if #va == 0 and #vb == 0 then
            -- nothing on either side
          elseif #va == 0 or #vb == 0 then
            local side = #va > 0 and "a" or "b"
            local vals = #va > 0 and va or vb
            result.coverage[#result.coverage + 1] = {
              key = key, test = ra[1].test, metric = name, phase = phase, side = side,
              value = mean(vals), n = #vals,
            }
          else
            local row = {
              key = key, test = ra[1].test, metric = name, phase = phase, entry = entry,
              unit = entry.unit, kind = entry.kind,
              a = side_summary(entry, va, ua, mode), b = side_summary(entry, vb, ub, mode),
              notes = {}, annotations = {},
            }
            row.gate = thresholds(entry, policy, opts, decl)
            row.polarity = row.gate.polarity
            local ma, mb = row.a.mean, row.b.mean
            if math.abs(ma) < EPS and math.abs(mb) < EPS then
              result.omitted = result.omitted + 1
            else
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
              if mode == "noise" then
                noise_stats(row)
                if opts.rounds and not row.insufficient then
                  paired_stats(row, ua, ub, va, vb, opts.rounds)
                end
                if not row.insufficient then
                  row.high_spread = row.a.spread_pct > spread_threshold
                                    or row.b.spread_pct > spread_threshold
                  if row.high_spread then row.annotations[#row.annotations + 1] = "noisy spread" end
                  if row.p then family[#family + 1] = row end
                end
              end
              if decl then
                row.annotations[#row.annotations + 1] = "declared gate"
                evaluated[name .. "@" .. tostring(phase)] = true
              end
              result.rows[#result.rows + 1] = row
            end
          end
        end
      end
      for k, d in pairs(declared) do
        if mode == "noise" and not evaluated[k] then
          result.declared.unevaluated[#result.declared.unevaluated + 1] =
            { key = key, test = ra[1].test, metric = d.metric, phase = d.phase, gate = d }
        end
      end
      if mode == "scalar" and next(declared) then
        result.notes[#result.notes + 1] = string.format(
          "%s: declared perf-delta gates are evaluated only in noise mode", key)
      end
    end
  end
  if result.nonfinite > 0 then
    warn("%d NaN or infinite metric value(s) ignored (the runs count as missing for that metric)",
         result.nonfinite)
  end
  -- keys where both sides had only excluded rows
  for key in pairs(excluded_keys.a) do
    if excluded_keys.b[key] and not groups.a[key] and not groups.b[key] then
      result.excluded_pairs = result.excluded_pairs + 1
    end
  end
  for side, keys in pairs(result.unpaired) do
    if #keys > 0 then
      warn("%d pairing key(s) only on side %s (no partner)", #keys, side:upper())
    end
  end

  -- multiple-comparison control over the family of tested rows
  local ctx = { mode = mode, policy = policy, opts = opts, result = result, stats = stats,
                alpha = policy.alpha or 0.05, family = family,
                fail_threshold = fail_threshold }
  if mode == "noise" and policy.adjust then
    local ps = {}
    for i, r in ipairs(family) do ps[i] = r.p end
    if policy.adjust == "bh" or policy.adjust == "holm" then
      local adj = #ps > 0 and assert(stats.adjust(ps, policy.adjust)) or {}
      for i, r in ipairs(family) do r.p_adj = adj[i] end
      ctx.level = ctx.alpha
    elseif policy.adjust == "gate" then
      -- per-metric level such that the count gate's A/A false-fail rate
      -- stays at or below policy.false_fail, metrics taken as independent
      local k = fail_threshold >= 1 and fail_threshold or 1
      local q = M.gate_level(#family, k, policy.false_fail or 0.01)
      ctx.level = math.min(2 * q, ctx.alpha)
      for _, r in ipairs(family) do r.p_adj = r.p end
    else
      error("policy " .. tostring(policy.name) .. ": unknown adjust '" .. tostring(policy.adjust) .. "'")
    end
    result.adjust = { method = policy.adjust, m = #family, level = ctx.level }
  end

  -- verdicts
  local verdict = policy.verdict or M.ktstr_verdict
  local totals = { rows = #result.rows, regressions = 0, improvements = 0,
                   informational = 0, stable = 0, noisy = 0, inconclusive = 0,
                   coverage = #result.coverage, omitted = result.omitted }
  local count_key = { [M.REGRESSION] = "regressions", [M.IMPROVEMENT] = "improvements",
                      [M.INFORMATIONAL] = "informational", [M.STABLE] = "stable",
                      [M.NOISY] = "noisy", [M.INCONCLUSIVE] = "inconclusive" }
  result.regressions = {}
  for _, row in ipairs(result.rows) do
    if mode == "noise" and not row.insufficient then
      row.ci_lo, row.ci_hi = rel_ci(row, ctx.level or ctx.alpha)
      if opts.bootstrap then bootstrap_row(row, opts.bootstrap) end
    end
    local v, reason = verdict(row, ctx)
    v = v or M.STABLE
    assert(count_key[v], "policy verdict returned an unknown word: " .. tostring(v))
    row.verdict = v
    row.reasons = row.reasons or {}
    if reason then table.insert(row.reasons, 1, reason) end
    totals[count_key[v]] = totals[count_key[v]] + 1
    if v == M.REGRESSION then
      result.regressions[#result.regressions + 1] = row
      if row.gate.declared then result.declared.regressions = result.declared.regressions + 1 end
    end
    if row.gate.declared then result.declared.evaluated = result.declared.evaluated + 1 end
  end
  totals.paired_keys = 0
  for _, key in ipairs(order) do
    if groups.a[key] and groups.b[key] then totals.paired_keys = totals.paired_keys + 1 end
  end
  result.totals = totals

  -- gate
  local gate = policy.gate or M.default_gate
  local fails, reasons = gate(result, ctx)
  result.gate = { fails = fails and true or false, reasons = reasons or {},
                  fail_threshold = fail_threshold }
  result.exit_code = result.gate.fails and 1 or 0
  -- the overall word of ktstr's noise footer (§3.6)
  local improved = fail_threshold >= 1 and totals.improvements > 0
                   and totals.improvements >= fail_threshold
  result.overall = result.gate.fails and (improved and "REGRESSED + IMPROVED" or "REGRESSED")
                   or (improved and "IMPROVED" or "STABLE")
  return result
end

--- ktstr's gate (spec §3.4, §3.5): fail when at least `fail_threshold`
--- (>= 1) regressions, when a must-fail metric regressed, or when a declared
--- gate regressed.  Returns fails, reasons.
function M.default_gate(result, ctx)
  local reasons = {}
  local n = ctx.fail_threshold
  local regs = result.regressions
  if n >= 1 and #regs >= n then
    reasons[#reasons + 1] = string.format("%d regression(s) >= fail threshold %d", #regs, n)
  end
  local must = {}
  for _, m in ipairs(result.must_fail) do must[m] = true end
  for _, r in ipairs(regs) do
    if must[r.metric] then
      reasons[#reasons + 1] = string.format("must-fail metric %s regressed (%s)", r.metric, r.key)
    end
  end
  if result.declared.regressions > 0 then
    reasons[#reasons + 1] = string.format("%d declared per-test gate(s) regressed",
                                          result.declared.regressions)
  end
  return #reasons > 0, reasons
end

return M
