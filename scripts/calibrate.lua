-- Measure each policy's A/A false-fail, false REGRESSION rows and detection
-- rates on synthetic pools where the truth is known
local usage = require "schedtest.usage"
local cal = require "schedtest.calibrate"

local p = usage.parser{
  prog = "schedtest calibrate",
  summary = "Simulate A/A and A/B comparisons and print, per policy, how often the gate "
            .. "fails with no real change, how many false REGRESSION rows a comparison "
            .. "has, and how often a real change is caught.",
  epilog = "Synthetic metrics are lower-is-better Gauges (CVs log-uniform in 1-30 %); the "
           .. "changed metrics have CV --cv and are worse on side B by each of --effects "
           .. "times the relative gate --rel (or by --effect percent).  Detection is the "
           .. "share of trials whose first changed metric is called REGRESSION.  Rates "
           .. "carry 95 % Wilson intervals, false rows per comparison a Poisson interval "
           .. "widened for clustering.",
}
p:option{ "--policy", metavar = "P", repeatable = true,
          help = "policy NAME or FILE.lua (repeatable) [default: ktstr and schedtest]" }
p:option{ "--n", metavar = "N", type = "integer", default = 5, help = "runs per side",
          check = function(v) return v >= 2, "must be at least 2" end }
p:option{ "--metrics", metavar = "M", type = "integer", default = 5, help = "metrics per test",
          check = function(v) return v >= 1, "must be at least 1" end }
p:option{ "--tests", metavar = "T", type = "integer", default = 10, help = "tests per comparison",
          check = function(v) return v >= 1, "must be at least 1" end }
p:option{ "--cv", metavar = "C", type = "number", default = 3,
          help = "CV of the changed metrics, percent" }
p:option{ "--effects", metavar = "X1,X2", default = "0.5,1,1.5,2",
          help = "changes of the changed metrics, as multiples of the gate" }
p:option{ "--effect", metavar = "E", type = "number",
          help = "one change of the changed metrics, percent (instead of --effects)" }
p:option{ "--changed", metavar = "K", type = "integer", default = 1,
          help = "number of changed metrics in the A/B pools" }
p:option{ "--rel", metavar = "R", type = "number", default = 10,
          help = "relative materiality gate of the synthetic metrics, percent" }
p:option{ "--dist", metavar = "D", default = "mixed",
          choices = { "normal", "lognormal", "mixed", "bimodal" },
          help = "run-to-run distribution (bimodal: a third of the boots 1.6x slower)" }
p:option{ "--outliers", metavar = "PCT", type = "number", default = 0,
          help = "share of outlier boots (3x slower), percent" }
p:flag{ "--correlated", help = "metrics of a test come in registry families that share " ..
        "their noise and change together" }
p:option{ "--family-size", metavar = "F", type = "integer", default = 3,
          help = "metrics per family with --correlated" }
p:flag{ "--paired", help = "rows carry their round; each round has a drift both sides share" }
p:option{ "--round-cv", metavar = "C", type = "number", default = 3,
          help = "CV of the per-round drift with --paired, percent" }
p:option{ "--auto", metavar = "[FIRST:]MAX",
          help = "sequential looks like --noise-adjust auto:MAX (first look at FIRST, " ..
                 "default 5) instead of a fixed --n" }
p:option{ "--fail-threshold", metavar = "N", type = "integer",
          help = "override every policy's fail threshold" }
p:option{ "--trials", metavar = "T", type = "integer", default = 200, help = "trials",
          check = function(v) return v >= 1, "must be at least 1" end }
p:option{ "--seed", metavar = "S", type = "integer", default = 1, help = "random seed" }
local o = p:parse({ ... })
if not o then return 0 end

local effects
if not o.effect then
  effects = {}
  for x in o.effects:gmatch("[^,%s]+") do
    local v = tonumber(x)
    if not v or v < 0 then usage.error("schedtest calibrate: --effects: '%s' is not a multiple", x) end
    effects[#effects + 1] = v
  end
end
local seq
if o.auto then
  local first, max = o.auto:match("^(%d+):(%d+)$")
  if not first then first, max = 5, o.auto:match("^(%d+)$") end
  first, max = tonumber(first), tonumber(max)
  if not max or max < 2 or first < 2 or first > max then
    usage.error("schedtest calibrate: --auto wants MAX or FIRST:MAX with 2 <= FIRST <= MAX")
  end
  seq = { first = first, max = max }
end

local t0 = os.clock()
local r = cal.run{
  policies = o.policy and #o.policy > 0 and o.policy or nil,
  n = o.n, metrics = o.metrics, tests = o.tests, cv = o.cv / 100,
  effects = effects, effect = o.effect and o.effect / 100,
  changed = o.changed, rel = o.rel / 100, dist = o.dist, trials = o.trials, seed = o.seed,
  fail_threshold = o.fail_threshold, outliers = o.outliers / 100, correlated = o.correlated,
  family_size = o.family_size, paired = o.paired, round_cv = o.round_cv / 100,
  sequential = seq,
}
local function pct(x) return string.format("%.1f%%", 100 * x) end
local function cell(s) return string.format("%s [%s-%s]", pct(s.rate), pct(s.lo), pct(s.hi)) end
local shape = o.dist .. (o.outliers > 0 and string.format(" + %g%% outlier boots", o.outliers) or "")
              .. (o.correlated and string.format(", correlated families of %d", o.family_size) or "")
              .. (o.paired and string.format(", paired rounds (drift CV %g%%)", o.round_cv) or "")
print(string.format("calibrate: %d tests x %d metrics, %s, %d trials, seed %d, %s runs",
                    o.tests, o.metrics,
                    seq and string.format("auto: looks at %s runs per side",
                                          table.concat(r.options.plan.looks, ","))
                        or string.format("%d runs per side", o.n),
                    o.trials, o.seed, shape))
print(string.format("A/B: %d metric(s) worse at CV %g%%; other metrics CV 1-30%%; gate rel %g%%",
                    o.changed, o.cv, o.rel))
local head = { "POLICY", "A/A FALSE-FAIL", "FALSE REG ROWS/CMP" }
for _, e in ipairs(r.options.effects) do
  head[#head + 1] = o.effect and string.format("DETECTED +%g%%", o.effect)
                    or string.format("DETECTED %gx", e)
end
if seq then head[#head + 1] = "RUNS/SIDE A/A, AB" end
head[#head + 1] = "A/A INCONCL/CMP"
local rows = { head }
for _, pr in ipairs(r.policies) do
  local row = { pr.name, cell(pr.aa), string.format("%.3f [%.3f-%.3f]", pr.false_rows.rate,
                                                      pr.false_rows.lo, pr.false_rows.hi) }
  local runs = {}
  for _, d in ipairs(pr.detection) do
    row[#row + 1] = cell(d)
    runs[#runs + 1] = string.format("%.1f", d.runs)
  end
  if seq then row[#row + 1] = string.format("%.1f, %s", pr.aa_runs, table.concat(runs, "/")) end
  row[#row + 1] = string.format("%.2f", pr.aa_inconclusive)
  rows[#rows + 1] = row
end
local width = {}
for _, row in ipairs(rows) do
  for i, c in ipairs(row) do width[i] = math.max(width[i] or 0, #c) end
end
for _, row in ipairs(rows) do
  local parts = {}
  for i, c in ipairs(row) do parts[i] = c .. string.rep(" ", width[i] - #c) end
  print((table.concat(parts, "  "):gsub("%s+$", "")))
end
io.stdout:flush()
io.stderr:write(string.format("calibrate: %.1f s\n", os.clock() - t0))
return 0
