-- Issue 14, "verdicts that are right at every effect size": the default
-- policy's intervals, materiality, error control, robustness, pairing,
-- sequential looks, settings precedence, cached mode and the gate module.
local compare = require "schedtest.compare"
local evidence = require "schedtest.evidence"
local gate = require "schedtest.gate"
local health = require "schedtest.health"
local sequential = require "schedtest.sequential"
local report = require "schedtest.report"

local function entry(name, polarity, extra)
  local e = { name = name, polarity = polarity or "LowerBetter", kind = "Gauge", gauge = "Avg",
              abs = 0, rel = 0.10, unit = "" }
  for k, v in pairs(extra or {}) do e[k] = v end
  return e
end

local entries = {
  lat = entry("lat"), tput = entry("tput", "HigherBetter"),
  rate = entry("rate", "LowerBetter", { kind = "Rate" }),
  fam_a = entry("fam_a", "HigherBetter", { family = "throughput" }),
  fam_b = entry("fam_b", "HigherBetter", { family = "throughput" }),
  fam_c = entry("fam_c", "HigherBetter", { family = "throughput" }),
  other = entry("other"),
}
local registry = { lookup = function(name) return entries[name] or entry(name) end }

local function row(side, metrics, extra)
  local r = { test = "t1", commit = side, kernel = "6.12", scheduler = "scx_x",
              topology = "1n1l2c1t", work_type = "SpinWait", passed = true, skipped = false,
              inconclusive = false, expected_failure = false, metrics = metrics,
              perf_delta_assertions = {}, phases = {} }
  for k, v in pairs(extra or {}) do r[k] = v end
  return r
end

-- runs of one metric: a[i] on A, b[i] on B (extra(side, i) adds fields)
local function runs(name, a, b, extra)
  local rows = {}
  for i, v in ipairs(a) do rows[#rows + 1] = row("A", { [name] = v }, extra and extra("A", i)) end
  for i, v in ipairs(b) do rows[#rows + 1] = row("B", { [name] = v }, extra and extra("B", i)) end
  return rows
end

local function run(opts)
  opts.registry = registry
  opts.a, opts.b = opts.a or "A", opts.b or "B"
  return compare.run(opts)
end

local function find(result, metric)
  for _, r in ipairs(result.rows) do if r.metric == metric then return r end end
end

local A5 = { 100, 103, 97, 101.5, 98.5 }
local function scaled(t, f) local o = {} for i, v in ipairs(t) do o[i] = v * f end return o end

describe("ratio intervals of the change (item 1)", function()
  it("account for both sides and are asymmetric on the log scale", function()
    local x = find(run{ rows = runs("lat", A5, scaled(A5, 1.3)) }, "lat")
    assert.is_true(x.ci_lo > 0.2 and x.ci_hi < 0.4)
    assert.is_true(math.abs(math.log(1 + x.ci_hi) - math.log(1.3))
                   - math.abs(math.log(1.3) - math.log(1 + x.ci_lo)) < 1e-9)
    assert.are.equal("log", x.ci_method)
  end)

  it("never reach below -100 % for a non-negative metric, in the row or the report", function()
    -- a rate that fell with a noisy baseline (the demo printed -126 %..-43 %)
    local rows = runs("rate", { 1, 9, 2, 10, 3 }, { 0, 0.1, 0.2, 0, 0.1 })
    local r = run{ rows = rows, all_metrics = true }
    local x = find(r, "rate")
    assert.is_true(x.ci_lo >= -1, tostring(x.ci_lo))
    local text = report.render(r, "text", { all_metrics = true })
    for v in text:gmatch("CI of change ([%-%+%d%.]+)%%") do
      assert.is_true(tonumber(v) >= -100, text)
    end
  end)
end)

describe("materiality keeps the gate's promise (item 2)", function()
  it("half the gate is not a REGRESSION, even when clearly separated", function()
    local x = find(run{ rows = runs("lat", { 100, 100.2, 99.8, 100.1, 99.9 },
                                    { 105, 105.2, 104.8, 105.1, 104.9 }) }, "lat")
    assert.is_true(x.evidence.test.p_up < 1e-6)
    assert.are.equal("stable", x.verdict)
    assert.matches("below the gate", x.reasons[1])
  end)

  it("1.5 x the gate at CV 3 %, N = 5 is a REGRESSION", function()
    local x = find(run{ rows = runs("lat", A5, scaled(A5, 1.15)) }, "lat")
    assert.are.equal("REGRESSION", x.verdict)
    assert.is_true(math.abs(x.change - 0.15) < 0.01)
  end)

  it("a fall of a higher-is-better metric is the worse direction", function()
    local x = find(run{ rows = runs("tput", A5, scaled(A5, 0.8)) }, "tput")
    assert.are.equal("REGRESSION", x.verdict)
    x = find(run{ rows = runs("tput", A5, scaled(A5, 1.25)) }, "tput")
    assert.are.equal("improvement", x.verdict)
  end)

  it("cannot tell: INCONCLUSIVE with the runs that would tell", function()
    local x = find(run{ rows = runs("lat", { 100, 130, 80, 110 }, { 105, 140, 90, 100 }) }, "lat")
    assert.are.equal("INCONCLUSIVE", x.verdict)
    assert.is_true(x.suggested_n > 4)
    assert.is_true(x.mde > 0.10)
    assert.matches("runs per side would tell", x.reasons[1])
  end)
end)

describe("error control over the rows (item 3)", function()
  it("tests each row at false_rows / m, one-sided", function()
    local rows = {}
    for _, m in ipairs{ "lat", "tput", "other" } do
      for _, r in ipairs(runs(m, A5, A5)) do rows[#rows + 1] = r end
    end
    local r = run{ rows = rows }
    assert.are.equal("pfer", r.adjust.method)
    assert.are.equal(3, r.adjust.m)
    assert.is_true(math.abs(r.adjust.one_sided - 0.05 / 3) < 1e-12)
    -- a count gate of 1 keeps its false-fail at 1 %: 0.01 / m
    r = run{ rows = rows, fail_threshold = 1 }
    assert.is_true(math.abs(r.adjust.one_sided - 0.01 / 3) < 1e-12)
  end)

  it("counts a family of derived metrics once toward the fail threshold", function()
    local rows = {}
    for _, m in ipairs{ "fam_a", "fam_b", "fam_c" } do
      for _, r in ipairs(runs(m, A5, scaled(A5, 0.7))) do rows[#rows + 1] = r end
    end
    local r = run{ rows = rows, fail_threshold = 2 }
    assert.are.equal(3, r.totals.regressions)  -- every row is reported
    assert.are.equal(1, r.gate.counted)        -- one family
    assert.are.equal(0, r.exit_code)
    -- ktstr counts metrics
    assert.are.equal(1, run{ rows = rows, fail_threshold = 2, policy = "ktstr" }.exit_code)
  end)
end)

describe("robust evidence (item 4)", function()
  it("one outlier boot neither makes nor hides a regression", function()
    -- A/A with one 3x boot at B: not a regression
    local x = find(run{ rows = runs("lat", A5, { 101, 99, 100.5, 98, 300 }) }, "lat")
    assert.are_not.equal("REGRESSION", x.verdict)
    assert.is_true(math.abs(x.change) < 0.03)
    -- a real +30 % with one 3x boot at A: the location is not dragged
    x = find(run{ rows = runs("lat", { 100, 103, 97, 101.5, 300 }, scaled(A5, 1.3)) }, "lat")
    assert.is_true(math.abs(x.change - 0.3) < 0.05, tostring(x.change))
  end)

  it("judges runs that fall into modes by ranks", function()
    -- one side's boots in two modes 1.6x apart: Student's t would call the
    -- four slow boots against five fast ones a regression
    local x = find(run{ rows = runs("lat", { 100, 101, 99, 100.5, 99.5 },
                                    { 160, 161, 159, 160.5, 100 }) }, "lat")
    assert.matches("Mann%-Whitney %(runs in modes%)", x.evidence.test.method)
    assert.are.equal("INCONCLUSIVE", x.verdict)  -- ranks cannot reach the level at 5 runs
    assert.is_true(x.suggested_n >= 8)
    local gap, ratio = evidence.mode_split{ 0, 0.01, 1, 1.01 }
    assert.is_true(math.abs(gap - 0.99) < 1e-12 and ratio > 10)
  end)

  it("judges a whole comparison by ranks when its boots fall into modes", function()
    -- four tests; every metric of a slow boot 1.6x; test t1 had all its
    -- B boots slow and all its A boots fast: only the other tests show the modes
    local rows = {}
    local slow = { t1 = { A = {}, B = { true, true, true, true, true } },
                   t2 = { A = { false, true }, B = { true } }, t3 = { A = { true }, B = { false, false, true } },
                   t4 = { A = { false, false, false, true }, B = { false, true } } }
    for test, sides in pairs(slow) do
      for _, side in ipairs{ "A", "B" } do
        for i = 1, 5 do
          local f = sides[side][i] and 1.6 or 1
          local m = {}
          for k = 1, 4 do m["m" .. k] = 100 * k * f * (1 + 0.003 * ((i + k) % 3)) end
          rows[#rows + 1] = row(side, m, { test = test })
        end
      end
    end
    local r = run{ rows = rows, fail_threshold = 1 }
    assert.is_true(r.shape.regime)
    assert.are.equal(0, r.totals.regressions)
    assert.are.equal(0, r.exit_code)
    assert.matches("boots fall into modes", table.concat(r.warnings, "\n"))
    -- without the other tests, t1 alone looks like a regression of every metric
    local t1 = {}
    for _, x in ipairs(rows) do if x.test == "t1" then t1[#t1 + 1] = x end end
    local alone = run{ rows = t1, fail_threshold = 1 }
    assert.is_false(alone.shape.regime)
    assert.are.equal(4, alone.totals.regressions)
  end)

  it("adds Mann-Whitney where it can reach a family's levels", function()
    local a, b = {}, {}
    for i = 1, 10 do a[i] = 100 + i; b[i] = 130 + i end
    local ev = evidence.unpaired(a, b)
    assert.matches("Mann%-Whitney", ev.test.method)
    assert.is_true(ev.test.p_up <= 2 * ev.test.p_up_rank + 1e-15)
    assert.is_nil(evidence.unpaired(A5, A5).test.rank)
  end)
end)

describe("paired rounds (item 5)", function()
  -- a drift shared by both sides of each round hides a +15 % change from
  -- the unpaired evidence but not from the paired one
  local drift = { 0, 40, 80, 120, 160, 200, 240, 280 }
  local function drifting(extra)
    local rows = {}
    for i, d in ipairs(drift) do
      rows[#rows + 1] = row("A", { lat = (100 + d) * (1 + 0.002 * (i % 2)) }, extra("A", i))
      rows[#rows + 1] = row("B", { lat = (100 + d) * 1.15 * (1 + 0.002 * (i % 3)) }, extra("B", i))
    end
    return rows
  end

  it("uses a row's round field", function()
    local x = find(run{ rows = drifting(function(_, i) return { round = i } end) }, "lat")
    assert.are.equal("paired", x.evidence.design)
    assert.are.equal(8, x.paired.n)
    assert.are.equal("REGRESSION", x.verdict)
    local u = find(run{ rows = drifting(function() return {} end) }, "lat")
    assert.are.equal("unpaired", u.evidence.design)
    assert.are_not.equal("REGRESSION", u.verdict)
  end)

  it("judges fewer than PAIRED_MIN_ROUNDS rounds unpaired", function()
    local rows = {}
    for i = 1, 5 do
      rows[#rows + 1] = row("A", { lat = A5[i] }, { round = i })
      rows[#rows + 1] = row("B", { lat = A5[i] * 1.15 }, { round = i })
    end
    local x = find(run{ rows = rows }, "lat")
    assert.are.equal(5, x.paired.n)            -- the paired tests are still reported
    assert.are.equal("unpaired", x.evidence.design)
  end)

  it("falls back to the run directory's round with rounds = 'auto'", function()
    local rows = drifting(function(side, i)
      return { run_dir = string.format("/runs/inv/%s-abc-%d", side == "A" and "base" or "head", i - 1) }
    end)
    local x = find(run{ rows = rows, rounds = "auto" }, "lat")
    assert.are.equal("paired", x.evidence.design)
    assert.are.equal("REGRESSION", x.verdict)
  end)
end)

describe("sequential looks (item 6)", function()
  local plan = sequential.plan{ max = 20 }

  it("plans looks and spends the level over them", function()
    assert.are.same({ 5, 10, 20 }, plan.looks)
    local total = 0.001
    local n1, n3 = sequential.nominal(plan, total, 1), sequential.nominal(plan, total, 3)
    assert.is_true(n1 < total and n3 < total and n1 > 0)
    assert.are.same({ 7 }, sequential.plan{ max = 7, first = 9 }.looks)
  end)

  it("tests each look at its nominal level and says whether to go on", function()
    local rows = runs("lat", { 100, 106, 94, 103, 97 }, { 106, 112, 100, 109, 103 })
    local r = run{ rows = rows, sequential = { plan = plan, runs = 5 } }
    local fixed = run{ rows = rows }
    assert.is_true(r.adjust.one_sided < fixed.adjust.one_sided)
    assert.are.equal(1, r.sequential.look)
    assert.are.equal("INCONCLUSIVE", find(r, "lat").verdict)
    local d = sequential.decide(plan, r)
    assert.is_false(d.stop)
    assert.are.equal(10, d.next)
    -- at the last look it stops whatever is left
    local last = run{ rows = rows, sequential = { plan = plan, runs = 20 } }
    assert.is_true(sequential.decide(plan, last).stop)
    -- INCONCLUSIVE, but more than MAX runs would be needed: stop (futility)
    local noisy = run{ rows = runs("lat", { 100, 130, 80, 110, 95 }, { 105, 140, 90, 100, 120 }),
                       sequential = { plan = plan, runs = 5 } }
    assert.are.equal("INCONCLUSIVE", find(noisy, "lat").verdict)
    local dn = sequential.decide(plan, noisy)
    assert.is_true(dn.stop)
    assert.matches("more than 20 runs", dn.reason)
    -- nothing INCONCLUSIVE: stop
    local clear = run{ rows = runs("lat", A5, scaled(A5, 1.5)), sequential = { plan = plan, runs = 5 } }
    local dc = sequential.decide(plan, clear)
    assert.is_true(dc.stop)
  end)

  it("keeps a REGRESSION found at an earlier look", function()
    local first = run{ rows = runs("lat", A5, scaled(A5, 1.5)), sequential = { plan = plan, runs = 5 } }
    assert.are.equal("REGRESSION", find(first, "lat").verdict)
    local later = run{ rows = runs("lat", A5, A5),
                       sequential = { plan = plan, runs = 10, previous = first } }
    local x = find(later, "lat")
    assert.are.equal("REGRESSION", x.verdict)
    assert.matches("earlier look", x.reasons[1])
  end)
end)

describe("settings precedence (item 7)", function()
  local p = { name = "p", fail_threshold = 1, must_fail = { "lat" } }

  it("caller over policy over defaults", function()
    local rows = runs("lat", A5, scaled(A5, 1.5))
    assert.are.equal(1, run{ rows = rows, policy = p }.fail_threshold)
    assert.are.equal(3, run{ rows = rows, policy = p, fail_threshold = 3 }.fail_threshold)
    assert.are.equal(5, run{ rows = rows }.fail_threshold)
    assert.are.same({ "lat" }, run{ rows = rows, policy = p }.must_fail)
    assert.are.same({}, run{ rows = rows, policy = p, must_fail = {} }.must_fail)
    local r = run{ rows = rows, policy = p, fail_threshold = 0 }
    assert.are.equal(1, r.exit_code) -- the policy's must-fail metric regressed
  end)
end)

describe("compare.run in stages, the gate module (item 8)", function()
  it("exposes each stage", function()
    for _, f in ipairs{ "settings", "partition", "metric_rows", "error_control", "verdicts" } do
      assert.is_function(compare[f])
    end
    assert.are.equal(gate.default, compare.default_gate)
  end)

  it("the gate returns fails, reasons and the exit code; health still folds in", function()
    local r = run{ rows = runs("lat", A5, scaled(A5, 1.5)), fail_threshold = 1 }
    assert.is_true(r.gate.fails)
    assert.are.equal(1, r.exit_code)
    assert.matches("fail threshold 1", r.gate.reasons[1])
    local ok = run{ rows = runs("lat", A5, A5) }
    assert.are.equal(0, ok.exit_code)
    health.apply(ok, { failures = { "t1 failed at B in 1 of 5 run(s): boom" }, tests = {}, notes = {} })
    assert.is_true(ok.gate.fails)
    assert.are.equal(1, ok.exit_code)
    assert.are.equal(1, gate.exit_code(ok))
  end)
end)

describe("cached mode judges from the spread (item 9)", function()
  it("two or more runs per side: spread evidence; one run: ktstr's averages", function()
    local rows = runs("lat", A5, scaled(A5, 1.5))
    local one = { row("A", { lat = 100 }, { test = "t2" }), row("B", { lat = 150 }, { test = "t2" }) }
    for _, r in ipairs(one) do rows[#rows + 1] = r end
    local r = run{ rows = rows, mode = "cached" }
    assert.are.equal("noise", r.mode)
    assert.is_true(r.cached)
    local by_test = {}
    for _, x in ipairs(r.rows) do by_test[x.test] = x end
    assert.are.equal("noise", by_test.t1.mode)
    assert.is_table(by_test.t1.evidence)
    assert.are.equal("scalar", by_test.t2.mode)
    assert.are.equal("REGRESSION", by_test.t2.verdict)
    -- ktstr's policy or averaged = true: two averages everywhere
    for _, o in ipairs{ { policy = "ktstr" }, { averaged = true } } do
      o.rows, o.mode = rows, "cached"
      local s = run(o)
      assert.are.equal("scalar", s.mode)
      for _, x in ipairs(s.rows) do assert.is_nil(x.evidence) end
    end
  end)
end)
