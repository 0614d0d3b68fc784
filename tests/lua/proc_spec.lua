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

  it("rejects unknown options", function()
    assert.has_error(function() proc.run({ "true" }, { tiemout = 1 }) end)
  end)
end)
