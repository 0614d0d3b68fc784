-- schedtest.testsummary: the outcome of one `schedtest test` run as JSON
-- (`--json-summary FILE`), the wire format between `schedtest test` and
-- whoever started it (perf-delta's rounds, a CI step).
--
-- Schema "schedtest.test-run/1":
--   { schema, exit_code,
--     error = { message, code } | null,      -- what stopped the run early
--     tests = [ { name, status = "pass"|"fail"|"skipped"|"inconclusive",
--                 reasons = [..], sidecar = path | null, wall_s } ] }
-- An environment error (status 2) lists the tests that finished before it.

local fs = require "schedtest.fs"
local json = require "schedtest.sidecar" -- to_json, decode, array, null

local ipairs, type, tostring = ipairs, type, tostring

local M = {}

M.SCHEMA = "schedtest.test-run/1"

local array, null = json.array, json.null

--- The summary table of a run: exit status, its records (runner.run_tests)
-- and the environment error that stopped it, if any.
function M.of(status, records, err)
  local tests = {}
  for _, r in ipairs(records or {}) do
    local reasons = {}
    for i, why in ipairs(r.reasons or {}) do reasons[i] = tostring(why) end
    tests[#tests + 1] = { name = r.test.name, status = r.status,
                          reasons = array(reasons),
                          sidecar = r.path or null,
                          wall_s = r.wall or 0 }
  end
  return { schema = M.SCHEMA, exit_code = status,
           error = err and { message = tostring(err.message),
                             code = err.code or null } or null,
           tests = array(tests) }
end

function M.write(path, doc)
  return fs.write_atomic(path, json.to_json(doc) .. "\n")
end

--- Read a summary back.  Returns the table (JSON null reads as nil), or
-- nil, message when the file is missing or not a summary.
function M.read(path)
  local text, msg = fs.read_file(path)
  if not text then return nil, msg end
  local doc = json.decode(text)
  if type(doc) ~= "table" or doc.schema ~= M.SCHEMA then
    return nil, path .. ": not a " .. M.SCHEMA .. " summary"
  end
  return doc
end

return M
