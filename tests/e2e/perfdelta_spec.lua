-- perf-delta --noise-adjust end to end on examples/scx_vtime with the
-- built sched_ext kernel: real checkouts, real VMs, real statistics.
local sh = require "helpers.sh"
local gitfix = require "helpers.gitfix"
local kernels = require "helpers.kernels"
local fs = require "schedtest.fs"

local function project()
  local dir = gitfix.init()
  gitfix.sh(dir, "cp -R " .. gitfix.q(fs.realpath("examples/scx_vtime")) ..
            "/. . && rm -rf build target && git add -A && " ..
            "git commit -qm 'scx_vtime: weighted vtime'")
  return dir
end

local function branch(dir, name, sed, msg)
  gitfix.sh(dir, "git checkout -q -b " .. name .. " main")
  if sed then gitfix.sh(dir, "sed -i " .. gitfix.q(sed) .. " schedtest.lua") end
  gitfix.sh(dir, "echo change >> NOTES.md && git add NOTES.md " ..
                 "schedtest.lua && git commit -qm " .. gitfix.q(msg))
end

local function perf_delta(dir, args)
  local argv = { "perf-delta" }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  return sh.schedtest_run(argv, { cwd = dir, env = { PWD = dir,
    NO_COLOR = "1", GITHUB_BASE_REF = "" } })
end

-- PIDs of the qemu processes running now.  Matched on the process name
-- (truncated to 15 characters by the kernel): `pgrep -f` would also match
-- the shell that io.popen runs it in.
local function qemu_pids()
  local p = io.popen("pgrep -x qemu-system-x86")
  local set = {}
  for pid in p:read("a"):gmatch("%d+") do set[pid] = true end
  p:close()
  return set
end

local function leftovers()
  local tmp = os.getenv("TMPDIR") or "/tmp"
  local out = {}
  for _, n in ipairs(fs.list(tmp) or {}) do
    if n:match("^schedtest%-perf%-delta%-co%-") then out[#out + 1] = n end
  end
  return out
end

describe("perf-delta --noise-adjust on examples/scx_vtime", function()
  local k, dir
  setup(function()
    k = kernels.built()
    dir = project()
  end)
  teardown(function() gitfix.cleanup(dir) end)

  it("fails a branch that makes the scheduler worse, naming the metrics",
     function()
    branch(dir, "fifo", 's/"--slice-us", "3000" }/"--slice-us", "3000", ' ..
           '"--fifo" }/', "scx_vtime: dispatch FIFO")
    -- Outside the repository: an untracked file would count as a change
    -- for --relevant below.
    local html = dir .. ".report.html"
    -- --fail-threshold 1: the default policy counts a family of derived
    -- metrics once, and one scenario's latency regressions are one family
    local r = perf_delta(dir, { "--noise-adjust", "3", "--kernel", k.path,
                                "-E", "pingpong", "--html", html,
                                "--fail-threshold", "1" })
    assert.are.equal(1, r.code, r.out .. r.err)
    assert.matches("perf%-delta: candidate HEAD %x+ vs baseline %x+", r.out)
    assert.matches("baseline: merge-base(HEAD, main)", r.out, 1, true)
    assert.matches("perf_pingpong_vs_hog / worst_median_wake_latency_us" ..
                   ".-REGRESSION", r.out)
    assert.matches("overall REGRESSED", r.out, 1, true)
    assert.matches("gate: FAIL", r.out, 1, true)
    assert.are.same({}, leftovers())

    -- The HTML report, rendered by a real browser.
    local dom = sh.run({ "chromium", "--headless", "--no-sandbox",
                         "--disable-gpu", "--dump-dom", "file://" .. html })
    assert.are.equal(0, dom.code, dom.err)
    os.remove(html)
    -- (FIFO also improves some metrics: "REGRESSED + IMPROVED" with the
    -- fail threshold at 1)
    assert.matches('id="overall">REGRESSED', dom.out, 1, true)
    assert.matches("worst_median_wake_latency_us", dom.out, 1, true)
    assert.matches('<circle class="run"', dom.out, 1, true)

    -- --fail-threshold and --must-fail change the outcome as documented,
    -- and cached mode over the same pool reaches the same verdict, from
    -- the spread of its three runs per side (--averaged: two averages).
    local base = r.out:match("vs baseline (%x+)")
    local cached = perf_delta(dir, { "--base", base, "--fail-threshold", "1" })
    assert.are.equal(1, cached.code, cached.out .. cached.err)
    assert.matches("perf_pingpong_vs_hog / worst_median_wake_latency_us" ..
                   ".-REGRESSION", cached.out)
    local averaged = perf_delta(dir, { "--base", base, "--averaged",
                                       "--fail-threshold", "1" })
    assert.are.equal(1, averaged.code, averaged.out .. averaged.err)
    assert.matches("worst_median_wake_latency_us%s+[%d.]+%s+[%d.]+%s+%S+%s+" ..
                   "REGRESSION", averaged.out)
    -- The count gate off: judged from the spread, the test's declared
    -- wake-latency gate still fails the run (a declared regression always
    -- does); ktstr's averaged comparison evaluates no declared gate, so it
    -- passes until --must-fail names the metric.
    local off = perf_delta(dir, { "--base", base, "--fail-threshold", "0" })
    assert.are.equal(1, off.code, off.out .. off.err)
    assert.matches("declared per-test gate(s) regressed", off.out, 1, true)
    assert.are.equal(0, perf_delta(dir, { "--base", base, "--averaged",
                                          "--fail-threshold", "0" }).code)
    local must = perf_delta(dir, { "--base", base, "--averaged",
                                   "--fail-threshold", "0", "--must-fail",
                                   "worst_median_wake_latency_us" })
    assert.are.equal(1, must.code)
    assert.matches("must-fail metric worst_median_wake_latency_us regressed",
                   must.out, 1, true)
  end)

  it("passes a branch that changes nothing measurable", function()
    branch(dir, "docs", nil, "docs only")
    -- auto with MAX 5: one look of 5 runs per side; on the virtual clock
    -- a documentation-only branch runs byte-identical code, so both sides
    -- of every round measure the same and nothing regresses
    local r = perf_delta(dir, { "--noise-adjust", "auto:5", "--kernel", k.path,
                                "-E", "pingpong" })
    assert.are.equal(0, r.code, r.out .. r.err)
    assert.matches("runs: auto, up to 5 per side", r.out, 1, true)
    assert.matches("look 1 after 5 run(s) per side: stop", r.err, 1, true)
    assert.matches("note: --noise-adjust auto: 5 run(s) per side in 1 " ..
                   "look(s), stopped: ", r.out, 1, true)
    assert.matches("overall STABLE: 0 regressed", r.out, 1, true)
    assert.matches("gate: pass", r.out, 1, true)
    assert.are.same({}, leftovers())
  end)

  it("runs nothing for a documentation-only change with --relevant",
     function()
    local r = perf_delta(dir, { "--noise-adjust", "2", "--kernel", k.path,
                                "--relevant" })
    assert.are.equal(0, r.code, r.err)
    assert.matches("nothing relevant changed", r.err, 1, true)
  end)

  it("leaves no checkout, lock or qemu behind on Ctrl-C, exit 130",
     function()
    local before = qemu_pids()
    local out = dir .. ".int"
    local script = string.format([[
      cd %s
      PWD=%s %s perf-delta --noise-adjust 2 --kernel %s -E pingpong \
        >%s.out 2>%s.err &
      pid=$!
      for i in $(seq 1 150); do
        pgrep -f qemu-system-x86_64 >/dev/null && break
        sleep 0.2
      done
      sleep 1
      kill -INT $pid
      wait $pid
      echo $? > %s.rc
    ]], gitfix.q(dir), gitfix.q(dir), sh.schedtest, gitfix.q(k.path),
      gitfix.q(out), gitfix.q(out), gitfix.q(out))
    os.execute(script)
    local rc = tonumber((fs.read_file(out .. ".rc") or ""):match("%d+"))
    local err = fs.read_file(out .. ".err") or ""
    for _, ext in ipairs({ ".rc", ".out", ".err" }) do os.remove(out .. ext) end
    assert.are.equal(130, rc, err)
    assert.matches("schedtest: interrupted", err, 1, true)
    assert.are.same({}, leftovers())
    -- A killed qemu takes a moment to be torn down; none may stay.
    local survivors
    for _ = 1, 100 do
      survivors = {}
      for pid in pairs(qemu_pids()) do
        if not before[pid] then survivors[#survivors + 1] = pid end
      end
      if #survivors == 0 then break end
      os.execute("sleep 0.1")
    end
    local detail = ""
    for _, pid in ipairs(survivors) do
      local p = io.popen("ps -o pid,ppid,pgid,etime,stat,args -p " .. pid)
      detail = detail .. p:read("a")
      p:close()
    end
    assert.are.same({}, survivors, "qemu survived Ctrl-C:\n" .. detail ..
                    "\nperf-delta said:\n" .. err)
  end)
end)
