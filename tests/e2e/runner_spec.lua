-- `schedtest test` on the example projects, in real VMs: sidecars where
-- they belong, pre-clear, filters, --list, and clear failures.
local sh = require "helpers.sh"
local gitfix = require "helpers.gitfix"
local kernels = require "helpers.kernels"
local fs = require "schedtest.fs"
local sidecar = require "schedtest.sidecar"

-- A throwaway git repository holding a copy of examples/NAME.
local function project(name)
  local dir = gitfix.init()
  gitfix.sh(dir, "cp -R " .. gitfix.q(fs.realpath("examples/" .. name)) ..
            "/. . && rm -rf build target && git add -A && git commit -qm init")
  return dir, gitfix.sh(dir, "git rev-parse --short=7 HEAD")
end

local function schedtest(dir, args, env)
  env = env or {}
  env.PWD = dir
  return sh.schedtest_run(args, { cwd = dir, env = env })
end

local function sidecars_in(d)
  local out = {}
  for _, n in ipairs(fs.list(d) or {}) do
    if n:match("%.ktstr%.json$") then out[#out + 1] = n end
  end
  return out
end

describe("schedtest test on examples/scx_vtime (built sched_ext kernel)",
         function()
  local k, dir, commit
  setup(function()
    k = kernels.built()
    dir, commit = project("scx_vtime")
  end)
  teardown(function() gitfix.cleanup(dir) end)

  it("lists the tests without building or booting anything", function()
    local r = schedtest(dir, { "test", "--list" })
    assert.are.equal(0, r.code, r.err)
    assert.matches("perf_pingpong_vs_hog%s+scx_vtime%s+perf 1n1l2c1t", r.out)
    assert.matches("smoke_mix%s+scx_vtime%s+1n1l2c1t", r.out)
    assert.is_nil(fs.stat(dir .. "/build"))
    assert.is_nil(fs.stat(dir .. "/target"))
  end)

  it("runs every test and writes one sidecar each in {kernel}-{commit}",
     function()
    local r = schedtest(dir, { "test", "--kernel", k.path })
    assert.are.equal(0, r.code, r.out .. r.err)
    local run_dir = dir .. "/target/ktstr/" .. k.version .. "-" .. commit
    local files = sidecars_in(run_dir)
    assert.are.equal(6, #files, table.concat(files, " "))
    for _, f in ipairs(files) do
      local sc = assert(sidecar.read(run_dir .. "/" .. f))
      assert.is_true(sc.passed, f)
      assert.are.equal(commit, sc.project_commit)
      if sc.test_name == "eevdf_vs_fifo_pingpong" then
        -- EEVDF first, then scx_vtime in FIFO mode: its check compared the
        -- two phases with better_across_phases and passed
        assert.are.equal("eevdf", sc.scheduler)
        assert.are.equal(2, #sc.stats.phases)
        assert.are.equal("fifo", sc.stats.phases[2].label)
      else
        assert.are.equal("scx_vtime", sc.scheduler)
      end
      assert.is_true(sc.sched_ext.attached, f .. ": scheduler not attached")
      assert.are.equal("tcg", sc.host.accelerator)
      assert.is_true(sc.stats.total_iterations > 0)
      -- what the verifier processed for each program the scheduler loaded
      local insns, names = {}, {}
      for _, v in ipairs(sc.verifier_stats) do
        insns[v.name] = v.verified_insns
        names[#names + 1] = v.name
      end
      assert.is_true((insns.vtime_enqueue or 0) > 0, f .. ": no verifier stats")
      -- the C name from the program's BTF, not the kernel's 15-char cut
      assert.is_true((insns.vtime_select_cpu or 0) > 0,
                     f .. ": " .. table.concat(names, " "))
    end
    assert.matches("6 passed, 0 failed, 0 skipped", r.err, 1, true)
    -- bare `schedtest stats` reports this newest run, verifier cost included
    local s = schedtest(dir, { "stats" })
    assert.are.equal(0, s.code, s.err)
    assert.matches("run " .. k.version .. "-" .. commit .. ": 6 sidecar(s)",
                   s.out, 1, true)
    assert.matches("6 passed, 0 failed", s.out, 1, true)
    assert.matches("\n  scx_vtime%s+vtime_enqueue%s+[1-9]%d*\n", s.out)
  end)

  it("narrows with -E, and the next invocation pre-clears the run dir",
     function()
    local r = schedtest(dir, { "test", "--kernel", k.path, "--no-build",
                               "-E", "test(=smoke_mix)" })
    assert.are.equal(0, r.code, r.err)
    local run_dir = dir .. "/target/ktstr/" .. k.version .. "-" .. commit
    local files = sidecars_in(run_dir)
    assert.are.equal(1, #files)
    assert.matches("^smoke_mix%-%x+%.ktstr%.json$", files[1])
  end)

  it("honours SCHEDTEST_SIDECAR_DIR and SCHEDTEST_PROJECT_COMMIT, "
     .. "--perf-only", function()
    local out = dir .. "/elsewhere"
    assert(fs.mkdir_p(out))
    assert(fs.write_atomic(out .. "/keep.ktstr.json", "{}"))
    local r = schedtest(dir, { "test", "--kernel", k.path, "--no-build",
                               "--perf-only", "-E", "pingpong | smoke" },
                        { SCHEDTEST_SIDECAR_DIR = out,
                          SCHEDTEST_PROJECT_COMMIT = "label-x" })
    assert.are.equal(0, r.code, r.err)
    local files = sidecars_in(out)
    table.sort(files)
    assert.are.equal(2, #files) -- no pre-clear there; smoke is not perf
    assert.are.equal("keep.ktstr.json", files[1])
    local sc = assert(sidecar.read(out .. "/" .. files[2]))
    assert.are.equal("label-x", sc.project_commit)
    assert.are.equal("perf_pingpong_vs_hog", sc.test_name)
  end)

  it("runs non-performance tests in parallel with --jobs", function()
    local r = schedtest(dir, { "test", "--kernel", k.path, "--no-build",
                               "--jobs", "2", "-E", "smoke | eevdf_vs" })
    assert.are.equal(0, r.code, r.err)
    assert.matches("PASS%s+smoke_mix", r.err)
    assert.matches("PASS%s+eevdf_vs_fifo_pingpong", r.err)
    assert.matches("2 passed, 0 failed, 0 skipped", r.err, 1, true)
  end)

  it("fails clearly when the filter selects nothing", function()
    local r = schedtest(dir, { "test", "--kernel", k.path, "-E", "nosuch" })
    assert.are.equal(2, r.code)
    assert.matches("the filter selects no test; the suite has: " ..
                   "perf_pingpong_vs_hog", r.err, 1, true)
  end)

  it("fails a scheduler that exits at start, with its stderr", function()
    gitfix.sh(dir, [[sed -i 's/"--slice-us", "3000"/"--slice-us", "1"/' ]] ..
                   "schedtest.lua")
    local r = schedtest(dir, { "test", "--kernel", k.path, "--no-build",
                               "-E", "smoke" })
    gitfix.sh(dir, "git checkout -q schedtest.lua")
    assert.are.equal(1, r.code)
    assert.matches("FAIL%s+smoke_mix", r.err)
    assert.matches("--slice-us wants 50 to 1000000, got 1", r.err, 1, true)
  end)

  it("fails a broken build with the end of its log", function()
    gitfix.write(dir, "scx_vtime.c", "#error this branch does not build\n")
    local r = schedtest(dir, { "test", "--kernel", k.path, "-E", "smoke" })
    gitfix.sh(dir, "git checkout -q scx_vtime.c")
    -- a build that fails stops the run: an environment error, exit 2
    assert.are.equal(2, r.code)
    assert.matches("scheduler 'scx_vtime': build failed (exit status 2): " ..
                   "make", r.err, 1, true)
    assert.matches("this branch does not build", r.err, 1, true)
  end)
end)

describe("schedtest test on examples/eevdf_tuner (Debian's kernel)",
         function()
  it("tunes EEVDF and passes its smoke test", function()
    local k = kernels.debian()
    local dir, commit = project("eevdf_tuner")
    local r = schedtest(dir, { "test", "--kernel", k.path, "-E", "smoke" })
    local files = sidecars_in(dir .. "/target/ktstr/" .. k.version .. "-" ..
                              commit)
    gitfix.cleanup(dir)
    assert.are.equal(0, r.code, r.out .. r.err)
    assert.are.equal(1, #files)
  end)
end)
