-- The host's command line: dispatch, help, -e, run, errors, search paths.
local sh = require "helpers.sh"
local fs = require "schedtest.fs"

local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

describe("schedtest command dispatch", function()
  it("lists every command with its description on help", function()
    local r = sh.schedtest_run({ "help" })
    assert.are.equal(0, r.code)
    assert.matches("repl%s+Interactive Lua prompt", r.out)
    assert.matches("help%s+List every command", r.out)
    assert.matches("run%s+Run a Lua file", r.out)
  end)

  it("exits 2 and lists the commands for an unknown command", function()
    local r = sh.schedtest_run({ "nosuch" })
    assert.are.equal(2, r.code)
    assert.matches("unknown command 'nosuch'", r.err, 1, true)
    assert.matches("repl%s+Interactive", r.err)
  end)

  it("exits 2 with usage when run without a command", function()
    local r = sh.schedtest_run({})
    assert.are.equal(2, r.code)
    assert.matches("usage: schedtest COMMAND", r.out, 1, true)
  end)

  it("prints the versions of schedtest and its libraries", function()
    local r = sh.schedtest_run({ "--version" })
    assert.are.equal(0, r.code)
    assert.matches("^schedtest %S+\n", r.out)
    assert.matches("Lua: Lua 5%.4", r.out)
    assert.matches("libgit2: %d+%.%d+%.%d+", r.out)
    assert.matches("GSL: %d+%.%d+", r.out)
    assert.matches("qemu: %S+", r.out)
  end)
end)

describe("schedtest -e", function()
  it("runs code with the schedtest modules and arguments", function()
    local r = sh.schedtest_run({ "-e",
      "print(require('schedtest.error').codes.ENOENT, arg[2], ...)",
      "a1", "a2" })
    assert.are.equal(0, r.code)
    assert.are.equal("-4\ta2\ta1\ta2\n", r.out)
  end)

  it("reports a syntax error with exit 2", function()
    local r = sh.schedtest_run({ "-e", "x = = 1" })
    assert.are.equal(2, r.code)
    assert.matches("%(command line%):1:", r.err)
  end)

  it("uses the chunk's return value as exit status", function()
    assert.are.equal(3, sh.schedtest_run({ "-e", "return 3" }).code)
    assert.are.equal(0, sh.schedtest_run({ "-e", "return true" }).code)
    assert.are.equal(1, sh.schedtest_run({ "-e", "return false" }).code)
  end)

  it("has cjson available", function()
    local r = sh.schedtest_run({ "-e",
      "io.write(require('cjson').encode({a = {1, 2}}))" })
    assert.are.equal('{"a":[1,2]}', r.out)
  end)
end)

describe("schedtest run and script errors", function()
  local dir
  before_each(function() dir = assert(fs.tempdir("cli-spec-")) end)
  after_each(function() fs.remove_tree(dir) end)

  it("runs a file with its arguments in ... and arg", function()
    write(dir .. "/hello.lua", "print('hello', #arg, arg[0], ...)\n")
    local r = sh.schedtest_run({ "run", dir .. "/hello.lua", "x", "y" })
    assert.are.equal(0, r.code)
    assert.are.equal("hello\t2\t" .. dir .. "/hello.lua\tx\ty\n", r.out)
  end)

  it("names the file and line of an error, with a traceback, exit 1",
     function()
    write(dir .. "/bad.lua", "local x = 1\n\nlocal function f()\n" ..
          "  error('boom here')\nend\nf()\n")
    local r = sh.schedtest_run({ "run", dir .. "/bad.lua" })
    assert.are.equal(1, r.code)
    assert.matches("^schedtest: " .. dir:gsub("%p", "%%%0") ..
                   "/bad.lua:4: boom here\n", r.err)
    assert.matches("stack traceback:", r.err, 1, true)
    assert.not_matches("PANIC", r.err)
  end)

  it("turns a non-string error object into a message", function()
    write(dir .. "/obj.lua", "error({ code = 1 })\n")
    local r = sh.schedtest_run({ "run", dir .. "/obj.lua" })
    assert.are.equal(1, r.code)
    assert.matches("error object is a table value", r.err, 1, true)
  end)

  it("says which file cannot be read", function()
    local r = sh.schedtest_run({ "run", dir .. "/missing.lua" })
    assert.are.equal(2, r.code)
    assert.matches("cannot read .*missing%.lua", r.err)
  end)

  it("names a command script relative to the working directory", function()
    fs.mkdir_p(dir .. "/scripts")
    write(dir .. "/scripts/oops.lua", "-- Fails on purpose.\n\nerror('nope')\n")
    local r = sh.schedtest_run({ "oops" }, {
      cwd = dir, env = { SCHEDTEST_LUA_PATH = dir, PWD = dir } })
    assert.are.equal(1, r.code)
    assert.matches("^schedtest: scripts/oops%.lua:3: nope", r.err)
  end)

  it("prints a usage error without a traceback and exits 2", function()
    write(dir .. "/u.lua",
          "local p = require('schedtest.usage').parser{prog='u'}\n" ..
          "p:flag{'--json'}\np:parse({...})\n")
    local r = sh.schedtest_run({ "run", dir .. "/u.lua", "--nope" })
    assert.are.equal(2, r.code)
    assert.are.equal("schedtest: u: unknown option '--nope' (see 'u --help')\n",
                     r.err)
  end)
end)

describe("module and script search paths", function()
  local dir
  before_each(function() dir = assert(fs.tempdir("cli-path-")) end)
  after_each(function() fs.remove_tree(dir) end)

  it("finds the Lua library from the build directory", function()
    local r = sh.schedtest_run({ "-e",
      "io.write(package.searchpath('schedtest.cli', package.path))" })
    assert.are.equal(0, r.code)
    assert.matches("/lua/schedtest/cli%.lua$", r.out)
  end)

  it("SCHEDTEST_LUA_PATH adds commands and overrides modules", function()
    fs.mkdir_p(dir .. "/scripts")
    fs.mkdir_p(dir .. "/schedtest")
    write(dir .. "/scripts/mine.lua",
          "-- A user command.\nprint(require('schedtest.pretty').mine)\n")
    write(dir .. "/schedtest/pretty.lua", "return { mine = 'overridden' }\n")
    local env = { SCHEDTEST_LUA_PATH = dir }
    local r = sh.schedtest_run({ "mine" }, { env = env })
    assert.are.equal(0, r.code)
    assert.are.equal("overridden\n", r.out)
    local h = sh.schedtest_run({ "help" }, { env = env })
    assert.matches("mine%s+A user command%.", h.out)
  end)

  it("lets a user script shadow a stock command", function()
    fs.mkdir_p(dir .. "/scripts")
    write(dir .. "/scripts/help.lua", "-- My help.\nprint('custom help')\n")
    local r = sh.schedtest_run({ "help" },
                               { env = { SCHEDTEST_LUA_PATH = dir } })
    assert.are.equal("custom help\n", r.out)
  end)

  it("preloads the C modules", function()
    local r = sh.schedtest_run({ "-e", [[
      for _, m in ipairs{"schedtest.error", "schedtest.host", "schedtest.fs"} do
        assert(package.preload[m], m)
        assert(type(require(m)) == "table")
      end]] })
    assert.are.equal(0, r.code, r.err)
  end)
end)
