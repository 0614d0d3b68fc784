-- schedtest.scenario: every default of what a test VM runs, decided once.
--
-- schedtest.vm.run/start/spec call complete() on their options before the
-- binding turns them into the C scenario (include/schedtest/scenario.h):
-- the binding and the guest agent pick no default of their own, and
-- schedtest.suite reads the same DEFAULTS.  The binding calls it (rather
-- than every caller) so that a script calling vm.run directly gets the
-- same scenario as a suite test does: one place, no caller to forget.
--
-- complete(opts) returns a new table, the input untouched, with every
-- scenario field present in one normal form (the binding's input):
--   duration, settle, attach_timeout (s), monitor_ms, params (every name
--   of vm.WORK_PARAMS), cgroups[i] = { name, workers, work, cpuset,
--   weight, fanout, params, policy, priority, nice, affinity, comm },
--   writes = { {path=, value=}, ... } (writes, then sysctls, then
--   sched features), steps[i] = { duration, label, ops = { {kind=,
--   target=, value=}, ... } }, scheduler = { binary, args, name,
--   from_phase, sched_ext } or nil, payloads[i], fault, fault_stage.
-- It is idempotent: completing a completed table changes nothing.

local vm = require "schedtest.vm"

local error, ipairs, pairs, tostring, type = error, ipairs, pairs, tostring,
                                              type
local table, string = table, string

local M = {}

--- The defaults of every scenario field (docs/suites.md, docs/lua-api.md).
M.DEFAULTS = {
  duration = 2,          -- s, the BASELINE phase
  step_duration = 1,     -- s, a step without one (vm options only; a
                         -- suite step must say)
  settle = 0.3,          -- s a non-sched_ext scheduler gets to settle
  attach_timeout = 20,   -- s for a sched_ext scheduler to attach
  monitor_ms = 100,      -- the monitor's sampling period
  params = {
    spin_us = 100,       -- work between checkpoints
    sleep_us = 500,      -- sleep between bursts
    burst_us = 2000,     -- a burst
    work_us = 50,        -- work per request
    period_us = 1000,    -- periodic_sleep, rt_starvation
    mem_kb = 4096,       -- memory per worker
    stages = 4,          -- pipeline depth, wake chain length
    hold_us = 10,        -- futex_mutex critical section
  },
  cgroup = {
    workers = 1, work = "cpu_spin", cpuset = "", weight = 0, fanout = 0,
    policy = "normal", priority = 0, nice = 0, affinity = "", comm = "",
  },
  scheduler = { from_phase = 0, sched_ext = true },
  payload = { cgroup = "", from_phase = 0, interrupt_at_end = false,
              timeout = 10, policy = "normal", priority = 0, nice = 0,
              affinity = "", comm = "" },
}
local D = M.DEFAULTS

--- A cgroup's name when it gives none (i counts from 1).
function M.cgroup_name(i) return "cg" .. (i - 1) end

--- A step's label when it gives none (i counts from 1): "Step[i-1]",
-- ktstr's numbering.  "BASELINE" is the phase before the first step (the
-- test's own `duration`); no step takes that name by default, so a
-- phase label names one phase.
function M.step_label(i)
  return "Step[" .. (i - 1) .. "]"
end

--- The order in which a step's fields become operations: new cgroups
-- exist before anything names them, workers leave a cgroup before it is
-- removed, the scheduler stops or starts last.
M.STEP_OPS = { "add_cgroups", "cpusets", "weights", "move", "affinity",
               "writes", "sysctls", "remove_cgroups", "detach", "attach" }

local function misuse(msg) error("vm options: " .. msg, 4) end

local function table_or_nil(v, field)
  if v ~= nil and type(v) ~= "table" then
    misuse(field .. ": table expected, got " .. type(v))
  end
  return v
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end

local function copy(t)
  local out = {}
  for k, v in pairs(t or {}) do out[k] = v end
  return out
end

-- `given` over `defaults`, both { name = value }.
local function merged(defaults, given)
  local out = copy(defaults)
  for k, v in pairs(given or {}) do out[k] = v end
  return out
end

local function value_string(v)
  return type(v) == "boolean" and (v and "1" or "0") or tostring(v)
end

-- /proc/sys path of a sysctl name ("kernel.x" -> "/proc/sys/kernel/x").
local function sysctl_path(name)
  return "/proc/sys/" .. name:gsub("^sysctl%.", ""):gsub("%.", "/")
end

-- { {path=, value=} } from a writes map, or the same list again.
local function add_writes(out, writes, field)
  if writes == nil then return end
  table_or_nil(writes, field)
  if writes[1] ~= nil and type(writes[1]) == "table" then
    for _, w in ipairs(writes) do out[#out + 1] = w end
    return
  end
  for _, path in ipairs(sorted_keys(writes)) do
    out[#out + 1] = { path = path, value = value_string(writes[path]) }
  end
end

-- sysctls as { ["kernel.x"] = v } or { "kernel.x=v" }, as writes.
local function add_sysctls(out, sysctls, field)
  if sysctls == nil then return end
  table_or_nil(sysctls, field)
  for _, k in ipairs(sorted_keys(sysctls)) do
    local v = sysctls[k]
    if type(k) == "number" then
      local name, value = tostring(v):match("^([^=]+)=(.*)$")
      if not name then misuse(field .. ": '" .. tostring(v) ..
                              "': expected name=value") end
      out[#out + 1] = { path = sysctl_path(name), value = value }
    else
      out[#out + 1] = { path = sysctl_path(k), value = value_string(v) }
    end
  end
end

local function add_op(ops, kind, target, value)
  ops[#ops + 1] = { kind = kind, target = target or "",
                    value = value ~= nil and value_string(value) or "" }
end

-- { name = value } of a step, in name order, as operations of `kind`.
local function per_cgroup_ops(ops, kind, map, field)
  if map == nil then return end
  table_or_nil(map, field)
  for _, cg in ipairs(sorted_keys(map)) do add_op(ops, kind, cg, map[cg]) end
end

-- A step's fields as its list of operations (M.STEP_OPS order).
local function step_ops(st, field)
  local ops = {}
  for _, op in ipairs(table_or_nil(st.ops, field .. ".ops") or {}) do
    ops[#ops + 1] = op
  end
  local add = table_or_nil(st.add_cgroups, field .. ".add_cgroups")
  if add and add[1] ~= nil then
    for _, name in ipairs(add) do add_op(ops, "cgroup_add", name, "") end
  else
    per_cgroup_ops(ops, "cgroup_add", add, field .. ".add_cgroups")
  end
  per_cgroup_ops(ops, "cpuset", st.cpusets, field .. ".cpusets")
  per_cgroup_ops(ops, "weight", st.weights, field .. ".weights")
  per_cgroup_ops(ops, "move", st.move, field .. ".move")
  per_cgroup_ops(ops, "affinity", st.affinity, field .. ".affinity")
  local writes = {}
  add_writes(writes, st.writes, field .. ".writes")
  add_sysctls(writes, st.sysctls, field .. ".sysctls")
  for _, w in ipairs(writes) do add_op(ops, "write", w.path, w.value) end
  for _, name in ipairs(table_or_nil(st.remove_cgroups,
                                     field .. ".remove_cgroups") or {}) do
    add_op(ops, "cgroup_remove", name, "")
  end
  if st.detach then add_op(ops, "detach") end
  if st.attach then add_op(ops, "attach") end
  return ops
end

local function complete_steps(steps)
  if steps == nil then return {} end
  table_or_nil(steps, "steps")
  local out = {}
  for i, st in ipairs(steps) do
    local f = "steps[" .. i .. "]"
    table_or_nil(st, f)
    out[i] = { duration = st.duration == nil and D.step_duration
                          or st.duration,
               label = st.label or M.step_label(i),
               ops = step_ops(st, f) }
  end
  return out
end

local function complete_cgroups(cgroups, params)
  if cgroups == nil then return {} end
  table_or_nil(cgroups, "cgroups")
  local out = {}
  for i, cg in ipairs(cgroups) do
    table_or_nil(cg, "cgroups[" .. i .. "]")
    local c = merged(D.cgroup, cg)
    c.name = cg.name or M.cgroup_name(i)
    c.params = merged(params, table_or_nil(cg.params,
                                           "cgroups[" .. i .. "].params"))
    out[i] = c
  end
  return out
end

local function complete_payloads(payloads)
  if payloads == nil then return {} end
  table_or_nil(payloads, "payloads")
  local out = {}
  for i, p in ipairs(payloads) do
    table_or_nil(p, "payloads[" .. i .. "]")
    local c = merged(D.payload, p)
    c.args = copy(p.args)
    out[i] = c
  end
  return out
end

--- Every scenario field of vm options `opts`, defaults filled in.
function M.complete(opts)
  if type(opts) ~= "table" then
    error("scenario.complete: options table expected, got " .. type(opts), 2)
  end
  local o = copy(opts)
  for _, k in ipairs({ "duration", "settle", "attach_timeout",
                       "monitor_ms" }) do
    if o[k] == nil then o[k] = D[k] end
  end
  o.params = merged(D.params, table_or_nil(opts.params, "params"))
  o.cgroups = complete_cgroups(opts.cgroups, o.params)
  local writes = {}
  add_writes(writes, opts.writes, "writes")
  add_sysctls(writes, opts.sysctls, "sysctls")
  for _, f in ipairs(table_or_nil(opts.features, "features") or {}) do
    writes[#writes + 1] = { path = "/sys/kernel/debug/sched/features",
                            value = tostring(f) }
  end
  o.writes, o.sysctls, o.features = writes, nil, nil
  o.steps = complete_steps(opts.steps)
  if opts.scheduler ~= nil then
    table_or_nil(opts.scheduler, "scheduler")
    o.scheduler = merged(D.scheduler, opts.scheduler)
    o.scheduler.args = copy(opts.scheduler.args)
  end
  o.payloads = complete_payloads(opts.payloads)
  -- "hang=run": a fault and the stage it strikes in
  if type(opts.fault) == "string" and opts.fault_stage == nil then
    o.fault, o.fault_stage = opts.fault:match("^([^=]*)=?(.*)$")
  end
  o.fault, o.fault_stage = o.fault or "", o.fault_stage or ""
  return o
end

--- Names of the work parameters (vm.WORK_PARAMS), for messages.
function M.param_names()
  local out = {}
  for i, p in ipairs(vm.WORK_PARAMS) do out[i] = p end
  return out
end

-- Every WORK_PARAMS name has a default: a parameter added to the C
-- header without one here fails loudly at the first require.
for _, p in ipairs(vm.WORK_PARAMS) do
  if D.params[p] == nil then
    error(string.format("schedtest.scenario: no default for work " ..
                        "parameter '%s'", p))
  end
end

return M
