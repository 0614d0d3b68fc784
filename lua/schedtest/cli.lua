-- schedtest.cli: the command dispatcher behind the schedtest binary.
--
-- `schedtest NAME ARGS...` runs scripts/NAME.lua (the first one found in
-- the script directories: each SCHEDTEST_LUA_PATH entry's scripts/, then
-- the installed ones).  `schedtest run FILE ARGS...` and `schedtest -e CODE`
-- run user code the same way.  A script receives its arguments as `...` and
-- in the global `arg` (lua.c's convention) and returns its exit status.

local host = require "schedtest.host"
local usage = require "schedtest.usage"
local fs = require "schedtest.fs"

local io, os, string, table = io, os, string, table
local debug, load, loadfile, xpcall = debug, load, loadfile, xpcall
local ipairs, type, tostring = ipairs, type, tostring
local getmetatable = getmetatable
local math_type = math.type

local M = {}

--- Exit statuses shared by every command (documented in README).  A stop
-- signal n exits 128 + n, the shell's convention.
M.EXIT = { ok = 0, fail = 1, usage = 2, interrupted = 130, hangup = 129,
           terminated = 143 }

-- What to tell the user for each stop signal.
local STOP_MESSAGES = {
  SIGINT = "interrupted",
  SIGTERM = "terminated (SIGTERM)",
  SIGHUP = "hangup (SIGHUP)",
}

local function readable(path)
  local f = io.open(path, "r")
  if f then f:close() return true end
  return false
end

--- Path of the script for command `name`, or nil.
function M.find_command(name)
  if not name:match("^[%w][%w_%-]*$") then return nil end
  for _, dir in ipairs(host.script_dirs) do
    local path = dir .. "/" .. name .. ".lua"
    if readable(path) then return path end
  end
  return nil
end

--- One-line description of a script: its first `--` comment line.
function M.summary(path)
  local f = io.open(path, "r")
  if not f then return "" end
  for line in f:lines() do
    if not line:match("^#!") then
      local text = line:match("^%-%-+%s*(.-)%s*$")
      f:close()
      return text or ""
    end
  end
  f:close()
  return ""
end

--- Every command: { {name=, summary=, path=}, ... } sorted by name.
-- A script in an earlier directory hides one of the same name later.
function M.commands()
  local found, list = {}, {}
  for _, dir in ipairs(host.script_dirs) do
    for _, file in ipairs(fs.list(dir) or {}) do
      local name = file:match("^([%w][%w_%-]*)%.lua$")
      if name and not found[name] then
        found[name] = true
        local path = dir .. "/" .. file
        list[#list + 1] = { name = name, summary = M.summary(path),
                            path = path }
      end
    end
  end
  table.sort(list, function(a, b) return a.name < b.name end)
  return list
end

--- The help text listing every command.
function M.help_text()
  local lines = {
    "usage: schedtest COMMAND [ARGS...]",
    "       schedtest run FILE.lua [ARGS...]",
    "       schedtest -e 'LUA CODE' [ARGS...]",
    "       schedtest --version",
    "",
    "commands:",
  }
  local width = 4
  local cmds = M.commands()
  for _, c in ipairs(cmds) do width = math.max(width, #c.name) end
  lines[#lines + 1] = string.format("  %-" .. width .. "s  %s", "run",
    "Run a Lua file with the schedtest modules available.")
  for _, c in ipairs(cmds) do
    lines[#lines + 1] = string.format("  %-" .. width .. "s  %s", c.name,
                                      c.summary)
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "Run 'schedtest COMMAND --help' for a command's flags."
  return table.concat(lines, "\n")
end

-- Show `path` relative to the current directory when it lies below it, so
-- error messages read "scripts/foo.lua:12:".
local function display_path(path)
  local pwd = fs.cwd()
  if pwd and path:sub(1, #pwd + 1) == pwd .. "/" then
    return path:sub(#pwd + 2)
  end
  return path
end

-- Message handler for command code: usage errors pass through untouched,
-- everything else gains a traceback.
local function handler(err)
  if usage.is_error(err) then return err end
  if type(err) ~= "string" then
    local mt = getmetatable(err)
    err = (mt and mt.__tostring) and tostring(err)
          or ("(error object is a " .. type(err) .. " value)")
  end
  return debug.traceback(err, 2)
end

-- Turn what a chunk returned into an exit status.
local function exit_status(ok, result)
  if not ok then
    if usage.is_error(result) then
      local msg = tostring(result)
      io.stderr:write(msg:match("^schedtest[ :]") and "" or "schedtest: ",
                      msg, "\n")
      return M.EXIT.usage
    end
    if host.interrupted() then
      -- Ctrl-C, SIGTERM or SIGHUP: the unwinding already closed VMs,
      -- checkouts and locks; a traceback would only be noise.
      local signo, name = host.interrupt_signal()
      io.stderr:write("\nschedtest: ", STOP_MESSAGES[name] or "interrupted",
                      "\n")
      return signo and 128 + signo or M.EXIT.interrupted
    end
    io.stderr:write("schedtest: ", result, "\n")
    return M.EXIT.fail
  end
  if math_type(result) == "integer" then return result end
  if result == nil or result == true then return M.EXIT.ok end
  return M.EXIT.fail
end

--- Run `chunk` as a program named `name` with `args`; returns the status.
function M.run_chunk(chunk, name, args)
  local a = { [0] = name }
  for i, v in ipairs(args) do a[i] = v end
  _G.arg = a -- lua.c's convention; busted and user scripts read it
  io.stdout:setvbuf("full")
  local ok, result = xpcall(chunk, handler, table.unpack(args))
  io.stdout:flush()
  return exit_status(ok, result)
end

--- Load and run the Lua file `path`.
function M.run_file(path, args)
  local chunk, err = loadfile(path)
  if not chunk then
    io.stderr:write("schedtest: ", err, "\n")
    return M.EXIT.usage
  end
  return M.run_chunk(chunk, path, args)
end

local function slice(t, from)
  local r = {}
  for i = from, #t do r[#r + 1] = t[i] end
  return r
end

local function print_version()
  local qemu = "not found"
  local p = io.popen("qemu-system-x86_64 --version 2>/dev/null")
  if p then
    local line = p:read("l")
    p:close()
    qemu = line and line:match("version%s+(%S+)") or qemu
  end
  io.write(string.format(
    "schedtest %s\nLua: %s\nlibgit2: %s\nGSL: %s\nqemu: %s\n",
    host.version, host.lua_version, host.libgit2_version, host.gsl_version,
    qemu))
end

--- Entry point called by the host with argv (argv[0] is the program).
function M.main(argv)
  local cmd = argv[1]
  if cmd == nil or cmd == "--help" or cmd == "-h" then
    io.write(M.help_text(), "\n")
    return cmd == nil and M.EXIT.usage or M.EXIT.ok
  elseif cmd == "--version" or cmd == "version" then
    print_version()
    return M.EXIT.ok
  elseif cmd == "-e" then
    local code = argv[2]
    if not code then
      io.stderr:write("schedtest: -e needs a Lua chunk, as in: ",
                      "schedtest -e 'print(1+1)'\n")
      return M.EXIT.usage
    end
    local chunk, err = load(code, "=(command line)")
    if not chunk then
      io.stderr:write("schedtest: ", err, "\n")
      return M.EXIT.usage
    end
    return M.run_chunk(chunk, "-e", slice(argv, 3))
  elseif cmd == "run" then
    local file = argv[2]
    if not file then
      io.stderr:write("schedtest: run needs a file: schedtest run FILE.lua ",
                      "[ARGS...]\n")
      return M.EXIT.usage
    end
    if not readable(file) then
      io.stderr:write("schedtest: run: cannot read ", file, "\n")
      return M.EXIT.usage
    end
    return M.run_file(file, slice(argv, 3))
  end
  local path = M.find_command(cmd)
  if not path then
    io.stderr:write("schedtest: unknown command '", cmd, "'\n\n",
                    M.help_text(), "\n")
    return M.EXIT.usage
  end
  -- Load with a chunk name relative to the working directory, so errors
  -- point at an editable file the user can open.
  local f, err = io.open(path, "rb")
  local chunk
  if f then
    chunk, err = load(f:read("a"), "@" .. display_path(path))
    f:close()
  end
  if not chunk then
    io.stderr:write("schedtest: ", err, "\n")
    return M.EXIT.fail
  end
  return M.run_chunk(chunk, cmd, slice(argv, 2))
end

return M
