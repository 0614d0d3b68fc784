-- schedtest.report.text: the terminal report (ktstr-spec.md §3.6).
-- opts: all_metrics (show stable and NOISY rows), color (ANSI colours;
-- the caller decides: a terminal and no NO_COLOR).

local common = require "schedtest.report.common"

local string, table = string, table
local ipairs, tostring = ipairs, tostring

local M = {}

local COLORS = { REGRESSION = "31", improvement = "32", informational = "34",
                 INCONCLUSIVE = "33", NOISY = "33" }

local function paint(opts, verdict, text)
  local c = COLORS[verdict]
  if not opts.color or not c then return text end
  return "\27[" .. c .. "m" .. text .. "\27[0m"
end

local function detail(r)
  local parts = {}
  if r.p and not r.evidence then
    -- ktstr's rule: Welch's p on the raw values (the default policy's
    -- reasons carry its own evidence)
    local p = string.format("p=%.3g", r.p)
    if r.p_adj and r.p_adj ~= r.p then
      p = p .. string.format(" (adjusted %.3g)", r.p_adj)
    end
    parts[#parts + 1] = p
  end
  if r.disjoint and not r.evidence then parts[#parts + 1] = "disjoint bands" end
  local ci = common.interval(r)
  if ci then parts[#parts + 1] = ci end
  for _, why in ipairs(r.reasons or {}) do parts[#parts + 1] = why end
  return table.concat(parts, "; ")
end

-- Aligned table lines: cells[1] is the header, cells[i + 1] describes
-- rows[i] and ends with its verdict, which gets its colour after padding
-- (escape codes would break the alignment).  With `details`, a line of
-- statistics follows every row that is not stable.
local function table_lines(cells, rows, opts, out, details)
  local lines = common.columns(cells, "  ")
  out[#out + 1] = " " .. lines[1]
  for i, r in ipairs(rows) do
    local line = lines[i + 1]
    local word = common.verdict_text(r)
    out[#out + 1] = " " .. line:sub(1, #line - #word) ..
                    paint(opts, r.verdict, word)
    if details and r.verdict ~= "stable" then
      local d = detail(r)
      if d ~= "" then out[#out + 1] = "     " .. d end
    end
  end
end

local function noise_table(result, opts, out)
  local a, b = result.sides.a, result.sides.b
  local cmd = result.cached and "perf-delta" or "perf-delta --noise-adjust"
  out[#out + 1] = string.format("compared %d runs (%s, A) with %d runs " ..
    "(%s, B); policy %s", a.runs or 0, a.label, b.runs or 0, b.label,
    tostring(result.policy))
  out[#out + 1] = "pairing on: " .. table.concat(result.pairing or {}, ", ")
  local rows = common.visible_rows(result, opts.all_metrics)
  local t = result.totals or {}
  if #rows == 0 then
    out[#out + 1] = string.format("%s: %d metric(s) " ..
      "compared, none meaningfully changed (%d under-sampled%s); re-run " ..
      "with --all-metrics to see them", cmd, t.rows or 0, t.noisy or 0,
      (t.inconclusive or 0) > 0 and (", " .. t.inconclusive ..
        " inconclusive") or "")
  else
    local cells = { { "TEST / METRIC",
      a.label .. " (A: mean [min-max] spread%)",
      b.label .. " (B: mean [min-max] spread%)", "DELTA", "VERDICT" } }
    for _, r in ipairs(rows) do
      cells[#cells + 1] = { common.row_label(r, result), common.noise_cell(r.a),
        common.noise_cell(r.b), common.pct(r) or "-",
        common.verdict_text(r) }
    end
    table_lines(cells, rows, opts, out, true)
  end
  local extra = ""
  if (t.inconclusive or 0) > 0 then
    extra = extra .. string.format(", %d inconclusive (more runs needed " ..
      "to tell; --all-metrics lists them with the runs each would need)",
      t.inconclusive)
  end
  if (t.coverage or 0) > 0 then
    extra = extra .. string.format(", %d one-sided", t.coverage)
  end
  local overall = common.overall(result)
  if overall == "STABLE" and ((t.regressions or 0) + (t.improvements or 0)) > 0
  then
    if (result.gate or {}).count == "families" then
      extra = extra .. string.format(" (below the fail threshold of %s " ..
        "metric families)", tostring(result.fail_threshold))
    else
      extra = extra .. " (moves are below the significance cutoff, more " ..
        "likely noise than signal)"
    end
  end
  out[#out + 1] = string.format("%s: %d paired " ..
    "scenario(s); overall %s: %s, %d improved, %d stable%s, %d " ..
    "under-sampled (<2 runs)%s", cmd, t.paired_keys or 0,
    paint(opts, overall == "STABLE" and "" or
          (overall:find("REGRESSED") and "REGRESSION" or "improvement"),
          overall),
    common.regressed_text(result), t.improvements or 0, t.stable or 0,
    (t.informational or 0) > 0 and
      string.format(", %d informational", t.informational) or "",
    t.noisy or 0, extra)
end

local function scalar_table(result, opts, out)
  local a, b = result.sides.a, result.sides.b
  out[#out + 1] = string.format("averaged across %d runs (%s) and %d runs " ..
    "(%s)", a.runs or 0, a.label, b.runs or 0, b.label)
  out[#out + 1] = "slicing dimensions: " .. table.concat(result.slicing or {},
                                                         ", ")
  out[#out + 1] = "pairing on: " .. table.concat(result.pairing or {}, ", ")
  local rows = common.visible_rows(result, opts.all_metrics)
  if #rows > 0 then
    local cells = { { "TEST", "METRIC", a.label, b.label, "DELTA",
                      "VERDICT" } }
    for _, r in ipairs(rows) do
      cells[#cells + 1] = { common.test_label(r, result), r.metric,
        common.num(r.a and r.a.mean), common.num(r.b and r.b.mean),
        r.delta and (string.format("%+.2f", r.delta) .. (r.unit or "")) or "-",
        common.verdict_text(r) }
    end
    table_lines(cells, rows, opts, out, false)
  end
  local t = result.totals or {}
  out[#out + 1] = string.format("summary: %d regressions, %d improvements, " ..
    "%d informational, %d unchanged", t.regressions or 0,
    t.improvements or 0, t.informational or 0,
    (t.stable or 0) + (t.noisy or 0) + (t.inconclusive or 0))
  if (result.excluded_pairs or 0) > 0 then
    out[#out + 1] = string.format("  %d pairing-key row pair(s) excluded " ..
      "from regression math (failed, skipped, inconclusive or expected " ..
      "failure)", result.excluded_pairs)
  end
end

--- Render the text report.
function M.render(result, opts)
  opts = opts or {}
  local out = {}
  if result.mode == "scalar" then
    scalar_table(result, opts, out)
  else
    noise_table(result, opts, out)
  end
  for _, c in ipairs(result.coverage or {}) do
    out[#out + 1] = string.format("  one-sided: %s / %s only on side %s " ..
      "(%s, %d run(s))", c.key or c.test, c.metric, c.side:upper(),
      common.num(c.value), c.n or 0)
  end
  local broken = common.health_rows(result)
  if #broken > 0 then
    out[#out + 1] = paint(opts, "REGRESSION", "tests without a complete " ..
      "comparison") .. string.format(" (usable runs, %s | %s):",
      result.sides.a.label, result.sides.b.label)
    local cells = { { "TEST", result.sides.a.label, result.sides.b.label,
                      "STATE" } }
    for _, h in ipairs(broken) do
      cells[#cells + 1] = { h.test, h.a, h.b, h.state }
    end
    for _, line in ipairs(common.columns(cells)) do
      out[#out + 1] = "  " .. line
    end
    for _, h in ipairs(broken) do out[#out + 1] = "  " .. h.why end
  end
  for _, n in ipairs(result.health and result.health.notes or {}) do
    out[#out + 1] = "note: " .. n
  end
  for _, src in ipairs(result.context and result.context.sources or {}) do
    local parts = {}
    for _, f in ipairs(src.from) do
      parts[#parts + 1] = string.format("%d from %s", f.runs, f.dir)
    end
    out[#out + 1] = string.format("runs taken for %s: %s", src.label,
      #parts > 0 and table.concat(parts, ", ") or "none")
  end
  local hd = result.host_delta
  if hd and #hd.changes > 0 then
    out[#out + 1] = string.format("host delta ('%s' → '%s'):", hd.a, hd.b)
    for _, ch in ipairs(hd.changes) do
      out[#out + 1] = string.format("  %s: %s → %s", ch.key, tostring(ch.a),
                                    tostring(ch.b))
    end
  end
  for _, w in ipairs(result.warnings or {}) do
    out[#out + 1] = paint(opts, "NOISY", "warning: ") .. w
  end
  for _, n in ipairs(result.notes or {}) do
    out[#out + 1] = "note: " .. n
  end
  local unevaluated = result.declared and result.declared.unevaluated or {}
  if #unevaluated > 0 then
    out[#out + 1] = "declared gates that were never evaluated:"
    for _, u in ipairs(unevaluated) do
      out[#out + 1] = string.format("  %s / %s%s", u.key or u.test, u.metric,
        u.phase and (" [phase " .. u.phase .. "]") or "")
    end
  end
  local g = result.gate or {}
  if g.fails then
    out[#out + 1] = paint(opts, "REGRESSION", "gate: FAIL") .. " — " ..
      table.concat(g.reasons or {}, "; ")
  else
    out[#out + 1] = string.format("gate: pass (fail threshold %s%s)",
      tostring(g.fail_threshold or result.fail_threshold),
      (result.must_fail and #result.must_fail > 0) and
        ("; must-fail " .. table.concat(result.must_fail, ",")) or "")
  end
  return table.concat(out, "\n") .. "\n"
end

return M
