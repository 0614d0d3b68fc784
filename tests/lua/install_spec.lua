-- `make install PREFIX=...` gives a binary that finds its Lua library and
-- scripts without the source tree.
local sh = require "helpers.sh"
local fs = require "schedtest.fs"

describe("make install", function()
  local prefix
  before_each(function() prefix = assert(fs.tempdir("install-spec-")) end)
  after_each(function() fs.remove_tree(prefix) end)

  it("installs a binary that runs commands from the prefix", function()
    local r = sh.run({ "make", "-s", "install", "PREFIX=" .. prefix,
                       "SANITIZE=" .. (os.getenv("SANITIZE") or "") })
    assert.are.equal(0, r.code, r.err)
    local bin = prefix .. "/bin/schedtest"
    local out = sh.run({ bin, "-e",
      "io.write(package.searchpath('schedtest.cli', package.path))" },
      { cwd = "/" })
    assert.are.equal(0, out.code, out.err)
    assert.are.equal(prefix .. "/share/schedtest/lua/schedtest/cli.lua",
                     out.out)
    local help = sh.run({ bin, "help" }, { cwd = "/" })
    assert.matches("repl%s+Interactive", help.out)
    local repl = sh.run({ bin, "repl" }, { cwd = "/", stdin = "6*7\n" })
    assert.are.equal("42\n", repl.out)
  end)
end)
