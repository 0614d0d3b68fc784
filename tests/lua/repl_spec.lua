-- The REPL driven through a pipe, as a user would script it.
local sh = require "helpers.sh"

local function repl(input)
  return sh.schedtest_run({ "repl" }, { stdin = input,
                                        env = { SCHEDTEST_HISTORY = "" } })
end

describe("schedtest repl through a pipe", function()
  it("prints the value of an expression", function()
    local r = repl("1+1\n")
    assert.are.equal(0, r.code)
    assert.are.equal("2\n", r.out)
  end)

  it("pretty-prints tables with sorted keys", function()
    local r = repl("{b = 2, a = {1, 2}, 'x'}\n")
    assert.are.equal('{ "x", a = { 1, 2 }, b = 2 }\n', r.out)
  end)

  it("continues an incomplete chunk on the next lines", function()
    local r = repl("function double(x)\n  return 2 * x\nend\ndouble(21)\n")
    assert.are.equal("42\n", r.out)
  end)

  it("keeps globals between chunks and prints nothing for statements",
     function()
    local r = repl("x = 40\nx + 2\n")
    assert.are.equal("42\n", r.out)
  end)

  it("reports an error and keeps going", function()
    local r = repl("error('boom')\n'after'\n")
    assert.are.equal(0, r.code)
    assert.matches("stdin:1: boom", r.err, 1, true)
    assert.are.equal('"after"\n', r.out)
  end)

  it("reports a syntax error that is not just incomplete input", function()
    local r = repl("x = = 2\n'still alive'\n")
    assert.matches("unexpected symbol", r.err, 1, true)
    assert.are.equal('"still alive"\n', r.out)
  end)

  it("prints multiple results separated by tabs", function()
    assert.are.equal('1\t"two"\tnil\n', repl("1, 'two', nil\n").out)
  end)

  it("gives access to schedtest modules through st", function()
    assert.are.equal("-4\n", repl("st.error.codes.ENOENT\n").out)
  end)

  it("interrupts a running chunk on SIGINT and stays alive", function()
    -- A fifo keeps stdin open while the chunk spins; SIGINT then goes to
    -- the REPL process only.
    local fs = require "schedtest.fs"
    local dir = assert(fs.tempdir("repl-int-"))
    local script = ([[
      set -e
      mkfifo %s/in
      %s repl < %s/in > %s/out 2> %s/err &
      pid=$!
      exec 3> %s/in
      echo 'while true do end' >&3
      sleep 0.5
      kill -INT $pid
      sleep 0.3
      echo 'print("alive")' >&3
      exec 3>&-
      wait $pid
    ]]):gsub("%%s", { }):format(dir, sh.schedtest, dir, dir, dir, dir)
    local ok = os.execute(script)
    local out = fs.read_file(dir .. "/out")
    local err = fs.read_file(dir .. "/err")
    fs.remove_tree(dir)
    assert.is_true(ok)
    assert.matches("interrupted!", err, 1, true)
    assert.are.equal("alive\n", out)
  end)
end)
