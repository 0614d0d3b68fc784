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

--- Build one scheduler in `root` (its argv, no shell); the output goes to
-- `log_dir`/<name>.build.log.  Returns the absolute binary path, or
-- nil, message, code with the last lines of the log in the message.
function M.build_scheduler(sched, root, log_dir)
  if sched.build then
    assert(fs.mkdir_p(log_dir))
    local log = log_dir .. "/" .. sched.name .. ".build.log"
    local r, msg, code = proc.run(sched.build, { cwd = root, stdout = log,
                                                 stderr = "stdout",
                                                 timeout = 1800 })
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
        r.interrupted and "EINTR" or "EVMFAIL"
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

-- The work type recorded for a test: the first cgroup's (ktstr records
-- one per scenario).
local function work_type(test)
  local cg = test.cgroups and test.cgroups[1]
  return cg and cg.work or "spin"
end

--- Built-in checks on a folded result: starvation, stall, isolation.
-- Returns a list of failure reasons (empty when all pass).
function M.builtin_checks(test, res)
  local reasons = {}
  if res.outcome and res.outcome ~= "passed" then
    reasons[#reasons + 1] = string.format("%s: %s", res.outcome,
                                          res.reason or "no reason given")
  end
  for _, w in ipairs(res.workers or {}) do
    if (w.work_units or w.iterations or 0) == 0 then
      reasons[#reasons + 1] = string.format("starvation: worker %s of " ..
        "cgroup %s did no work", tostring(w.index or w.pid or "?"),
        tostring(w.cgroup or "?"))
    end
  end
  local sx = res.sched_ext
  if sx and sx.expected and not sx.attached then
    reasons[#reasons + 1] = "scheduler never attached: " ..
      tostring(sx.exit_reason or sx.state or "sched_ext state unknown")
  end
  if sx and sx.stalled then
    reasons[#reasons + 1] = "stall: the scheduler left sched_ext " ..
      "mid-run: " .. tostring(sx.exit_reason or "no reason in the log")
  end
  for _, v in ipairs(res.isolation_violations or {}) do
    reasons[#reasons + 1] = "isolation: " .. tostring(v)
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

--- The sidecar table (ktstr's schema, docs/sidecar-format.md).
function M.sidecar_of(test, res, status, reasons, ctx)
  ctx.run_counter = ctx.run_counter + 1
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
    work_type = work_type(test),
    verifier_stats = {},
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
    failure_reasons = reasons,
  }
end
-- }==================================================================

return M
