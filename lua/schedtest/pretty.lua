-- schedtest.pretty: a readable rendering of any Lua value, for the REPL.
--
--   pretty.format({b = 1, a = {1, 2}})  --> '{ a = { 1, 2 }, b = 1 }'
--
-- Keys are sorted (array part first, then numbers, then strings, then the
-- rest), a table met again on the current path prints as <cycle>, tables
-- deeper than `depth` print as {...N}, and a table or userdata whose
-- metatable has __pretty (returning a value to show) or __tostring is
-- shown through it.

local string, table, math = string, table, math
local ipairs = ipairs
local getmetatable, pairs, rawlen, tostring, type, pcall =
  getmetatable, pairs, rawlen, tostring, type, pcall
local math_type = math.type

local M = {}

M.defaults = { depth = 4, width = 78, indent = "  ", max_items = 200 }

local function is_identifier(s)
  return type(s) == "string" and s:match("^[%a_][%w_]*$") ~= nil
    and not ({ ["and"]=1, ["break"]=1, ["do"]=1, ["else"]=1, ["elseif"]=1,
               ["end"]=1, ["false"]=1, ["for"]=1, ["function"]=1,
               ["goto"]=1, ["if"]=1, ["in"]=1, ["local"]=1, ["nil"]=1,
               ["not"]=1, ["or"]=1, ["repeat"]=1, ["return"]=1,
               ["then"]=1, ["true"]=1, ["until"]=1, ["while"]=1 })[s]
end

local function quote(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    local named = { ["\n"] = "\\n", ["\t"] = "\\t", ["\r"] = "\\r",
                    ['"'] = '\\"', ["\\"] = "\\\\" }
    return named[c] or string.format("\\%03d", c:byte())
  end) .. '"'
end

local function number(n)
  if math_type(n) == "integer" then return tostring(n) end
  if n ~= n then return "nan" end
  if n == math.huge then return "inf" end
  if n == -math.huge then return "-inf" end
  local s = string.format("%.14g", n)
  if not s:find("[%.eEn]") then s = s .. ".0" end
  return s
end

local type_rank = { number = 1, string = 2, boolean = 3 }

local function key_less(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then
    return (type_rank[ta] or 9) < (type_rank[tb] or 9)
      or ((type_rank[ta] or 9) == (type_rank[tb] or 9) and ta < tb)
  end
  if ta == "number" or ta == "string" then return a < b end
  return tostring(a) < tostring(b)
end

-- Metamethod-driven display: __pretty first, then __tostring.
local function via_meta(v)
  local mt = getmetatable(v)
  if type(mt) ~= "table" then return nil end
  if mt.__pretty then
    local ok, shown = pcall(mt.__pretty, v)
    if ok then return shown, true end
  end
  if mt.__tostring then
    local ok, s = pcall(tostring, v)
    if ok then return s, false end
  end
  return nil
end

local render

local function render_table(t, opts, level, path)
  if path[t] then return "<cycle>" end
  local n = rawlen(t)
  local keys = {}
  for k in pairs(t) do
    if not (math_type(k) == "integer" and k >= 1 and k <= n) then
      keys[#keys + 1] = k
    end
  end
  if level >= opts.depth then
    local count = n + #keys
    return count == 0 and "{}" or ("{..." .. count .. "}")
  end
  table.sort(keys, key_less)
  path[t] = true
  local items = {}
  for i = 1, n do
    if #items >= opts.max_items then break end
    items[#items + 1] = render(t[i], opts, level + 1, path)
  end
  for _, k in ipairs(keys) do
    if #items >= opts.max_items then break end
    local ks = is_identifier(k) and k or ("[" .. render(k, opts, level + 1,
                                                        path) .. "]")
    items[#items + 1] = ks .. " = " .. render(t[k], opts, level + 1, path)
  end
  path[t] = nil
  local omitted = n + #keys - #items
  if omitted > 0 then items[#items + 1] = "...(" .. omitted .. " more)" end
  if #items == 0 then return "{}" end
  local flat = "{ " .. table.concat(items, ", ") .. " }"
  local pad = string.rep(opts.indent, level)
  if #flat + #pad <= opts.width and not flat:find("\n") then return flat end
  local inner = pad .. opts.indent
  return "{\n" .. inner .. table.concat(items, ",\n" .. inner) .. "\n"
    .. pad .. "}"
end

render = function(v, opts, level, path)
  local tv = type(v)
  if tv == "string" then return quote(v)
  elseif tv == "number" then return number(v)
  elseif tv == "table" or tv == "userdata" then
    local shown, structured = via_meta(v)
    if shown ~= nil then
      if structured and type(shown) == "table" and shown ~= v then
        return render(shown, opts, level, path)
      end
      return tostring(shown)
    end
    if tv == "table" then return render_table(v, opts, level, path) end
    return tostring(v)
  end
  return tostring(v)
end

--- Render `v` as text; `opts` overrides M.defaults (depth, width, ...).
function M.format(v, opts)
  local o = {}
  for k, d in pairs(M.defaults) do o[k] = d end
  for k, x in pairs(opts or {}) do o[k] = x end
  return render(v, o, 0, {})
end

return M
