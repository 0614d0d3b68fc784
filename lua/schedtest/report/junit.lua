-- schedtest.report.junit: JUnit XML, one test case per (test, metric) the
-- comparison judged, so CI systems show each gated metric.  A REGRESSION
-- is a <failure>; NOISY and INCONCLUSIVE rows are <skipped> with the
-- reason; the gate itself is one more test case.

local common = require "schedtest.report.common"

local string, table = string, table
local ipairs, tostring = ipairs, tostring

local M = {}

local function xml(s)
  return (tostring(s):gsub("[&<>\"']", { ["&"] = "&amp;", ["<"] = "&lt;",
    [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&apos;" })
    :gsub("[%z\1-\8\11\12\14-\31]", ""))
end

function M.render(result)
  local cases, failures, skipped = {}, 0, 0
  for _, r in ipairs(result.rows or {}) do
    local name = r.metric .. (r.phase ~= nil and ("[phase " .. r.phase .. "]")
                              or "")
    local body = string.format("A %s, B %s, change %s, p %s: %s",
      common.noise_cell(r.a), common.noise_cell(r.b), common.pct(r) or "-",
      r.p and string.format("%.3g", r.p) or "-",
      table.concat(r.reasons or {}, "; "))
    local inner = ""
    if r.verdict == "REGRESSION" then
      failures = failures + 1
      inner = string.format('\n      <failure message="%s regressed" ' ..
        'type="REGRESSION">%s</failure>\n    ', xml(r.metric), xml(body))
    elseif r.verdict == "NOISY" or r.verdict == "INCONCLUSIVE" then
      skipped = skipped + 1
      inner = string.format('\n      <skipped message="%s"/>\n    ',
                            xml(common.verdict_text(r) .. ": " .. body))
    else
      inner = string.format("\n      <system-out>%s</system-out>\n    ",
                            xml(common.verdict_text(r) .. ": " .. body))
    end
    cases[#cases + 1] = string.format('    <testcase classname="%s" ' ..
      'name="%s">%s</testcase>', xml("perf-delta." .. (r.key or r.test)),
      xml(name), inner)
  end
  for _, h in ipairs(common.health_rows(result)) do
    failures = failures + 1
    cases[#cases + 1] = string.format('    <testcase classname="%s" ' ..
      'name="runs">\n      <failure message="%s" type="%s">%s</failure>' ..
      '\n    </testcase>', xml("perf-delta." .. h.test),
      xml(h.test .. ": " .. h.state), xml(h.state), xml(h.why))
  end
  local g = result.gate or {}
  local gate_inner = ""
  if g.fails then
    failures = failures + 1
    gate_inner = string.format('\n      <failure message="perf gate ' ..
      'tripped" type="GATE">%s</failure>\n    ',
      xml(table.concat(g.reasons or {}, "; ")))
  end
  cases[#cases + 1] = string.format('    <testcase classname="perf-delta" ' ..
    'name="gate">%s</testcase>', gate_inner)
  return string.format('<?xml version="1.0" encoding="UTF-8"?>\n' ..
    '<testsuites>\n  <testsuite name="schedtest perf-delta %s vs %s" ' ..
    'tests="%d" failures="%d" skipped="%d" errors="0">\n%s\n' ..
    '  </testsuite>\n</testsuites>\n', xml(result.sides.b.label),
    xml(result.sides.a.label), #cases, failures, skipped,
    table.concat(cases, "\n"))
end

return M
