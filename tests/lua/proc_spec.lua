local proc = require "schedtest.proc"

describe("schedtest.proc.run", function()
  it("runs an argv without a shell and captures output", function()
    local r = assert(proc.run({ "printf", "%s|%s", "a b", "$HOME" },
                              { stdout = "capture" }))
    assert.is_true(r.ok)
    assert.are.equal(0, r.code)
    assert.are.equal("a b|$HOME", r.stdout) -- no shell expansion
  end)

  it("reports the exit status and stderr", function()
    local r = assert(proc.run({ "sh", "-c", "echo oops >&2; exit 3" },
                              { stderr = "capture" }))
    assert.is_false(r.ok)
    assert.are.equal(3, r.code)
    assert.are.equal("oops\n", r.stderr)
  end)

  it("merges stderr into stdout, sets cwd and env", function()
    local r = assert(proc.run({ "sh", "-c", "pwd; echo $FOO >&2" },
      { cwd = "/tmp", env = { FOO = "bar" }, stdout = "capture",
        stderr = "stdout" }))
    assert.are.equal("/tmp\nbar\n", r.stdout)
  end)

  it("kills a child that outlives its timeout, with its group", function()
    local r = assert(proc.run({ "sh", "-c", "sleep 30 & sleep 30" },
                              { timeout = 0.3 }))
    assert.is_true(r.timed_out)
    assert.is_false(r.ok)
    assert.is_true(r.wall < 5)
  end)

  it("fails clearly for a missing program or directory", function()
    local v, msg, code = proc.run({ "no-such-program-xyz" })
    assert.is_nil(v)
    assert.are.equal("ENOENT", code)
    assert.matches("cannot run 'no-such-program-xyz'", msg, 1, true)
    v, msg = proc.run({ "true" }, { cwd = "/nonexistent-dir" })
    assert.is_nil(v)
    assert.matches("/nonexistent-dir", msg, 1, true)
  end)

  it("gives a child a private TMPDIR, removed with what it left", function()
    local r = assert(proc.run({ "sh", "-c",
      "echo \"$TMPDIR\"; touch \"$TMPDIR/ccLEFT.o\"; echo $FOO" },
      { stdout = "capture", private_tmp = true, env = { FOO = "kept" } }))
    local dir, foo = r.stdout:match("^(.-)\n(.-)\n$")
    assert.matches("/schedtest%-proc%-[^/]+$", dir)
    assert.are.equal("kept", foo)
    assert.is_nil(require("schedtest.fs").stat(dir))
    r = assert(proc.run({ "sh", "-c", "echo \"$TMPDIR\"" },
      { stdout = "capture", private_tmp = true }))
    assert.matches("/schedtest%-proc%-[^/]+\n$", r.stdout)
  end)

  it("rejects unknown options", function()
    assert.has_error(function() proc.run({ "true" }, { tiemout = 1 }) end)
  end)
end)

describe("schedtest.proc.start", function()
  it("runs a child while the caller goes on, and waits for it", function()
    local h <close> = assert(proc.start({ "sh", "-c", "sleep 0.3; echo done" },
                                        { stdout = "capture" }))
    assert.is_true(h:pid() > 0)
    assert.is_false(h:poll()) -- still sleeping
    local r = h:wait()
    assert.is_true(r.ok)
    assert.are.equal("done\n", r.stdout)
    assert.is_true(h:poll()) -- finished stays finished
    assert.are.same(r, h:wait())
  end)

  it("runs two children at the same time", function()
    local a <close> = assert(proc.start({ "sleep", "0.5" }))
    local b <close> = assert(proc.start({ "sleep", "0.5" }))
    local ra, rb = a:wait(), b:wait()
    assert.is_true(ra.ok and rb.ok)
    -- both slept in the same half second, not one after the other
    assert.is_true(rb.wall < 0.9, tostring(rb.wall))
  end)

  it("reports exit status and timeouts like run()", function()
    local h <close> = assert(proc.start({ "sh", "-c", "exit 4" }))
    assert.are.equal(4, h:wait().code)
    local t <close> = assert(proc.start({ "sleep", "30" }, { timeout = 0.2 }))
    local r = t:wait()
    assert.is_true(r.timed_out)
    assert.is_false(r.ok)
  end)

  it("close stops a running child with its process group", function()
    local h = assert(proc.start({ "sh", "-c", "sleep 30 & sleep 30" }))
    local pid = h:pid()
    h:close()
    h:close() -- idempotent
    assert.has_error(function() h:poll() end, "attempt to use a closed schedtest.Proc")
    local alive = proc.run({ "kill", "-0", tostring(pid) }, { stderr = "capture" })
    assert.is_false(alive.ok)
  end)

  it("fails clearly for a program that cannot run", function()
    local h, msg, code = proc.start({ "no-such-program-xyz" })
    assert.is_nil(h)
    assert.are.equal("ENOENT", code)
    assert.matches("cannot run 'no-such-program-xyz'", msg, 1, true)
    assert.has_error(function() proc.start({ "true" }, { tiemout = 1 }) end)
  end)
end)
