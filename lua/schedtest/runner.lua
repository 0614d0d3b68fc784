-- schedtest.runner: run a suite's tests in VMs and write their sidecars.
--
-- The policy of `schedtest test` lives here (and in scripts/test.lua):
-- which schedulers to build, in which order tests run, what counts as a
-- failure, what goes into the sidecar.  The heavy lifting is in the C
-- modules: schedtest.vm boots the kernel and folds the guest's
-- measurements, schedtest.sidecar writes the file.

local fs = require "schedtest.fs"
local proc = require "schedtest.proc"
local suite_mod = require "schedtest.suite"
local result_mod = require "schedtest.result"

local string, table, math, os, io = string, table, math, os, io
local ipairs, pairs, type, tostring, require, pcall =
  ipairs, pairs, type, tostring, require, pcall

local M = {}

-- {==================================================================
-- Selecting tests
-- ===================================================================

--- The tests a run selects: those matching any of the filter sources
-- (all when there are none), then only performance_mode ones when
-- perf_only.  Returns tests, filtered (before perf_only), or nil, message
-- when a filter does not compile.  perf-delta calls this on each side's
-- suite so both agree with `schedtest test` on what runs.
function M.select(suite, filter_sources, perf_only)
  local filter = require "schedtest.filter"
  local tests = suite.tests
  local filters = {}
  for _, src in ipairs(filter_sources or {}) do
    local f, ferr = filter.compile(src)
    if not f then return nil, ferr end
    filters[#filters + 1] = f
  end
  if #filters > 0 then tests = filter.any(filters):select(tests) end
  local filtered = tests
  if perf_only then
    local perf = {}
    for _, t in ipairs(tests) do
      if t.performance_mode then perf[#perf + 1] = t end
    end
    tests = perf
  end
  return tests, filtered
end
-- }==================================================================

-- {==================================================================
-- Clocks
-- ===================================================================

--- The clock a test's VM measures with: "virtual" or "host", or nil,
-- message when the request cannot run.  how = { clock = the --clock flag
-- ("auto" | "virtual" | "host"), accel = the --accel flag ("auto" | "kvm"
-- | "tcg"), auto_accel = function() -> "kvm" | "tcg" (what accel auto
-- resolves to; called only when needed) }.
--
-- A flag other than auto wins over the suite; then the test's clock (its
-- own or the suite's default); then auto: virtual for performance tests
-- when the VMs run under TCG, host under KVM and for the other tests.
function M.resolve_clock(test, how)
  local asked = how.clock ~= "auto" and how.clock or test.clock
  if asked and asked ~= "auto" then
    if asked == "virtual" and how.accel == "kvm" then
      return nil, string.format("test %s: the virtual clock needs TCG " ..
        "(qemu's instruction counter) but --accel kvm was asked; use " ..
        "--clock host with KVM", test.name)
    end
    return asked
  end
  if not test.performance_mode then return "host" end
  local accel = how.accel ~= "auto" and how.accel or how.auto_accel()
  return accel == "tcg" and "virtual" or "host"
end

--- Every test's clock: { [name] = { clock =, shift = } } (shift only for
-- the virtual clock, nil for the VM's default), or nil, message, code.
function M.clock_plan(tests, how)
  local plan = {}
  for _, t in ipairs(tests) do
    local clock, why = M.resolve_clock(t, how)
    if not clock then return nil, why, "EINVAL" end
    plan[t.name] = { clock = clock,
                     shift = clock == "virtual" and t.icount_shift or nil }
  end
  return plan
end

--- The accelerator `accel = "auto"` gives for `kernel`, asked once (the
-- answer is cached per process): "kvm" or "tcg".
function M.auto_accel(kernel_path)
  local answer
  return function()
    if not answer then
      -- a kernel that cannot be prepared fails the VMs themselves, with
      -- their own message; TCG is what they would have run under
      answer = require("schedtest.vm").accel{ kernel = kernel_path } or "tcg"
    end
    return answer
  end
end
-- }==================================================================

-- {==================================================================
-- Building schedulers
-- ===================================================================

--- The schedulers the selected tests need (steps included), in suite order.
function M.needed_schedulers(suite, tests)
  local want = {}
  for _, t in ipairs(tests) do
    want[t.scheduler] = true
    for _, st in ipairs(t.steps or {}) do
      if st.scheduler then want[st.scheduler] = true end
    end
  end
  local list = {}
  for _, s in ipairs(suite.scheduler_list) do
    if want[s.name] then list[#list + 1] = s end
  end
  return list
end

local function tail_lines(text, n)
  local lines = {}
  for line in (text .. "\n"):gmatch("(.-)\n") do lines[#lines + 1] = line end
  while #lines > 0 and lines[#lines] == "" do lines[#lines] = nil end
  local from = math.max(1, #lines - n + 1)
  return table.concat(lines, "\n", from)
end

--- What a scheduler build sees of the kernel, as environment variables:
-- SCHEDTEST_KERNEL (image), SCHEDTEST_KERNEL_VERSION, and for sched_ext
-- schedulers SCHEDTEST_SCX_SDK (vmlinux.h, libbpf, bpftool and the scx
-- headers cached by `schedtest kernel build`) and SCHEDTEST_VMLINUX_H.  A
-- kernel without its own SDK (Debian's, a source tree) borrows the newest
-- built one, since BPF programs only need matching kernel types.
function M.build_env(kinfo)
  local env = { SCHEDTEST_KERNEL = kinfo.path,
                SCHEDTEST_KERNEL_VERSION = kinfo.version }
  local function sdk_of(dir)
    local st = dir and fs.stat(dir .. "/sdk/lib/libbpf.a")
    return st and (dir .. "/sdk") or nil
  end
  local sdk = sdk_of(kinfo.cache_dir)
  if not sdk then
    local newest
    for _, k in ipairs(require("schedtest.kernel").list() or {}) do
      local dir = sdk_of(k.cache_dir)
      if dir and (not newest or (k.name or "") > newest.name) then
        newest = { name = k.name or "", dir = dir }
      end
    end
    sdk = newest and newest.dir
  end
  if sdk then
    env.SCHEDTEST_SCX_SDK = sdk
    env.SCHEDTEST_VMLINUX_H = sdk .. "/include/vmlinux.h"
  end
  return env
end

--- Build one scheduler in `root` (its argv, no shell, `env` added); the
-- output goes to `log_dir`/<name>.build.log.  Returns the absolute binary path, or
-- nil, message, code with the last lines of the log in the message.
function M.build_scheduler(sched, root, log_dir, env)
  if sched.build then
    assert(fs.mkdir_p(log_dir))
    local log = log_dir .. "/" .. sched.name .. ".build.log"
    -- private_tmp: a compiler killed with us leaves its temporaries in
    -- our swept scratch, not loose in $TMPDIR
    local r, msg, code = proc.run(sched.build, { cwd = root, stdout = log,
                                                 stderr = "stdout", env = env,
                                                 timeout = 1800,
                                                 private_tmp = true })
    if not r then
      return nil, string.format("scheduler '%s': cannot run its build " ..
        "command %s: %s", sched.name, table.concat(sched.build, " "), msg),
        code
    end
    if not r.ok then
      local out = fs.read_file(log) or ""
      local why = r.interrupted and "interrupted"
                  or r.timed_out and "timed out"
                  or r.code and ("exit status " .. r.code)
                  or ("signal " .. tostring(r.signal))
      return nil, string.format("scheduler '%s': build failed (%s): %s\n" ..
        "--- last lines of %s ---\n%s", sched.name, why,
        table.concat(sched.build, " "), log, tail_lines(out, 30)),
        r.interrupted and "EINTR" or "EBUILD"
    end
  end
  local path = sched.binary:sub(1, 1) == "/" and sched.binary
               or (root .. "/" .. sched.binary)
  local st = fs.stat(path)
  if not st or st.type ~= "file" then
    return nil, string.format("scheduler '%s': binary %s does not exist%s",
      sched.name, path, sched.build and " after its build" or
      " (and it has no build command)"), "ENOENT"
  end
  return path
end
-- }==================================================================

-- {==================================================================
-- From a folded VM result to a verdict and a sidecar
-- ===================================================================

local function utc_stamp(t, fmt) return os.date("!" .. fmt, t) end

--- A fresh run context: timestamp, run-id counter, host facts.
function M.new_context(opts)
  local now = os.time()
  return {
    started = now,
    run_stamp = utc_stamp(now, "%Y%m%dT%H%M%SZ"),
    run_counter = 0,
    host_cpus = M.host_cpus(),
    run_source = (os.getenv("SCHEDTEST_CI") or os.getenv("KTSTR_CI") or
                  os.getenv("CI") or "") ~= "" and "ci" or "local",
    project_commit = opts.project_commit,
    kernel = opts.kernel,
  }
end

function M.host_cpus()
  local text = fs.read_file("/proc/cpuinfo") or ""
  local n = 0
  for _ in text:gmatch("\nprocessor%s*:") do n = n + 1 end
  if text:match("^processor%s*:") then n = n + 1 end
  return math.max(n, 1)
end

-- The work type recorded for a test when the VM result has none: the
-- first cgroup's (ktstr records one per scenario; the VM reports ktstr's
-- CamelCase name, or "Mixed").
local function work_type(test)
  local cg = test.cgroups and test.cgroups[1]
  return cg and cg.work or "spin"
end

--- Built-in checks on a folded result: the VM's outcome, starvation (a
-- worker that did no work), stall (the scheduler exited or was kicked out
-- mid-run), isolation (a worker ran on a CPU outside its cgroup's cpuset).
-- Returns a list of failure reasons (empty when all pass).
function M.builtin_checks(test, res)
  local reasons = {}
  if res.outcome and res.outcome ~= "passed" then
    reasons[#reasons + 1] = string.format("%s%s: %s", res.outcome,
      res.stage and (" (" .. res.stage .. ")") or "",
      res.reason or "no reason given")
  end
  local allowed = {}
  for _, cg in ipairs(test.cgroups or {}) do
    if cg.cpuset then
      local set = {}
      for _, c in ipairs(suite_mod.cpu_list(cg.cpuset)) do set[c] = true end
      allowed[cg.name] = set
    end
  end
  for _, w in ipairs(res.workers or {}) do
    local who = string.format("worker %s of cgroup %s",
                              tostring(w.index or "?"), tostring(w.cgroup))
    if (w.work_units or 0) == 0 and (w.iterations or 0) == 0 then
      reasons[#reasons + 1] = "starvation: " .. who .. " did no work"
    end
    local set = allowed[w.cgroup]
    if set then
      for _, cpu in ipairs(w.cpus_used or {}) do
        if not set[cpu] then
          reasons[#reasons + 1] = string.format("isolation: %s ran on CPU " ..
            "%s, outside its cpuset", who, tostring(cpu))
          break
        end
      end
    end
  end
  local mon = res.monitor
  if mon and mon.stall_detected then
    reasons[#reasons + 1] = "stall: the scheduler left mid-run: " ..
      tostring(mon.stall_reason or "no reason in the kernel log")
  end
  return reasons
end

--- Run the test's own check(result); returns status and reasons.
function M.run_check(test, res)
  if not test.check then return "pass", {} end
  local r = result_mod.new(res)
  local packed = table.pack(pcall(test.check, r))
  if not packed[1] then
    return "fail", { "check raised an error: " .. tostring(packed[2]) }
  end
  return result_mod.outcome(table.unpack(packed, 2, packed.n))
end

--- Whether a VM result is a guest kernel panic before the agent ran:
-- nothing of the test had started, so it says nothing about the scheduler.
-- Under TCG the Debian kernel occasionally oopses while patching its own
-- code during boot; such a run is retried once, and a second one fails.
function M.boot_flake(res)
  return res ~= nil and res.outcome == "panic" and res.stage == "boot"
end

function M.retry_note(test, res)
  return string.format("retrying %s: the guest kernel panicked while " ..
    "booting, before the test started (%s)\n", test.name,
    tostring(res.reason):sub(1, 160))
end

--- The sidecar table (ktstr's schema, docs/sidecar-format.md).
function M.sidecar_of(test, res, status, reasons, ctx)
  local sidecar = require "schedtest.sidecar"
  ctx.run_counter = ctx.run_counter + 1
  -- Whether a sched_ext scheduler attached, and why it left if it did:
  -- recorded beside ktstr's fields (its readers ignore unknown keys).
  local sx
  if res.sched_ext then
    sx = { attached = res.sched_ext.attached == true,
           state = res.sched_ext.state, ops = res.sched_ext.ops,
           exit_reason = res.sched_ext.exit_reason }
  end
  local host = {}
  for k, v in pairs(res.host or {}) do host[k] = v end
  host.accelerator = host.accelerator or res.accelerator
  host.qemu_version = host.qemu_version or res.qemu_version
  host.vm_vcpus = host.vm_vcpus or test.vcpus
  host.vm_memory_mb = host.vm_memory_mb or test.memory_mb
  host.guest_kernel = host.guest_kernel or ctx.kernel and ctx.kernel.version
  local expected_failure = test.expect_fail and status == "fail" or false
  return {
    test_name = test.name,
    topology = suite_mod.topology_name(test.topology),
    scheduler = test.scheduler or suite_mod.BUILTIN_SCHEDULER,
    scheduler_commit = nil,
    resolve_source = test.scheduler ~= suite_mod.BUILTIN_SCHEDULER
                     and "auto_built" or nil,
    project_commit = ctx.project_commit,
    payload = nil,
    metrics = {},
    passed = status == "pass" or expected_failure,
    skipped = false,
    inconclusive = status == "inconclusive",
    expected_failure = expected_failure,
    stats = res.stats or {},
    monitor = res.monitor,
    periodic_fired = 0,
    periodic_target = 0,
    vcpus = test.vcpus,
    cpu_budget = math.min(test.vcpus, ctx.host_cpus),
    throughput_denomination = "wall",
    stimulus_events = res.stimulus_events or {},
    work_type = res.work_type or work_type(test),
    verifier_stats = res.verifier_stats or {},
    kvm_stats = nil,
    sysctls = test.sysctls,
    kargs = test.kargs,
    kernel_version = ctx.kernel and ctx.kernel.version or nil,
    kernel_commit = nil,
    timestamp = utc_stamp(os.time(), "%Y-%m-%dT%H:%M:%SZ"),
    run_id = ctx.run_stamp .. "-" .. (ctx.run_counter - 1),
    host = host,
    cleanup_duration_ms = res.cleanup_ms,
    run_source = ctx.run_source,
    perf_delta_assertions = test.perf_delta_assertions,
    -- schedtest's additions (ktstr readers ignore unknown keys):
    failure_reasons = sidecar.array(reasons),
    sched_ext = sx,
  }
end
-- }==================================================================

-- {==================================================================
-- Running tests
-- ===================================================================

local function strip_sysctl(list)
  local out = {}
  for _, e in ipairs(list or {}) do
    out[#out + 1] = (e:gsub("^sysctl%.", ""))
  end
  return out
end

--- The schedtest.vm.run options for one test.
function M.vm_options(test, ctx)
  -- The scheduler runs from the start, or joins at the first step that
  -- names one (the earlier phases then measure the built-in scheduler).
  local name, from_phase = test.scheduler, 0
  if name == suite_mod.BUILTIN_SCHEDULER then
    for i, st in ipairs(test.steps or {}) do
      if st.scheduler and st.scheduler ~= suite_mod.BUILTIN_SCHEDULER then
        name, from_phase = st.scheduler, i
        break
      end
    end
  end
  local sched
  if name ~= suite_mod.BUILTIN_SCHEDULER then
    local s = ctx.suite.schedulers[name]
    sched = { binary = ctx.binaries[name], args = s.args or {},
              name = s.name, from_phase = from_phase,
              sched_ext = s.sched_ext }
  end
  local steps
  if test.steps then
    steps = {}
    for i, st in ipairs(test.steps) do
      steps[i] = { duration = st.duration, label = st.label,
                   sysctls = st.sysctls and strip_sysctl(st.sysctls),
                   writes = st.writes, cpusets = st.cpusets,
                   weights = st.weights, add_cgroups = st.add_cgroups,
                   remove_cgroups = st.remove_cgroups, move = st.move,
                   affinity = st.affinity, detach = st.detach,
                   attach = st.attach }
    end
  end
  local cgroups = {}
  for i, cg in ipairs(test.cgroups or {}) do
    cgroups[i] = { name = cg.name, workers = cg.workers, work = cg.work,
                   cpuset = cg.cpuset, weight = cg.weight, fanout = cg.fanout,
                   params = cg.params, policy = cg.policy,
                   priority = cg.priority, nice = cg.nice,
                   affinity = cg.affinity, comm = cg.comm }
  end
  local plan = ctx.clocks and ctx.clocks[test.name] or { clock = "host" }
  return {
    clock = plan.clock, shift = plan.shift, seed = ctx.seed,
    kernel = ctx.kernel.path, topology = test.topology,
    memory_mb = test.memory_mb, scheduler = sched, duration = test.duration,
    cgroups = cgroups, steps = steps, sysctls = strip_sysctl(test.sysctls),
    writes = test.writes, features = test.sched_features,
    kargs = test.kargs, params = test.params, accel = ctx.accel,
    test_name = test.name,
    timeouts = test.timeout and { run = test.timeout } or nil,
  }
end

--- Turn a finished VM result into the test's record and write its
-- sidecar.  Returns the record {test, status, reasons, wall, path}.
function M.finish_test(test, res, ctx)
  local reasons = M.builtin_checks(test, res)
  local status = "pass"
  if #reasons > 0 then
    status = "fail"
  else
    local creasons
    status, creasons = M.run_check(test, res)
    for _, r in ipairs(creasons) do reasons[#reasons + 1] = r end
  end
  local record = { test = test, status = status, reasons = reasons,
                   wall = (res.wall_ms or 0) / 1000, result = res }
  local sidecar = require "schedtest.sidecar"
  local tbl = M.sidecar_of(test, res, status, reasons, ctx)
  local path, msg, code = sidecar.write(tbl, { dir = ctx.sidecar_dir,
    runs_root = ctx.runs_root, kernel = ctx.kernel.version,
    project_commit = ctx.project_commit })
  if not path then
    -- Not the test's fault (a full disk, a read-only runs root): the run
    -- stops as an environment error rather than recording a failure.
    record.env_error = { message = string.format("%s: cannot write its " ..
      "sidecar: %s", test.name, msg), code = code }
  end
  record.path = path
  if test.expect_fail and status == "fail" then record.status = "pass" end
  return record
end

local function fmt_s(s) return string.format("%.1fs", s) end

--- ", virtual clock, seed N" for a VM result: what a user needs to know
-- to replay the run with --clock and --seed.
function M.clock_note(res)
  local h = res and res.host or {}
  if not h.clock then return "" end
  return string.format(", %s clock%s", h.clock,
                       h.seed and (", seed " .. h.seed) or "")
end

-- Live progress on a terminal, one plain line per test otherwise.
local function reporter(out, total, tty)
  local started = os.time()
  local done = 0
  local self = {}
  function self.status(name, stage)
    if not tty then return end
    local elapsed = os.time() - started
    local eta = done > 0 and (elapsed / done * (total - done)) or nil
    out:write(string.format("\r\27[K[%d/%d] %s: %s  elapsed %ds%s",
      done + 1, total, name, stage, elapsed,
      eta and string.format("  ETA %ds", math.floor(eta + 0.5)) or ""))
    out:flush()
  end
  function self.done(rec)
    done = done + 1
    if tty then out:write("\r\27[K") end
    local word = ({ pass = "PASS", fail = "FAIL",
                    inconclusive = "INCONCLUSIVE" })[rec.status]
    out:write(string.format("%-12s %s (%s%s)%s\n", word, rec.test.name,
      fmt_s(rec.wall), M.clock_note(rec.result),
      rec.path and ("  " .. rec.path) or ""))
    for _, r in ipairs(rec.reasons) do out:write("    ", r, "\n") end
    out:flush()
  end
  return self
end

-- Why a VM could not run at all (vm.run/vm.start returned nil): qemu
-- missing, no space for the scratch directory, a binary that cannot be
-- packed.  These say nothing about the scheduler, so the run stops with
-- an environment error instead of recording a test failure.
local function vm_env_error(test, msg, code)
  if code == "EINTR" then error("interrupted!", 0) end
  return string.format("%s: the VM could not run: %s", test.name,
                       tostring(msg)), code
end

--- The --seed check of `schedtest test` and perf-delta: a seed is 0 to
-- vm.MAX_SEED (qemu's -seed and the agent's RNG take 32 bits).
function M.check_seed(v)
  local max = require("schedtest.vm").MAX_SEED
  return v >= 0 and v <= max, "must be 0 to " .. max
end

--- What every VM needs from the host, checked before anything builds:
-- qemu runs.  Returns true, or nil, message, code.
function M.preflight()
  local version, msg, code = require("schedtest.vm").qemu_version()
  if not version then
    return nil, "qemu cannot run: " .. tostring(msg), code
  end
  return true
end

--- Run `tests` of `suite`.  ctx: kernel (resolved), project_commit,
-- sidecar_dir or runs_root, build (default true), keep_going, jobs, accel,
-- clock ("auto" | "virtual" | "host", default auto), seed (every VM's;
-- default a random one each), out (a file, default io.stderr).  Returns the records, or
-- nil, message, code, records-so-far on an environment error (a build
-- that fails, a VM that cannot start, a sidecar that cannot be written):
-- those stop the run, since every later test would fail the same way.
function M.run_tests(suite, tests, ctx)
  local vm = require "schedtest.vm"
  local out = ctx.out or io.stderr
  ctx.suite = suite
  ctx.binaries = {}
  local ready, why, wcode = M.preflight()
  if not ready then return nil, why, wcode, {} end
  local plan, perr, pcode = M.clock_plan(tests, {
    clock = ctx.clock or "auto", accel = ctx.accel or "auto",
    auto_accel = M.auto_accel(ctx.kernel.path) })
  if not plan then return nil, perr, pcode, {} end
  ctx.clocks = plan
  -- Build logs live beside the pool (".logs" is not a run directory), never
  -- in the user's project tree.
  local log_dir = (ctx.sidecar_dir or ctx.runs_root or suite.root) ..
                  "/.logs"
  for _, s in ipairs(M.needed_schedulers(suite, tests)) do
    if ctx.build ~= false and s.build then
      out:write(string.format("building %s: %s\n", s.name,
                              table.concat(s.build, " ")))
      out:flush()
    end
    local path, msg, code = M.build_scheduler(
      ctx.build == false and { name = s.name, binary = s.binary } or s,
      suite.root, log_dir, M.build_env(ctx.kernel))
    if not path then
      if code == "EINTR" then error("interrupted!", 0) end
      return nil, msg, code, {}
    end
    ctx.binaries[s.name] = path
  end
  local run_ctx = M.new_context(ctx)
  for k, v in pairs(run_ctx) do if ctx[k] == nil then ctx[k] = v end end

  local tty = require("schedtest.host").isatty(2)
  local rep = reporter(out, #tests, tty)
  local records = {}
  local failed = false
  -- performance_mode tests on the host clock run alone (host load would
  -- move their numbers); the others, and performance tests measured in
  -- virtual time, may share the machine.
  local serial, parallel = {}, {}
  for _, t in ipairs(tests) do
    local timed_by_host = t.performance_mode and plan[t.name].clock ~= "virtual"
    if timed_by_host or (ctx.jobs or 1) <= 1 then
      serial[#serial + 1] = t
    else
      parallel[#parallel + 1] = t
    end
  end

  local function stop_now()
    return failed and not ctx.keep_going
  end

  -- Parallel part: up to ctx.jobs VMs at once through vm.start handles.
  local queue, active = {}, {}
  for _, t in ipairs(parallel) do queue[#queue + 1] = t end
  while (#queue > 0 and not stop_now()) or #active > 0 do
    while #active < ctx.jobs and #queue > 0 and not stop_now() do
      local t = table.remove(queue, 1)
      local h, msg, code = vm.start(M.vm_options(t, ctx))
      if not h then
        for _, x in ipairs(active) do x.handle:close() end
        local why, ecode = vm_env_error(t, msg, code)
        return nil, why, ecode, records
      else
        active[#active + 1] = { test = t, handle = h }
      end
    end
    for i = #active, 1, -1 do
      local a = active[i]
      local finished, msg, code = a.handle:poll(0.1)
      if finished == nil and code == "EINTR" then
        for _, x in ipairs(active) do x.handle:close() end
        error("interrupted!", 0)
      end
      if finished then
        local res = a.handle:wait()
        a.handle:close()
        table.remove(active, i)
        if M.boot_flake(res) and not a.retried then
          out:write(M.retry_note(a.test, res))
          local h, msg, code = vm.start(M.vm_options(a.test, ctx))
          if not h then
            for _, x in ipairs(active) do x.handle:close() end
            local why, ecode = vm_env_error(a.test, msg, code)
            return nil, why, ecode, records
          end
          active[#active + 1] = { test = a.test, handle = h, retried = true }
          goto next_handle
        end
        local rec = M.finish_test(a.test, res, ctx)
        if rec.env_error then
          for _, x in ipairs(active) do x.handle:close() end
          return nil, rec.env_error.message, rec.env_error.code, records
        end
        records[#records + 1] = rec
        rep.done(rec)
        if rec.status == "fail" then failed = true end
      end
      ::next_handle::
    end
  end

  for _, t in ipairs(serial) do
    if stop_now() then break end
    rep.status(t.name, "running in a VM")
    local res, msg, code = vm.run(M.vm_options(t, ctx))
    if M.boot_flake(res) then
      out:write(M.retry_note(t, res))
      res, msg, code = vm.run(M.vm_options(t, ctx))
    end
    if not res then
      local why, ecode = vm_env_error(t, msg, code)
      return nil, why, ecode, records
    end
    local rec = M.finish_test(t, res, ctx)
    if rec.env_error then
      return nil, rec.env_error.message, rec.env_error.code, records
    end
    records[#records + 1] = rec
    rep.done(rec)
    if rec.status == "fail" then failed = true end
  end
  local ran = {}
  for _, r in ipairs(records) do ran[r.test.name] = true end
  for _, t in ipairs(tests) do
    if not ran[t.name] then
      records[#records + 1] = { test = t, status = "skipped",
        reasons = { "not run: an earlier test failed (use --keep-going)" },
        wall = 0 }
    end
  end
  return records
end

--- The summary table printed after the runs.
function M.summary(records, started)
  local rows = { { "TEST", "STATUS", "TIME", "NOTE" } }
  local counts = { pass = 0, fail = 0, skipped = 0, inconclusive = 0 }
  for _, r in ipairs(records) do
    counts[r.status] = (counts[r.status] or 0) + 1
    rows[#rows + 1] = { r.test.name, r.status, fmt_s(r.wall),
                        r.reasons[1] or "" }
  end
  local lines = {}
  local widths = {}
  for _, row in ipairs(rows) do
    for i, c in ipairs(row) do widths[i] = math.max(widths[i] or 0, #c) end
  end
  for _, row in ipairs(rows) do
    lines[#lines + 1] = string.format("%-" .. widths[1] .. "s  %-" ..
      widths[2] .. "s  %" .. widths[3] .. "s  %s", row[1], row[2], row[3],
      row[4])
  end
  lines[#lines + 1] = string.format("%d passed, %d failed, %d skipped%s " ..
    "in %ds", counts.pass, counts.fail, counts.skipped,
    counts.inconclusive > 0 and (", " .. counts.inconclusive ..
                                 " inconclusive") or "",
    os.time() - started)
  return table.concat(lines, "\n") .. "\n", counts
end
-- }==================================================================

return M
