-- perf-delta in cached mode over real git repositories and pools written
-- by the real sidecar writer; flag validation before anything runs.
local sh = require "helpers.sh"
local gitfix = require "helpers.gitfix"
local S = require "helpers.sidecars"
local sidecar = require "schedtest.sidecar"
local fs = require "schedtest.fs"

-- Write `runs` sidecars of test `name` for `commit` into the project's
-- pool, one run per subdirectory (readers walk one level below run dirs).
local function write_runs(dir, commit, name, values, run_dir)
  for i, v in ipairs(values) do
    local t = S.make({ test_name = name, project_commit = commit })
    if v.failed then
      t.passed = false
      t.failure_reasons = sidecar.array({ v.failed })
    end
    t.stats.worst_p99_wake_latency_us = v.p99 or t.stats.worst_p99_wake_latency_us
    t.stats.total_iterations = v.iters or t.stats.total_iterations
    t.stats.worst_gap_ms = v.gap or t.stats.worst_gap_ms
    t.kernel_version = "6.12.117"
    if v.clock then
      t.host.clock, t.host.icount_shift, t.host.seed = v.clock, v.shift, i
    end
    local leaf = string.format("%s/target/ktstr/%s/run%d", dir,
                               run_dir or ("6.12.117-" .. commit), i)
    assert(fs.mkdir_p(leaf))
    assert(sidecar.write(t, { dir = leaf }))
  end
end

local function perf_delta(dir, args)
  local argv = { "perf-delta" }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  return sh.schedtest_run(argv, { cwd = dir, env = { PWD = dir,
    SCHEDTEST_RUNS_ROOT = dir .. "/target/ktstr", NO_COLOR = "1",
    GITHUB_BASE_REF = "" } })
end

describe("perf-delta flag validation", function()
  it("rejects misuse before touching anything, exit 2", function()
    local cases = {
      { { "--noise-adjust", "1", "--kernel", "x" },
        "expected a number of runs of at least 2" },
      { { "--noise-adjust", "auto:3", "--kernel", "x" },
        "or auto or auto:MAX (MAX at least 5)" },
      { { "--noise-adjust", "3" }, "--noise-adjust needs --kernel" },
      { { "--averaged", "--noise-adjust", "3", "--kernel", "x" },
        "--averaged would be ignored with --noise-adjust" },
      { { "-E", "foo" }, "would be ignored without --noise-adjust" },
      { { "--", "--features", "x" }, "would be ignored without" },
      { { "--must-fail", "worst_p99_wake_latncy_us" },
        "did you mean 'worst_p99_wake_latency_us'" },
      { { "--must-fail", "total_phase_iterations" }, "rate component" },
      { { "--format", "pdf" }, "must be one of" },
      { { "--clock", "virtual" }, "--clock would be ignored without" },
      { { "--seed", "5" }, "--seed would be ignored without" },
      { { "--clock", "wall" }, "must be one of" },
      { { "--noise-adjust", "3", "--kernel", "x", "--", "--clock", "host" },
        "give --clock to perf-delta itself" },
      { { "--noise-adjust", "3", "--kernel", "x", "--", "--seed=4" },
        "give --seed to perf-delta itself" },
    }
    for _, c in ipairs(cases) do
      local r = sh.schedtest_run((function()
        local a = { "perf-delta" }
        for _, x in ipairs(c[1]) do a[#a + 1] = x end
        return a
      end)(), { cwd = "/" })
      assert.are.equal(2, r.code, table.concat(c[1], " ") .. ": " .. r.err)
      assert.matches(c[2], r.err, 1, true)
    end
  end)

  it("documents every flag and the exit codes in --help", function()
    local r = sh.schedtest_run({ "perf-delta", "--help" })
    assert.are.equal(0, r.code)
    for _, flag in ipairs({ "--base", "--base-ref", "--default-branch", "-E",
        "--relevant", "--kernel", "--noise-adjust", "--noise-spread-threshold",
        "--threshold", "--policy", "--fail-threshold", "--must-fail",
        "--all-metrics", "--format", "--output", "--jobs", "--min-runs",
        "--clock", "--seed" }) do
      assert.matches(flag, r.out, 1, true)
    end
    assert.matches("[default: 5]", r.out, 1, true)
    assert.matches("exit status: 0 the gate passed", r.out, 1, true)
    assert.matches("a test failed at HEAD", r.out, 1, true)
    assert.matches("A failed run never passes", r.out, 1, true)
  end)
end)

describe("perf-delta cached mode", function()
  local dir, ids, base, head
  before_each(function()
    dir, ids = gitfix.branches()
    base, head = gitfix.short(ids.c2), gitfix.short(ids.f2)
  end)
  after_each(function() gitfix.cleanup(dir) end)

  it("passes when nothing changed, judged from the spread", function()
    local same = { { p99 = 50 }, { p99 = 51 }, { p99 = 52 } }
    write_runs(dir, base, "perf_a", same)
    write_runs(dir, head, "perf_a", same)
    local r = perf_delta(dir, {})
    assert.are.equal(0, r.code, r.err)
    -- three runs per side: the same spread-based evidence as noise mode
    assert.matches("compared 3 runs (" .. base .. ", A) with 3 runs (" ..
                   head .. ", B)", r.out, 1, true)
    assert.matches("overall STABLE: 0 regressed", r.out, 1, true)
    assert.matches("gate: pass", r.out, 1, true)
    -- ktstr's averaged comparison on request, or under its policy
    for _, args in ipairs({ { "--averaged" }, { "--policy", "ktstr" } }) do
      local avg = perf_delta(dir, args)
      assert.are.equal(0, avg.code, avg.err)
      assert.matches("averaged across 3 runs (" .. base .. ") and 3 runs (" ..
                     head .. ")", avg.out, 1, true)
      assert.matches("summary: 0 regressions", avg.out, 1, true)
    end
  end)

  it("judges several runs per side from their spread, not two averages",
     function()
    -- one noisy outlier boot at HEAD drags the average 20 % up (the absolute gate is 50 µs): the
    -- averaged rule calls it a regression at --threshold 10, the spread
    -- says nothing is shown to have changed
    write_runs(dir, base, "perf_a", { { p99 = 500 }, { p99 = 510 }, { p99 = 490 },
                                      { p99 = 505 }, { p99 = 495 } })
    write_runs(dir, head, "perf_a", { { p99 = 502 }, { p99 = 498 }, { p99 = 510 },
                                      { p99 = 496 }, { p99 = 1000 } })
    local avg = perf_delta(dir, { "--averaged", "--threshold", "10",
                                  "--fail-threshold", "1" })
    assert.are.equal(1, avg.code, avg.out .. avg.err)
    local spread = perf_delta(dir, { "--threshold", "10", "--fail-threshold", "1",
                                     "--all-metrics" })
    assert.are.equal(0, spread.code, spread.out .. spread.err)
    assert.matches("compared 5 runs", spread.out, 1, true)
    assert.not_matches("worst_p99_wake_latency_us[^\n]*REGRESSION", spread.out)
    -- a real shift of every run is caught from the spread
    gitfix.sh(dir, "rm -rf target")
    write_runs(dir, base, "perf_a", { { p99 = 500 }, { p99 = 510 }, { p99 = 490 },
                                      { p99 = 505 }, { p99 = 495 } })
    write_runs(dir, head, "perf_a", { { p99 = 650 }, { p99 = 660 }, { p99 = 640 },
                                      { p99 = 655 }, { p99 = 645 } })
    local r = perf_delta(dir, { "--fail-threshold", "1" })
    assert.are.equal(1, r.code, r.out .. r.err)
    assert.matches("worst_p99_wake_latency_us[^\n]*REGRESSION", r.out)
    assert.matches("CI of change", r.out, 1, true)
  end)

  it("takes fail_threshold and must_fail from a policy file, flags over them",
     function()
    write_runs(dir, base, "perf_a", { { p99 = 50, iters = 1000000 } })
    write_runs(dir, head, "perf_a", { { p99 = 500, iters = 1000000 } })
    local policy = dir .. "/ci-policy.lua"
    assert(fs.write_atomic(policy, "return { fail_threshold = 1 }\n"))
    -- the default threshold (5) would pass one regression; the file's 1 fails
    assert.are.equal(0, perf_delta(dir, {}).code)
    local r = perf_delta(dir, { "--policy", policy })
    assert.are.equal(1, r.code, r.out .. r.err)
    assert.matches("1 regression(s) >= fail threshold 1", r.out, 1, true)
    -- the command line wins over the file
    assert.are.equal(0, perf_delta(dir, { "--policy", policy,
                                          "--fail-threshold", "0" }).code)
    -- a policy's must_fail fails on its own, with the count gate off
    assert(fs.write_atomic(policy, "return { fail_threshold = 0, must_fail = " ..
                                   "{ 'worst_p99_wake_latency_us' } }\n"))
    local m = perf_delta(dir, { "--policy", policy })
    assert.are.equal(1, m.code, m.out .. m.err)
    assert.matches("must-fail metric worst_p99_wake_latency_us regressed",
                   m.out, 1, true)
    -- --must-fail on the command line replaces the file's list
    assert.are.equal(0, perf_delta(dir, { "--policy", policy, "--must-fail",
                                          "worst_gap_ms" }).code)
  end)

  it("--threshold changes the gates, not the policy", function()
    write_runs(dir, base, "perf_a", { { p99 = 500 } })
    write_runs(dir, head, "perf_a", { { p99 = 600 } })
    -- +20 %: below the registry's 25 % gate, above --threshold 10
    assert.are.equal(0, perf_delta(dir, { "--fail-threshold", "1" }).code)
    local out = dir .. "/r.json"
    local r = perf_delta(dir, { "--fail-threshold", "1", "--threshold", "10",
                                "--format", "json", "--output", out })
    assert.are.equal(1, r.code, r.out .. r.err)
    local doc = require("cjson").decode(fs.read_file(out))
    assert.are.equal("schedtest", doc.policy)
    -- with a policy file, its other settings stay
    local policy = dir .. "/p.lua"
    assert(fs.write_atomic(policy, "return { name = 'mine', fail_threshold = 1 }\n"))
    r = perf_delta(dir, { "--policy", policy, "--threshold", "10", "--format",
                          "json", "--output", out })
    assert.are.equal(1, r.code, r.out .. r.err)
    doc = require("cjson").decode(fs.read_file(out))
    assert.are.equal("mine", doc.policy)
  end)

  it("fails on a regression with --fail-threshold 1 and names it", function()
    write_runs(dir, base, "perf_a", { { p99 = 50, gap = 15 } })
    write_runs(dir, head, "perf_a", { { p99 = 500, gap = 15 } })
    local r = perf_delta(dir, { "--fail-threshold", "1" })
    assert.are.equal(1, r.code, r.out .. r.err)
    assert.matches("worst_p99_wake_latency_us.-REGRESSION", r.out)
    assert.matches("gate: FAIL", r.out, 1, true)
    -- the count gate off: passes; a must-fail metric brings it back
    assert.are.equal(0, perf_delta(dir, { "--fail-threshold", "0" }).code)
    local m = perf_delta(dir, { "--fail-threshold", "0", "--must-fail",
                                "worst_p99_wake_latency_us" })
    assert.are.equal(1, m.code)
    assert.matches("must-fail metric worst_p99_wake_latency_us regressed",
                   m.out, 1, true)
  end)

  it("writes the other formats to --output", function()
    write_runs(dir, base, "perf_a", { { p99 = 50 } })
    write_runs(dir, head, "perf_a", { { p99 = 500 } })
    for _, fmt in ipairs({ "json", "markdown", "junit", "html" }) do
      local out = dir .. "/report." .. fmt
      local r = perf_delta(dir, { "--fail-threshold", "1", "--format", fmt,
                                  "--output", out })
      assert.are.equal(1, r.code, r.err)
      local text = assert(fs.read_file(out))
      assert.matches("worst_p99_wake_latency_us", text, 1, true)
    end
    local doc = require("cjson").decode(fs.read_file(dir .. "/report.json"))
    assert.are.equal(base, doc.sides.a.label)
    assert.are.equal(head, doc.sides.b.label)
  end)

  it("fails a test that fails at HEAD, naming it in every format",
     function()
    write_runs(dir, base, "perf_a", { { p99 = 50 }, { p99 = 51 } })
    write_runs(dir, base, "perf_b", { { p99 = 50 }, { p99 = 51 } })
    write_runs(dir, head, "perf_a", { { p99 = 50 }, { p99 = 51 } })
    write_runs(dir, head, "perf_b", { { failed = "stall: scx_demo left: " ..
      "runnable task stall" }, { failed = "stall: scx_demo left: " ..
      "runnable task stall" } })
    local r = perf_delta(dir, {})
    assert.are.equal(1, r.code, r.out .. r.err)
    assert.matches("perf_b failed at HEAD " .. head .. " in 2 of 2 run(s): " ..
                   "stall: scx_demo left", r.out, 1, true)
    assert.matches("gate: FAIL", r.out, 1, true)
    assert.matches("runs taken for " .. head .. ": 4 from 6.12.117-" .. head,
                   r.out, 1, true)
    for _, fmt in ipairs({ "json", "markdown", "junit", "html" }) do
      local f = perf_delta(dir, { "--format", fmt })
      assert.are.equal(1, f.code, fmt .. ": " .. f.err)
      assert.matches("perf_b failed at HEAD", f.out, 1, true)
      assert.matches("FAILED", f.out, 1, true)
    end
    -- a flaky baseline with a clean HEAD passes only when --min-runs
    -- allows the missing run
    gitfix.sh(dir, "rm -rf target")
    write_runs(dir, base, "perf_a", { { p99 = 50 }, { failed = "hang" } })
    write_runs(dir, head, "perf_a", { { p99 = 50 }, { p99 = 51 } })
    assert.are.equal(0, perf_delta(dir, {}).code)
    local strict = perf_delta(dir, { "--min-runs", "2" })
    assert.are.equal(1, strict.code)
    assert.matches("perf_a is incomplete (at least 2 usable run(s) per " ..
                   "side needed): baseline " .. base .. " has 1 usable of " ..
                   "2 run(s), 1 failed: hang", strict.out, 1, true)
  end)

  it("warns when a -dirty label's runs come from several runs", function()
    write_runs(dir, base, "perf_a", { { p99 = 50 } })
    write_runs(dir, head .. "-dirty", "perf_a", { { p99 = 50 } }, "edit1")
    write_runs(dir, head .. "-dirty", "perf_a", { { p99 = 50 } }, "edit2")
    gitfix.sh(dir, "echo dirty >> a.txt")
    local r = perf_delta(dir, {})
    assert.are.equal(0, r.code, r.err)
    assert.matches("the runs labelled " .. head .. "-dirty come from 2 " ..
                   "different run directories", r.err, 1, true)
    assert.matches("runs taken for " .. head .. "-dirty: 1 from edit1, 1 " ..
                   "from edit2", r.out, 1, true)
  end)

  it("warns loudly when the sides ran under different clocks", function()
    write_runs(dir, base, "perf_a", { { p99 = 50 }, { p99 = 51 } })
    write_runs(dir, head, "perf_a", { { p99 = 50, clock = "virtual",
                                        shift = 1 },
                                      { p99 = 51, clock = "virtual",
                                        shift = 1 } })
    local r = perf_delta(dir, {})
    assert.matches("THE SIDES RAN UNDER DIFFERENT CLOCKS (" .. base ..
                   ": host, " .. head .. ": virtual (icount shift 1))",
                   r.out, 1, true)
    -- two shifts on one side: its own runs are not comparable either
    gitfix.sh(dir, "rm -rf target")
    write_runs(dir, base, "perf_a", { { clock = "virtual", shift = 1 },
                                      { clock = "virtual", shift = 2 } })
    write_runs(dir, head, "perf_a", { { clock = "virtual", shift = 1 },
                                      { clock = "virtual", shift = 1 } })
    r = perf_delta(dir, { "--format", "markdown" })
    assert.matches("THE BASELINE RUNS (" .. base .. ") MIX CLOCKS " ..
                   "(virtual (icount shift 1), virtual (icount shift 2))",
                   r.out, 1, true)
    assert.matches("THE SIDES RAN UNDER DIFFERENT CLOCKS", r.out, 1, true)
    -- the same clock on both sides: no warning
    gitfix.sh(dir, "rm -rf target")
    write_runs(dir, base, "perf_a", { { clock = "virtual", shift = 1 } })
    write_runs(dir, head, "perf_a", { { clock = "virtual", shift = 1 } })
    r = perf_delta(dir, {})
    assert.are.equal(0, r.code, r.err)
    assert.is_nil(r.out:find("CLOCKS", 1, true))
  end)

  it("says which commits the pool holds when a side is empty", function()
    write_runs(dir, base, "perf_a", { { p99 = 50 } })
    write_runs(dir, head .. "-dirty", "perf_a", { { p99 = 50 } })
    local r = perf_delta(dir, {})
    assert.are.equal(2, r.code)
    assert.matches("no sidecars for the HEAD commit " .. head, r.err, 1, true)
    assert.matches("did you mean '" .. head .. "-dirty'?", r.err, 1, true)
  end)

  it("refuses a baseline that is HEAD", function()
    local r = perf_delta(dir, { "--base", "HEAD" })
    assert.are.equal(2, r.code)
    assert.matches("resolves to HEAD", r.err, 1, true)
  end)

  it("says what to do outside a git repository", function()
    local tmp = assert(fs.tempdir("pd-norepo-"))
    local r = sh.schedtest_run({ "perf-delta" }, { cwd = tmp,
                                                   env = { PWD = tmp } })
    fs.remove_tree(tmp)
    assert.are.equal(2, r.code)
    assert.matches("not inside a git repository", r.err, 1, true)
  end)
end)

describe("perf-delta report destinations", function()
  it("prints only the chosen format on stdout without --output", function()
    local dir, ids = gitfix.branches()
    local base, head = gitfix.short(ids.c2), gitfix.short(ids.f2)
    write_runs(dir, base, "perf_a", { { p99 = 50 } })
    write_runs(dir, head, "perf_a", { { p99 = 51 } })
    local r = perf_delta(dir, { "--format", "json" })
    gitfix.cleanup(dir)
    assert.are.equal(0, r.code, r.err)
    local doc = require("cjson").decode(r.out) -- nothing but the JSON
    assert.are.equal("schedtest.perf-delta/1", doc.schema)
  end)
end)

describe("perf-delta rounds: seeds and clocks", function()
  local perf = require "schedtest.perfdelta"

  it("gives each round its own 32-bit seed, the same for a base", function()
    local seen = {}
    for i = 0, 99 do
      local s = perf.round_seed(12345, i)
      assert.are.equal("integer", math.type(s))
      assert.is_true(s >= 0 and s <= 0xFFFFFFFF)
      assert.is_nil(seen[s], "round " .. i .. " repeats a seed")
      seen[s] = true
      assert.are.equal(s, perf.round_seed(12345, i)) -- reproducible
    end
    assert.are_not.equal(perf.round_seed(1, 0), perf.round_seed(2, 0))
    assert.are.equal(7, perf.base_seed{ seed = 7 })
    local drawn = perf.base_seed{}
    assert.is_true(drawn >= 0 and drawn <= 0xFFFFFFFF)
  end)

  it("runs the sides at once only on the virtual clock with 2 CPUs",
     function()
    assert.is_true(perf.sides_together({ "virtual" }, 2))
    assert.is_false(perf.sides_together({ "virtual" }, 1))
    assert.is_false(perf.sides_together({ "host" }, 8))
    assert.is_false(perf.sides_together({ "host", "virtual" }, 8))
    assert.is_false(perf.sides_together({}, 8))
    assert.is_false(perf.sides_together({ "virtual" }, 2, 1))
    assert.is_true(perf.sides_together({ "virtual" }, 2, 2))
  end)

  it("knows the clocks the child rounds will use", function()
    local t = { name = "p", clock = "auto", performance_mode = true }
    local clocks = assert(perf.round_clocks({ { t }, { t } },
      { clock = "host" }, "/nonexistent"))
    assert.are.same({ "host" }, clocks)
    clocks = assert(perf.round_clocks({ { t }, { t } },
      { clock = "auto", ["--"] = { "--accel", "tcg" } }, "/nonexistent"))
    assert.are.same({ "virtual" }, clocks)
    local host_t = { name = "q", clock = "host", performance_mode = true }
    clocks = assert(perf.round_clocks({ { t }, { host_t } },
      { ["--"] = { "--accel=tcg" } }, "/nonexistent"))
    assert.are.same({ "host", "virtual" }, clocks)
    local none, why = perf.round_clocks({ { t } }, { clock = "virtual",
      ["--"] = { "--accel", "kvm" } }, "/nonexistent")
    assert.is_nil(none)
    assert.matches("needs TCG", why)
  end)

  it("labels clocks, old sidecars as host", function()
    assert.are.equal("host", perf.clock_label(nil))
    assert.are.equal("host", perf.clock_label{ accelerator = "tcg" })
    assert.are.equal("virtual (icount shift 3)",
                     perf.clock_label{ clock = "virtual", icount_shift = 3 })
    assert.are.same({}, perf.clock_warnings({ a = { "host" },
                                              b = { "host" } }, "x", "y"))
  end)
end)

describe("perf-delta --noise-adjust auto and the round order", function()
  local perf = require "schedtest.perfdelta"

  it("parses N, auto and auto:MAX", function()
    assert.are.same({ 5 }, { perf.parse_noise_adjust("5") })
    assert.are.same({ false, 20 }, { perf.parse_noise_adjust("auto") })
    assert.are.same({ false, 12 }, { perf.parse_noise_adjust("auto:12") })
    assert.is_nil(perf.parse_noise_adjust("1"))
    assert.is_nil(perf.parse_noise_adjust("auto:4"))
    assert.is_nil(perf.parse_noise_adjust("auto:x"))
    assert.is_nil(perf.parse_noise_adjust("3.5"))
  end)

  it("alternates the sides' order from round to round", function()
    local saved = perf.run_round
    local order = {}
    perf.run_round = function(side, i)
      order[#order + 1] = side.name .. i
      return { tests = {} }
    end
    local bar = { start = function() end, finish = function() end }
    local sides = { { name = "base", what = "baseline", label = "a" },
                    { name = "head", what = "HEAD", label = "b" } }
    local ok, err = pcall(perf.run_rounds, sides, 0, 3, {},
                          { base_seed = 1, together = false }, {}, bar)
    perf.run_round = saved
    assert(ok, err)
    assert.are.same({ "base0", "head0", "head1", "base1", "base2", "head2",
                      "head3", "base3" }, order)
  end)
end)

