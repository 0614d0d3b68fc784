-- schedtest.runstats: what bare `schedtest stats` shows about one run
-- directory (spec §4: "analyses the newest run directory"): the outcome of
-- every test, why the failures failed, the metrics each test gates on, the
-- metrics that are unusual against other runs of the same test in the
-- pool, and the BPF verifier and KVM statistics the sidecars recorded.
--
--   local runstats = require "schedtest.runstats"
--   local r = runstats.analyse(P, "6.12.117-abc1234")   -- P: schedtest.pool
--   io.write(runstats.text(r))
--
-- The analysis is plain data (JSON-ready); text() only formats it.
local registry = require "schedtest.registry"
local stats = require "schedtest.stats"
local common = require "schedtest.report.common"
local array = require("schedtest.sidecar").array -- empty arrays stay []

local M = {}

--- Outlier rule.  A metric is unusual when it is at least `z` robust
-- standard deviations (1.4826 * MAD) from the median of at least
-- `min_history` values from other runs AND the change passes the metric's
-- own registry gates (absolute and relative), so that a test whose history
-- is perfectly flat does not flag noise-sized moves.
M.defaults = { z = 3.5, min_history = 3, max_outliers = 20 }

--- Identifies the JSON layout of analyse()'s result; bumped on any
-- incompatible change.
M.SCHEMA = "schedtest.stats-run/1"

-- Metrics shown for a test that declares no perf_delta_assertions, in
-- order; the first three present are shown.
M.headline = { "worst_p99_wake_latency_us", "worst_median_wake_latency_us",
               "worst_mean_run_delay_us", "total_iterations", "worst_spread",
               "worst_gap_ms" }

local function status_of(row)
  if row.expected_failure then return "xfail" end
  if row.skipped then return "skip" end
  if row.inconclusive then return "inconclusive" end
  if row.passed then return "pass" end
  return "fail"
end

local function sorted_keys(set)
  local out = array()
  for k in pairs(set) do out[#out + 1] = k end
  table.sort(out)
  return out
end

local function finite(x)
  return x == x and x ~= math.huge and x ~= -math.huge
end

-- The metrics a row is shown with: its gated metrics, else the headline.
local function key_metrics(row)
  local names, seen = {}, {}
  for _, a in ipairs(row.perf_delta_assertions or {}) do
    if a.metric and not seen[a.metric] then
      seen[a.metric] = true
      names[#names + 1] = a.metric
    end
  end
  if #names == 0 then
    for _, n in ipairs(M.headline) do
      if #names < 3 and row.metrics[n] ~= nil then names[#names + 1] = n end
    end
  end
  local out = array()
  for _, n in ipairs(names) do
    local e = registry.lookup(n)
    out[#out + 1] = { metric = n, value = row.metrics[n], unit = e.unit }
  end
  return out
end

-- History of one test configuration outside the run: passed rows with the
-- same test, scheduler, topology, work type and kernel.
local function history_view(P, row, run)
  local spec = { passed = true, run_dir = function(d) return d ~= run end }
  for _, dim in ipairs { "test", "scheduler", "topology", "work_type",
                         "kernel" } do
    local v = row[dim]
    spec[dim] = function(x) return x == v end
  end
  return P:filter(spec)
end

local function outliers_of(P, row, run, opts, out)
  if not row.passed then return end
  local hist = history_view(P, row, run)
  if #hist < opts.min_history then return end
  for name, x in pairs(row.metrics) do
    local e = registry.lookup(name)
    if finite(x) and e.polarity ~= "Informational" and not e.suppressed then
      local values = hist:metric(name)
      local xs = {}
      for _, v in ipairs(values) do if finite(v) then xs[#xs + 1] = v end end
      if #xs >= opts.min_history then
        local d = assert(stats.describe(xs)) -- xs: finite, non-empty
        local med, mad = d.median, d.mad
        local delta = x - med
        local rel = med ~= 0 and math.abs(delta / med) or math.huge
        -- a flat history (MAD 0) makes any change infinitely unusual:
        -- then only the gates decide, and z is left out (nil)
        local z = mad > 0 and delta / (1.4826 * mad) or nil
        if (z == nil and delta ~= 0 or z ~= nil and math.abs(z) >= opts.z)
           and math.abs(delta) >= (e.abs or 0) and rel >= (e.rel or 0) then
          local worse
          if e.polarity == "LowerBetter" then worse = delta > 0
          elseif e.polarity == "HigherBetter" then worse = delta < 0 end
          out[#out + 1] = {
            test = row.test, scheduler = row.scheduler,
            topology = row.topology, metric = name, value = x, unit = e.unit,
            median = med, mad = mad, history = #xs, z = z,
            rel_delta = med ~= 0 and delta / med or nil,
            direction = worse == nil and "changed"
                        or (worse and "worse" or "better"),
          }
        end
      end
    end
  end
end

--- Analyse run directory `run` (a run_dir value of pool P).  The rest of P
-- is the history outliers are judged against.  opts override M.defaults.
function M.analyse(P, run, opts)
  local o = {}
  for k, v in pairs(M.defaults) do o[k] = v end
  for k, v in pairs(opts or {}) do o[k] = v end
  local view = P:filter { run_dir = run }
  local r = {
    run = run, sidecars = #view,
    schema = M.SCHEMA,
    counts = { pass = 0, fail = 0, skip = 0, inconclusive = 0, xfail = 0 },
    tests = array(), outliers = array(), verifier = array(), kvm = array(),
  }
  local kernels, commits, schedulers, accels = {}, {}, {}, {}
  for row, i in view:rows() do
    local st = status_of(row)
    r.counts[st] = r.counts[st] + 1
    if row.kernel then kernels[row.kernel] = true end
    if row.commit then commits[row.commit] = true end
    if row.scheduler then schedulers[row.scheduler] = true end
    if row.timestamp then
      if not r.first or row.timestamp < r.first then r.first = row.timestamp end
      if not r.last or row.timestamp > r.last then r.last = row.timestamp end
    end
    r.arch = r.arch or row.arch
    -- what the columns do not hold: reasons, host, verifier and KVM stats
    local sc = view:row(i)
    local t = { test = row.test, scheduler = row.scheduler,
                topology = row.topology, work_type = row.work_type,
                status = st, path = row.path, metrics = key_metrics(row),
                reasons = array() }
    if sc then
      for _, why in ipairs(sc.failure_reasons or {}) do
        t.reasons[#t.reasons + 1] = tostring(why)
      end
      if type(sc.host) == "table" and sc.host.accelerator then
        accels[sc.host.accelerator] = true
      end
      for _, v in ipairs(sc.verifier_stats or {}) do
        r.verifier[#r.verifier + 1] = { test = row.test,
                                        scheduler = row.scheduler,
                                        name = v.name,
                                        verified_insns = v.verified_insns }
      end
      if type(sc.kvm_stats) == "table" then
        local totals = {}
        for _, vcpu in ipairs(sc.kvm_stats.per_vcpu or {}) do
          for k, v in pairs(vcpu) do
            if type(v) == "number" then totals[k] = (totals[k] or 0) + v end
          end
        end
        if next(totals) then
          r.kvm[#r.kvm + 1] = { test = row.test, totals = totals }
        end
      end
    end
    r.tests[#r.tests + 1] = t
    outliers_of(P, row, run, o, r.outliers)
  end
  table.sort(r.tests, function(a, b)
    if (a.status == "fail") ~= (b.status == "fail") then
      return a.status == "fail"
    end
    if a.test ~= b.test then return (a.test or "") < (b.test or "") end
    return (a.topology or "") < (b.topology or "")
  end)
  local function strength(x) return x.z and math.abs(x.z) or math.huge end
  table.sort(r.outliers, function(a, b)
    if strength(a) ~= strength(b) then return strength(a) > strength(b) end
    return a.test .. a.metric < b.test .. b.metric
  end)
  r.kernels, r.commits = sorted_keys(kernels), sorted_keys(commits)
  r.schedulers, r.accelerators = sorted_keys(schedulers), sorted_keys(accels)
  r.history_key = "test, scheduler, topology, work_type, kernel"
  r.rule = o
  return r
end

local function value_text(v, unit)
  if v == nil then return "-" end
  local s = common.num(v)
  s = s:gsub("%.00$", "")
  if unit and unit ~= "" then s = s .. " " .. unit end
  return s
end

--- The analysis as text for a terminal or a CI log.
function M.text(r)
  local out = {}
  local function w(...) out[#out + 1] = table.concat({ ... }) end
  local function list(t) return #t > 0 and table.concat(t, ", ") or "-" end
  local c = r.counts
  local span = ""
  if r.first then
    span = ", " .. r.first .. (r.last ~= r.first and (" .. " .. r.last) or "")
  end
  w("run ", r.run, ": ", r.sidecars, " sidecar(s)", span, "\n")
  w("  kernel ", list(r.kernels), "; commit ", list(r.commits), "; arch ",
    r.arch or "-", #r.accelerators > 0 and ("; accelerator "
    .. list(r.accelerators)) or "", "\n")
  w(string.format("  %d passed, %d failed, %d skipped, %d inconclusive, "
    .. "%d expected failure(s)\n", c.pass, c.fail, c.skip, c.inconclusive,
    c.xfail))
  if r.sidecars == 0 then return table.concat(out) end
  w("\n")
  local rows = { { "TEST", "SCHEDULER", "TOPOLOGY", "RESULT", "KEY METRICS" } }
  for _, t in ipairs(r.tests) do
    local ms = {}
    for _, m in ipairs(t.metrics) do
      ms[#ms + 1] = m.metric .. " " .. value_text(m.value, m.unit)
    end
    rows[#rows + 1] = { t.test or "?", t.scheduler or "-", t.topology or "-",
                        t.status == "fail" and "FAIL" or t.status,
                        #ms > 0 and table.concat(ms, ", ") or "-" }
  end
  for _, l in ipairs(common.columns(rows)) do w(l, "\n") end
  local failed = false
  for _, t in ipairs(r.tests) do
    if t.status == "fail" then
      if not failed then w("\nfailures:\n") failed = true end
      w("  ", t.test or "?", " (", t.topology or "-", "): ",
        #t.reasons > 0 and t.reasons[1] or "no reason recorded", "\n")
      for k = 2, #t.reasons do w("    ", t.reasons[k], "\n") end
      w("    ", t.path, "\n")
    end
  end
  w("\n")
  if #r.outliers == 0 then
    w("outliers: none (against other passed runs of the same ",
      r.history_key, "; needs ", r.rule.min_history, " or more)\n")
  else
    w("outliers against other passed runs of the same ", r.history_key,
      "\n(|robust z| >= ", r.rule.z, " and a change beyond the metric's ",
      "gates):\n")
    local orows = { { "TEST", "TOPOLOGY", "METRIC", "VALUE", "MEDIAN (n)",
                      "CHANGE" } }
    for i, x in ipairs(r.outliers) do
      if i > r.rule.max_outliers then break end
      orows[#orows + 1] = {
        x.test, x.topology or "-", x.metric, value_text(x.value, x.unit),
        value_text(x.median, x.unit) .. " (" .. x.history .. ")",
        (x.rel_delta and string.format("%+.1f%% ", x.rel_delta * 100)
         or "") .. x.direction }
    end
    for _, l in ipairs(common.columns(orows)) do w("  ", l, "\n") end
    if #r.outliers > r.rule.max_outliers then
      w("  ... and ", #r.outliers - r.rule.max_outliers,
        " more (--json lists all)\n")
    end
  end
  if #r.verifier > 0 then
    -- every test of a scheduler loads the same programs: one line per
    -- (scheduler, program), with a range where tests disagree
    w("\nBPF verifier (instructions verified per program):\n")
    local seen, order = {}, {}
    for _, v in ipairs(r.verifier) do
      local key = (v.scheduler or "-") .. "\0" .. tostring(v.name)
      local e = seen[key]
      if not e then
        e = { v.scheduler or "-", tostring(v.name), lo = v.verified_insns,
              hi = v.verified_insns }
        seen[key] = e
        order[#order + 1] = e
      end
      e.lo = math.min(e.lo, v.verified_insns)
      e.hi = math.max(e.hi, v.verified_insns)
    end
    local vrows = { { "SCHEDULER", "PROGRAM", "INSNS" } }
    for _, e in ipairs(order) do
      vrows[#vrows + 1] = { e[1], e[2], e.lo == e.hi and tostring(e.lo)
                            or string.format("%d-%d", e.lo, e.hi) }
    end
    for _, l in ipairs(common.columns(vrows)) do w("  ", l, "\n") end
  end
  if #r.kvm > 0 then
    w("\nKVM statistics (summed over vCPUs):\n")
    for _, k in ipairs(r.kvm) do
      local parts = {}
      for _, name in ipairs(sorted_keys(k.totals)) do
        parts[#parts + 1] = name .. "=" .. string.format("%.0f", k.totals[name])
      end
      w("  ", k.test or "?", ": ", table.concat(parts, " "), "\n")
    end
  end
  return table.concat(out)
end

return M
