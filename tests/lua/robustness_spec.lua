-- The bad-sidecar corpus: every broken file gives its own clear error (path,
-- byte offset, reason) and the rest of the pool still loads.
local pool = require "schedtest.pool"
local sidecar = require "schedtest.sidecar"
local fs = require "schedtest.fs"
local sh = require "helpers.sh"

local CORPUS = "tests/fixtures/sidecars-bad"

local expected = {
  ["truncated-"] = { "unterminated string", 1500 },
  ["empty-"] = { "empty file", 0 },
  ["wrong-types-"] = { "key 'passed': a boolean expected, got string" },
  ["nan-token-"] = { "NaN and Infinity are not JSON numbers" },
  ["infinity-token-"] = { "NaN and Infinity are not JSON numbers" },
  ["out-of-range-"] = { "number out of range" },
  ["deep-nesting-"] = { "nesting deeper than 64 levels" },
  ["invalid-utf8-"] = { "invalid UTF-8 byte 0xc3" },
  ["missing-stats-"] = { "missing required key 'stats'", 0 },
  ["not-an-object-"] = { "a sidecar is a JSON object" },
  ["wrong-metric-type-"] = { "key 'user_time_ns': a number expected" },
  ["control-char-"] = { "control character 0x01" },
  ["huge-"] = { "larger than the 16777216-byte sidecar limit" },
  ["dir-"] = { "is a directory named like a sidecar" },
  ["loop-"] = { "symbolic link loop" },
}

describe("bad sidecars", function()
  local tmp, run
  setup(function()
    tmp = assert(fs.tempdir("st-bad-"))
    assert(os.execute("cp -R " .. CORPUS .. "/. " .. sh.quote(tmp)))
    run = tmp .. "/7.0-bad0000"
    -- generated here, not committed: a 50 MB file, a directory named like a
    -- sidecar, a symlink loop, an unreadable file
    local f = assert(io.open(run .. "/huge-1.ktstr.json", "w"))
    f:write('{"test_name": "huge", "pad": "')
    local chunk = string.rep("x", 1 << 20)
    for _ = 1, 50 do f:write(chunk) end
    f:write('"}')
    f:close()
    assert(fs.mkdir_p(run .. "/dir-2.ktstr.json"))
    assert(os.execute("ln -s loop-3.ktstr.json " .. sh.quote(run .. "/loop-3.ktstr.json")))
    assert(fs.write_atomic(run .. "/unreadable-4.ktstr.json", "{}"))
    assert(os.execute("chmod 000 " .. sh.quote(run .. "/unreadable-4.ktstr.json")))
    assert(os.execute("chmod 755 " .. sh.quote(tmp)))
  end)
  teardown(function() fs.remove_tree(tmp) end)

  it("reports each broken file and loads the rest", function()
    local P = assert(pool.open(tmp))
    assert.are.equal(1, #P)
    assert.are.equal("base", P:get(1).test)
    local errs = P:errors()
    local seen = {}
    for _, e in ipairs(errs) do
      local name = e.path:match("([^/]+)$")
      local prefix = name:match("^(.-%-)%d") or name:match("^([%a%-]+%-)")
      local want = expected[prefix]
      if want then
        seen[prefix] = true
        assert.truthy(e.reason:find(want[1], 1, true),
                      name .. ": " .. e.reason)
        if want[2] then assert.are.equal(want[2], e.offset, name) end
        assert.truthy(e.path:find(run, 1, true) == 1)
      end
    end
    for prefix in pairs(expected) do
      assert.is_true(seen[prefix] == true, "no error for " .. prefix)
    end
    -- every content error carries a byte offset
    for _, e in ipairs(errs) do
      if e.code == "EPARSE" then assert.is_number(e.offset, e.path) end
    end
    local w = P:walk()
    assert.are.equal(#errs + 1, w.walked)
  end)

  it("loads the same rows and errors with and without reader threads", function()
    local function snapshot(P)
      local rows, errs = {}, {}
      for r in P:rows() do rows[#rows + 1] = r end
      for _, e in ipairs(P:errors()) do errs[#errs + 1] = e end
      return { rows = rows, errs = errs, walk = P:walk() }
    end
    local a = snapshot(assert(pool.open(tmp, { threads = 1 })))
    for _, n in ipairs { 2, 3, 8 } do
      assert.are.same(a, snapshot(assert(pool.open(tmp, { threads = n }))))
    end
  end)

  it("reports an unreadable file (as an unprivileged user)", function()
    local argv = { sh.schedtest, "stats", "errors", "--json", "--dir", tmp }
    local uid = io.popen("id -u"):read("l")
    if uid == "0" then
      -- root reads everything: drop to nobody for this check
      table.insert(argv, 1, "--clear-groups")
      table.insert(argv, 1, "--regid=65534")
      table.insert(argv, 1, "--reuid=65534")
      table.insert(argv, 1, "setpriv")
    end
    local r = sh.run(argv)
    assert.are.equal(1, r.code, r.err)
    local errs = assert(sidecar.decode(r.out))
    local found
    for _, e in ipairs(errs) do
      if e.path:find("unreadable%-4") then found = e end
    end
    assert.truthy(found, r.out)
    assert.truthy(found.reason:find("Permission denied", 1, true))
    assert.are.equal("EIO", found.code)
  end)

  it("prints one summary warning from commands", function()
    local r = sh.schedtest_run { "stats", "list-values", "--dir", tmp }
    assert.are.equal(0, r.code)
    local _, n = r.err:gsub("warning:", "")
    assert.are.equal(1, n)
    assert.truthy(r.err:find("1[0-9] sidecar file%(s%)"))
  end)
end)
