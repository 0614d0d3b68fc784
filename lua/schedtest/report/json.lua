-- schedtest.report.json: the whole comparison result as JSON.
--
-- The document is the result object itself (docs/report-json.md lists its
-- fields) plus `schema = "schedtest.perf-delta/1"`.  Keys are sorted so
-- the output is stable; non-finite numbers become null (JSON has none);
-- functions and metatables are dropped; empty tables are [].

local string, table, math = string, table, math
local ipairs, pairs, type, tostring, tonumber, next =
  ipairs, pairs, type, tostring, tonumber, next
local math_type = math.type

local M = {}

M.SCHEMA = "schedtest.perf-delta/1"

local function quote(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    local named = { ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n",
                    ["\r"] = "\\r", ["\t"] = "\\t", ["\b"] = "\\b",
                    ["\f"] = "\\f" }
    return named[c] or string.format("\\u%04x", c:byte())
  end) .. '"'
end

local function is_array(t)
  local n = #t
  if n == 0 then return next(t) == nil end
  for k in pairs(t) do
    if math_type(k) ~= "integer" or k < 1 or k > n then return false end
  end
  return true
end

local encode

local function encode_table(t, indent, seen, out)
  if seen[t] then out[#out + 1] = "null"; return end
  seen[t] = true
  local pad = string.rep("  ", indent + 1)
  if is_array(t) then
    if #t == 0 then out[#out + 1] = "[]"; seen[t] = nil; return end
    out[#out + 1] = "[\n"
    for i, v in ipairs(t) do
      out[#out + 1] = pad
      encode(v, indent + 1, seen, out)
      out[#out + 1] = i < #t and ",\n" or "\n"
    end
    out[#out + 1] = string.rep("  ", indent) .. "]"
  else
    local keys = {}
    for k, v in pairs(t) do
      local tv = type(v)
      if (type(k) == "string" or type(k) == "number") and tv ~= "function"
         and tv ~= "userdata" and tv ~= "thread" then
        keys[#keys + 1] = tostring(k)
      end
    end
    table.sort(keys)
    out[#out + 1] = "{\n"
    for i, k in ipairs(keys) do
      local v = t[k]
      if v == nil then v = t[tonumber(k)] end
      out[#out + 1] = pad .. quote(k) .. ": "
      encode(v, indent + 1, seen, out)
      out[#out + 1] = i < #keys and ",\n" or "\n"
    end
    out[#out + 1] = string.rep("  ", indent) .. "}"
  end
  seen[t] = nil
end

encode = function(v, indent, seen, out)
  local tv = type(v)
  if tv == "table" then
    encode_table(v, indent, seen, out)
  elseif tv == "string" then
    out[#out + 1] = quote(v)
  elseif tv == "number" then
    if math_type(v) == "integer" then
      out[#out + 1] = tostring(v)
    elseif v ~= v or v == math.huge or v == -math.huge then
      out[#out + 1] = "null"
    else
      out[#out + 1] = string.format("%.17g", v)
    end
  elseif tv == "boolean" then
    out[#out + 1] = tostring(v)
  else
    out[#out + 1] = "null"
  end
end

--- Encode any Lua value as pretty, stable JSON.
function M.encode(v)
  local out = {}
  encode(v, 0, {}, out)
  return table.concat(out)
end

-- The per-metric registry entry is repeated in every row; keep its name.
local function export(result)
  local doc = {}
  for k, v in pairs(result) do doc[k] = v end
  doc.schema = M.SCHEMA
  local rows = {}
  for i, r in ipairs(result.rows or {}) do
    local copy = {}
    for k, v in pairs(r) do copy[k] = v end
    copy.entry = nil
    if r.evidence then
      -- the evidence without its working arrays and caches
      local ev = {}
      for k, v in pairs(r.evidence) do ev[k] = v end
      ev.xa, ev.xb, ev.d, ev.bounds = nil, nil, nil, nil
      copy.evidence = ev
    end
    rows[i] = copy
  end
  doc.rows = rows
  doc.regressions = nil -- the same rows again; verdict says it
  return doc
end

function M.render(result)
  return M.encode(export(result)) .. "\n"
end

return M
