local pool = require "schedtest.pool"
local sidecar = require "schedtest.sidecar"
local fs = require "schedtest.fs"
local S = require "helpers.sidecars"

local function build(tmp)
  -- two commits x two tests x two kernels, one failed run
  for _, commit in ipairs { "aaa1111", "bbb2222" } do
    for _, kernel in ipairs { "6.12.9", "6.14.2" } do
      for i, test in ipairs { "alpha", "beta" } do
        local t = S.make { test_name = test, project_commit = commit,
                           kernel_version = kernel,
                           cpu_budget = (commit == "aaa1111") and 4 or 2,
                           passed = not (test == "beta" and commit == "bbb2222"
                                         and kernel == "6.14.2") }
        t.stats.worst_spread = i + (commit == "bbb2222" and 10 or 0)
        assert(sidecar.write(t, { runs_root = tmp }))
      end
    end
  end
end

describe("schedtest.pool", function()
  local tmp, P
  setup(function()
    tmp = assert(fs.tempdir("st-pool-"))
    build(tmp)
    P = assert(pool.open(tmp))
  end)
  teardown(function() P:close(); fs.remove_tree(tmp) end)

  it("loads every sidecar and lists dimensions", function()
    assert.are.equal(8, #P)
    assert.are.same({ "test", "kernel", "commit", "kernel_commit", "source",
                      "resolve_source", "cpu_budget", "scheduler", "topology",
                      "work_type", "throughput_denomination", "run_dir",
                      "timestamp", "run_id" }, P:dims())
    assert.are.same({ "aaa1111", "bbb2222" }, (P:values("commit")))
    assert.are.same({ 2, 4 }, (P:values("cpu_budget")))
    local v, unrecorded = P:values("kernel_commit")
    assert.are.same({}, v)
    assert.is_true(unrecorded)
    assert.are.same({ "6.12.9-aaa1111", "6.12.9-bbb2222", "6.14.2-aaa1111",
                      "6.14.2-bbb2222" }, (P:values("run_dir")))
  end)

  it("filters into views without copying, composable", function()
    local a = P:filter { commit = "aaa1111" }
    assert.are.equal(4, #a)
    assert.are.equal(2, #a:filter { test = "alpha" })
    assert.are.equal(8, #P:filter { commit = { "aaa1111", "bbb2222" } })
    assert.are.equal(4, #P:filter { kernel = function(k) return k and k:match("^6%.12") end })
    assert.are.equal(4, #P:filter { cpu_budget = 2 })
    assert.are.equal(7, #P:filter { passed = true })
    assert.are.equal(0, #P:filter { kernel_commit = "x" })
    assert.has_error(function() P:filter { nope = 1 } end)
  end)

  it("returns metric columns and row tables of the documented shape", function()
    local v = P:filter { commit = "bbb2222", test = "beta" }
    local col, present = v:metric("worst_spread")
    assert.are.same({ 12, 12 }, col)
    assert.are.equal(2, present)
    local none, n = v:metric("no_such_metric")
    assert.are.equal(0, n)
    assert.is_true(none[1] ~= none[1])
    local rows = {}
    for r in v:rows() do rows[#rows + 1] = r end
    assert.are.equal(2, #rows)
    local r = rows[1]
    assert.are.equal("beta", r.test)
    assert.are.equal("bbb2222", r.commit)
    assert.are.equal("local", r.source)
    assert.are.equal("path", r.resolve_source)
    assert.are.equal(2, r.cpu_budget)
    assert.is_true(math.type(r.cpu_budget) == "integer")
    assert.is_nil(r.kernel_commit)
    assert.are.equal(12, r.metrics.worst_spread)
    assert.are.equal(0.5, r.metrics.ttwu_local_fraction)      -- a rate
    assert.are.equal(17508213019, r.metrics.user_time_ns)    -- ext_metrics
    assert.is_nil(r.metrics.worst_p99_timer_latency_us)
    assert.are.equal(2, #r.phases)
    assert.are.same({ step_index = 0, label = "BASELINE",
                      metrics = { user_time_ns = 8e9, system_time_ns = 1.25e8 } },
                    r.phases[1])
    assert.are.same({ { metric = "worst_spread", direction = "LowerBetter",
                        max_regression_pct = 10, min_abs = 1 } },
                    r.perf_delta_assertions)
    assert.truthy(r.path:find("%.ktstr%.json$"))
    -- full sidecar on demand
    local full = assert(v:row(1))
    assert.are.equal("beta", full.test_name)
    assert.are.equal("kvm", full.host.accelerator)
    assert.are.same(full, assert(sidecar.read(r.path)))
  end)

  it("groups rows by dimensions", function()
    local groups = P:group_by("commit", "test")
    assert.are.equal(4, #groups)
    for _, g in ipairs(groups) do
      assert.are.equal(2, #g.view)
      for r in g.view:rows() do
        assert.are.equal(g.key.commit, r.commit)
        assert.are.equal(g.key.test, r.test)
      end
    end
  end)

  it("lists metrics present in a view, and re-tags run_source", function()
    local names = P:metrics()
    assert.truthy(#names > 20)
    local P2 = assert(pool.open(tmp, { run_source = "archive" }))
    assert.are.same({ "archive" }, (P2:values("source")))
    P2:close()
  end)

  it("loads a larger pool identically with reader threads (auto) and without", function()
    local big = assert(fs.tempdir("st-pool-big-"))
    local text = assert(sidecar.encode(S.make()))
    for d = 1, 3 do
      local dir = big .. "/6.12.9-run" .. d
      fs.mkdir_p(dir)
      for i = 1, 70 do
        local f = assert(io.open(string.format("%s/t%02d-%d.ktstr.json", dir, i, d), "w"))
        f:write((text:gsub('"sched_perf_positive"', '"t' .. i .. '"')))
        f:close()
      end
    end
    -- many directories of one file each, and a level below a run dir:
    -- readers switch the directory they open relative to on every file
    local function put(path, i)
      local f = assert(io.open(path, "w"))
      f:write((text:gsub('"sched_perf_positive"', '"s' .. i .. '"')))
      f:close()
    end
    for d = 1, 40 do
      fs.mkdir_p(big .. "/6.12.9-small" .. d)
      put(string.format("%s/6.12.9-small%d/one-%d.ktstr.json", big, d, d), d)
    end
    fs.mkdir_p(big .. "/6.12.9-run1/sub")
    for i = 1, 5 do
      put(string.format("%s/6.12.9-run1/sub/nested-%d.ktstr.json", big, i), i)
    end
    local f = assert(io.open(big .. "/6.12.9-run2/zz-bad.ktstr.json", "w"))
    f:write("{")
    f:close()
    local function snap(P)
      local rows = {}
      for r in P:rows() do rows[#rows + 1] = r end
      return { rows = rows, errors = P:errors(), walk = P:walk() }
    end
    local serial = snap(assert(pool.open(big, { threads = 1 })))
    assert.are.equal(255, #serial.rows)
    assert.are.equal(1, #serial.errors)
    assert.are.same(serial, snap(assert(pool.open(big))))
    assert.are.same(serial, snap(assert(pool.open(big, { threads = 2 }))))
    assert.are.same(serial, snap(assert(pool.open(big, { threads = 3 }))))
    fs.remove_tree(big)
  end)

  it("fails softly on a missing root and raises after close", function()
    local r, msg, code = pool.open(tmp .. "/nope")
    assert.is_nil(r)
    assert.are.equal("ENOENT", code)
    assert.truthy(msg:find("nope", 1, true))
    local P3 = assert(pool.open(tmp))
    local view = P3:filter { test = "alpha" }
    P3:close()
    P3:close() -- idempotent
    assert.has_error(function() return #P3 end,
                     "attempt to use a closed schedtest.Pool")
    assert.has_error(function() view:metric("x") end)
    assert.has_error(function() pool.open(tmp, { bogus = 1 }) end)
  end)
end)
