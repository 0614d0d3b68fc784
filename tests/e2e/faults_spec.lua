-- The fault matrix, end to end: what perf-delta and `schedtest test` do
-- when things go wrong, on a copy of examples/scx_vtime with the built
-- sched_ext kernel.  Every row asserts the exit status, the message and
-- that nothing is left behind: no qemu, no checkout, no held lock, no VM
-- scratch directory, no half-written sidecar.  Each invocation gets a
-- TMPDIR of its own, so "nothing left" is simply "that directory is
-- empty".  The rows are written to $BUILD/test-results/fault-matrix.md.
local sh = require "helpers.sh"
local gitfix = require "helpers.gitfix"
local kernels = require "helpers.kernels"
local fs = require "schedtest.fs"

-- One short performance test: the matrix is about failure paths, not
-- about measuring anything.
local SUITE = [[
scheduler { name = "scx_vtime", build = { "make" },
            binary = "build/scx_vtime", args = { "--slice-us", "3000" } }
test {
  scheduler = "scx_vtime", name = "perf_hogs", performance_mode = true,
  topology = "1n1l2c1t", duration = 1,
  cgroups = { { name = "hogs", workers = 2, work = "cpu_spin",
                cpuset = "1" } },
}
]]

local matrix = {}

local function record(fault, r, message, left)
  matrix[#matrix + 1] = { fault = fault, code = r.code, message = message,
                          leftovers = #left > 0 and table.concat(left, ", ")
                                      or "none" }
end

local function write_matrix()
  local lines = { "| fault | exit | message | leftovers |",
                  "|---|---|---|---|" }
  for _, m in ipairs(matrix) do
    lines[#lines + 1] = string.format("| %s | %d | %s | %s |", m.fault,
      m.code, (m.message:gsub("|", "\\|"):gsub("\n", " ")), m.leftovers)
  end
  local dir = (os.getenv("BUILD") or "build") .. "/test-results"
  fs.mkdir_p(dir)
  fs.write_atomic(dir .. "/fault-matrix.md", table.concat(lines, "\n") .. "\n")
end

-- The first line of `text` that contains `pattern` (plain), for the table.
local function line_with(text, pattern)
  for line in text:gmatch("[^\n]+") do
    if line:find(pattern, 1, true) then return line end
  end
  return nil
end

-- qemu processes whose command line names `under` (their VM scratch
-- directory lives in the invocation's private TMPDIR), so other VMs on the
-- machine do not count.
local function qemu_pids(under)
  local p = io.popen("pgrep -x qemu-system-x86")
  local set = {}
  for pid in p:read("a"):gmatch("%d+") do
    local cmdline = fs.read_file("/proc/" .. pid .. "/cmdline") or ""
    if not under or cmdline:find(under, 1, true) then set[pid] = true end
  end
  p:close()
  return set
end

-- Files anywhere below dir whose name says a write was cut short.
local function half_written(dir, out)
  for _, name in ipairs(fs.list(dir) or {}) do
    local path = dir .. "/" .. name
    local st = fs.stat(path, false)
    if st and st.type == "directory" then
      half_written(path, out)
    elseif name:match("%.tmp%.") then
      out[#out + 1] = "half-written " .. path
    end
  end
  return out
end

--- What an invocation left behind: entries of its private TMPDIR, qemu
-- processes started since `before`, a held perf-delta lock, temporary
-- files of atomic writes under the runs root.
local function leftovers(tmp, root, before)
  local out = {}
  for _, name in ipairs(fs.list(tmp) or {}) do out[#out + 1] = name end
  local survivors
  for _ = 1, 100 do -- a killed qemu takes a moment to be torn down
    survivors = {}
    for pid in pairs(qemu_pids(tmp)) do
      if not before[pid] then survivors[#survivors + 1] = "qemu " .. pid end
    end
    if #survivors == 0 then break end
    os.execute("sleep 0.1")
  end
  for _, s in ipairs(survivors) do out[#out + 1] = s end
  if root then
    local lock, msg, code = fs.lock(root .. "/.locks/perf-delta.lock")
    if lock then lock:release()
    elseif code == "EBUSY" then out[#out + 1] = "held lock: " .. msg end
    half_written(root, out)
  end
  return out
end

describe("fault matrix (e2e)", function()
  local k, dir, root
  local tmps = {}

  local function private_tmp()
    local t = assert(fs.tempdir("st-fault-tmp-"))
    tmps[#tmps + 1] = t
    return t
  end

  local function env_for(tmp, extra)
    local env = { PWD = dir, NO_COLOR = "1", GITHUB_BASE_REF = "",
                  TMPDIR = tmp, SCHEDTEST_RUNS_ROOT = root }
    for key, v in pairs(extra or {}) do env[key] = v end
    return env
  end

  -- Run schedtest in the project with a private TMPDIR; returns r, tmp.
  local function run(args, extra_env, cwd)
    local tmp = private_tmp()
    local r = sh.schedtest_run(args, { cwd = cwd or dir,
                                       env = env_for(tmp, extra_env) })
    return r, tmp
  end

  local function branch(name, from, edit, msg)
    gitfix.sh(dir, "git checkout -q -b " .. name .. " " .. from)
    if edit then gitfix.sh(dir, edit) end
    gitfix.sh(dir, "git add -A && git commit -qm " .. gitfix.q(msg))
  end

  -- Start `perf-delta --noise-adjust 2` in the background with TMPDIR
  -- `tmp`, send it `signal` once its first VM exists, and return its exit
  -- status and stderr.
  local function signal_mid_round(tmp, signal)
    local out = private_tmp() .. "/bg"
    os.execute(string.format([[
      cd %s
      TMPDIR=%s PWD=%s NO_COLOR=1 GITHUB_BASE_REF= SCHEDTEST_RUNS_ROOT=%s \
        %s perf-delta --noise-adjust 2 --kernel %s >%s.o 2>%s.e &
      pid=$!
      for i in $(seq 1 900); do
        ls %s | grep -q '^schedtest-vm-' && break
        sleep 0.2
      done
      kill -%s $pid
      wait $pid
      echo $? >%s.rc
    ]], gitfix.q(dir), tmp, gitfix.q(dir), gitfix.q(root), sh.schedtest,
      gitfix.q(k.path), out, out, tmp, signal, out))
    return tonumber((fs.read_file(out .. ".rc") or ""):match("%d+")),
           fs.read_file(out .. ".e") or ""
  end

  setup(function()
    k = kernels.built()
    dir = gitfix.init()
    gitfix.sh(dir, "cp -R " .. gitfix.q(fs.realpath("examples/scx_vtime")) ..
              "/. . && rm -rf build target")
    gitfix.write(dir, "schedtest.lua", SUITE)
    gitfix.sh(dir, "git add -A && git commit -qm 'scx_vtime: one short test'")
    root = dir .. ".runs"
  end)

  -- Every row starts on a clean main, whatever the row before did.
  before_each(function()
    gitfix.sh(dir, "git checkout -q -f main && git reset -q --hard")
  end)

  teardown(function()
    write_matrix()
    for _, t in ipairs(tmps) do fs.remove_tree(t) end
    fs.remove_tree(root)
    gitfix.cleanup(dir)
  end)

  it("a scheduler that crashes at HEAD fails the gate (exit 1)", function()
    -- HEAD's scheduler dies one second after attaching (SIGALRM).
    branch("crash", "main", "sed -i 's/int ticks = 0;/int ticks = 0; " ..
           "alarm(1);/' scx_vtime.c", "scx_vtime: dies after a second")
    local before = qemu_pids()
    local r, tmp = run({ "perf-delta", "--noise-adjust", "2", "--kernel",
                         k.path })
    local left = leftovers(tmp, root, before)
    assert.are.equal(1, r.code, r.out .. r.err)
    assert.matches("perf_hogs failed at HEAD %x+ in 2 of 2 run%(s%): ", r.out)
    assert.matches("tests without a complete comparison", r.out, 1, true)
    assert.matches("gate: FAIL", r.out, 1, true)
    assert.matches("HEAD %x+ round 1: perf_hogs FAILED", r.err)
    assert.are.same({}, left)
    record("scheduler crashes 1 s after attaching at HEAD", r,
           line_with(r.out, "failed at HEAD"), left)
    -- every report format names the failed test
    -- (cached mode over the pool those runs left: no VM needed)
    local md = run({ "perf-delta", "--format", "markdown" })
    assert.are.equal(1, md.code, md.err)
    assert.matches("| perf_hogs | 2/2 | 0/2 (2 failed) | **FAILED** |",
                   md.out, 1, true)
  end)

  it("a missing qemu is an environment error before anything builds",
     function()
    -- A PATH with every tool but qemu.
    local bin = private_tmp()
    os.execute("for d in /usr/local/bin /usr/bin /usr/sbin; do for f in " ..
               "$d/*; do case $f in */qemu-system-*) ;; *) ln -sf \"$f\" " ..
               gitfix.q(bin) .. "/ 2>/dev/null;; esac; done; done")
    branch("docs-q", "main", "echo q >> NOTES.md", "docs")
    local before = qemu_pids()
    local r, tmp = run({ "perf-delta", "--noise-adjust", "2", "--kernel",
                         k.path }, { PATH = bin })
    local left = leftovers(tmp, root, before)
    assert.are.equal(2, r.code, r.out .. r.err)
    assert.matches("qemu", r.err, 1, true)
    assert.is_nil(r.err:find("building", 1, true))
    assert.are.same({}, left)
    record("qemu-system-x86_64 missing from PATH (perf-delta)", r,
           line_with(r.err, "qemu"), left)
    local t = run({ "test", "--kernel", k.path }, { PATH = bin })
    assert.are.equal(2, t.code, t.err)
    assert.matches("qemu", t.err, 1, true)
    record("qemu-system-x86_64 missing from PATH (schedtest test)", t,
           line_with(t.err, "qemu"), {})
  end)

  it("a suite that does not load at HEAD is exit 2, before any VM",
     function()
    branch("broken-suite", "main", "echo 'test {' >> schedtest.lua",
           "a syntax error")
    local before = qemu_pids()
    local r, tmp = run({ "perf-delta", "--noise-adjust", "2", "--kernel",
                         k.path })
    local left = leftovers(tmp, root, before)
    assert.are.equal(2, r.code, r.out .. r.err)
    assert.matches("HEAD %x+: schedtest.lua does not load: schedtest.lua:%d+",
                   r.err)
    assert.are.same({}, left)
    record("syntax error in HEAD's schedtest.lua", r,
           line_with(r.err, "does not load"), left)
  end)

  it("hostile suite fields are named with file, line, test and field",
     function()
    local cases = {
      { "cgroup name \"../x\"", 'name = "hogs"', 'name = "../x"',
        "test 'perf_hogs'.-cgroups%[1%]%.name" },
      { "duration = 1e9", "duration = 1", "duration = 1e9",
        "test 'perf_hogs'.-duration" },
    }
    for _, c in ipairs(cases) do
      local text = SUITE:gsub(c[2]:gsub("%p", "%%%0"), c[3])
      gitfix.write(dir, "schedtest.lua", text)
      local r = run({ "test", "--kernel", k.path })
      assert.are.equal(2, r.code, c[1] .. ": " .. r.err)
      assert.matches("schedtest.lua:%d+", r.err)
      assert.matches(c[4], r.err)
      record("suite with " .. c[1], r, line_with(r.err, "schedtest.lua:") or
             r.err, {})
    end
    -- a suite that never finishes evaluating
    gitfix.write(dir, "schedtest.lua", "while true do end\n")
    local r = run({ "test", "--list" })
    assert.are.equal(2, r.code, r.err)
    assert.matches("did not finish within", r.err, 1, true)
    record("suite that loops forever", r, line_with(r.err, "within"), {})
    -- Ctrl-C while it evaluates
    local out = private_tmp() .. "/int"
    os.execute(string.format("cd %s && (%s test --list >%s.out 2>%s.err & " ..
      "pid=$!; sleep 1; kill -INT $pid; wait $pid; echo $? >%s.rc)",
      gitfix.q(dir), sh.schedtest, out, out, out))
    local rc = tonumber((fs.read_file(out .. ".rc") or ""):match("%d+"))
    local err = fs.read_file(out .. ".err") or ""
    assert.are.equal(130, rc, err)
    assert.matches("interrupted", err, 1, true)
    record("Ctrl-C while schedtest.lua is evaluated", { code = rc },
           line_with(err, "interrupted") or err, {})
  end)

  it("a full disk under the runs root is exit 2 and writes no half file",
     function()
    local mnt = private_tmp()
    if not os.execute("mount -t tmpfs -o size=256k tmpfs " .. gitfix.q(mnt)) then
      error("cannot mount a tmpfs (the fault matrix needs root)")
    end
    -- Leave 24 KiB: enough for the lock and the logs, not for a sidecar
    -- with its summary.
    os.execute("dd if=/dev/zero of=" .. mnt .. "/filler bs=4k count=58 " ..
               "2>/dev/null")
    branch("docs-d", "main", "echo d >> NOTES.md", "docs")
    local before = qemu_pids()
    local r, tmp = run({ "perf-delta", "--noise-adjust", "2", "--kernel",
                         k.path, "--runs-root", mnt .. "/runs" })
    local left = leftovers(tmp, mnt .. "/runs", before)
    -- 8 KiB for the next row: its build log fits, its sidecar does not
    fs.remove_tree(mnt .. "/runs")
    os.execute("dd if=/dev/zero of=" .. mnt .. "/filler2 bs=4k count=4 " ..
               "2>/dev/null")
    local t = run({ "test", "--kernel", k.path },
                  { SCHEDTEST_RUNS_ROOT = mnt .. "/runs2" })
    os.execute("umount " .. gitfix.q(mnt))
    assert.are.equal(2, r.code, r.out .. r.err)
    assert.matches("No space left on device", r.err, 1, true)
    assert.are.same({}, left)
    record("full disk under the runs root (perf-delta)", r,
           line_with(r.err, "No space left"), left)
    assert.are.equal(2, t.code, t.err)
    assert.matches("No space left on device", t.err, 1, true)
    record("full disk under the runs root (schedtest test)", t,
           line_with(t.err, "No space left"), {})
  end)

  it("work tree vs HEAD on main compares only this invocation's runs",
     function()
    gitfix.sh(dir, "echo '-- an uncommitted edit' >> schedtest.lua")
    -- a plain `schedtest test` of the same -dirty label goes to the pool
    local plain = run({ "test", "--kernel", k.path })
    assert.are.equal(0, plain.code, plain.err)
    local before = qemu_pids()
    local r, tmp = run({ "perf-delta", "--noise-adjust", "2", "--kernel",
                         k.path, "--all-metrics" })
    local left = leftovers(tmp, root, before)
    assert.are.equal(0, r.code, r.out .. r.err)
    assert.matches("comparing the work tree's uncommitted changes against it",
                   r.out, 1, true)
    assert.matches("compared 2 runs %(%x+, A%) with 2 runs %(%x+%-dirty, B%)",
                   r.out)
    assert.are.same({}, left)
    record("dirty work tree on main, plus older runs of the same label", r,
           line_with(r.out, "compared 2 runs"), left)
    -- cached mode over the whole pool says where its runs came from and
    -- skips a corrupt sidecar with a warning
    local leaf = root .. "/corrupt"
    fs.mkdir_p(leaf)
    fs.write_atomic(leaf .. "/perf_hogs-00000000000000aa.ktstr.json", "{oops")
    -- (the count gate off: this row is about what was pooled, and cached
    -- mode's verdict on 1-second host-clock runs is noise)
    local c = run({ "perf-delta", "--fail-threshold", "0" })
    assert.are.equal(0, c.code, c.out .. c.err)
    assert.matches("1 sidecar file(s) under " .. root .. " could not be " ..
                   "read and were skipped", c.err, 1, true)
    assert.matches("runs taken for %x+%-dirty: 1 from [%d.]+%-%x+%-dirty, " ..
                   "2 from perf%-delta%-", c.out)
    assert.matches("come from 2 different run directories", c.err, 1, true)
    record("corrupt sidecar in the pool (cached mode)", c,
           line_with(c.err, "could not be read"), {})
    fs.remove_tree(leaf)
  end)

  it("a second perf-delta is refused; SIGTERM cleans up (exit 143)",
     function()
    branch("docs-t", "main", "echo t >> NOTES.md", "docs")
    local before = qemu_pids()
    local t1, t2 = private_tmp(), private_tmp()
    local out = private_tmp() .. "/bg"
    local env = string.format("PWD=%s NO_COLOR=1 GITHUB_BASE_REF= " ..
      "SCHEDTEST_RUNS_ROOT=%s", gitfix.q(dir), gitfix.q(root))
    local cmd = string.format("%s perf-delta --noise-adjust 2 --kernel %s",
                              sh.schedtest, gitfix.q(k.path))
    os.execute(string.format([[
      cd %s
      TMPDIR=%s %s %s >%s.o1 2>%s.e1 &
      pid=$!
      for i in $(seq 1 900); do
        ls %s | grep -q '^schedtest-vm-' && break
        sleep 0.2
      done
      TMPDIR=%s %s %s >%s.o2 2>%s.e2
      echo $? >%s.rc2
      kill -TERM $pid
      wait $pid
      echo $? >%s.rc1
    ]], gitfix.q(dir), t1, env, cmd, out, out, t1, t2, env, cmd, out, out,
      out, out))
    local function read(ext) return fs.read_file(out .. ext) or "" end
    local rc1, rc2 = tonumber(read(".rc1"):match("%d+")),
                     tonumber(read(".rc2"):match("%d+"))
    local second = { code = rc2 }
    assert.are.equal(2, rc2, read(".e2"))
    assert.matches("another perf%-delta is running on the runs root " ..
                   root:gsub("%p", "%%%0") .. " %(.-pid %d+, schedtest " ..
                   "perf%-delta since", read(".e2"))
    assert.are.same({}, fs.list(t2))
    record("second perf-delta on the same runs root (other TMPDIR)", second,
           line_with(read(".e2"), "another perf-delta"), fs.list(t2))
    local left = leftovers(t1, root, before)
    assert.are.equal(143, rc1, read(".e1"))
    assert.matches("schedtest: terminated", read(".e1"), 1, true)
    assert.are.same({}, left)
    record("SIGTERM mid-round", { code = rc1 },
           line_with(read(".e1"), "terminated"), left)
  end)

  it("SIGINT and SIGHUP mid-round clean up (exit 130, 129)", function()
    branch("docs-i", "main", "echo i >> NOTES.md", "docs")
    for _, sig in ipairs({ { "INT", 130, "schedtest: interrupted" },
                           { "HUP", 129, "schedtest: hangup" } }) do
      local before = qemu_pids()
      local tmp = private_tmp()
      local rc, err = signal_mid_round(tmp, sig[1])
      local left = leftovers(tmp, root, before)
      assert.are.equal(sig[2], rc, err)
      assert.matches(sig[3], err, 1, true)
      assert.are.same({}, left)
      record("SIG" .. sig[1] .. " mid-round", { code = rc },
             line_with(err, sig[3]) or err, left)
    end
  end)

  it("after SIGKILL mid-round the next run sweeps what was left",
     function()
    branch("docs-k", "main", "echo k >> NOTES.md", "docs")
    local before = qemu_pids()
    local tmp = private_tmp()
    local rc = signal_mid_round(tmp, "KILL")
    assert.are.equal(137, rc)
    local killed = leftovers(tmp, root, before)
    -- qemu died with its parent; the checkouts and scratch may remain
    for _, l in ipairs(killed) do assert.is_nil(l:match("^qemu")) end
    -- the next perf-delta (here one that stops early) sweeps them
    gitfix.sh(dir, "git checkout -q broken-suite")
    local r = sh.schedtest_run({ "perf-delta", "--noise-adjust", "2",
      "--kernel", k.path }, { cwd = dir, env = env_for(tmp) })
    assert.are.equal(2, r.code, r.err)
    local left = leftovers(tmp, root, before)
    assert.are.same({}, left)
    record("SIGKILL mid-round, then the next run", { code = rc },
           "left " .. #killed .. " item(s) in TMPDIR, no qemu; the next " ..
           "perf-delta swept them", left)
  end)

  it("rows that need no VM: shallow clone, same commit", function()
    local clone = private_tmp() .. "/shallow"
    -- both branch tips, none of their history: no merge base to be found
    branch("deep", "main", "echo 1 >> NOTES.md", "docs 1")
    gitfix.sh(dir, "echo 2 >> NOTES.md && git commit -qam 'docs 2'")
    gitfix.sh(dir, "git clone -q --depth 1 --no-single-branch --no-local " ..
              "-b deep . " .. gitfix.q(clone))
    local r = sh.schedtest_run({ "perf-delta", "--default-branch", "main" },
      { cwd = clone, env = { PWD = clone, GITHUB_BASE_REF = "" } })
    assert.are.equal(2, r.code, r.err)
    assert.matches("fetch-depth: 0", r.err, 1, true)
    record("shallow clone", r, line_with(r.err, "perf-delta:") or r.err, {})
    fs.remove_tree(clone)
    local same = run({ "perf-delta", "--base", "HEAD" })
    assert.are.equal(2, same.code, same.err)
    assert.matches("resolves to HEAD", same.err, 1, true)
    record("baseline is a clean HEAD", same, line_with(same.err,
           "resolves to HEAD"), {})
  end)
end)
