local sidecar = require "schedtest.sidecar"
local fs = require "schedtest.fs"
local sh = require "helpers.sh"
local S = require "helpers.sidecars"

local function stats(args, env)
  local argv = { "stats" }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  return sh.schedtest_run(argv, { env = env })
end

describe("schedtest stats", function()
  local tmp
  setup(function()
    tmp = assert(fs.tempdir("st-stats-"))
    assert(sidecar.write(S.make(), { runs_root = tmp }))
    local t = S.make { test_name = "other", kernel_version = "6.14.2",
                       scheduler = "eevdf", cpu_budget = 2 }
    t.host, t.resolve_source = nil, nil
    assert(sidecar.write(t, { runs_root = tmp }))
    -- the hand-written spec §1.5 sidecar, in its own run dir
    fs.mkdir_p(tmp .. "/7.0.14-6be77c7")
    assert(fs.write_atomic(tmp .. "/7.0.14-6be77c7/hand.ktstr.json",
      assert(fs.read_file("tests/fixtures/sidecars-good/hand-written.ktstr.json"))))
  end)
  teardown(function() fs.remove_tree(tmp) end)

  it("list-values --json matches the values the sidecars contain", function()
    local r = stats({ "list-values", "--json" }, { SCHEDTEST_RUNS_ROOT = tmp })
    assert.are.equal(0, r.code, r.err)
    assert.are.equal("", r.err)
    local v = assert(sidecar.decode(r.out))
    assert.are.same({ "6.12.9", "6.14.2", "7.0.14" }, v.kernel)
    assert.are.same({ "6be77c7", "abc1234" }, v.commit)
    assert.are.same({ 2, 4 }, v.cpu_budget)
    assert.are.same({ "eevdf", "perf_scx", "scx_demo" }, v.scheduler)
    assert.are.same({ "auto_built", "path" }, v.resolve_source) -- + null
    assert.are.same({ "local" }, v.source)
    assert.are.same({}, v.kernel_commit)                        -- [null]
    assert.truthy(r.out:find('"kernel_commit": %[%s*null%s*%]'))
    assert.truthy(r.out:find('"path",%s*null'))
    assert.are.same({ "Schbench", "SpinWait" }, v.work_type)
    -- --dir on one run directory
    r = stats { "list-values", "--json", "--dir", tmp .. "/7.0.14-6be77c7" }
    assert.are.same({ "7.0.14" }, assert(sidecar.decode(r.out)).kernel)
  end)

  it("list shows runs newest first with RUN TESTS DATE ARCH", function()
    os.execute("touch -d '2020-01-01' " .. sh.quote(tmp .. "/6.14.2-abc1234"))
    local r = stats({ "list" }, { SCHEDTEST_RUNS_ROOT = tmp })
    assert.are.equal(0, r.code, r.err)
    local lines = {}
    for l in r.out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.truthy(lines[1]:match("^RUN%s+TESTS%s+DATE%s+ARCH$"))
    assert.are.equal(4, #lines)
    assert.truthy(lines[4]:match("^6%.14%.2%-abc1234%s+1%s+2026%-07%-04T23:28:34Z%s+%-$"), r.out)
    assert.truthy(r.out:find("7%.0%.14%-6be77c7%s+1%s+2026%-07%-04T23:28:34Z%s+x86_64"))
  end)

  it("list-metrics prints the registry, --json dumps it", function()
    local r = stats { "list-metrics" }
    assert.are.equal(0, r.code)
    assert.truthy(r.out:find("NAME%s+POLARITY%s+DEFAULT_ABS%s+DEFAULT_REL%s+UNIT"))
    assert.truthy(r.out:find("worst_spread%s+lower%s+5%s+0.25%s+%%"))
    local _, n = r.out:gsub("\n", "")
    assert.are.equal(127, n)
    r = stats { "list-metrics", "--json" }
    local all = assert(sidecar.decode(r.out))
    assert.are.equal(126, #all)
    assert.are.equal("worst_spread", all[1].name)
  end)

  it("show-host prints the first host context of a run", function()
    local r = stats({ "show-host", "--run", "6.12.9-abc1234" },
                    { SCHEDTEST_RUNS_ROOT = tmp })
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.out:find("accelerator: kvm", 1, true))
    assert.truthy(r.out:find("sched_tunables.sched_rr_timeslice_ms: 100", 1, true))
    r = stats({ "show-host", "--run", "6.14.2-abc1234" },
              { SCHEDTEST_RUNS_ROOT = tmp })
    assert.are.equal(1, r.code)
    r = stats({ "show-host", "--run", "nope" }, { SCHEDTEST_RUNS_ROOT = tmp })
    assert.are.equal(2, r.code)
    r = stats { "show-host" }
    assert.are.equal(2, r.code)
    assert.truthy(r.err:find("--run", 1, true))
  end)

  it("explain-sidecar classifies null optional fields", function()
    local r = stats({ "explain-sidecar", "--run", "6.14.2-abc1234", "--dir", tmp })
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.out:find("walked 1 sidecar file(s), parsed 1 valid", 1, true))
    assert.truthy(r.out:find("host%s+None %(actionable%)"))
    assert.truthy(r.out:find("payload%s+None %(expected%)"))
    r = stats { "explain-sidecar", "--run", "6.14.2-abc1234", "--dir", tmp, "--json" }
    local j = assert(sidecar.decode(r.out))
    assert.are.equal("1", j._schema_version)
    assert.are.same({ walked = 1, valid = 1, errors = 0, io_errors = 0 }, j._walk)
    local names = {}
    for _, n in ipairs(j.fields[1].none) do names[n.field] = n.class end
    assert.are.equal("actionable", names.host)
    assert.are.equal("actionable", names.resolve_source)
    assert.is_nil(names.project_commit)
  end)

  it("has --help everywhere and usage errors exit 2", function()
    for _, c in ipairs { "list", "list-values", "list-metrics", "show-host",
                         "explain-sidecar", "errors" } do
      local r = stats { c, "--help" }
      assert.are.equal(0, r.code, c)
      assert.truthy(r.out:find("usage: schedtest stats " .. c, 1, true))
    end
    assert.are.equal(0, stats({ "--help" }).code)
    local r = stats { "frobnicate" }
    assert.are.equal(2, r.code)
    assert.truthy(r.err:find("unknown command", 1, true))
    assert.are.equal(2, stats({ "list-values", "--bogus" }).code)
    r = stats({ "list-values", "--dir", tmp .. "/missing" })
    assert.are.equal(2, r.code)
  end)
end)
