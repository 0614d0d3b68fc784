-- schedtest.report: render one comparison result (schedtest.compare) in
-- the format a reader needs.  Every format is computed from the same
-- result object, so they always agree with each other and with the exit
-- code.
--
--   local report = require "schedtest.report"
--   io.write(report.render(result, "text", { all_metrics = false }))
--
-- Formats: text (terminal), markdown (pull-request comment), json (the
-- whole result, schema in docs/report-json.md), html (one self-contained
-- file with SVG plots), junit (one test case per gated test and metric).
-- Add a format by dropping lua/schedtest/report/<name>.lua that returns
-- { render = function(result, opts) return text end }.

local require, pcall, type, tostring, table = require, pcall, type, tostring,
  table

local M = {}

M.FORMATS = { "text", "markdown", "json", "html", "junit" }

--- Render `result` as `format`; returns the text, or nil, msg, "EINVAL".
function M.render(result, format, opts)
  local ok, mod = pcall(require, "schedtest.report." .. format)
  if not ok or type(mod) ~= "table" or type(mod.render) ~= "function" then
    return nil, "unknown report format '" .. tostring(format) ..
      "' (expected one of: " .. table.concat(M.FORMATS, ", ") .. ")",
      "EINVAL"
  end
  return mod.render(result, opts or {})
end

return M
