local sh = require "helpers.sh"
local fs = require "schedtest.fs"

describe("schedtest.fs", function()
  local dir
  before_each(function() dir = assert(fs.tempdir("fs-spec-")) end)
  after_each(function() assert(fs.remove_tree(dir)) end)

  it("creates nested directories and lists them sorted", function()
    assert(fs.mkdir_p(dir .. "/a/b/c"))
    assert(fs.mkdir_p(dir .. "/a/b/c")) -- idempotent
    assert(fs.write_atomic(dir .. "/a/z.txt", "z"))
    assert(fs.write_atomic(dir .. "/a/m.txt", "m"))
    assert.are.same({ "b", "m.txt", "z.txt" }, fs.list(dir .. "/a"))
    assert.are.equal("directory", fs.stat(dir .. "/a/b").type)
  end)

  it("writes atomically with the requested mode", function()
    local p = dir .. "/f"
    assert(fs.write_atomic(p, "hello", tonumber("600", 8)))
    assert.are.equal("hello", fs.read_file(p))
    local st = fs.stat(p)
    assert.are.equal(5, st.size)
    assert.are.equal(tonumber("600", 8), st.mode)
    assert.are.same({ "f" }, fs.list(dir)) -- no temporary left behind
  end)

  it("returns nil, message, code naming the path", function()
    local v, msg, code = fs.list(dir .. "/missing")
    assert.is_nil(v)
    assert.matches("missing", msg, 1, true)
    assert.are.equal("ENOENT", code)
    v, msg, code = fs.read_file(dir)
    assert.is_nil(v)
    assert.matches("is a directory", msg, 1, true)
    assert.are.equal("EINVAL", code)
  end)

  it("removes trees without following symlinks", function()
    local outside = assert(fs.tempdir("fs-keep-"))
    assert(fs.write_atomic(outside .. "/keep", "k"))
    assert(fs.mkdir_p(dir .. "/t"))
    assert(os.execute("ln -s " .. outside .. " " .. dir .. "/t/link"))
    assert(fs.remove_tree(dir .. "/t"))
    assert.is_nil(fs.stat(dir .. "/t"))
    assert.are.equal("k", fs.read_file(outside .. "/keep"))
    assert(fs.remove_tree(outside))
    assert(fs.remove_tree(dir .. "/never-existed"))
  end)

  it("refuses mkdir_p over a file", function()
    assert(fs.write_atomic(dir .. "/file", "x"))
    local ok, msg, code = fs.mkdir_p(dir .. "/file")
    assert.is_nil(ok)
    assert.matches("not a directory", msg, 1, true)
    assert.are.equal("EEXIST", code)
  end)

  it("locks a file exclusively and says who holds it", function()
    local path = dir .. "/locks/sub/x.lock"
    local held = assert(fs.lock(path, { note = "test holder" }))
    local again, msg, code = fs.lock(path)
    assert.is_nil(again)
    assert.are.equal("EBUSY", code)
    assert.matches("is locked by pid %d+, test holder", msg)
    -- another process sees the same lock
    local r = sh.schedtest_run({ "-e", "local fs = require 'schedtest.fs' " ..
      "local l, m, c = fs.lock(" .. string.format("%q", path) .. ") " ..
      "print(c) os.exit(l and 0 or 3)" })
    assert.are.equal(3, r.code, r.err)
    assert.matches("EBUSY", r.out, 1, true)
    held:release()
    held:release() -- idempotent
    do
      local l <close> = assert(fs.lock(path))
    end
    assert(fs.lock(path)):release()
    assert.has_error(function() fs.lock(path, { wiat = true }) end)
  end)
end)

describe("schedtest.fs.sweep_scratch", function()
  local sh = require "helpers.sh"
  local dir
  before_each(function() dir = assert(fs.tempdir("sweep-spec-")) end)
  after_each(function() assert(fs.remove_tree(dir)) end)

  -- Run Lua code in a schedtest whose $TMPDIR is `dir`.
  local function in_tmpdir(code)
    return sh.schedtest_run({ "-e", code }, { env = { TMPDIR = dir } })
  end

  it("removes what a SIGKILLed run left and nothing else", function()
    -- proc.run with a capture makes a locked schedtest-proc-* directory;
    -- SIGKILL gives it no chance to remove it.
    assert(os.execute("cd " .. sh.quote(dir) .. " && TMPDIR=. " ..
      sh.quote(sh.schedtest) .. " -e 'require(\"schedtest.proc\").run(" ..
      "{\"sh\", \"-c\", \": > ready; exec sleep 30\"}, " ..
      "{stdout = \"capture\"})' & pid=$!; " ..
      "i=0; while [ ! -e ready ] && [ $i -lt 200 ]; do sleep 0.05; " ..
      "i=$((i+1)); done; kill -KILL $pid; wait $pid; true"))
    local left = {}
    for _, name in ipairs(assert(fs.list(dir))) do
      if name:match("^schedtest%-proc%-") then left[#left + 1] = name end
    end
    assert.are.equal(1, #left)
    assert(fs.mkdir_p(dir .. "/schedtest-unrelated"))
    assert(fs.mkdir_p(dir .. "/other-tool"))

    local r = in_tmpdir("print(require('schedtest.fs').sweep_scratch())")
    assert.are.equal(0, r.code, r.err)
    assert.are.equal("1\n", r.out)
    assert.is_nil(fs.stat(dir .. "/" .. left[1]))
    assert.is_not_nil(fs.stat(dir .. "/schedtest-unrelated"))
    assert.is_not_nil(fs.stat(dir .. "/other-tool"))
  end)

  it("leaves a directory a live run holds", function()
    -- A child schedtest sweeps while its parent holds the proc.run
    -- capture directory its stdout goes to, aged first so only the lock
    -- protects it: had the sweep removed it, the capture would come back
    -- empty.
    local r = in_tmpdir([[
      local host = require "schedtest.host"
      local r = require("schedtest.proc").run({ "sh", "-c",
        'touch -d "2 hours ago" "$TMPDIR"/schedtest-proc-*/* ' ..
        '"$TMPDIR"/schedtest-proc-* && exec "$0" -e ' ..
        '"print(require(\'schedtest.fs\').sweep_scratch())"', host.exe },
        { stdout = "capture" })
      io.write(r.stdout)
    ]])
    assert.are.equal(0, r.code, r.err)
    assert.are.equal("0\n", r.out)
  end)

  it("refuses a prefix that is not schedtest's", function()
    local n, msg, code = fs.sweep_scratch("tmp")
    assert.is_nil(n)
    assert.matches("schedtest%-", msg)
    assert.are.equal("EINVAL", code)
  end)
end)
