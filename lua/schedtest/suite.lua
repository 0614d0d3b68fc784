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

local string, table, math, os = string, table, math, os
local assert, error, ipairs, pairs, pcall, select, setmetatable, tonumber,
      tostring, type, load, debug =
  assert, error, ipairs, pairs, pcall, select, setmetatable, tonumber,
  tostring, type, load, debug
local math_type = math.type
local utf8, next, print = utf8, next, print

local M = {}

M.FILE_NAME = "schedtest.lua"

--- The work types the guest agent runs (see docs/suites.md).
-- cpu_spin: burn CPU; spin_wait: spin on a shared flag; yield_heavy: spin
-- and sched_yield(); pipe_pingpong: pairs waking each other through pipes
-- (wake latency; even worker counts); futex_fanout: a messenger waking the
-- others (schbench-like wakeup and request latency); bursty: timer sleeps
-- between bursts of work (timer latency); mix: a blend of the above.
M.WORK_TYPES = { "cpu_spin", "spin_wait", "yield_heavy", "pipe_pingpong",
                 "futex_fanout", "bursty", "mix" }

--- The name of the kernel's built-in scheduler.
M.BUILTIN_SCHEDULER = "eevdf"

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
  for k in pairs(v) do
    if not (is_int(k) and k >= 1 and k <= #v) then
      return ctx:fail(field, "expected a list, found key '" ..
                      tostring(k) .. "'")
    end
  end
  return out
end

--- Topology from {numa=, llcs=, cores=, threads=} or "1n2l2c1t".
-- `llcs` counts last-level caches in total (spread evenly over the NUMA
-- nodes), `cores` are per LLC and `threads` per core, so the VM has
-- llcs * cores * threads vCPUs.
function M.parse_topology(v)
  if type(v) == "string" then
    local n, l, c, t = v:match("^(%d+)n(%d+)l(%d+)c(%d+)t$")
    if not n then
      return nil, "expected a topology like \"1n2l2c1t\" (NUMA nodes, " ..
                  "LLCs per node, cores per LLC, threads per core), got \"" ..
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
    return nil, "more than 64 vCPUs"
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
      if type(x) ~= "string" or not x:match("^[%w_%.%-/]+=.*$") then
        return ctx:fail(field, "item " .. k .. " must be \"name=value\"")
      end
      entry = x
    elseif type(k) == "string" and k:match("^[%w_%.%-/]+$") then
      if type(x) ~= "string" and type(x) ~= "number" then
        return ctx:fail(field, "'" .. k .. "' must be a string or number")
      end
      entry = k .. "=" .. tostring(x)
    else
      return ctx:fail(field, "bad sysctl name '" .. tostring(k) .. "'")
    end
    out[#out + 1] = entry:match("^sysctl%.") and entry or ("sysctl." .. entry)
  end
  table.sort(out)
  return out
end

local function positive_number(v, ctx, field)
  if type(v) ~= "number" or v ~= v or v <= 0 or v == math.huge then
    return ctx:fail(field, "expected a positive number of seconds")
  end
  return v
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
                    "and '-', starting with a letter")
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

local function cpuset(v, ctx, field)
  if is_int(v) then v = tostring(v) end
  if type(v) == "table" then
    local parts = {}
    for i, c in ipairs(v) do
      if not is_int(c) or c < 0 then
        return ctx:fail(field, "item " .. i .. " must be a CPU number")
      end
      parts[i] = tostring(c)
    end
    v = table.concat(parts, ",")
  end
  if type(v) ~= "string" or not v:match("^%d+[%d,%-]*$") then
    return ctx:fail(field, "expected a CPU list like \"0-1,3\" or {0, 1}")
  end
  return v
end

local CGROUP_FIELDS = { "name", "workers", "work", "cpuset", "weight",
                        "fanout" }

local function cgroups(v, ctx, field)
  if type(v) ~= "table" or #v == 0 then
    return ctx:fail(field, "expected a non-empty list of cgroups")
  end
  local out, seen = {}, {}
  for i, cg in ipairs(v) do
    local f = field .. "[" .. i .. "]"
    if type(cg) ~= "table" then return ctx:fail(f, "expected a table") end
    local c = {}
    for k in pairs(cg) do
      if type(k) ~= "string" or not ({ name = 1, workers = 1, work = 1,
          cpuset = 1, weight = 1, fanout = 1 })[k] then
        ctx:unknown(f, k, CGROUP_FIELDS)
      end
    end
    c.name = cg.name == nil and ("cg" .. (i - 1))
             or name_string(cg.name, ctx, f .. ".name")
    if seen[c.name] then
      ctx:fail(f .. ".name", "duplicate cgroup name '" .. c.name .. "'")
    end
    seen[c.name] = true
    local w = cg.workers == nil and 1 or cg.workers
    if not is_int(w) or w < 1 or w > 256 then
      ctx:fail(f .. ".workers", "expected a whole number from 1 to 256")
    end
    c.workers = w
    local work = cg.work or "cpu_spin"
    local known = false
    for _, wt in ipairs(M.WORK_TYPES) do if wt == work then known = true end end
    if not known then
      local near = type(work) == "string" and M.suggest(work, M.WORK_TYPES)
      ctx:fail(f .. ".work", "unknown work type '" .. tostring(work) ..
               "' (expected one of " .. table.concat(M.WORK_TYPES, ", ") ..
               ")" .. (near and (" — did you mean '" .. near .. "'?") or ""))
    end
    c.work = work
    if cg.cpuset ~= nil then c.cpuset = cpuset(cg.cpuset, ctx, f .. ".cpuset") end
    if cg.weight ~= nil then
      if not is_int(cg.weight) or cg.weight < 1 or cg.weight > 10000 then
        ctx:fail(f .. ".weight", "expected a cgroup weight from 1 to 10000")
      end
      c.weight = cg.weight
    end
    if cg.fanout ~= nil then
      if not is_int(cg.fanout) or cg.fanout < 1 or cg.fanout > 256 then
        ctx:fail(f .. ".fanout", "expected the number of workers one " ..
                 "futex_fanout messenger wakes (1 to 256)")
      end
      c.fanout = cg.fanout
    end
    if c.work == "pipe_pingpong" and c.workers % 2 == 1 then
      ctx:fail(f .. ".workers", "pipe_pingpong pairs workers: use an " ..
               "even number")
    end
    out[i] = c
  end
  return out
end

local STEP_FIELDS = { "duration", "scheduler", "label", "sysctls",
                      "writes", "cpusets", "weights" }

local function steps(v, ctx, field)
  if type(v) ~= "table" then return ctx:fail(field, "expected a list") end
  local out = {}
  for i, st in ipairs(v) do
    local f = field .. "[" .. i .. "]"
    if type(st) ~= "table" then return ctx:fail(f, "expected a table") end
    for k in pairs(st) do
      if type(k) ~= "string" or not ({ duration = 1, scheduler = 1, label = 1,
          sysctls = 1, writes = 1, cpusets = 1, weights = 1 })[k] then
        ctx:unknown(f, k, STEP_FIELDS)
      end
    end
    local s = { duration = positive_number(st.duration, ctx,
                                           f .. ".duration") }
    if st.scheduler ~= nil then
      s.scheduler = name_string(st.scheduler, ctx, f .. ".scheduler")
    end
    s.label = st.label == nil and (i == 1 and "BASELINE" or
                                   ("Step[" .. (i - 1) .. "]"))
              or tostring(st.label)
    if st.sysctls ~= nil then s.sysctls = sysctls(st.sysctls, ctx,
                                                  f .. ".sysctls") end
    if st.writes ~= nil then s.writes = M.writes(st.writes, ctx,
                                                 f .. ".writes") end
    if st.cpusets ~= nil then
      if type(st.cpusets) ~= "table" then
        ctx:fail(f .. ".cpusets", "expected { cgroup = \"cpus\" }")
      else
        s.cpusets = {}
        for cg, cpus in pairs(st.cpusets) do
          s.cpusets[cg] = cpuset(cpus, ctx, f .. ".cpusets." .. tostring(cg))
        end
      end
    end
    if st.weights ~= nil then
      if type(st.weights) ~= "table" then
        ctx:fail(f .. ".weights", "expected { cgroup = weight }")
      else
        s.weights = {}
        for cg, w in pairs(st.weights) do
          if not is_int(w) or w < 1 or w > 10000 then
            ctx:fail(f .. ".weights." .. tostring(cg),
                     "expected a cgroup weight from 1 to 10000")
          end
          s.weights[cg] = w
        end
      end
    end
    out[i] = s
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
      if a[k] ~= nil and (type(a[k]) ~= "number" or a[k] < 0) then
        ctx:fail(f .. "." .. k, "expected a non-negative number")
      end
    end
    if a.phase ~= nil and (not is_int(a.phase) or a.phase < 0) then
      ctx:fail(f .. ".phase", "expected a step index (0 = BASELINE)")
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
    return ctx:fail(field, "expected MiB as a whole number, 64 to 16384")
  end
  return v
end

--- Files to write in the guest before the run: { ["/sys/path"] = value }.
function M.writes(v, ctx, field)
  if type(v) ~= "table" then
    return ctx:fail(field, "expected { [\"/sys/...\"] = value }")
  end
  local out = {}
  for path, x in pairs(v) do
    if type(path) ~= "string" or path:sub(1, 1) ~= "/" then
      return ctx:fail(field, "keys must be absolute guest paths, got " ..
                      tostring(path))
    end
    if type(x) ~= "string" and type(x) ~= "number" then
      return ctx:fail(field, "'" .. path .. "' must be a string or number")
    end
    out[path] = tostring(x)
  end
  return out
end

local PARAMS = { "spin_us", "sleep_us", "burst_us", "work_us" }

local function params(v, ctx, field)
  if type(v) ~= "table" then
    return ctx:fail(field, "expected { spin_us=, sleep_us=, burst_us=, " ..
                    "work_us= }")
  end
  local out = {}
  for k, x in pairs(v) do
    local known = false
    for _, p in ipairs(PARAMS) do if p == k then known = true end end
    if not known then
      ctx:unknown(field, k, PARAMS)
    elseif not is_int(x) or x < 0 then
      ctx:fail(field .. "." .. k, "expected microseconds (a whole number)")
    else
      out[k] = x
    end
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
  args = string_list, topology = topology, sysctls = sysctls,
  kargs = string_list, kernels = string_list, sched_ext = boolean,
}

local TEST_SPEC = {
  name = name_string, scheduler = name_string, performance_mode = boolean,
  topology = topology, duration = positive_number, memory_mb = memory,
  cgroups = cgroups, steps = steps, sysctls = sysctls, kargs = string_list,
  perf_delta_assertions = assertions, check = func, timeout = positive_number,
  params = params, sched_features = string_list, writes = M.writes,
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

--- Load and validate a suite file; returns the Suite table or
-- nil, message (every problem, one per line), "EINVAL" / "ENOENT".
--
-- Suite = { file=, root= (its directory), schedulers = {name -> sched},
--           scheduler_list = {...}, tests = { test, ... } in file order,
--           defaults = { clock=, icount_shift= } as declared }
function M.load(path)
  local src, msg, code = fs.read_file(path)
  if not src then return nil, msg, code end
  local abs = fs.realpath(path) or path
  local root = abs:match("^(.*)/[^/]*$") or "."
  local suite = { file = abs, root = root, schedulers = {},
                  scheduler_list = {}, tests = {}, defaults = {} }
  local errors = {}
  local display = path

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
    assert = assert, pcall = pcall, print = print,
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
    suite.tests[#suite.tests + 1] = t
    return t
  end
  env._G = env

  local chunk, err = load(src, "@" .. display, "t", env)
  if not chunk then return nil, err, "EINVAL" end
  local ok, run_err = pcall(chunk)
  if not ok then return nil, tostring(run_err), "EINVAL" end

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
    t.duration = t.duration or 2
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
    for _, cg in ipairs(t.cgroups or {}) do
      for _, cpu in ipairs(M.cpu_list(cg.cpuset or "")) do
        if cpu >= t.vcpus then
          errors[#errors + 1] = string.format("%s:%d: test '%s': field " ..
            "'cgroups': cpuset of '%s' names CPU %d but the topology has " ..
            "%d vCPUs (0-%d)", display, t.line, t.name, cg.name, cpu,
            t.vcpus, t.vcpus - 1)
          break
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
