-- helpers.sh: run the schedtest binary (or any command) and capture its
-- output and exit status, for end-to-end checks of the command line.
local M = {}

-- Absolute, so tests may run it from any working directory.
M.schedtest = require("schedtest.fs").realpath(
  os.getenv("SCHEDTEST") or "build/schedtest")

--- Quote one argument for /bin/sh.
function M.quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

--- Run argv (a table) with optional stdin text and env table;
-- returns {code=, out=, err=}.
function M.run(argv, opts)
  opts = opts or {}
  local fs = require "schedtest.fs"
  local dir = assert(fs.tempdir("schedtest-sh-"))
  local parts = {}
  for k, v in pairs(opts.env or {}) do
    parts[#parts + 1] = k .. "=" .. M.quote(v)
  end
  for _, a in ipairs(argv) do parts[#parts + 1] = M.quote(a) end
  local cmd = table.concat(parts, " ")
  if opts.cwd then cmd = "cd " .. M.quote(opts.cwd) .. " && " .. cmd end
  local input = dir .. "/in"
  local f = assert(io.open(input, "w"))
  f:write(opts.stdin or "")
  f:close()
  local ok, how, code = os.execute("(" .. cmd .. ") <" .. input .. " >" ..
                                   dir .. "/out 2>" .. dir .. "/err")
  local r = { code = (how == "exit") and code or 128 + code }
  r.out = fs.read_file(dir .. "/out") or ""
  r.err = fs.read_file(dir .. "/err") or ""
  fs.remove_tree(dir)
  return r
end

--- Run the schedtest binary with the given arguments.
function M.schedtest_run(args, opts)
  local argv = { M.schedtest }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  return M.run(argv, opts)
end

return M
