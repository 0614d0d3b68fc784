-- Measure each policy's A/A false-fail and A/B detection rates on synthetic pools
local usage = require "schedtest.usage"
local cal = require "schedtest.calibrate"

local p = usage.parser{
  prog = "schedtest calibrate",
  summary = "Simulate A/A and A/B comparisons and print, per policy, how often the gate "
            .. "fails with no real change and how often a real change is caught.",
  epilog = "Synthetic metrics are lower-is-better Gauges (normal and log-normal runs, CVs "
           .. "log-uniform in 1-30 %); the changed metrics have CV --cv and are worse by "
           .. "--effect percent on side B.  Rates carry 95 % Wilson intervals.",
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
p:option{ "--effect", metavar = "E", type = "number", default = 10,
          help = "change of the changed metrics on side B, percent" }
p:option{ "--changed", metavar = "K", type = "integer", default = 1,
          help = "number of changed metrics in the A/B pools" }
p:option{ "--rel", metavar = "R", type = "number", default = 10,
          help = "relative materiality gate of the synthetic metrics, percent" }
p:option{ "--dist", metavar = "D", default = "mixed", choices = { "normal", "lognormal", "mixed" },
          help = "run-to-run distribution" }
p:option{ "--fail-threshold", metavar = "N", type = "integer",
          help = "override every policy's fail threshold" }
p:option{ "--trials", metavar = "T", type = "integer", default = 200, help = "trials",
          check = function(v) return v >= 1, "must be at least 1" end }
p:option{ "--seed", metavar = "S", type = "integer", default = 1, help = "random seed" }
local o = p:parse({ ... })
if not o then return 0 end

local t0 = os.clock()
local r = cal.run{
  policies = o.policy and #o.policy > 0 and o.policy or nil,
  n = o.n, metrics = o.metrics, tests = o.tests, cv = o.cv / 100, effect = o.effect / 100,
  changed = o.changed, rel = o.rel / 100, dist = o.dist, trials = o.trials, seed = o.seed,
  fail_threshold = o.fail_threshold,
}
local function pct(x) return string.format("%.1f%%", 100 * x) end
local function cell(s) return string.format("%s [%s-%s]", pct(s.rate), pct(s.lo), pct(s.hi)) end
print(string.format("calibrate: %d tests x %d metrics, %d runs per side, %d trials, seed %d, %s runs",
                    o.tests, o.metrics, o.n, o.trials, o.seed, o.dist))
print(string.format("A/B: %d metric(s) worse by %g%% at CV %g%%; other metrics CV 1-30%%; gates rel %g%%",
                    o.changed, o.effect, o.cv, o.rel))
local rows = { { "POLICY", "A/A FALSE-FAIL", "A/B DETECTED (changed metric)", "A/B GATE FAILS",
                 "A/A FALSE REGS/TRIAL", "A/A INCONCLUSIVE/TRIAL" } }
for _, pr in ipairs(r.policies) do
  rows[#rows + 1] = { pr.name, cell(pr.aa), cell(pr.detection), cell(pr.ab_gate),
                      string.format("%.2f", pr.aa_false_regressions),
                      string.format("%.2f", pr.aa_inconclusive) }
end
local width = {}
for _, row in ipairs(rows) do
  for i, c in ipairs(row) do width[i] = math.max(width[i] or 0, #c) end
end
for _, row in ipairs(rows) do
  local parts = {}
  for i, c in ipairs(row) do parts[i] = c .. string.rep(" ", width[i] - #c) end
  print(table.concat(parts, "  "))
end
io.stderr:write(string.format("calibrate: %.1f s\n", os.clock() - t0))
return 0
