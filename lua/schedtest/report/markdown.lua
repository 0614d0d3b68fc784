-- schedtest.report.markdown: a report sized for a pull-request comment.

local common = require "schedtest.report.common"

local string, table = string, table
local ipairs, tostring = ipairs, tostring

local M = {}

local function esc(s)
  return (tostring(s):gsub("|", "\\|"))
end

function M.render(result, opts)
  opts = opts or {}
  local out = {}
  local a, b = result.sides.a, result.sides.b
  local overall = common.overall(result)
  local t = result.totals or {}
  out[#out + 1] = string.format("### schedtest perf-delta: **%s**", overall)
  out[#out + 1] = ""
  out[#out + 1] = string.format("`%s` (B, %d runs) vs `%s` (A, %d runs), " ..
    "%s mode, policy `%s`.", b.label, b.runs or 0, a.label, a.runs or 0,
    result.mode or "?", result.policy or "?")
  if result.context and result.context.how then
    out[#out + 1] = "Baseline: " .. result.context.how .. "."
  end
  out[#out + 1] = ""
  out[#out + 1] = string.format("%s, %d improved, %d stable, %d " ..
    "informational, %d inconclusive, %d under-sampled, over %d paired " ..
    "scenario(s).", common.regressed_text(result), t.improvements or 0, t.stable or 0,
    t.informational or 0, t.inconclusive or 0, t.noisy or 0,
    t.paired_keys or 0)
  local g = result.gate or {}
  out[#out + 1] = ""
  if g.fails then
    out[#out + 1] = "**Gate: fail** — " .. esc(table.concat(g.reasons or {},
                                                            "; "))
  else
    out[#out + 1] = "Gate: pass (fail threshold " ..
      tostring(g.fail_threshold or result.fail_threshold) .. ")"
  end
  local broken = common.health_rows(result)
  if #broken > 0 then
    out[#out + 1] = ""
    out[#out + 1] = "**Tests without a complete comparison** (usable runs):"
    out[#out + 1] = ""
    out[#out + 1] = "| test | A | B | state | why |"
    out[#out + 1] = "|---|--:|--:|---|---|"
    for _, h in ipairs(broken) do
      out[#out + 1] = string.format("| %s | %s | %s | **%s** | %s |",
        esc(h.test), esc(h.a), esc(h.b), esc(h.state), esc(h.why))
    end
  end
  local rows = common.visible_rows(result, opts.all_metrics)
  if #rows > 0 then
    out[#out + 1] = ""
    out[#out + 1] = "| test | metric | A | B | change | p | verdict |"
    out[#out + 1] = "|---|---|--:|--:|--:|--:|---|"
    for _, r in ipairs(rows) do
      local cell_a = result.mode == "scalar" and common.num(r.a and r.a.mean)
                     or common.noise_cell(r.a)
      local cell_b = result.mode == "scalar" and common.num(r.b and r.b.mean)
                     or common.noise_cell(r.b)
      local v = common.verdict_text(r)
      if r.verdict == "REGRESSION" then v = "**" .. v .. "**" end
      out[#out + 1] = string.format("| %s | `%s`%s | %s | %s | %s | %s | %s |",
        esc(common.test_label(r, result)), esc(r.metric),
        r.phase ~= nil and (" [phase " .. r.phase .. "]") or "",
        esc(cell_a), esc(cell_b), common.pct(r) or "-",
        r.p and string.format("%.3g", r.p) or "-", esc(v))
    end
  end
  local notes = {}
  for _, w in ipairs(result.warnings or {}) do notes[#notes + 1] = "- ⚠ " .. esc(w) end
  for _, n in ipairs(result.health and result.health.notes or {}) do
    notes[#notes + 1] = "- " .. esc(n)
  end
  local hd = result.host_delta
  if hd and #hd.changes > 0 then
    for _, ch in ipairs(hd.changes) do
      notes[#notes + 1] = string.format("- host `%s`: %s → %s", esc(ch.key),
                                        esc(ch.a), esc(ch.b))
    end
  end
  if #notes > 0 then
    out[#out + 1] = ""
    out[#out + 1] = "<details><summary>warnings and host differences</summary>"
    out[#out + 1] = ""
    for _, n in ipairs(notes) do out[#out + 1] = n end
    out[#out + 1] = ""
    out[#out + 1] = "</details>"
  end
  return table.concat(out, "\n") .. "\n"
end

return M
