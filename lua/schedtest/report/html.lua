-- schedtest.report.html: one self-contained HTML file (inline CSS and
-- SVG, no external assets): the verdict, the table of judged metrics, and
-- for every metric that changed a plot of both sides' per-run values.

local common = require "schedtest.report.common"

local string, table, math = string, table, math
local ipairs, tostring = ipairs, tostring

local M = {}

local function esc(s)
  return (tostring(s):gsub("[&<>\"]", { ["&"] = "&amp;", ["<"] = "&lt;",
                                        [">"] = "&gt;", ['"'] = "&quot;" }))
end

local CSS = [[
body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#1b1b1b}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.REGRESSION{color:#b00020;font-weight:600}.improvement{color:#0a7a2f}
.informational{color:#1f5fbf}.INCONCLUSIVE,.NOISY{color:#8a6d00}
.overall{font-size:1.2em;font-weight:700}
.plot{margin:.4em 0 1.2em}.muted{color:#666}
]]

-- Strip plot: one row of dots per side, means as vertical ticks.
local function plot(r, a_label, b_label)
  local va, vb = r.a.values or {}, r.b.values or {}
  local lo, hi = math.huge, -math.huge
  for _, list in ipairs({ va, vb }) do
    for _, v in ipairs(list) do
      if common.finite(v) then lo = math.min(lo, v); hi = math.max(hi, v) end
    end
  end
  if lo == math.huge then return "" end
  if hi == lo then lo, hi = lo - 1, hi + 1 end
  local pad = (hi - lo) * 0.08
  lo, hi = lo - pad, hi + pad
  local w, left, right = 560, 120, 20
  local function x(v) return left + (v - lo) / (hi - lo) * (w - left - right) end
  local parts = { string.format('<svg class="plot" xmlns="http://www.w3.org/2000/svg" ' ..
    'width="%d" height="96" role="img" aria-label="%s per run">', w,
    esc(r.metric)) }
  local sides = { { va, a_label, r.a.mean, 28, "#5b6ee1" },
                  { vb, b_label, r.b.mean, 62, "#d9534f" } }
  for _, s in ipairs(sides) do
    local vals, label, mean, y, color = s[1], s[2], s[3], s[4], s[5]
    parts[#parts + 1] = string.format('<text x="4" y="%d" font-size="12">%s ' ..
      '(n=%d)</text>', y + 4, esc(label), #vals)
    parts[#parts + 1] = string.format('<line x1="%d" x2="%d" y1="%d" y2="%d" ' ..
      'stroke="#ddd"/>', left, w - right, y, y)
    for _, v in ipairs(vals) do
      if common.finite(v) then
        parts[#parts + 1] = string.format('<circle class="run" cx="%.1f" ' ..
          'cy="%d" r="4" fill="%s" fill-opacity="0.75"><title>%s</title>' ..
          '</circle>', x(v), y, color, esc(common.num(v, "%.4g")))
      end
    end
    if common.finite(mean) then
      parts[#parts + 1] = string.format('<line x1="%.1f" x2="%.1f" y1="%d" ' ..
        'y2="%d" stroke="%s" stroke-width="2"/>', x(mean), x(mean), y - 10,
        y + 10, color)
    end
  end
  parts[#parts + 1] = string.format('<text x="%d" y="90" font-size="11" ' ..
    'fill="#666">%s</text><text x="%d" y="90" font-size="11" fill="#666" ' ..
    'text-anchor="end">%s</text>', left, esc(common.num(lo, "%.4g")),
    w - right, esc(common.num(hi, "%.4g")))
  parts[#parts + 1] = "</svg>"
  return table.concat(parts)
end

function M.render(result, opts)
  opts = opts or {}
  local a, b = result.sides.a, result.sides.b
  local t = result.totals or {}
  local overall = common.overall(result)
  local out = { "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
    "<title>schedtest perf-delta: " .. esc(overall) .. "</title>",
    "<style>" .. CSS .. "</style></head><body>",
    "<h1>schedtest perf-delta</h1>",
    string.format('<p class="overall" id="overall">%s</p>', esc(overall)),
    string.format("<p>B <code>%s</code> (%d runs) against A <code>%s</code> " ..
      "(%d runs); %s mode, policy <code>%s</code>%s.</p>", esc(b.label),
      b.runs or 0, esc(a.label), a.runs or 0, esc(result.mode or "?"),
      esc(result.policy or "?"), result.context and result.context.how
        and ("; baseline " .. esc(result.context.how)) or ""),
    string.format('<p id="summary">%s, %d improved, %d stable, ' ..
      '%d informational, %d inconclusive, %d under-sampled; %d paired ' ..
      'scenario(s).</p>', esc(common.regressed_text(result)), t.improvements or 0,
      t.stable or 0, t.informational or 0, t.inconclusive or 0, t.noisy or 0,
      t.paired_keys or 0),
  }
  local g = result.gate or {}
  out[#out + 1] = g.fails
    and ('<p id="gate" class="REGRESSION">Gate: fail — ' ..
         esc(table.concat(g.reasons or {}, "; ")) .. "</p>")
    or ('<p id="gate">Gate: pass (fail threshold ' ..
        esc(g.fail_threshold or result.fail_threshold) .. ")</p>")
  local broken = common.health_rows(result)
  if #broken > 0 then
    out[#out + 1] = '<h2>Tests without a complete comparison</h2>' ..
      '<table id="health"><thead><tr><th>test</th><th>A usable</th>' ..
      '<th>B usable</th><th>state</th><th>why</th></tr></thead><tbody>'
    for _, h in ipairs(broken) do
      out[#out + 1] = string.format('<tr><td>%s</td><td class="num">%s' ..
        '</td><td class="num">%s</td><td class="REGRESSION">%s</td>' ..
        '<td>%s</td></tr>', esc(h.test), esc(h.a), esc(h.b), esc(h.state),
        esc(h.why))
    end
    out[#out + 1] = "</tbody></table>"
  end
  local rows = common.visible_rows(result, opts.all_metrics)
  if #rows > 0 then
    out[#out + 1] = "<h2>Metrics</h2><table id=\"metrics\"><thead><tr>" ..
      "<th>test</th><th>metric</th><th>A</th><th>B</th><th>change</th>" ..
      "<th>p</th><th>verdict</th></tr></thead><tbody>"
    for _, r in ipairs(rows) do
      out[#out + 1] = string.format('<tr><td>%s</td><td>%s</td>' ..
        '<td class="num">%s</td><td class="num">%s</td><td class="num">%s' ..
        '</td><td class="num">%s</td><td class="%s">%s</td></tr>',
        esc(common.test_label(r, result)), esc(r.metric),
        esc(common.noise_cell(r.a)),
        esc(common.noise_cell(r.b)), esc(common.pct(r) or "-"),
        r.p and string.format("%.3g", r.p) or "-", esc(r.verdict),
        esc(common.verdict_text(r)))
    end
    out[#out + 1] = "</tbody></table>"
    local plotted = 0
    for _, r in ipairs(rows) do
      if r.verdict ~= "stable" and r.verdict ~= "NOISY" and r.a and r.b then
        if plotted == 0 then out[#out + 1] = "<h2>Per-run values</h2>" end
        plotted = plotted + 1
        out[#out + 1] = string.format('<h3 class="plot-title">%s — <span ' ..
          'class="%s">%s</span></h3>', esc(common.row_label(r, result)),
          esc(r.verdict), esc(r.verdict))
        out[#out + 1] = plot(r, a.label, b.label)
      end
    end
  else
    out[#out + 1] = '<p class="muted">No metric changed meaningfully.</p>'
  end
  local hd = result.host_delta
  if (hd and #hd.changes > 0) or #(result.warnings or {}) > 0 or
     #(result.health and result.health.notes or {}) > 0 then
    out[#out + 1] = "<h2>Warnings and host differences</h2><ul>"
    for _, w in ipairs(result.warnings or {}) do
      out[#out + 1] = "<li>" .. esc(w) .. "</li>"
    end
    for _, n in ipairs(result.health and result.health.notes or {}) do
      out[#out + 1] = "<li>" .. esc(n) .. "</li>"
    end
    for _, ch in ipairs(hd and hd.changes or {}) do
      out[#out + 1] = string.format("<li>host <code>%s</code>: %s → %s</li>",
                                    esc(ch.key), esc(ch.a), esc(ch.b))
    end
    out[#out + 1] = "</ul>"
  end
  out[#out + 1] = "</body></html>"
  return table.concat(out, "\n") .. "\n"
end

return M
