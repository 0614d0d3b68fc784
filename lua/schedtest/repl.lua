-- schedtest.repl: evaluation and printing for `schedtest repl`.
--
-- The host reads lines (src/repl.c) and calls `M.eval` with the chunk read
-- so far; this module compiles it, asks for more input when the chunk is
-- incomplete, runs it and prints the results.  Edit this file to change
-- how the REPL behaves.

local host = require "schedtest.host"
local pretty = require "schedtest.pretty"

local io, os, string, table = io, os, string, table
local getmetatable, tostring, type = getmetatable, tostring, type
local debug, load, select, setmetatable, xpcall, require =
  debug, load, select, setmetatable, xpcall, require

local M = {}

M.chunkname = "=stdin"

-- Globals of the REPL session: chunks share them, so `x = 1` persists.
-- `st.<module>` requires schedtest.<module> on first use; `pp(v)` prints v.
M.env = setmetatable({}, { __index = _G })
M.env.st = setmetatable({}, { __index = function(t, k)
  local mod = require("schedtest." .. k)
  t[k] = mod
  return mod
end })
M.env.pp = function(...)
  for i = 1, select("#", ...) do
    io.write(pretty.format((select(i, ...))), "\n")
  end
end

local function incomplete(err)
  return err ~= nil and err:sub(-5) == "<eof>"
end

-- Traceback without the frames of this module and the host.
local function traceback(err)
  if type(err) ~= "string" then
    local mt = getmetatable(err)
    if mt and mt.__tostring then return tostring(err) end
    err = "(error object is a " .. type(err) .. " value)"
  end
  local tb = debug.traceback(err, 2)
  local keep = {}
  for line in tb:gmatch("[^\n]+") do
    if line:find("[C]: in function 'xpcall'", 1, true) then break end
    keep[#keep + 1] = line
  end
  return table.concat(keep, "\n")
end

--- Print the results of a chunk (nothing for a statement with no values).
function M.print_results(n, ...)
  if n == 0 then return end
  local parts = {}
  for i = 1, n do parts[i] = pretty.format((select(i, ...))) end
  io.write(table.concat(parts, "\t"), "\n")
end

local function finish(ok, ...)
  if not ok then
    io.stderr:write((...), "\n")
    return
  end
  M.print_results(select("#", ...), ...)
end

--- Evaluate `src`; returns "incomplete" when more lines are needed.
-- Expressions are tried first (`1+1` prints 2), then statements.
function M.eval(src)
  local fn, err_expr = load("return " .. src .. ";", M.chunkname, "t", M.env)
  local err_stmt
  if not fn then
    fn, err_stmt = load(src, M.chunkname, "t", M.env)
  end
  if not fn then
    if incomplete(err_stmt) or incomplete(err_expr) then
      return "incomplete"
    end
    io.stderr:write(err_stmt, "\n")
    return "error"
  end
  finish(xpcall(fn, traceback))
  return "done"
end

--- Where the history lives: $SCHEDTEST_HISTORY, else
-- $XDG_STATE_HOME/schedtest/history (~/.local/state/schedtest/history).
function M.history_path()
  local explicit = os.getenv("SCHEDTEST_HISTORY")
  if explicit then return explicit ~= "" and explicit or nil end
  local state = os.getenv("XDG_STATE_HOME")
  if not state or state == "" then
    local home = os.getenv("HOME")
    if not home then return nil end
    state = home .. "/.local/state"
  end
  local dir = state .. "/schedtest"
  require("schedtest.fs").mkdir_p(dir)
  return dir .. "/history"
end

--- Run the loop until end of input.
function M.run()
  local tty = host.isatty(0)
  if tty then
    io.write(string.format("schedtest %s (%s) -- Ctrl-D to leave, "
      .. "st.<module> to load a module, pp(v) to pretty-print\n",
      host.version, host.lua_version))
  end
  io.stdout:setvbuf("line")
  host.repl(M.eval, { prompt = "schedtest> ", prompt2 = "        >> ",
                      history = tty and M.history_path() or nil })
  return 0
end

return M
