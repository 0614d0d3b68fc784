-- Report formats rendered from one hand-built comparison result.  (The
-- compare engine's own specs produce real results; here the input is
-- fixed so every line of every format can be checked.)
local report = require "schedtest.report"
local json = require "schedtest.report.json"

local function result_fixture(fails)
  local reg = {
    key = "perf_pingpong/6.12.117/scx_vtime/1n1l2c1t", test = "perf_pingpong",
    metric = "worst_p99_wake_latency_us", unit = "µs", kind = "Distribution",
    a = { n = 3, mean = 10.0, min = 9.5, max = 10.5, spread_pct = 10.0,
          values = { 9.5, 10.0, 10.5 } },
    b = { n = 3, mean = 20.0, min = 19.0, max = 21.0, spread_pct = 10.0,
          values = { 19.0, 20.0, 21.0 } },
    delta = 10.0, rel_delta = 1.0, p = 0.0004, p_adj = 0.002,
    ci_lo = 0.8, ci_hi = 1.2, verdict = "REGRESSION",
    reasons = { "separated and material" }, annotations = {},
    entry = { name = "worst_p99_wake_latency_us" },
  }
  local stable = {
    key = reg.key, test = "perf_pingpong", metric = "total_iterations",
    a = { n = 3, mean = 100, min = 99, max = 101, spread_pct = 2,
          values = { 99, 100, 101 } },
    b = { n = 3, mean = 100.5, min = 99, max = 102, spread_pct = 3,
          values = { 99, 100.5, 102 } },
    delta = 0.5, rel_delta = 0.005, p = 0.7, verdict = "stable",
    reasons = {}, annotations = {},
  }
  return {
    mode = "noise", policy = "schedtest",
    sides = { a = { label = "abc1234", rows = 3, runs = 3 },
              b = { label = "def5678", rows = 3, runs = 3 } },
    slicing = { "commit" }, pairing = { "test", "kernel" },
    rows = { reg, stable }, coverage = {}, warnings = { "side B is dirty" },
    notes = {}, declared = { unevaluated = {}, regressions = 0 },
    totals = { rows = 2, regressions = 1, improvements = 0, stable = 1,
               informational = 0, noisy = 0, inconclusive = 0,
               paired_keys = 1, coverage = 0 },
    gate = { fails = fails, fail_threshold = fails and 1 or 5,
             reasons = fails and { "1 regression(s) >= fail threshold 1" }
                     or {} },
    fail_threshold = fails and 1 or 5, must_fail = {},
    regressions = { reg },
    host_delta = { a = "abc1234", b = "def5678",
                   changes = { { key = "accelerator", a = "kvm", b = "tcg" } } },
    context = { how = "merge-base(HEAD, main)" },
  }
end

describe("report formats", function()
  it("text: table, footer, host delta, warnings and gate", function()
    local text = assert(report.render(result_fixture(true), "text"))
    assert.matches("TEST / METRIC%s+abc1234 %(A: mean %[min%-max%] spread%%%)",
                   text)
    assert.matches("worst_p99_wake_latency_us%s+10%.0 %[9%.5%-10%.5%] 10%.00%%",
                   text)
    assert.matches("+100.0%  REGRESSION", text, 1, true)
    assert.matches("p=0.0004 (adjusted 0.002)", text, 1, true)
    assert.not_matches("total_iterations", text) -- stable rows hidden
    assert.matches("perf-delta --noise-adjust: 1 paired scenario(s); overall " ..
                   "REGRESSED: 1 regressed, 0 improved, 1 stable, 0 " ..
                   "under-sampled (<2 runs)", text, 1, true)
    assert.matches("host delta ('abc1234' → 'def5678'):\n  accelerator: " ..
                   "kvm → tcg", text, 1, true)
    assert.matches("warning: side B is dirty", text, 1, true)
    assert.matches("gate: FAIL — 1 regression(s) >= fail threshold 1", text,
                   1, true)
    assert.not_matches("\27%[", text) -- no colour unless asked
  end)

  it("text: --all-metrics shows stable rows; colour on request", function()
    local text = report.render(result_fixture(false), "text",
                               { all_metrics = true, color = true })
    assert.matches("total_iterations", text, 1, true)
    assert.matches("\27[31mREGRESSION\27[0m", text, 1, true)
    assert.matches("gate: pass (fail threshold 5)", text, 1, true)
  end)

  it("text: says when nothing changed", function()
    local r = result_fixture(false)
    r.rows = { r.rows[2] }
    r.totals.regressions, r.totals.rows = 0, 1
    local text = report.render(r, "text")
    assert.matches("1 metric(s) compared, none meaningfully changed (0 " ..
                   "under-sampled); re-run with --all-metrics", text, 1, true)
  end)

  it("json: the whole result, stable and parseable", function()
    local text = assert(report.render(result_fixture(true), "json"))
    local doc = require("cjson").decode(text)
    assert.are.equal("schedtest.perf-delta/1", doc.schema)
    assert.are.equal(2, #doc.rows)
    assert.are.equal("REGRESSION", doc.rows[1].verdict)
    assert.is_nil(doc.rows[1].entry)
    assert.is_true(doc.gate.fails)
    assert.are.equal(text, report.render(result_fixture(true), "json"))
  end)

  it("json: non-finite numbers become null, empty tables []", function()
    assert.are.equal('{\n  "a": null,\n  "b": [],\n  "c": [\n    1,\n    ' ..
                     '2.5\n  ]\n}', json.encode({ a = 0 / 0, b = {},
                                                  c = { 1, 2.5 } }))
  end)

  it("markdown: heading, verdict, table and details", function()
    local md = report.render(result_fixture(true), "markdown")
    assert.matches("### schedtest perf-delta: **REGRESSED**", md, 1, true)
    assert.matches("| test | metric | A | B | change | p | verdict |", md, 1,
                   true)
    assert.matches("| `worst_p99_wake_latency_us` |", md, 1, true)
    assert.matches("**REGRESSION**", md, 1, true)
    assert.matches("**Gate: fail**", md, 1, true)
    assert.matches("<details>", md, 1, true)
  end)

  it("junit: a failure per regression plus the gate", function()
    local x = report.render(result_fixture(true), "junit")
    assert.matches('tests="3" failures="2" skipped="0"', x, 1, true)
    assert.matches('<testcase classname="perf-delta.perf_pingpong/6.12.117/' ..
                   'scx_vtime/1n1l2c1t" name="worst_p99_wake_latency_us">', x,
                   1, true)
    assert.matches('<failure message="perf gate tripped" type="GATE">', x, 1,
                   true)
  end)

  it("html: self-contained with an SVG plot per changed metric", function()
    local h = report.render(result_fixture(true), "html")
    assert.matches("^<!DOCTYPE html>", h)
    assert.not_matches("<script", h)
    assert.not_matches('src="http', h)
    assert.not_matches('href="http', h)
    local _, svgs = h:gsub("<svg ", "")
    assert.are.equal(1, svgs)
    local _, dots = h:gsub('<circle class="run"', "")
    assert.are.equal(6, dots)
    assert.matches('<p class="overall" id="overall">REGRESSED</p>', h, 1, true)
  end)

  it("rejects an unknown format", function()
    local r, msg, code = report.render(result_fixture(true), "pdf")
    assert.is_nil(r)
    assert.are.equal("EINVAL", code)
    assert.matches("expected one of: text, markdown, json, html, junit", msg,
                   1, true)
  end)
end)
