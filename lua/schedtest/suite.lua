-- schedtest.suite: loading and validating a project's schedtest.lua.
--
-- A scheduler project declares, in schedtest.lua at its root:
--
--   scheduler { name = "scx_vtime", build = { "make" },
--               binary = "build/scx_vtime", args = { "--slice-us", "5000" } }
--   test { name = "perf_pingpong", performance_mode = true, duration = 3,
--          topology = { numa = 1, llcs = 1, cores = 2, threads = 1 },
--          cgroups = { { name = "cg0", workers = 2, work = "pipe_pingpong",
--                        cpuset = "1" } } }
--
--   defaults { clock = "virtual" }   -- suite-wide, for tests that say nothing
--
-- The file runs in a sandbox offering `scheduler`, `test`, `defaults` and
-- the safe parts of the standard library.  Every field is checked; mistakes are
-- reported together, each with file, line, test and field, and a
-- suggestion for a near-miss name.

local fs = require "schedtest.fs"
local host = require "schedtest.host"
local vm = require "schedtest.vm"
local scenario = require "schedtest.scenario"

local string, table, math, os = string, table, math, os
local assert, error, ipairs, pairs, pcall, select, setmetatable, tonumber,
      tostring, type, load, debug =
  assert, error, ipairs, pairs, pcall, select, setmetatable, tonumber,
  tostring, type, load, debug
local math_type = math.type
local utf8, next, print = utf8, next, print

local M = {}

M.FILE_NAME = "schedtest.lua"

--- The work types a cgroup may run: the suite names of vm.WORK_TYPES
-- (include/schedtest/scenario.h, ST_WORK_TYPES; docs/suites.md).
M.WORK_TYPES = {}
for i, w in ipairs(vm.WORK_TYPES) do M.WORK_TYPES[i] = w.suite end

--- Scheduling policies of a cgroup's workers (vm.POLICIES).
M.POLICIES = vm.POLICIES

--- The name of the kernel's built-in scheduler.
M.BUILTIN_SCHEDULER = "eevdf"

--- Bounds of the numbers and counts a suite may give (docs/suites.md,
-- "Bounds").  The scenario's own limits come from vm.LIMITS (scenario.h:
-- what the guest reads); the durations are the suite's, well inside
-- what the launcher holds, so a typo such as `duration = 1e9` fails
-- here, with its line, before any VM starts.
M.LIMITS = {
  min_duration = 0.001, -- s: the guest counts whole milliseconds
  duration = 3600,      -- s: one test, BASELINE plus every step
  timeout = 7200,       -- s: the run watchdog; the default for the
                        -- longest test is 2 x 3600 s + 20 s
  workers = vm.LIMITS.workers,       -- per cgroup and per test
  cgroups = vm.LIMITS.cgroups,       -- per test, added ones included
  steps = vm.LIMITS.steps,           -- per test, after BASELINE
  ops = vm.LIMITS.ops,               -- operations of one step
  writes = vm.LIMITS.writes,         -- writes + sysctls + sched_features
  sched_args = vm.LIMITS.sched_args, -- arguments of a scheduler
  param = vm.LIMITS.param,           -- a work parameter's largest value
  name = vm.LIMITS.name_max - 1,     -- characters of a name or label
  comm = vm.LIMITS.comm_max - 1,     -- characters of a worker's comm
  path = vm.LIMITS.path_max - 1,     -- characters of a path or value
}
local LIMITS = M.LIMITS

-- Every default of a scenario (schedtest.scenario, one copy).
local DEFAULTS = scenario.DEFAULTS

--- What a test's VM measures time with (docs/vm.md "Clocks"): "virtual"
-- (TCG's instruction counter: deterministic, blind to host load), "host"
-- (host time), or "auto" (the runner picks: virtual for performance tests
-- under TCG, host otherwise).
M.CLOCKS = { "auto", "virtual", "host" }
M.MAX_ICOUNT_SHIFT = 10

-- {==================================================================
-- Near-miss suggestions
-- ===================================================================

local function distance(a, b)
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = { [0] = i }
    for j = 1, #b do
      local cost = a:sub(i, i) == b:sub(j, j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

--- The candidate closest to `word`, when it is close enough to suggest.
function M.suggest(word, candidates)
  local best, best_d
  for _, c in ipairs(candidates) do
    local d = distance(word, c)
    if d < (best_d or math.huge) then best, best_d = c, d end
  end
  if best and best_d <= math.max(2, #word // 3) then return best end
  return nil
end
-- }==================================================================

-- {==================================================================
-- Field checkers: each takes (value, ctx) and returns the normalised
-- value, or raises through ctx:fail(field, message).
-- ===================================================================

local function is_int(v) return math_type(v) == "integer" end

-- What a field held, for "expected X, got Y" messages.
local function got(v)
  if type(v) == "string" then
    return (string.format("%q", v):gsub("\\\n", "\\n"))
  end
  if math_type(v) == "integer" then return tostring(v) end
  if type(v) == "number" then return string.format("%.14g", v) end
  return type(v)
end

-- The first key of `v` that is not a list index, or nil: `ipairs` would
-- silently skip it.
local function non_list_key(v)
  for k in pairs(v) do
    if not (is_int(k) and k >= 1 and k <= #v) then return k end
  end
  return nil
end

-- One token of a spec line: no spaces, no control characters.
local function is_word(v)
  return type(v) == "string" and v:match("^[^%s%c]+$") ~= nil
end

-- One line of text: no control characters (a newline would start a
-- new line of the guest agent's spec).
local function is_line(v)
  return type(v) == "string" and not v:find("%c")
end

local function string_list(v, ctx, field)
  if type(v) ~= "table" then
    return ctx:fail(field, "expected a list of strings, got " .. type(v))
  end
  local out = {}
  for i, s in ipairs(v) do
    if type(s) ~= "string" then
      return ctx:fail(field, "item " .. i .. " must be a string, got " ..
                      type(s))
    end
    out[i] = s
  end
  local k = non_list_key(v)
  if k ~= nil then
    return ctx:fail(field, "expected a list, found key '" .. tostring(k) ..
                    "'")
  end
  return out
end

-- A list of strings, each passing `ok`; `what` says what an item must be.
local function checked_list(ok, what)
  return function(v, ctx, field)
    local list = string_list(v, ctx, field)
    if not list then return nil end
    for i, s in ipairs(list) do
      if not ok(s) then
        return ctx:fail(field .. "[" .. i .. "]", "expected " .. what ..
                        ", got " .. got(s))
      end
    end
    return list
  end
end

-- Scheduler arguments and kernel words: one spec or command line each.
local line_list = checked_list(is_line, "text without control characters")

--- Topology from {numa=, llcs=, cores=, threads=} or "1n2l2c1t".
-- `llcs` counts last-level caches in total (spread evenly over the NUMA
-- nodes), `cores` are per LLC and `threads` per core, so the VM has
-- llcs * cores * threads vCPUs.
function M.parse_topology(v)
  if type(v) == "string" then
    local n, l, c, t = v:match("^(%d+)n(%d+)l(%d+)c(%d+)t$")
    if not n then
      return nil, "expected a topology like \"1n2l2c1t\" (NUMA nodes, " ..
                  "LLCs in total, cores per LLC, threads per core), got \"" ..
                  v .. "\""
    end
    v = { numa = tonumber(n), llcs = tonumber(l), cores = tonumber(c),
          threads = tonumber(t) }
  end
  if type(v) ~= "table" then
    return nil, "expected a table {numa=, llcs=, cores=, threads=} or a " ..
                "string like \"1n1l2c1t\""
  end
  local out = {}
  for _, k in ipairs({ "numa", "llcs", "cores", "threads" }) do
    local x = v[k] == nil and 1 or v[k]
    if not is_int(x) or x < 1 or x > 64 then
      return nil, "'" .. k .. "' must be a whole number from 1 to 64"
    end
    out[k] = x
  end
  for k in pairs(v) do
    if not out[k] then
      local near = M.suggest(tostring(k), { "numa", "llcs", "cores",
                                           "threads" })
      return nil, "unknown key '" .. tostring(k) .. "'" ..
                  (near and (" (did you mean '" .. near .. "'?)") or "")
    end
  end
  if out.llcs % out.numa ~= 0 then
    return nil, "llcs (" .. out.llcs .. ") must be a multiple of numa (" ..
                out.numa .. "): each NUMA node gets the same LLCs"
  end
  if out.llcs * out.cores * out.threads > 64 then
    return nil, string.format("%d vCPUs (llcs x cores x threads); at most 64",
                              out.llcs * out.cores * out.threads)
  end
  return out
end

--- ktstr's name for a topology table: "1n2l2c1t".
function M.topology_name(t)
  return string.format("%dn%dl%dc%dt", t.numa, t.llcs, t.cores, t.threads)
end

function M.vcpus(t) return t.llcs * t.cores * t.threads end

local function topology(v, ctx, field)
  local t, why = M.parse_topology(v)
  if not t then return ctx:fail(field, why) end
  return t
end

-- sysctls as { ["kernel.x"] = v } or { "kernel.x=v" }: normalised to the
-- sidecar's sorted "sysctl.kernel.x=v" strings.
local function sysctls(v, ctx, field)
  if type(v) ~= "table" then
    return ctx:fail(field, "expected a table of name = value")
  end
  local out = {}
  for k, x in pairs(v) do
    local entry
    if is_int(k) then
      if type(x) ~= "string" or not x:match("^[%w_%.%-/]+=[^%c]*$") then
        return ctx:fail(field, "item " .. k .. " must be \"name=value\" " ..
                        "on one line, got " .. got(x))
      end
      entry = x
    elseif type(k) == "string" and k:match("^[%w_%.%-/]+$") then
      if not (is_line(x) or type(x) == "number") then
        return ctx:fail(field, "'" .. k .. "' must be a number or a " ..
                        "string on one line, got " .. got(x))
      end
      entry = k .. "=" .. tostring(x)
    else
      return ctx:fail(field, "bad sysctl name '" .. tostring(k) .. "'")
    end
    local name, value = entry:gsub("^sysctl%.", ""):match("^([^=]*)=(.*)$")
    -- the guest writes "/proc/sys/<name>" (scenario paths and values)
    if #"/proc/sys/" + #name > LIMITS.path or #value > LIMITS.path then
      ctx:fail(field, "'" .. name .. "': the path /proc/sys/... and the " ..
               "value hold at most " .. LIMITS.path .. " characters each")
    end
    out[#out + 1] = entry:match("^sysctl%.") and entry or ("sysctl." .. entry)
  end
  table.sort(out)
  return out
end

-- Seconds from LIMITS.min_duration to `max`; NaN and infinities fail
-- the comparison too.
local function seconds(max)
  return function(v, ctx, field)
    if type(v) ~= "number" or not (v >= LIMITS.min_duration and v <= max)
    then
      return ctx:fail(field, string.format("expected seconds from %g to " ..
        "%g, got %s", LIMITS.min_duration, max, got(v)))
    end
    return v
  end
end

local duration = seconds(LIMITS.duration)

local function count(t)
  local n = 0
  for _ in pairs(t or {}) do n = n + 1 end
  return n
end

local function boolean(v, ctx, field)
  if type(v) ~= "boolean" then
    return ctx:fail(field, "expected true or false, got " .. type(v))
  end
  return v
end

local function name_string(v, ctx, field)
  if type(v) ~= "string" or not v:match("^[%a_][%w_%-]*$") then
    return ctx:fail(field, "expected a name of letters, digits, '_' " ..
                    "and '-', starting with a letter, got " .. got(v))
  end
  return v
end

-- Cgroup names and step labels: the scenario's name buffers.
local MAX_LABEL = LIMITS.name

local function cgroup_name(v, ctx, field)
  local name = name_string(v, ctx, field)
  if name and #name > MAX_LABEL then
    return ctx:fail(field, "expected at most " .. MAX_LABEL ..
                    " characters, got " .. #name)
  end
  return name
end

local function step_label(v, ctx, field)
  if not is_word(v) or #v > MAX_LABEL then
    return ctx:fail(field, "expected one word (no spaces) of at most " ..
                    MAX_LABEL .. " characters, got " .. got(v))
  end
  return v
end

--- CPUs of a list like "0-2,5" as a sorted array {0, 1, 2, 5}.
function M.cpu_list(s)
  local cpus, seen = {}, {}
  for part in s:gmatch("[^,]+") do
    local a, b = part:match("^(%d+)%-(%d+)$")
    a, b = tonumber(a or part), tonumber(b or part)
    if a and b then
      for c = a, b do
        if not seen[c] then seen[c] = true; cpus[#cpus + 1] = c end
      end
    end
  end
  table.sort(cpus)
  return cpus
end

-- The largest topology has 64 vCPUs (parse_topology); a CPU number
-- beyond that is a typo, and bounding it keeps cpu_list's ranges short.
local MAX_CPU = 63

-- Whether `s` is a CPU list "0-1,3": ranges low to high, CPUs <= MAX_CPU.
local function valid_cpu_list(s)
  if s == "" or s:find(",,", 1, true) or s:match("^,") or s:match(",$") then
    return false
  end
  for part in s:gmatch("[^,]+") do
    local a, b = part:match("^(%d+)%-(%d+)$")
    if not a then a = part:match("^%d+$"); b = a end
    a, b = tonumber(a), tonumber(b)
    if not a or a > b or b > MAX_CPU then return false end
  end
  return true
end

local function cpuset(v, ctx, field)
  local given = v
  if is_int(v) then v = tostring(v) end
  if type(v) == "table" then
    local parts = {}
    for i, c in ipairs(v) do
      if not is_int(c) or c < 0 then
        return ctx:fail(field, "item " .. i .. " must be a CPU number, got " ..
                        got(c))
      end
      parts[i] = tostring(c)
    end
    v = table.concat(parts, ",")
  end
  if type(v) ~= "string" or not valid_cpu_list(v) then
    return ctx:fail(field, "expected a CPU list like \"0-1,3\" or {0, 1} " ..
                    "(CPUs 0 to " .. MAX_CPU .. ", ranges low to high), got " ..
                    (type(given) == "table" and ("{" .. tostring(v) .. "}")
                     or got(given)))
  end
  return v
end

--- Work parameters: { name = value } with names from vm.WORK_PARAMS.
local PARAMS = vm.WORK_PARAMS

local function params(v, ctx, field)
  if type(v) ~= "table" then
    return ctx:fail(field, "expected { " .. table.concat(PARAMS, "=, ") ..
                    "= }")
  end
  local out = {}
  for k, x in pairs(v) do
    local known = false
    for _, p in ipairs(PARAMS) do if p == k then known = true end end
    if not known then
      ctx:unknown(field, k, PARAMS)
    elseif not is_int(x) or x < 0 or x > LIMITS.param then
      ctx:fail(field .. "." .. k, "expected a whole number from 0 to " ..
               LIMITS.param .. ", got " .. got(x))
    else
      out[k] = x
    end
  end
  return out
end

local function one_of(v, list, ctx, field, what)
  for _, x in ipairs(list) do if x == v then return v end end
  local near = type(v) == "string" and M.suggest(v, list)
  return ctx:fail(field, "unknown " .. what .. " '" .. tostring(v) ..
                  "' (expected one of " .. table.concat(list, ", ") .. ")" ..
                  (near and (" — did you mean '" .. near .. "'?") or ""))
end

local function int_in(v, lo, hi, ctx, field, what)
  if not is_int(v) or v < lo or v > hi then
    return ctx:fail(field, string.format("expected %s from %d to %d, got %s",
                                         what, lo, hi, got(v)))
  end
  return v
end

-- A worker's comm: printable ASCII, at most LIMITS.comm characters.
local function comm(v, ctx, field)
  if type(v) ~= "string" or v == "" or #v > LIMITS.comm or
     not v:match("^[\32-\126]+$") then
    return ctx:fail(field, "expected 1 to " .. LIMITS.comm .. " printable " ..
                    "characters (the kernel's TASK_COMM_LEN), got " .. got(v))
  end
  return v
end

-- Per-worker attributes of a cgroup: policy, priority, nice, affinity,
-- comm (checked together: a priority needs fifo or rr).
local function task_attrs(cg, c, ctx, f)
  if cg.policy ~= nil then
    c.policy = one_of(cg.policy, M.POLICIES, ctx, f .. ".policy", "policy")
  end
  local rt = c.policy == "fifo" or c.policy == "rr"
  if cg.priority ~= nil then
    if not rt then
      ctx:fail(f .. ".priority", "only policy \"fifo\" or \"rr\" takes a " ..
               "priority")
    else
      c.priority = int_in(cg.priority, 1, 99, ctx, f .. ".priority",
                          "a real-time priority")
    end
  elseif rt then
    ctx:fail(f .. ".priority", "policy \"" .. c.policy .. "\" needs a " ..
             "priority from 1 to 99")
  end
  if cg.nice ~= nil then
    if c.policy ~= nil and c.policy ~= "normal" and c.policy ~= "batch" then
      ctx:fail(f .. ".nice", "only policy \"normal\" or \"batch\" takes a " ..
               "nice value")
    else
      c.nice = int_in(cg.nice, -20, 19, ctx, f .. ".nice", "a nice value")
    end
  end
  if cg.affinity ~= nil then
    c.affinity = cpuset(cg.affinity, ctx, f .. ".affinity")
  end
  if cg.comm ~= nil then c.comm = comm(cg.comm, ctx, f .. ".comm") end
end

local CGROUP_FIELDS = { "name", "workers", "work", "cpuset", "weight",
                        "fanout", "params", "policy", "priority", "nice",
                        "affinity", "comm" }
local CGROUP_KNOWN = {}
for _, k in ipairs(CGROUP_FIELDS) do CGROUP_KNOWN[k] = true end

local function cgroup(cg, i, ctx, f)
  for k in pairs(cg) do
    if type(k) ~= "string" or not CGROUP_KNOWN[k] then
      ctx:unknown(f, k, CGROUP_FIELDS)
    end
  end
  local c = {}
  c.name = cg.name == nil and scenario.cgroup_name(i)
           or cgroup_name(cg.name, ctx, f .. ".name")
  local w = cg.workers == nil and DEFAULTS.cgroup.workers or cg.workers
  c.workers = int_in(w, 1, LIMITS.workers, ctx, f .. ".workers",
                     "a whole number")
  c.work = one_of(cg.work or DEFAULTS.cgroup.work, M.WORK_TYPES, ctx,
                  f .. ".work", "work type")
  if cg.cpuset ~= nil then c.cpuset = cpuset(cg.cpuset, ctx, f .. ".cpuset") end
  if cg.weight ~= nil then
    c.weight = int_in(cg.weight, 1, 10000, ctx, f .. ".weight",
                      "a cgroup weight")
  end
  if cg.fanout ~= nil then
    if not is_int(cg.fanout) or cg.fanout < 1 or cg.fanout > LIMITS.workers
    then
      ctx:fail(f .. ".fanout", "expected the number of workers one " ..
               "futex_fanout messenger wakes (1 to " .. LIMITS.workers ..
               "), got " .. got(cg.fanout))
    else
      c.fanout = cg.fanout
    end
  end
  if cg.params ~= nil then c.params = params(cg.params, ctx, f .. ".params") end
  task_attrs(cg, c, ctx, f)
  -- Only a valid count can be odd: an invalid one is reported above.
  if c.work == "pipe_pingpong" and c.workers and c.workers % 2 == 1 then
    ctx:fail(f .. ".workers", "pipe_pingpong pairs workers: use an " ..
             "even number")
  end
  return c
end

local function cgroups(v, ctx, field)
  if type(v) ~= "table" or #v == 0 then
    return ctx:fail(field, "expected a non-empty list of cgroups")
  end
  local extra = non_list_key(v)
  if extra ~= nil then
    return ctx:fail(field, "expected a list of cgroups, found key '" ..
                    tostring(extra) .. "'")
  end
  if #v > LIMITS.cgroups then
    return ctx:fail(field, string.format("has %d cgroups; a test has at " ..
      "most %d", #v, LIMITS.cgroups))
  end
  local out, seen, workers = {}, {}, 0
  for i, cg in ipairs(v) do
    local f = field .. "[" .. i .. "]"
    if type(cg) ~= "table" then return ctx:fail(f, "expected a table") end
    local c = cgroup(cg, i, ctx, f)
    -- An invalid name was reported by cgroup(); it cannot clash.
    if c.name and seen[c.name] then
      ctx:fail(f .. ".name", "duplicate cgroup name '" .. c.name .. "'")
    end
    if c.name then seen[c.name] = true end
    workers = workers + (c.workers or 0)
    out[i] = c
  end
  if workers > LIMITS.workers then
    ctx:fail(field, string.format("%d workers in total; the guest agent " ..
      "runs at most %d per test", workers, LIMITS.workers))
  end
  return out
end

local STEP_FIELDS = { "duration", "scheduler", "label", "sysctls",
                      "writes", "cpusets", "weights", "add_cgroups",
                      "remove_cgroups", "move", "affinity", "detach",
                      "attach" }
local STEP_KNOWN = {}
for _, k in ipairs(STEP_FIELDS) do STEP_KNOWN[k] = true end

-- { cgroup = value } of a step; `check` validates one value.  The cgroup
-- names are checked against the test's cgroups once the test is whole.
local function per_cgroup(v, ctx, field, what, check)
  if type(v) ~= "table" then
    return ctx:fail(field, "expected " .. what .. ", got " .. type(v))
  end
  local out = {}
  for cg, x in pairs(v) do
    if type(cg) ~= "string" then
      ctx:fail(field, "keys must be cgroup names, got " .. got(cg))
    else
      out[cg] = check(x, ctx, field .. "." .. cg)
    end
  end
  return out
end

local function weight(v, ctx, field)
  return int_in(v, 1, 10000, ctx, field, "a cgroup weight")
end

-- add_cgroups = { name = cpuset_or_"" } or { "name", ... }: always the
-- map form afterwards.
local function add_cgroups(v, ctx, field)
  if type(v) ~= "table" then
    return ctx:fail(field, "expected { name = \"cpus\" or \"\" } or a " ..
                    "list of names")
  end
  local out = {}
  for k, x in pairs(v) do
    if is_int(k) then
      local name = cgroup_name(x, ctx, field .. "[" .. k .. "]")
      if name then out[name] = "" end
    else
      local name = cgroup_name(k, ctx, field)
      if name then
        out[name] = x == "" and "" or cpuset(x, ctx, field .. "." .. name)
      end
    end
  end
  return out
end

local function name_list(v, ctx, field)
  local list = string_list(v, ctx, field)
  for i, name in ipairs(list or {}) do
    cgroup_name(name, ctx, field .. "[" .. i .. "]")
  end
  return list
end

local function cgroup_ref(v, ctx, field)
  return cgroup_name(v, ctx, field)
end

-- The operations a step's fields make (schedtest.scenario turns them
-- into the scenario's list): at most LIMITS.ops.
local function step_op_count(s)
  local n = count(s.writes) + count(s.sysctls) + count(s.cpusets) +
            count(s.weights) + count(s.add_cgroups) +
            count(s.remove_cgroups) + count(s.move) + count(s.affinity)
  return n + (s.detach and 1 or 0) + (s.attach and 1 or 0)
end

local function step(st, i, ctx, f)
  for k in pairs(st) do
    if type(k) ~= "string" or not STEP_KNOWN[k] then
      ctx:unknown(f, k, STEP_FIELDS)
    end
  end
  local s = { duration = duration(st.duration, ctx, f .. ".duration") }
  if st.scheduler ~= nil then
    s.scheduler = name_string(st.scheduler, ctx, f .. ".scheduler")
  end
  if st.label == nil then
    s.label = scenario.step_label(i)
  else
    s.label = step_label(st.label, ctx, f .. ".label")
  end
  if st.sysctls ~= nil then
    s.sysctls = sysctls(st.sysctls, ctx, f .. ".sysctls")
  end
  if st.writes ~= nil then
    s.writes = M.writes(st.writes, ctx, f .. ".writes")
  end
  if st.cpusets ~= nil then
    s.cpusets = per_cgroup(st.cpusets, ctx, f .. ".cpusets",
                           "{ cgroup = \"cpus\" }", cpuset)
  end
  if st.weights ~= nil then
    s.weights = per_cgroup(st.weights, ctx, f .. ".weights",
                           "{ cgroup = weight }", weight)
  end
  if st.add_cgroups ~= nil then
    s.add_cgroups = add_cgroups(st.add_cgroups, ctx, f .. ".add_cgroups")
  end
  if st.remove_cgroups ~= nil then
    s.remove_cgroups = name_list(st.remove_cgroups, ctx,
                                 f .. ".remove_cgroups")
  end
  if st.move ~= nil then
    s.move = per_cgroup(st.move, ctx, f .. ".move",
                        "{ from_cgroup = \"to_cgroup\" }", cgroup_ref)
  end
  if st.affinity ~= nil then
    s.affinity = per_cgroup(st.affinity, ctx, f .. ".affinity",
                            "{ cgroup = \"cpus\" }", cpuset)
  end
  for _, k in ipairs({ "detach", "attach" }) do
    if st[k] ~= nil and st[k] ~= true then
      ctx:fail(f .. "." .. k, "expected true (or leave it out), got " ..
               got(st[k]))
    end
    s[k] = st[k] == true or nil
  end
  local n = step_op_count(s)
  if n > LIMITS.ops then
    ctx:fail(f, string.format("makes %d operations (writes, sysctls, " ..
      "cpusets, weights, cgroups added, removed, moved, affinities, " ..
      "detach, attach); a step holds at most %d", n, LIMITS.ops))
  end
  return s
end

local function steps(v, ctx, field)
  if type(v) ~= "table" then return ctx:fail(field, "expected a list") end
  local extra = non_list_key(v)
  if extra ~= nil then
    return ctx:fail(field, "expected a list of steps, found key '" ..
                    tostring(extra) .. "'")
  end
  if #v > LIMITS.steps then
    return ctx:fail(field, string.format("has %d steps; a test has at " ..
      "most %d", #v, LIMITS.steps))
  end
  local out = {}
  for i, st in ipairs(v) do
    local f = field .. "[" .. i .. "]"
    if type(st) ~= "table" then return ctx:fail(f, "expected a table") end
    out[i] = step(st, i, ctx, f)
  end
  return out
end

local ASSERTION_FIELDS = { "metric", "direction", "max_regression_pct",
                           "min_abs", "phase" }

local function assertions(v, ctx, field)
  if type(v) ~= "table" then return ctx:fail(field, "expected a list") end
  local out = {}
  for i, a in ipairs(v) do
    local f = field .. "[" .. i .. "]"
    if type(a) == "string" then a = { metric = a } end
    if type(a) ~= "table" then return ctx:fail(f, "expected a table") end
    for k in pairs(a) do
      if type(k) ~= "string" or not ({ metric = 1, direction = 1,
          max_regression_pct = 1, min_abs = 1, phase = 1 })[k] then
        ctx:unknown(f, k, ASSERTION_FIELDS)
      end
    end
    if type(a.metric) ~= "string" then
      ctx:fail(f .. ".metric", "expected a metric name")
    end
    local dir = a.direction
    if dir ~= nil and dir ~= "HigherBetter" and dir ~= "LowerBetter" then
      ctx:fail(f .. ".direction", "expected \"HigherBetter\" or " ..
               "\"LowerBetter\"")
    end
    for _, k in ipairs({ "max_regression_pct", "min_abs" }) do
      local x = a[k]
      if x ~= nil and (type(x) ~= "number" or not (x >= 0 and x < math.huge))
      then
        ctx:fail(f .. "." .. k, "expected a finite number >= 0, got " ..
                 got(x))
      end
    end
    if a.phase ~= nil and (not is_int(a.phase) or a.phase < 0 or
                           a.phase > LIMITS.steps) then
      ctx:fail(f .. ".phase", "expected a step index from 0 (BASELINE) to " ..
               LIMITS.steps .. ", got " .. got(a.phase))
    end
    out[i] = { metric = a.metric, direction = dir,
               max_regression_pct = a.max_regression_pct,
               min_abs = a.min_abs, phase = a.phase }
  end
  return out
end

local function argv(v, ctx, field)
  local list = string_list(v, ctx, field)
  if list and #list == 0 then
    return ctx:fail(field, "expected a non-empty argv list, e.g. { \"make\" }")
  end
  return list
end

local function func(v, ctx, field)
  if type(v) ~= "function" then
    return ctx:fail(field, "expected a function(result)")
  end
  return v
end

local function clock(v, ctx, field)
  for _, c in ipairs(M.CLOCKS) do if v == c then return v end end
  local near = type(v) == "string" and M.suggest(v, M.CLOCKS)
  return ctx:fail(field, "expected one of " .. table.concat(M.CLOCKS, ", ")
                  .. ", got " .. tostring(v) ..
                  (near and (" — did you mean '" .. near .. "'?") or ""))
end

local function icount_shift(v, ctx, field)
  if not is_int(v) or v < 0 or v > M.MAX_ICOUNT_SHIFT then
    return ctx:fail(field, "expected a whole number from 0 to " ..
                    M.MAX_ICOUNT_SHIFT .. " (each guest instruction " ..
                    "takes 2^shift ns of virtual time)")
  end
  return v
end

local function memory(v, ctx, field)
  if not is_int(v) or v < 64 or v > 16384 then
    return ctx:fail(field, "expected MiB as a whole number, 64 to 16384, " ..
                    "got " .. got(v))
  end
  return v
end

--- Files to write in the guest before the run: { ["/sys/path"] = value }.
-- The scenario holds each path and value in LIMITS.path characters.
function M.writes(v, ctx, field)
  if type(v) ~= "table" then
    return ctx:fail(field, "expected { [\"/sys/...\"] = value }")
  end
  local out = {}
  for path, x in pairs(v) do
    if not is_word(path) or path:sub(1, 1) ~= "/" or #path > LIMITS.path then
      return ctx:fail(field, "keys must be absolute guest paths without " ..
                      "spaces, at most " .. LIMITS.path .. " characters, " ..
                      "got " .. got(path))
    end
    if not (is_line(x) or type(x) == "number") or
       #tostring(x) > LIMITS.path then
      return ctx:fail(field .. "." .. path, "expected a number or a " ..
                      "string on one line of at most " .. LIMITS.path ..
                      " characters, got " .. got(x))
    end
    out[path] = tostring(x)
  end
  return out
end

local SCHEDULER_SPEC = {
  name = name_string, build = argv, binary = function(v, ctx, field)
    if type(v) ~= "string" or v == "" then
      return ctx:fail(field, "expected a path relative to the project root")
    end
    return v
  end,
  args = function(v, ctx, field)
    local list = line_list(v, ctx, field)
    if list and #list > LIMITS.sched_args then
      return ctx:fail(field, string.format("has %d arguments; the guest " ..
        "agent passes at most %d", #list, LIMITS.sched_args))
    end
    for i, a in ipairs(list or {}) do
      if #a > LIMITS.path then
        return ctx:fail(field .. "[" .. i .. "]", "longer than " ..
                        LIMITS.path .. " characters")
      end
    end
    return list
  end,
  topology = topology, sysctls = sysctls,
  kargs = line_list, kernels = string_list, sched_ext = boolean,
}

local TEST_SPEC = {
  name = name_string, scheduler = name_string, performance_mode = boolean,
  topology = topology, duration = duration, memory_mb = memory,
  cgroups = cgroups, steps = steps, sysctls = sysctls, kargs = line_list,
  perf_delta_assertions = assertions, check = func,
  timeout = seconds(LIMITS.timeout),
  params = params, writes = M.writes,
  -- each feature is one word of the guest's spec (e.g. HRTICK, NO_HRTICK)
  sched_features = checked_list(function(x) return x:match("^[%w_]+$") end,
                                "a feature name like \"HRTICK\""),
  expect_fail = boolean, clock = clock, icount_shift = icount_shift,
  description = function(v, ctx, field)
    if type(v) ~= "string" then return ctx:fail(field, "expected a string") end
    return v
  end,
}

-- Suite-wide defaults for every test that does not set the field.
local DEFAULTS_SPEC = { clock = clock, icount_shift = icount_shift }

local function keys_of(spec)
  local out = {}
  for k in pairs(spec) do out[#out + 1] = k end
  table.sort(out)
  return out
end
-- }==================================================================

-- The steps' cgroup references, replayed in the order the agent applies
-- them (scenario.STEP_OPS): which cgroups exist at each step (declared,
-- added, removed) and where each declared cgroup's workers are, so an
-- operation names what exists by then.
local function check_step_cgroups(t, ctx)
  if not t.cgroups or not t.steps then return end -- reported already
  local declared, exists, where = {}, {}, {}
  for _, cg in ipairs(t.cgroups) do
    if cg.name then
      declared[cg.name], exists[cg.name], where[cg.name] = true, true, cg.name
    end
  end
  local function missing(field, name)
    local names = {}
    for n in pairs(exists) do names[#names + 1] = n end
    table.sort(names)
    local near = M.suggest(name, names)
    ctx:fail(field, "no cgroup '" .. name .. "' at this step (cgroups " ..
             "then: " .. table.concat(names, ", ") .. ")" ..
             (near and (" — did you mean '" .. near .. "'?") or ""))
  end
  local function not_declared(field, name, op)
    ctx:fail(field, "'" .. name .. "' is not a cgroup declared by this " ..
             "test (" .. op .. " acts on a declared cgroup's workers)")
  end
  for i, st in ipairs(t.steps) do
    local f = "steps[" .. i .. "]."
    for name in pairs(st.add_cgroups or {}) do
      if exists[name] then
        ctx:fail(f .. "add_cgroups." .. name, "cgroup '" .. name ..
                 "' exists already at this step")
      end
      exists[name] = true
    end
    for _, k in ipairs({ "cpusets", "weights" }) do
      for cg in pairs(st[k] or {}) do
        if not exists[cg] then missing(f .. k .. "." .. cg, cg) end
      end
    end
    for from, to in pairs(st.move or {}) do
      if not declared[from] then
        not_declared(f .. "move." .. from, from, "move")
      elseif not exists[to] then
        missing(f .. "move." .. from, to)
      else
        where[from] = to
      end
    end
    for cg in pairs(st.affinity or {}) do
      if not declared[cg] then
        not_declared(f .. "affinity." .. cg, cg, "affinity")
      end
    end
    for j, name in ipairs(st.remove_cgroups or {}) do
      local field = f .. "remove_cgroups[" .. j .. "]"
      if not exists[name] then missing(field, name) end
      for d, at in pairs(where) do
        if at == name then
          ctx:fail(field, "cgroup '" .. name .. "' still holds the " ..
                   "workers of '" .. d .. "' (move them out first)")
        end
      end
      exists[name] = nil
    end
  end
end

-- detach/attach follow the scheduler: it must be running to detach and
-- stopped to attach.  Needs t.scheduler, so it runs once the file is
-- whole; returns a message or nil.
local function check_detach(t, builtin)
  local attached = t.scheduler ~= builtin
  local any = attached
  for i, st in ipairs(t.steps or {}) do
    if st.scheduler and st.scheduler ~= builtin then
      attached, any = true, true
    end
    if st.detach then
      if not attached then
        return "steps[" .. i .. "].detach", "no scheduler of the test " ..
               "runs at this step (the built-in one cannot be detached)"
      end
      attached = false
    end
    if st.attach then
      if not any then
        return "steps[" .. i .. "].attach", "the test runs the built-in " ..
               "scheduler only; there is nothing to attach"
      elseif attached then
        return "steps[" .. i .. "].attach", "the scheduler is attached " ..
               "already (detach it in an earlier step)"
      end
      attached = true
    end
  end
  return nil
end

-- A test's length and count of writes, once all its fields are known.
local function check_test_totals(t, ctx)
  local base, steps_s = t.duration or DEFAULTS.duration, 0
  for _, st in ipairs(t.steps or {}) do steps_s = steps_s + (st.duration or 0) end
  local total = base + steps_s
  if total > LIMITS.duration then
    ctx:fail("steps", string.format("BASELINE (%g s) and the steps (%g s) " ..
      "add up to %g s; a test runs at most %g s", base, steps_s, total,
      LIMITS.duration))
  elseif t.timeout and t.timeout <= total then
    ctx:fail("timeout", string.format("%g s does not cover the test's %g s " ..
      "of phases (and the VM's exit): the watchdog would call every run a " ..
      "hang; give more, e.g. %g", t.timeout, total,
      math.min(2 * total + 20, LIMITS.timeout)))
  end
  local writes = count(t.writes) + count(t.sysctls) + count(t.sched_features)
  if writes > LIMITS.writes then
    ctx:fail("writes", string.format("the test's writes, sysctls and " ..
      "sched_features add up to %d; the guest agent applies at most %d",
      writes, LIMITS.writes))
  end
end

-- A validation context: collects errors with their position.
local Ctx = {}
Ctx.__index = Ctx

function Ctx:fail(field, msg)
  self.errors[#self.errors + 1] = string.format("%s:%d: %s %s: field '%s': %s",
    self.file, self.line, self.kind, self.what, field, msg)
  return nil
end

function Ctx:unknown(where, key, known)
  local near = type(key) == "string" and M.suggest(key, known)
  self.errors[#self.errors + 1] = string.format(
    "%s:%d: %s %s: unknown field '%s'%s%s", self.file, self.line, self.kind,
    self.what, where ~= "" and (where .. "." .. tostring(key)) or tostring(key),
    near and (" (did you mean '" .. near .. "'?)") or "",
    near and "" or (" (known fields: " .. table.concat(known, ", ") .. ")"))
end

local function validate(decl, spec, ctx)
  local out = {}
  local known = keys_of(spec)
  for k, v in pairs(decl) do
    if type(k) ~= "string" or not spec[k] then
      ctx:unknown("", k, known)
    else
      out[k] = spec[k](v, ctx, k)
    end
  end
  return out
end

-- {==================================================================
-- Running the file: Ctrl-C and a deadline get through
-- ===================================================================

--- Seconds the file may take to evaluate by default (load's time_limit).
M.TIME_LIMIT = 10

-- Whether `err` is the host's Ctrl-C: once SIGINT arrived, the host
-- raises "interrupted!" (with a position when raised in Lua code).
local function is_interrupt(err)
  return host.interrupted() and type(err) == "string" and
         err:find("interrupted!", 1, true) ~= nil
end

-- The sandbox's pcall: the file may catch its own errors, but never
-- Ctrl-C or the deadline `stop`, or it could run on past them (the
-- host's hook raises only once).
local function sandbox_pcall(stop)
  local function pass(ok, ...)
    local err = ...
    if not ok and (err == stop or is_interrupt(err)) then error(err, 0) end
    return ok, ...
  end
  return function(f, ...) return pass(pcall(f, ...)) end
end

-- Line of the innermost frame, from `level` out, running `source`.
local function line_in(source, level)
  for l = level, level + 20 do
    local info = debug.getinfo(l, "Sl")
    if not info then break end
    if info.source == source then return info.currentline end
  end
  return nil
end

-- pcall(chunk) under a count hook that raises `stop` once `limit`
-- seconds of CPU time have passed (all an endless loop uses: the sandbox
-- offers nothing that waits).  The hook is set only around the call; a
-- hook set before is put back.  Ctrl-C replaces the hook with the
-- host's, which still raises.  Returns ok, err, and the line of
-- `source` running when the deadline struck.
local function run_with_deadline(chunk, limit, stop, source)
  local deadline, stopped_at = os.clock() + limit, nil
  local old_hook, old_mask, old_count = debug.gethook()
  debug.sethook(function()
    if os.clock() > deadline then
      stopped_at = stopped_at or line_in(source, 3)
      error(stop, 0)
    end
  end, "", 1000)
  local ok, err = pcall(chunk)
  if type(old_hook) == "function" then
    debug.sethook(old_hook, old_mask, old_count)
  else
    debug.sethook()
  end
  return ok, err, stopped_at
end

local function check_load_options(opts)
  if opts == nil then return M.TIME_LIMIT end
  if type(opts) ~= "table" then
    error("suite.load: options must be a table, got " .. type(opts), 3)
  end
  for k in pairs(opts) do
    if k ~= "time_limit" and k ~= "display" then
      error("suite.load: unknown option '" .. tostring(k) ..
            "' (known: time_limit, display)", 3)
    end
  end
  if opts.display ~= nil and type(opts.display) ~= "string" then
    error("suite.load: display must be a string", 3)
  end
  local limit = opts.time_limit
  if limit == nil then return M.TIME_LIMIT end
  if type(limit) ~= "number" or not (limit > 0 and limit < math.huge) then
    error("suite.load: time_limit must be a positive number of seconds, " ..
          "got " .. tostring(limit), 3)
  end
  return limit
end
-- }==================================================================

--- Load and validate a suite file; returns the Suite table or
-- nil, message (every problem, one per line), "EINVAL" / "ENOENT" /
-- "ETIMEDOUT" (the file did not finish within opts.time_limit seconds,
-- default M.TIME_LIMIT).  Ctrl-C while the file runs raises
-- "interrupted!", as everywhere else in the host.
--
-- opts.display names the file in messages (default: path), e.g. the
-- project-relative name for a copy in a checkout.
--
-- Suite = { file=, root= (its directory), schedulers = {name -> sched},
--           scheduler_list = {...}, tests = { test, ... } in file order,
--           defaults = { clock=, icount_shift= } as declared }
function M.load(path, opts)
  local limit = check_load_options(opts)
  local src, msg, code = fs.read_file(path)
  if not src then return nil, msg, code end
  local abs = fs.realpath(path) or path
  local root = abs:match("^(.*)/[^/]*$") or "."
  local suite = { file = abs, root = root, schedulers = {},
                  scheduler_list = {}, tests = {}, defaults = {} }
  local errors = {}
  local display = opts and opts.display or path

  -- Line of the innermost frame running the suite file itself.
  local function caller_line()
    for level = 2, 20 do
      local info = debug.getinfo(level, "Sl")
      if not info then break end
      if info.source == "@" .. display then return info.currentline end
    end
    return 0
  end

  local function declare(kind, spec)
    return function(decl)
      local line = caller_line()
      local ctx = setmetatable({ errors = errors, file = display,
        line = line, kind = kind,
        what = type(decl) == "table" and type(decl.name) == "string"
               and ("'" .. decl.name .. "'") or "(unnamed)" }, Ctx)
      if type(decl) ~= "table" then
        ctx.errors[#ctx.errors + 1] = string.format(
          "%s:%d: %s expects a table: %s { name = ..., ... }", display, line,
          kind, kind)
        return
      end
      if decl.name == nil then
        ctx:fail("name", "missing; every " .. kind .. " needs a name")
      end
      local v = validate(decl, spec, ctx)
      v.line = line
      return v, ctx
    end
  end

  local declare_scheduler = declare("scheduler", SCHEDULER_SPEC)
  local declare_test = declare("test", TEST_SPEC)

  -- defaults { clock = ..., icount_shift = ... }: once, anywhere in the
  -- file, for every test that does not set the field itself.
  local defaults_line
  local function declare_defaults(decl)
    local line = caller_line()
    local ctx = setmetatable({ errors = errors, file = display, line = line,
                               kind = "defaults", what = "{}" }, Ctx)
    if type(decl) ~= "table" then
      errors[#errors + 1] = string.format("%s:%d: defaults expects a " ..
        "table: defaults { clock = \"virtual\" }", display, line)
      return
    end
    if defaults_line then
      errors[#errors + 1] = string.format("%s:%d: defaults are declared " ..
        "twice (first at line %d)", display, line, defaults_line)
      return
    end
    defaults_line = line
    suite.defaults = validate(decl, DEFAULTS_SPEC, ctx)
  end

  local env = {
    string = string, math = math, table = table, utf8 = utf8,
    ipairs = ipairs, pairs = pairs, next = next, select = select,
    tostring = tostring, tonumber = tonumber, type = type, error = error,
    assert = assert, print = print,
    os = { getenv = os.getenv, time = os.time, date = os.date },
  }
  env.defaults = declare_defaults
  env.scheduler = function(decl)
    local s = declare_scheduler(decl)
    if not s or not s.name then return end
    if s.name == M.BUILTIN_SCHEDULER then
      errors[#errors + 1] = string.format("%s:%d: scheduler '%s': that " ..
        "name is the kernel's built-in scheduler; pick another",
        display, s.line, s.name)
    elseif suite.schedulers[s.name] then
      errors[#errors + 1] = string.format("%s:%d: scheduler '%s' is " ..
        "declared twice (first at line %d)", display, s.line, s.name,
        suite.schedulers[s.name].line)
    else
      if not s.binary then
        errors[#errors + 1] = string.format("%s:%d: scheduler '%s': field " ..
          "'binary' is missing (the path of the scheduler binary, relative " ..
          "to %s)", display, s.line, s.name, M.FILE_NAME)
      end
      suite.schedulers[s.name] = s
      suite.scheduler_list[#suite.scheduler_list + 1] = s
    end
    return s
  end
  local names = {}
  env.test = function(decl)
    local t, ctx = declare_test(decl)
    if not t or not t.name then return end
    if names[t.name] then
      errors[#errors + 1] = string.format("%s:%d: test '%s' is declared " ..
        "twice (first at line %d)", display, t.line, t.name, names[t.name])
    end
    names[t.name] = t.line
    if not t.cgroups and not t.steps then
      ctx:fail("cgroups", "missing; a test needs at least one cgroup of " ..
               "workers")
    end
    check_step_cgroups(t, ctx)
    check_test_totals(t, ctx)
    suite.tests[#suite.tests + 1] = t
    return t
  end
  local stop = {} -- the deadline's error value, unique to this load
  env.pcall = sandbox_pcall(stop)
  env._G = env

  local chunk, err = load(src, "@" .. display, "t", env)
  if not chunk then return nil, err, "EINVAL" end
  local ok, run_err, line = run_with_deadline(chunk, limit, stop,
                                              "@" .. display)
  if not ok then
    -- Ctrl-C is not the file's mistake: the host's one protected path
    -- turns it into exit status 130.
    if is_interrupt(run_err) then error("interrupted!", 0) end
    if run_err == stop then
      return nil, string.format("%s%s: evaluation did not finish within " ..
        "%g s (an endless loop?)", display, line and (":" .. line) or "",
        limit), "ETIMEDOUT"
    end
    return nil, tostring(run_err), "EINVAL"
  end

  -- Cross-references need the whole file.
  for _, t in ipairs(suite.tests) do
    if t.scheduler == nil then
      -- A test whose steps start a scheduler runs the built-in one first.
      local steps_start = false
      for _, st in ipairs(t.steps or {}) do
        if st.scheduler and st.scheduler ~= M.BUILTIN_SCHEDULER then
          steps_start = true
        end
      end
      t.scheduler = (#suite.scheduler_list == 1 and not steps_start)
                    and suite.scheduler_list[1].name or M.BUILTIN_SCHEDULER
    end
    local known = { M.BUILTIN_SCHEDULER }
    for _, s in ipairs(suite.scheduler_list) do known[#known + 1] = s.name end
    local function check_sched(name, field)
      if name and name ~= M.BUILTIN_SCHEDULER and not suite.schedulers[name] then
        local near = M.suggest(name, known)
        errors[#errors + 1] = string.format("%s:%d: test '%s': field '%s': " ..
          "unknown scheduler '%s' (declared: %s)%s", display, t.line, t.name,
          field, name, table.concat(known, ", "),
          near and (" — did you mean '" .. near .. "'?") or "")
      end
    end
    check_sched(t.scheduler, "scheduler")
    local dfield, dmsg = check_detach(t, M.BUILTIN_SCHEDULER)
    if dfield then
      errors[#errors + 1] = string.format("%s:%d: test '%s': field '%s': %s",
        display, t.line, t.name, dfield, dmsg)
    end
    -- One run can switch once, from the built-in scheduler to a declared
    -- one (the agent starts it between two phases; it cannot stop it).
    local joined
    for i, st in ipairs(t.steps or {}) do
      local f = "steps[" .. i .. "].scheduler"
      check_sched(st.scheduler, f)
      if st.scheduler and st.scheduler ~= M.BUILTIN_SCHEDULER then
        if t.scheduler ~= nil and t.scheduler ~= M.BUILTIN_SCHEDULER then
          errors[#errors + 1] = string.format("%s:%d: test '%s': field " ..
            "'%s': a step can only start a scheduler when the test runs " ..
            "the built-in one first; add scheduler = \"eevdf\"", display,
            t.line, t.name, f)
        elseif joined and joined ~= st.scheduler then
          errors[#errors + 1] = string.format("%s:%d: test '%s': field " ..
            "'%s': one run can switch to one scheduler only ('%s' already " ..
            "joined)", display, t.line, t.name, f, joined)
        end
        joined = joined or st.scheduler
      elseif st.scheduler == M.BUILTIN_SCHEDULER and joined then
        errors[#errors + 1] = string.format("%s:%d: test '%s': field '%s': " ..
          "a scheduler cannot be stopped mid-run; put the built-in " ..
          "scheduler's phases first", display, t.line, t.name, f)
      end
    end
    local sched = suite.schedulers[t.scheduler]
    t.topology = t.topology or (sched and sched.topology)
                 or { numa = 1, llcs = 1, cores = 2, threads = 1 }
    t.duration = t.duration or DEFAULTS.duration
    t.performance_mode = t.performance_mode or false
    t.sysctls = t.sysctls or {}
    t.kargs = t.kargs or {}
    t.perf_delta_assertions = t.perf_delta_assertions or {}
    t.vcpus = M.vcpus(t.topology)
    if t.clock == "host" and t.icount_shift then
      errors[#errors + 1] = string.format("%s:%d: test '%s': field " ..
        "'icount_shift': it applies to the virtual clock, and the test " ..
        "asks for clock = \"host\"", display, t.line, t.name)
    end
    t.clock = t.clock or suite.defaults.clock or "auto"
    t.icount_shift = t.icount_shift or suite.defaults.icount_shift
    local function check_cpus(cpus, field, what)
      for _, cpu in ipairs(M.cpu_list(cpus or "")) do
        if cpu >= t.vcpus then
          errors[#errors + 1] = string.format("%s:%d: test '%s': field " ..
            "'%s': cpuset of '%s' names CPU %d but the topology has " ..
            "%d vCPUs (0-%d)", display, t.line, t.name, field, what, cpu,
            t.vcpus, t.vcpus - 1)
          return
        end
      end
    end
    for i, cg in ipairs(t.cgroups or {}) do
      check_cpus(cg.cpuset, "cgroups", cg.name or ("cgroups[" .. i .. "]"))
    end
    for i, cg in ipairs(t.cgroups or {}) do
      check_cpus(cg.affinity, "cgroups[" .. i .. "].affinity",
                 cg.name or ("cgroups[" .. i .. "]"))
    end
    for i, st in ipairs(t.steps or {}) do
      for _, k in ipairs({ "cpusets", "affinity", "add_cgroups" }) do
        for cg, cpus in pairs(st[k] or {}) do
          check_cpus(cpus, "steps[" .. i .. "]." .. k, cg)
        end
      end
    end
  end
  if #suite.tests == 0 and #errors == 0 then
    errors[#errors + 1] = display .. ": declares no test; add " ..
      "test { name = ..., cgroups = { ... } }"
  end
  if #errors > 0 then
    return nil, table.concat(errors, "\n"), "EINVAL"
  end
  return suite
end

--- Find schedtest.lua by walking up from `dir` (default: the current
-- directory); returns its path or nil, message, "ENOENT".
function M.find(dir)
  -- The real working directory: $PWD is inherited and may name another
  -- directory when a parent process started us elsewhere.
  dir = dir or fs.cwd() or "."
  dir = fs.realpath(dir) or dir
  local d = dir
  while true do
    local candidate = d .. "/" .. M.FILE_NAME
    local st = fs.stat(candidate)
    if st and st.type == "file" then return candidate end
    local parent = d:match("^(.*)/[^/]+$")
    if not parent or parent == d then break end
    d = parent == "" and "/" or parent
    if d == "/" then
      st = fs.stat("/" .. M.FILE_NAME)
      if st and st.type == "file" then return "/" .. M.FILE_NAME end
      break
    end
  end
  return nil, "no " .. M.FILE_NAME .. " found in " .. dir ..
    " or any parent directory; create one at your scheduler project's " ..
    "root, or pass --suite FILE", "ENOENT"
end

return M
