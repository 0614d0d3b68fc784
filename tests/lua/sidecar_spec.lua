local sidecar = require "schedtest.sidecar"
local fs = require "schedtest.fs"
local S = require "helpers.sidecars"
local sh = require "helpers.sh"

describe("schedtest.sidecar", function()
  local tmp
  before_each(function() tmp = assert(fs.tempdir("st-sc-")) end)
  after_each(function() fs.remove_tree(tmp) end)

  it("round-trips write -> read -> write byte for byte", function()
    local path = assert(sidecar.write(S.make(), { runs_root = tmp }))
    local text = assert(fs.read_file(path))
    local back = assert(sidecar.read(path))
    assert.are.equal(text, assert(sidecar.encode(back)))
    -- and once more through decode
    assert.are.equal(text, assert(sidecar.encode(assert(sidecar.decode(text)))))
  end)

  it("names the file and run dir like ktstr", function()
    local t = S.make()
    local path = assert(sidecar.write(t, { runs_root = tmp }))
    local want = tmp .. "/6.12.9-abc1234/sched_perf_positive-"
      .. sidecar.variant_hash(t) .. ".ktstr.json"
    assert.are.equal(want, path)
    assert.are.equal(16, #sidecar.variant_hash(t))
    -- commits and host do not change the hash
    assert.are.equal(sidecar.variant_hash(t),
      sidecar.variant_hash(S.make { project_commit = "fff0000", host = {} }))
    assert.are_not.equal(sidecar.variant_hash(t),
      sidecar.variant_hash(S.make { topology = "2n2l4c1t" }))
    -- options override the directory parts; missing parts are "unknown"
    local anon = S.make()
    anon.kernel_version, anon.project_commit = nil, nil
    path = assert(sidecar.write(anon, { runs_root = tmp }))
    assert.truthy(path:find("/unknown%-unknown/"))
    path = assert(sidecar.write(t, { runs_root = tmp, kernel = "7.0",
                                     project_commit = "1234567-dirty" }))
    assert.truthy(path:find("/7%.0%-1234567%-dirty/"))
  end)

  it("writes every schema field, null and [] when empty", function()
    local t = S.make()
    t.kvm_stats, t.monitor, t.host, t.verifier_stats = nil, nil, nil, nil
    local text = assert(sidecar.encode(t))
    assert.truthy(text:find('"kvm_stats": null', 1, true))
    assert.truthy(text:find('"monitor": null', 1, true))
    assert.truthy(text:find('"host": null', 1, true))
    assert.truthy(text:find('"verifier_stats": []', 1, true))
    assert.falsy(text:find('host_dilation', 1, true))
    assert.truthy(text:find('"worst_gap_ms": 15,', 1, true))
    assert.truthy(text:find('"user_time_ns": 17508213019.0', 1, true))
    -- schedtest's extra host keys come after ktstr's, sorted
    local h = assert(sidecar.encode(S.make()))
    local a = h:find('"kernel_cmdline"', 1, true)
    local b = h:find('"accelerator": "kvm"', 1, true)
    local c = h:find('"vm_vcpus": 4', 1, true)
    assert.truthy(a and b and c and a < b and b < c)
  end)

  it("keeps the run's clock, shift and seed in host", function()
    local t = S.make()
    t.host.clock, t.host.icount_shift, t.host.seed = "virtual", 1, 4294967295
    local path = assert(sidecar.write(t, { runs_root = tmp }))
    local text = assert(fs.read_file(path))
    assert.truthy(text:find('"clock": "virtual",', 1, true))
    assert.truthy(text:find('"icount_shift": 1,', 1, true))
    assert.truthy(text:find('"seed": 4294967295,', 1, true))
    local back = assert(sidecar.read(path))
    assert.are.equal("virtual", back.host.clock)
    assert.are.equal(4294967295, back.host.seed)
  end)

  it("rejects wrong field types with the field named", function()
    local r, msg, code = sidecar.encode(S.make { passed = "yes" })
    assert.is_nil(r)
    assert.are.equal("EINVAL", code)
    assert.truthy(msg:find("passed", 1, true))
    r, msg = sidecar.encode(S.make { test_name = false })
    assert.is_nil(r)
    assert.truthy(msg:find("test_name", 1, true))
  end)

  it("explicit dir: SCHEDTEST_SIDECAR_DIR semantics through opts.dir", function()
    local own = tmp .. "/own"
    fs.mkdir_p(own)
    assert(fs.write_atomic(own .. "/keep.ktstr.json", "{}"))
    local p = assert(sidecar.write(S.make(), { dir = own }))
    assert.are.equal(own, p:match("^(.*)/[^/]+$"))
    assert.truthy(fs.stat(own .. "/keep.ktstr.json"))
  end)

  it("parallel writers of one invocation (same epoch) keep each other's files", function()
    local script = tmp .. "/w.lua"
    assert(fs.write_atomic(script, [[
      package.path = "./tests/lua/?.lua;" .. package.path
      local sidecar = require "schedtest.sidecar"
      local S = require "helpers.sidecars"
      local root, tag = ...
      for i = 1, 20 do
        assert(sidecar.write(S.make { test_name = tag .. i }, { runs_root = root }))
      end
    ]]))
    local root = tmp .. "/runs"
    fs.mkdir_p(root .. "/6.12.9-abc1234")
    assert(fs.write_atomic(root .. "/6.12.9-abc1234/stale.ktstr.json", "{}"))
    local q = sh.quote
    local cmd = string.format("export SCHEDTEST_RUN_EPOCH=inv-1; %s run %s %s a & "
      .. "%s run %s %s b; wait", q(sh.schedtest), q(script), q(root),
      q(sh.schedtest), q(script), q(root))
    assert.is_true(os.execute(cmd))
    local names = assert(fs.list(root .. "/6.12.9-abc1234"))
    assert.are.equal(40, #names)           -- stale one wiped, none of theirs
    for _, n in ipairs(names) do assert.falsy(n:find("stale", 1, true)) end
  end)

  it("decode reports byte offsets", function()
    local r, msg, code = sidecar.decode('{"a": [1, 2,, 3]}')
    assert.is_nil(r)
    assert.are.equal("EPARSE", code)
    assert.truthy(msg:find("byte 12", 1, true))
  end)

  it("exposes SipHash-1-3 and the runs root", function()
    assert.are.equal("8264ceeccb16bcbe", sidecar.siphash13("siphash"))
    assert.is_true(sidecar.is_sidecar_name("a-1.ktstr.json"))
    assert.is_false(sidecar.is_sidecar_name("a.json"))
  end)
end)
