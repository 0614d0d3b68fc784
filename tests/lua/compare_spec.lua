-- The comparison engine on small hand-built pools (interfaces.md §2 rows,
-- §3 registry entries injected), under the ktstr and schedtest policies.
local compare = require "schedtest.compare"
local policy = require "schedtest.policy"

local entries = {
  lat = { name = "lat", polarity = "LowerBetter", kind = "Gauge", gauge = "Avg", abs = 0, rel = 0.10 },
  tput = { name = "tput", polarity = "HigherBetter", kind = "Counter", abs = 0, rel = 0.10 },
  info = { name = "info", polarity = "Informational", kind = "Counter", abs = 0, rel = 0.10 },
  peak = { name = "peak", polarity = "LowerBetter", kind = "Peak", abs = 0, rel = 0.10 },
  rate = { name = "rate", polarity = "LowerBetter", kind = "Rate", num = "num", den = "den",
           abs = 0, rel = 0.10 },
  num = { name = "num", polarity = "Informational", kind = "Counter", abs = 0, rel = 0.1,
          suppressed = true },
  den = { name = "den", polarity = "Informational", kind = "Counter", abs = 0, rel = 0.1,
          suppressed = true },
  big = { name = "big", polarity = "LowerBetter", kind = "Gauge", gauge = "Avg", abs = 1000, rel = 0.10 },
  ph = { name = "ph", polarity = "LowerBetter", kind = "PerPhase", abs = 0, rel = 0.10 },
  unk = { name = "unk", polarity = "Unknown", kind = "Gauge", abs = 0, rel = 0.10 },
}
local registry = {
  lookup = function(name)
    return entries[name] or { name = name, polarity = "LowerBetter", kind = "Gauge",
                              abs = 0, rel = 0.10, registered = false }
  end,
}

local function row(t)
  return {
    test = t.test or "t1", commit = t.commit or "A", kernel = "6.12", scheduler = "scx_x",
    topology = "1n1l2c1t", work_type = "SpinWait", cpu_budget = t.cpu_budget,
    passed = t.passed ~= false, skipped = t.skipped or false,
    inconclusive = t.inconclusive or false, expected_failure = t.expected_failure or false,
    metrics = t.metrics or {}, perf_delta_assertions = t.pda or {}, phases = t.phases or {},
  }
end

-- n runs per side of metric `name`: values a[i] on A, b[i] on B
local function runs(name, a, b, extra)
  local rows = {}
  for side, vals in pairs{ A = a, B = b } do
    for i, v in ipairs(vals) do
      local r = row{ commit = side, metrics = { [name] = v }, test = extra and extra.test,
                     pda = extra and extra.pda, phases = extra and extra.phases and extra.phases[side][i] }
      rows[#rows + 1] = r
    end
  end
  return rows
end

local function concat(...)
  local out = {}
  for _, t in ipairs{ ... } do for _, v in ipairs(t) do out[#out + 1] = v end end
  return out
end

local function run(opts)
  opts.registry = registry
  opts.a = opts.a or "A"
  opts.b = opts.b or "B"
  opts.policy = opts.policy or "ktstr"
  return compare.run(opts)
end

local function find(result, metric, test)
  for _, r in ipairs(result.rows) do
    if r.metric == metric and (test == nil or r.test == test) then return r end
  end
end

local A5 = { 100, 101, 99, 100.5, 99.5 }
local function scaled(f) local t = {} for i, v in ipairs(A5) do t[i] = v * f end return t end

describe("compare.run in scalar mode (ktstr §2.3)", function()
  it("gives each verdict word", function()
    local rows = {
      row{ commit = "A", metrics = { lat = 100, tput = 100, info = 10, big = 100 } },
      row{ commit = "B", metrics = { lat = 120, tput = 130, info = 20, big = 150 } },
      row{ commit = "A", test = "t2", metrics = { lat = 100, tput = 100 } },
      row{ commit = "B", test = "t2", metrics = { lat = 105, tput = 80 } },
    }
    local r = run{ rows = rows, mode = "scalar" }
    assert.are.equal("REGRESSION", find(r, "lat", "t1").verdict)
    assert.are.equal("improvement", find(r, "tput", "t1").verdict)
    assert.are.equal("informational", find(r, "info", "t1").verdict)
    assert.are.equal("stable", find(r, "big", "t1").verdict) -- |delta| 50 < abs 1000
    local u = run{ rows = { row{ commit = "A", metrics = { unk = 1 } },
                            row{ commit = "B", metrics = { unk = 2 } } }, mode = "scalar" }
    assert.are.equal("informational", find(u, "unk").verdict)
    assert.are.equal("stable", find(r, "lat", "t2").verdict)   -- 5 % < 10 %
    assert.are.equal("REGRESSION", find(r, "tput", "t2").verdict)
    assert.are.equal(2, r.totals.regressions)
    assert.are.equal(1, r.totals.improvements)
    assert.are.same({ "commit" }, r.slicing)
    assert.are.equal("test", r.pairing[1])
    assert.are.equal(0, r.exit_code) -- 2 < fail threshold 5
    local lat = find(r, "lat", "t1")
    assert.are.equal(20, lat.delta)
    assert.is_true(math.abs(lat.rel_delta - 0.2) < 1e-12)
  end)

  it("aggregates repeated rows per metric kind and re-derives rates", function()
    local rows = {
      row{ commit = "A", metrics = { lat = 100, peak = 5, tput = 10, num = 10, den = 2, rate = 99 } },
      row{ commit = "A", metrics = { lat = 110, peak = 9, tput = 30, num = 30, den = 18, rate = 99 } },
      row{ commit = "B", metrics = { lat = 105, peak = 9, tput = 20, num = 8, den = 4, rate = 99 } },
    }
    local r = run{ rows = rows, mode = "scalar" }
    assert.are.equal(105, find(r, "lat").a.value)      -- Gauge: mean
    assert.are.equal(9, find(r, "peak").a.value)       -- Peak: max
    assert.are.equal(20, find(r, "tput").a.value)      -- Counter: sum / runs
    assert.are.equal(40, find(r, "tput").a.sum)
    assert.are.equal(2, find(r, "rate").a.value)       -- (10+30)/(2+18), not mean of 99s
    assert.is_nil(find(r, "num"))                      -- render-suppressed component
    assert.are.equal(2, find(r, "rate").b.value)
  end)

  it("notes that declared gates are not evaluated", function()
    local rows = runs("lat", { 100 }, { 101 }, { pda = { { metric = "lat", max_regression_pct = 0.5 } } })
    local r = run{ rows = rows, mode = "scalar" }
    assert.are.equal(1, #r.notes)
    assert.matches("noise mode", r.notes[1])
    -- the metric is still compared, with the registry's 10 % gate
    assert.are.equal("stable", find(r, "lat").verdict)
    assert.is_false(find(r, "lat").gate.declared)
    assert.are.equal(0, r.declared.regressions)
  end)
end)

describe("compare.run in noise mode (ktstr §3.5)", function()
  it("flags a separated, material regression with its statistics", function()
    local r = run{ rows = runs("lat", A5, scaled(1.2)) }
    local x = find(r, "lat")
    assert.are.equal("REGRESSION", x.verdict)
    assert.are.equal(5, x.a.n)
    assert.is_true(x.p < 1e-6)
    assert.is_true(x.disjoint)
    assert.is_true(x.material)
    assert.is_true(x.ci_lo > 0.15 and x.ci_hi < 0.25)
    assert.are.equal(1, #r.regressions)
  end)

  it("adds seeded bootstrap intervals on request", function()
    local r = run{ rows = runs("lat", A5, scaled(1.2)), bootstrap = { resamples = 500, seed = 9 } }
    local x = find(r, "lat")
    assert.is_true(x.boot_mean.lo > 0.15 and x.boot_mean.hi < 0.25)
    assert.is_true(math.abs(x.boot_median.estimate - 0.2) < 1e-12)
    local again = find(run{ rows = runs("lat", A5, scaled(1.2)), bootstrap = { resamples = 500, seed = 9 } }, "lat")
    assert.are.same(x.boot_mean, again.boot_mean)
  end)

  it("pairs interleaved rounds when asked", function()
    -- a drift shared by both sides in each round hides the change from
    -- Welch but not from the paired tests
    local drift = { 0, 40, 80, 120, 160, 200 }
    local rows = {}
    for i, d in ipairs(drift) do
      rows[#rows + 1] = row{ commit = "A", metrics = { lat = 100 + d + (i % 2) } }
      rows[#rows].run_dir = "/runs/perf-delta-noise-base-abc-" .. (i - 1)
      rows[#rows + 1] = row{ commit = "B", metrics = { lat = 110 + d + i / 10 } }
      rows[#rows].run_dir = "/runs/perf-delta-noise-head-def-" .. (i - 1)
    end
    local x = find(run{ rows = rows, rounds = "auto" }, "lat")
    assert.is_true(x.p > 0.5)
    assert.are.equal(6, x.paired.n)
    assert.is_true(x.paired.p_t < 1e-4)
    assert.are.equal(0.03125, x.paired.p_wilcoxon) -- exact, 6 of 6 positive
    assert.is_nil(find(run{ rows = rows }, "lat").paired)
  end)

  it("gives improvement, stable, informational and NOISY", function()
    local rows = concat(runs("tput", A5, scaled(1.3)), runs("lat", A5, { 100.2, 99.8, 101, 99.4, 100 }),
                        runs("info", A5, scaled(2)), runs("peak", A5, { 150 }))
    local r = run{ rows = rows }
    assert.are.equal("improvement", find(r, "tput").verdict)
    assert.are.equal("stable", find(r, "lat").verdict)
    assert.are.equal("informational", find(r, "info").verdict)
    assert.are.equal("NOISY", find(r, "peak").verdict)
    assert.are.equal(1, r.totals.noisy)
  end)

  it("does not call a small separated move a regression (materiality)", function()
    local r = run{ rows = runs("lat", A5, scaled(1.05)) }
    local x = find(r, "lat")
    assert.is_true(x.p < 0.05)
    assert.are.equal("stable", x.verdict)
  end)

  it("annotates a noisy spread without suppressing the verdict", function()
    local r = run{ rows = runs("lat", { 100, 90, 110, 100, 100 }, { 150, 160, 140, 150, 150 }) }
    local x = find(r, "lat")
    assert.are.equal("REGRESSION", x.verdict)
    assert.is_true(x.high_spread)
    assert.are.same({ "noisy spread" }, x.annotations)
  end)

  it("decides constant sides by the bands", function()
    local r = run{ rows = runs("lat", { 100, 100, 100 }, { 120, 120, 120 }) }
    assert.are.equal("REGRESSION", find(r, "lat").verdict)
    assert.are.equal(0, find(r, "lat").p)
  end)

  it("ignores NaN and infinite values with a warning, never a NaN verdict", function()
    local r = run{ rows = runs("lat", { 100, 0 / 0, 101, 99 }, { 120, math.huge, 121, 119 }) }
    local x = find(r, "lat")
    assert.are.equal(3, x.a.n)
    assert.are.equal("REGRESSION", x.verdict)
    assert.are.equal(2, r.nonfinite)
    assert.matches("NaN or infinite", table.concat(r.warnings, "\n"))
  end)

  it("omits metrics that are ~0 on both sides", function()
    local r = run{ rows = runs("lat", { 0, 0 }, { 0, 1e-12 }) }
    assert.are.equal(0, #r.rows)
    assert.are.equal(1, r.omitted)
  end)
end)

describe("compare.run exclusions and coverage", function()
  it("excludes failed, skipped, inconclusive and expected-failure rows, counted", function()
    local rows = runs("lat", A5, scaled(1.2))
    rows[#rows + 1] = row{ commit = "B", passed = false, metrics = { lat = 1 } }
    rows[#rows + 1] = row{ commit = "B", skipped = true, metrics = { lat = 1 } }
    rows[#rows + 1] = row{ commit = "A", inconclusive = true, metrics = { lat = 1 } }
    rows[#rows + 1] = row{ commit = "A", expected_failure = true, metrics = { lat = 1 } }
    local r = run{ rows = rows }
    assert.are.same({ failed = 1, skipped = 1, inconclusive = 1, expected_failure = 1, a = 2, b = 2 },
                    r.excluded)
    assert.are.equal(5, find(r, "lat").b.n)
    assert.are.equal("REGRESSION", find(r, "lat").verdict)
  end)

  it("counts a pair whose side only has excluded rows", function()
    local rows = { row{ commit = "A", test = "t9", metrics = { lat = 1 } },
                   row{ commit = "B", test = "t9", passed = false, metrics = { lat = 1 } },
                   row{ commit = "A", test = "t8", skipped = true, metrics = { lat = 1 } },
                   row{ commit = "B", test = "t8", skipped = true, metrics = { lat = 1 } } }
    local r = run{ rows = rows }
    assert.are.equal(2, r.excluded_pairs)
    assert.are.equal(0, #r.unpaired.a)
    assert.are.equal(0, #r.rows)
  end)

  it("reports a metric present on one side as a coverage diff, never gated", function()
    local rows = runs("lat", A5, A5)
    for _, x in ipairs(rows) do if x.commit == "B" then x.metrics.newm = 7 end end
    local r = run{ rows = rows, fail_threshold = 1 }
    assert.are.equal(1, #r.coverage)
    assert.are.equal("newm", r.coverage[1].metric)
    assert.are.equal("b", r.coverage[1].side)
    assert.are.equal(7, r.coverage[1].value)
    assert.is_nil(find(r, "newm"))
    assert.are.equal(0, r.exit_code)
  end)

  it("warns about unpaired keys and dirty builds", function()
    local rows = runs("lat", A5, A5)
    rows[#rows + 1] = row{ commit = "A", test = "lonely", metrics = { lat = 1 } }
    for _, x in ipairs(rows) do if x.commit == "B" then x.commit = "B-dirty" end end
    local r = run{ rows = rows, b = "B-dirty" }
    assert.are.equal(1, #r.unpaired.a)
    local text = table.concat(r.warnings, "\n")
    assert.matches("dirty", text)
    assert.matches("only on side A", text)
  end)

  it("partitions by any dimension", function()
    local rows = runs("lat", A5, scaled(1.2))
    for _, x in ipairs(rows) do x.scheduler = x.commit == "A" and "eevdf" or "scx"; x.commit = "c1" end
    local r = run{ rows = rows, by = "scheduler", a = "eevdf", b = "scx" }
    assert.are.same({ "scheduler" }, r.slicing)
    assert.are.equal("REGRESSION", find(r, "lat").verdict)
    for _, d in ipairs(r.pairing) do assert.are_not.equal("scheduler", d) end
  end)
end)

describe("compare.run declared gates (§2.4)", function()
  it("a declared gate overrides the registry and always fails", function()
    local pda = { { metric = "lat", max_regression_pct = 2 } }
    local r = run{ rows = runs("lat", A5, scaled(1.05), { pda = pda }), fail_threshold = 0 }
    local x = find(r, "lat")
    assert.are.equal("REGRESSION", x.verdict) -- 5 % > declared 2 % (registry: 10 %)
    assert.is_true(x.gate.declared)
    assert.are.same({ "declared gate" }, x.annotations)
    assert.are.equal(1, r.declared.regressions)
    assert.is_true(r.gate.fails) -- even with the count gate off
  end)

  it("a looser declared gate and a declared direction", function()
    local pda = { { metric = "lat", max_regression_pct = 50, direction = "LowerBetter" } }
    local r = run{ rows = runs("lat", A5, scaled(1.2), { pda = pda }), fail_threshold = 1 }
    assert.are.equal("stable", find(r, "lat").verdict)
    assert.are.equal(0, r.exit_code)
    pda = { { metric = "lat", max_regression_pct = -1, direction = "HigherBetter" } }
    r = run{ rows = runs("lat", A5, scaled(1.2), { pda = pda }) }
    assert.are.equal("improvement", find(r, "lat").verdict) -- -1 falls back to 10 %
  end)

  it("evaluates a declared phase gate and warns about one that never ran", function()
    local phases = { A = {}, B = {} }
    for i = 1, 5 do
      phases.A[i] = { { step_index = 1, label = "s1", metrics = { ph = A5[i] } } }
      phases.B[i] = { { step_index = 1, label = "s1", metrics = { ph = A5[i] * 1.3 } } }
    end
    local pda = { { metric = "ph", phase = 1, max_regression_pct = 10 },
                  { metric = "missing", max_regression_pct = 10 } }
    local r = run{ rows = runs("lat", A5, A5, { pda = pda, phases = phases }) }
    local x = find(r, "ph")
    assert.are.equal(1, x.phase)
    assert.are.equal("REGRESSION", x.verdict)
    assert.are.equal(1, #r.declared.unevaluated)
    assert.are.equal("missing", r.declared.unevaluated[1].metric)
    assert.are.equal(1, r.exit_code)
  end)
end)

describe("compare.run gate_fails", function()
  local function pool(k) -- k regressing tests
    local rows = {}
    for t = 1, 6 do
      local b = t <= k and scaled(1.2) or A5
      rows = concat(rows, runs("lat", A5, b, { test = "t" .. t }))
    end
    return rows
  end

  it("fail threshold 0 is off, 1 fails on any, 5 is the default", function()
    assert.are.equal(0, run{ rows = pool(2), fail_threshold = 0 }.exit_code)
    assert.are.equal(1, run{ rows = pool(1), fail_threshold = 1 }.exit_code)
    assert.are.equal(0, run{ rows = pool(4) }.exit_code)
    local r = run{ rows = pool(5) }
    assert.are.equal(5, r.fail_threshold)
    assert.are.equal(1, r.exit_code)
    assert.are.equal("REGRESSED", r.overall)
    assert.are.equal("STABLE", run{ rows = pool(4) }.overall)
    assert.matches("fail threshold 5", r.gate.reasons[1])
  end)

  it("a must-fail metric fails on its own", function()
    local r = run{ rows = pool(1), must_fail = { "lat" } }
    assert.are.equal(1, r.exit_code)
    assert.matches("must%-fail", r.gate.reasons[1])
    assert.are.equal(0, run{ rows = pool(1), must_fail = { "other" } }.exit_code)
  end)
end)

describe("the schedtest policy", function()
  it("is the default and finds a clear regression", function()
    local r = compare.run{ rows = runs("lat", A5, scaled(1.2)), registry = registry, a = "A", b = "B" }
    assert.are.equal("schedtest", r.policy)
    assert.are.equal("REGRESSION", find(r, "lat").verdict)
    assert.are.equal("pfer", r.adjust.method)
  end)

  it("handles a zero baseline", function()
    local r = run{ policy = "schedtest", rows = runs("lat", { 0, 0, 0 }, { 5, 6, 5.5 }) }
    assert.are.equal("REGRESSION", find(r, "lat").verdict)
    assert.are.equal(math.huge, find(r, "lat").rel)
  end)

  it("says INCONCLUSIVE with the detectable change and a suggested n", function()
    local r = run{ policy = "schedtest",
                   rows = runs("lat", { 100, 130, 80, 110 }, { 105, 140, 90, 100 }) }
    local x = find(r, "lat")
    assert.are.equal("INCONCLUSIVE", x.verdict)
    assert.is_true(x.mde > 0.10)
    assert.is_true(x.suggested_n > 4)
    assert.matches("runs per side", x.reasons[1])
    assert.are.equal(1, r.totals.inconclusive)
    assert.are.equal(0, r.exit_code)
  end)

  it("Benjamini-Hochberg through a custom policy table", function()
    local p = policy.load{ name = "bh", adjust = "bh", alpha = 0.05,
                           verdict = require("schedtest.policies.schedtest").verdict }
    local r = run{ policy = p, rows = runs("lat", A5, scaled(1.2)) }
    assert.are.equal("bh", r.adjust.method)
    assert.is_number(find(r, "lat").p_adj)
    assert.are.equal("REGRESSION", find(r, "lat").verdict)
  end)

  it("custom verdict and gate functions decide", function()
    local p = policy.load{
      name = "strict",
      verdict = function(row) return row.delta > 0 and "REGRESSION" or "stable", "any increase" end,
      gate = function(result) return result.totals.regressions > 0, { "custom" } end,
    }
    local r = run{ policy = p, rows = runs("lat", A5, scaled(1.001)) }
    assert.are.equal("REGRESSION", find(r, "lat").verdict)
    assert.are.same({ "any increase" }, find(r, "lat").reasons)
    assert.are.equal(1, r.exit_code)
    assert.are.same({ "custom" }, r.gate.reasons)
  end)
end)

describe("schedtest.policy loader", function()
  it("loads built-ins by name and files by path", function()
    assert.are.equal("ktstr", policy.load("ktstr").name)
    assert.are.equal("schedtest", policy.load().name)
    local path = os.tmpname() .. ".lua"
    local f = assert(io.open(path, "w"))
    f:write('return { fail_threshold = 2, thresholds = { lat = { rel = 0.5 } } }\n')
    f:close()
    local p = policy.load(path)
    os.remove(path)
    assert.are.equal(2, p.fail_threshold)
    assert.are.equal(path, p.name)
    local r = run{ policy = p, rows = runs("lat", A5, scaled(1.2)) }
    assert.are.equal("stable", find(r, "lat").verdict) -- 20 % < the policy's 50 %
  end)

  it("rejects unknown keys, bad types and unknown names", function()
    assert.has_error(function() policy.load{ fail_treshold = 1 } end)
    assert.has_error(function() policy.load{ fail_threshold = "5" } end)
    assert.has_error(function() policy.load{ adjust = "bonferroni" } end)
    assert.has_error(function() policy.load("nope") end, "unknown policy 'nope' (built in: ktstr, schedtest; or give a FILE.lua)")
  end)
end)

describe("docs/policies.md walk-through policy", function()
  it("loads from a file and decides", function()
    local f = assert(io.open("docs/policies.md"))
    local text = f:read("a")
    f:close()
    local code = text:match("```lua\n(%-%- ci/latency%-policy%.lua.-)```")
    assert.is_string(code)
    local path = os.tmpname() .. ".lua"
    f = assert(io.open(path, "w"))
    f:write(code)
    f:close()
    local p = policy.load(path)
    os.remove(path)
    assert.are.equal("latency", p.name)
    local rows = concat(runs("worst_p99_wake_latency_us", A5, scaled(1.3)),
                        runs("tput", A5, scaled(0.5)))
    local r = run{ policy = p, rows = rows }
    assert.are.equal("REGRESSION", find(r, "worst_p99_wake_latency_us").verdict)
    assert.is_nil(find(r, "tput"))              -- not selected
    assert.are.equal(1, r.exit_code)            -- must-fail
    -- one outlier run: Welch and Mann-Whitney disagree
    r = run{ policy = p, rows = runs("worst_p99_wake_latency_us", A5, { 99, 101, 100, 100.5, 400 }) }
    assert.are_not.equal("REGRESSION", find(r, "worst_p99_wake_latency_us").verdict)
  end)
end)
