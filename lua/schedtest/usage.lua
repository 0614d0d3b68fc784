-- schedtest.usage: command-line parsing and usage errors for scripts.
--
--   local usage = require "schedtest.usage"
--   local p = usage.parser{ prog = "schedtest stats list",
--                           summary = "List the runs in the pool." }
--   p:flag{ "--json", help = "print JSON" }
--   p:option{ "--dir", metavar = "DIR", help = "pool directory" }
--   p:option{ "-n", "--runs", metavar = "N", type = "integer", default = 5,
--             check = function(v) return v >= 2, "must be at least 2" end }
--   p:positional{ "run", help = "run id", optional = true }
--   local opts = p:parse(args)      -- nil after printing --help
--   if not opts then return 0 end
--
-- Misuse raises a usage error (see `usage.error`), which the dispatcher
-- prints without a traceback and turns into exit status 2.

local string, table = string, table
local ipairs, pairs, setmetatable, tostring, tonumber, type, error =
  ipairs, pairs, setmetatable, tostring, tonumber, type, error
local getmetatable, math_type, io = getmetatable, math.type, io

local M = {}

local UsageError = {}
UsageError.__index = UsageError
UsageError.__tostring = function(e) return e.message end

--- Raise a usage error: exit status 2, no traceback.
function M.error(fmt, ...)
  local msg = select("#", ...) > 0 and string.format(fmt, ...) or fmt
  error(setmetatable({ message = msg, code = "EUSAGE" }, UsageError), 0)
end

function M.is_error(e)
  return type(e) == "table" and getmetatable(e) == UsageError
end

local Parser = {}
Parser.__index = Parser

function M.parser(spec)
  return setmetatable({ prog = spec.prog, summary = spec.summary,
                        description = spec.description, epilog = spec.epilog,
                        options = {}, by_name = {}, positionals = {},
                        passthrough = spec.passthrough }, Parser)
end

-- "--noise-adjust" -> "noise_adjust"
local function key_of(names, explicit)
  if explicit then return explicit end
  local long
  for _, n in ipairs(names) do
    if n:sub(1, 2) == "--" then long = n end
  end
  return ((long or names[#names]):gsub("^%-+", ""):gsub("%-", "_"))
end

local function add(self, spec, takes_value)
  local names = {}
  for _, n in ipairs(spec) do names[#names + 1] = n end
  local o = { names = names, key = key_of(names, spec.key),
              takes_value = takes_value, metavar = spec.metavar or "VALUE",
              help = spec.help or "", default = spec.default,
              type = spec.type or "string", choices = spec.choices,
              check = spec.check, repeatable = spec.repeatable }
  self.options[#self.options + 1] = o
  for _, n in ipairs(names) do self.by_name[n] = o end
  return self
end

function Parser:flag(spec) return add(self, spec, false) end
function Parser:option(spec) return add(self, spec, true) end

function Parser:positional(spec)
  self.positionals[#self.positionals + 1] = {
    name = spec[1], help = spec.help or "", optional = spec.optional,
    rest = spec.rest }
  return self
end

function Parser:help_text()
  local out = {}
  local syn = { "usage: " .. self.prog, "[OPTIONS]" }
  for _, p in ipairs(self.positionals) do
    local n = p.name:upper() .. (p.rest and "..." or "")
    syn[#syn + 1] = p.optional and "[" .. n .. "]" or n
  end
  if self.passthrough then syn[#syn + 1] = "[-- " .. self.passthrough .. "]" end
  out[#out + 1] = table.concat(syn, " ")
  if self.summary then out[#out + 1] = "\n" .. self.summary end
  if self.description then out[#out + 1] = "\n" .. self.description end
  out[#out + 1] = "\noptions:"
  local rows = {}
  for _, o in ipairs(self.options) do
    local left = table.concat(o.names, ", ")
    if o.takes_value then left = left .. " " .. o.metavar end
    local right = o.help
    if o.choices then
      right = right .. " (one of: " .. table.concat(o.choices, ", ") .. ")"
    end
    if o.default ~= nil and o.takes_value then
      right = right .. " [default: " .. tostring(o.default) .. "]"
    end
    rows[#rows + 1] = { left, right }
  end
  rows[#rows + 1] = { "-h, --help", "show this help and exit" }
  for _, p in ipairs(self.positionals) do
    rows[#rows + 1] = { p.name:upper(), p.help }
  end
  local width = 0
  for _, r in ipairs(rows) do width = math.max(width, #r[1]) end
  for _, r in ipairs(rows) do
    out[#out + 1] = string.format("  %-" .. width .. "s  %s", r[1], r[2])
  end
  if self.epilog then out[#out + 1] = "\n" .. self.epilog end
  return table.concat(out, "\n")
end

local function convert(self, o, raw)
  local v = raw
  if o.type == "number" or o.type == "integer" then
    v = tonumber(raw)
    if v == nil or (o.type == "integer" and math_type(v) ~= "integer") then
      M.error("%s: %s expects %s, got '%s' (see '%s --help')",
              self.prog, o.names[#o.names],
              o.type == "integer" and "a whole number" or "a number",
              raw, self.prog)
    end
  end
  if o.choices then
    local ok = false
    for _, c in ipairs(o.choices) do if c == v then ok = true end end
    if not ok then
      M.error("%s: %s must be one of %s, got '%s'", self.prog,
              o.names[#o.names], table.concat(o.choices, ", "), raw)
    end
  end
  if o.check then
    local ok, why = o.check(v)
    if not ok then
      M.error("%s: %s %s: %s", self.prog, o.names[#o.names], raw,
              why or "invalid value")
    end
  end
  return v
end

--- Parse `args`; returns the options table, or nil after printing --help.
-- Positionals land under their names; after "--" everything goes to
-- opts["--"] (only when the parser declared `passthrough`).
function Parser:parse(args)
  local opts, seen, rest = {}, {}, {}
  local i = 1
  while i <= #args do
    local a = args[i]
    if a == "-h" or a == "--help" then
      io.write(self:help_text(), "\n")
      return nil
    elseif a == "--" then
      if not self.passthrough then
        M.error("%s: unexpected '--' (this command passes nothing on)",
                self.prog)
      end
      local pass = {}
      for j = i + 1, #args do pass[#pass + 1] = args[j] end
      opts["--"] = pass
      break
    elseif a:sub(1, 1) == "-" and #a > 1 and not tonumber(a) then
      local name, inline = a:match("^(%-%-[^=]+)=(.*)$")
      name = name or a
      local o = self.by_name[name]
      if not o then
        M.error("%s: unknown option '%s' (see '%s --help')", self.prog,
                name, self.prog)
      end
      if seen[o] and not o.repeatable then
        M.error("%s: %s given twice", self.prog, name)
      end
      seen[o] = true
      if o.takes_value then
        local raw = inline
        if raw == nil then
          i = i + 1
          raw = args[i]
          if raw == nil then
            M.error("%s: %s needs a value (%s)", self.prog, name, o.metavar)
          end
        end
        local v = convert(self, o, raw)
        if o.repeatable then
          opts[o.key] = opts[o.key] or {}
          table.insert(opts[o.key], v)
        else
          opts[o.key] = v
        end
      else
        if inline ~= nil then
          M.error("%s: %s takes no value", self.prog, name)
        end
        opts[o.key] = true
      end
    else
      rest[#rest + 1] = a
    end
    i = i + 1
  end
  local r = 1
  for _, p in ipairs(self.positionals) do
    if p.rest then
      local list = {}
      for j = r, #rest do list[#list + 1] = rest[j] end
      r = #rest + 1
      opts[p.name] = list
    else
      if rest[r] == nil and not p.optional then
        M.error("%s: missing %s (see '%s --help')", self.prog,
                p.name:upper(), self.prog)
      end
      opts[p.name] = rest[r]
      r = r + 1
    end
  end
  if rest[r] ~= nil then
    M.error("%s: unexpected argument '%s' (see '%s --help')", self.prog,
            rest[r], self.prog)
  end
  for _, o in ipairs(self.options) do
    if opts[o.key] == nil and o.default ~= nil then opts[o.key] = o.default end
    if opts[o.key] == nil and not o.takes_value then opts[o.key] = false end
  end
  return opts
end

M.Parser = Parser
return M
