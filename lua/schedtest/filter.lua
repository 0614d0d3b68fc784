-- schedtest.filter: nextest-style filter expressions over tests.
--
--   local filter = require "schedtest.filter"
--   local f = assert(filter.compile("test(/^perf_/) & not test(=perf_slow)"))
--   f:matches{ name = "perf_pingpong", scheduler = "scx_vtime" }  --> true
--
-- Grammar (whitespace is free):
--   expr    := and { ("|" | "or" | "+") and }
--   and     := unary { ("&" | "and") unary | "-" unary }    -- "-": and not
--   unary   := ("not" | "!") unary | primary
--   primary := "(" expr ")" | NAME "(" [matcher] ")" | bare-word
--   matcher := "/" regex "/" | "=" exact | "~" substring | substring
-- Predicates: test(m) on the test name, scheduler(m) on its scheduler,
-- perf() for performance_mode tests, all(), none().  A bare word is a
-- substring of the test name.  test(m) without a prefix is a substring
-- match, as in nextest.

local regex = require "schedtest.regex"

local string, table = string, table
local setmetatable, error, pcall, type, ipairs =
  setmetatable, error, pcall, type, ipairs

local M = {}

local Filter = {}
Filter.__index = Filter

-- Raise a parse error that compile() turns into nil, msg, "EINVAL".
local function parse_error(src, pos, what)
  error({ filter_error = string.format(
    "filter '%s': %s at column %d", src, what, pos) }, 0)
end

local function matcher(src, pos, body)
  local first = body:sub(1, 1)
  if first == "/" then
    if #body < 2 or body:sub(-1) ~= "/" then
      parse_error(src, pos, "unterminated regular expression")
    end
    local re, msg = regex.compile(body:sub(2, -2))
    if not re then parse_error(src, pos, msg) end
    return function(s) return s ~= nil and re:match(s) end, body
  elseif first == "=" then
    local want = body:sub(2)
    return function(s) return s == want end, body
  else
    local part = first == "~" and body:sub(2) or body
    return function(s)
      return s ~= nil and s:find(part, 1, true) ~= nil
    end, body
  end
end

local predicates = {
  test = function(m) return function(t) return m(t.name) end end,
  scheduler = function(m)
    return function(t) return m(t.scheduler or "eevdf") end
  end,
}
local nullary = {
  all = function() return true end,
  none = function() return false end,
  perf = function(t) return t.performance_mode == true end,
}

-- Tokenizer: returns a list of {kind, text, pos}.
local function tokenize(src)
  local toks, i = {}, 1
  while i <= #src do
    local c = src:sub(i, i)
    if c:match("%s") then
      i = i + 1
    elseif c:match("[()|&!+%-]") then
      toks[#toks + 1] = { kind = c, pos = i }
      i = i + 1
    else
      local name = src:match("^[%w_]+%s*%(", i)
      local keyword = name and name:match("^[%w_]+")
      if keyword == "not" or keyword == "and" or keyword == "or" then
        name = nil
      end
      if name then
        -- NAME( ... ): take everything up to the matching ")", allowing
        -- ")" inside /regex/.
        local fname = name:match("^[%w_]+")
        local j = i + #name
        local in_re, depth = false, 0
        local start = j
        while j <= #src do
          local d = src:sub(j, j)
          if d == "/" and (j == start or in_re) then in_re = not in_re
          elseif not in_re and d == "(" then depth = depth + 1
          elseif not in_re and d == ")" then
            if depth == 0 then break end
            depth = depth - 1
          end
          j = j + 1
        end
        if j > #src then
          parse_error(src, i, in_re and "unterminated regular expression"
                              or "missing ')'")
        end
        local body = src:sub(start, j - 1):match("^%s*(.-)%s*$")
        toks[#toks + 1] = { kind = "call", name = fname, body = body,
                            pos = i }
        i = j + 1
      else
        local word = src:match("^[^%s()|&!+]+", i)
        local kind = (word == "not" or word == "and" or word == "or")
                     and word or "word"
        toks[#toks + 1] = { kind = kind, text = word, pos = i }
        i = i + #word
      end
    end
  end
  return toks
end

local function parse(src)
  local toks, k = tokenize(src), 1
  local function peek() return toks[k] end
  local function take() k = k + 1; return toks[k - 1] end
  local expr

  local function primary()
    local t = take()
    if not t then parse_error(src, #src + 1, "expression expected") end
    if t.kind == "(" then
      local e = expr()
      local close = take()
      if not close or close.kind ~= ")" then
        parse_error(src, t.pos, "missing ')'")
      end
      return e
    elseif t.kind == "call" then
      if nullary[t.name] then
        if t.body ~= "" then
          parse_error(src, t.pos, t.name .. "() takes no argument")
        end
        return nullary[t.name]
      elseif predicates[t.name] then
        if t.body == "" then
          parse_error(src, t.pos, t.name .. "() needs a matcher")
        end
        return predicates[t.name]((matcher(src, t.pos, t.body)))
      end
      parse_error(src, t.pos, "unknown predicate '" .. t.name .. "()' " ..
                  "(expected test, scheduler, perf, all or none)")
    elseif t.kind == "word" then
      local m = matcher(src, t.pos, t.text)
      return function(x) return m(x.name) end
    end
    parse_error(src, t.pos, "unexpected '" .. (t.text or t.kind) .. "'")
  end

  local function unary()
    local t = peek()
    if t and (t.kind == "not" or t.kind == "!") then
      take()
      local e = unary()
      return function(x) return not e(x) end
    end
    return primary()
  end

  local function conj()
    local left = unary()
    while true do
      local t = peek()
      if t and (t.kind == "&" or t.kind == "and") then
        take()
        local l, r = left, unary()
        left = function(x) return l(x) and r(x) end
      elseif t and t.kind == "-" then
        take()
        local l, r = left, unary()
        left = function(x) return l(x) and not r(x) end
      else
        return left
      end
    end
  end

  expr = function()
    local left = conj()
    while true do
      local t = peek()
      if t and (t.kind == "|" or t.kind == "or" or t.kind == "+") then
        take()
        local l, r = left, conj()
        left = function(x) return l(x) or r(x) end
      else
        return left
      end
    end
  end

  local e = expr()
  if peek() then
    local t = peek()
    parse_error(src, t.pos, "unexpected '" .. (t.text or t.name or t.kind)
                .. "'")
  end
  return e
end

--- Compile `src`; returns a Filter or nil, message, "EINVAL".
function M.compile(src)
  if type(src) ~= "string" or src:match("^%s*$") then
    return nil, "filter: empty expression", "EINVAL"
  end
  local ok, pred = pcall(parse, src)
  if not ok then
    if type(pred) == "table" and pred.filter_error then
      return nil, pred.filter_error, "EINVAL"
    end
    error(pred, 0)
  end
  return setmetatable({ source = src, pred = pred }, Filter)
end

--- Combine several filters (e.g. repeated -E flags) with "|".
function M.any(list)
  local srcs = {}
  for i, f in ipairs(list) do srcs[i] = "(" .. f.source .. ")" end
  return M.compile(table.concat(srcs, " | "))
end

--- Whether the test {name=, scheduler=, performance_mode=} is selected.
function Filter:matches(test)
  return self.pred(test) and true or false
end

--- The selected tests of `tests`, in order.
function Filter:select(tests)
  local out = {}
  for _, t in ipairs(tests) do
    if self.pred(t) then out[#out + 1] = t end
  end
  return out
end

Filter.__tostring = function(f) return "schedtest.Filter(" .. f.source .. ")" end

return M
