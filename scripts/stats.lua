-- Inspect the sidecar pool: runs, dimension values, metrics, host context.
--
--   schedtest stats [--run ID] [--dir D] [--json]  the newest run analysed
--   schedtest stats list                       runs, newest first
--   schedtest stats list-values [--json] [--dir D]
--   schedtest stats list-metrics [--json]
--   schedtest stats show-host --run ID [--dir D]
--   schedtest stats explain-sidecar --run ID [--dir D] [--json]
--   schedtest stats errors [--dir D] [--json]   files that failed to load
local usage = require "schedtest.usage"
local pool = require "schedtest.pool"
local sidecar = require "schedtest.sidecar"
local registry = require "schedtest.registry"
local runstats = require "schedtest.runstats"
local fs = require "schedtest.fs"

local args = { ... }
local io, string, table = io, string, table

-- Dimensions list-values reports (spec §3.4 / §4), in that order.
local VALUE_DIMS = { "kernel", "commit", "kernel_commit", "source",
                     "resolve_source", "cpu_budget", "scheduler", "topology",
                     "work_type" }

local function runs_root(dir)
  if dir then return dir end
  local root, msg = sidecar.runs_root()
  if not root then usage.error("stats: cannot find the runs root: %s", msg) end
  return root
end

-- Open a pool; a missing pool is an environment error (exit 2).  Prints the
-- one summary warning about files that failed to load.
local function open_pool(dir, quiet)
  local P, msg, code = pool.open(dir)
  if not P then
    io.stderr:write("schedtest stats: ", msg, "\n")
    if code == "ENOENT" then
      io.stderr:write("  (no sidecars yet: run tests first, or pass --dir)\n")
    end
    return nil
  end
  local bad = #P:errors()
  if bad > 0 and not quiet then
    io.stderr:write(string.format("warning: %d sidecar file(s) under %s failed "
      .. "to load and were skipped (details: schedtest stats errors --dir %s)\n",
      bad, dir, dir))
  end
  return P
end

local function print_table(header, rows)
  local w = {}
  for i, h in ipairs(header) do w[i] = #h end
  for _, r in ipairs(rows) do
    for i, c in ipairs(r) do w[i] = math.max(w[i], utf8.len(c) or #c) end
  end
  local function line(cells)
    local out = {}
    for i, c in ipairs(cells) do
      local pad = w[i] - (utf8.len(c) or #c)
      out[i] = i < #cells and c .. string.rep(" ", pad) or c
    end
    io.write(table.concat(out, "  "), "\n")
  end
  line(header)
  for _, r in ipairs(rows) do line(r) end
end

local sub = {}

-- Run directories of pool P under root, newest directory mtime first
-- (spec §1.1), each {run, tests, date, arch, mtime}.
local function runs_newest_first(P, root)
  local runs = {}
  for _, g in ipairs(P:group_by("run_dir")) do
    local first = g.view:get(1)
    local date
    for _, ts in ipairs((g.view:values("timestamp"))) do
      if not date or ts < date then date = ts end
    end
    local st = fs.stat(root .. "/" .. g.key.run_dir)
    runs[#runs + 1] = { run = g.key.run_dir, tests = #g.view,
                        date = date or "-", arch = first.arch or "-",
                        mtime = st and st.mtime or 0 }
  end
  table.sort(runs, function(a, b)
    if a.mtime ~= b.mtime then return a.mtime > b.mtime end
    return a.run < b.run
  end)
  return runs
end

-- Bare `schedtest stats`: one run analysed against the rest of the pool.
local function summary(argv)
  local p = usage.parser { prog = "schedtest stats",
    summary = "Analyse one run directory: every test's result and key "
      .. "metrics, why failures failed, metrics unusual against other "
      .. "runs of the same test in the pool, and BPF verifier and KVM "
      .. "statistics.",
    description = "The run is --run ID, else $SCHEDTEST_SIDECAR_DIR (or "
      .. "$KTSTR_SIDECAR_DIR) when set, else the newest run directory of "
      .. "the runs root.  Exits 0 once a run is found, whatever its "
      .. "results (perf-delta is the gate); 2 when there is none.  "
      .. "'schedtest stats help' lists the other commands." }
  p:option { "--run", metavar = "ID", help = "run directory name (see "
    .. "'schedtest stats list')" }
  p:option { "--dir", metavar = "DIR", help = "runs root (default: the "
    .. "runs root)" }
  p:flag { "--json", help = "print the analysis as JSON" }
  local o = p:parse(argv)
  if not o then return 0 end
  local env_dir = sidecar.dir_override()
  local root, run
  if not o.run and not o.dir and env_dir then
    root = env_dir:gsub("(.)/+$", "%1")
    run = root:match("([^/]+)$")
  else
    root = runs_root(o.dir)
  end
  local P = open_pool(root)
  if not P then return 2 end
  if o.run then
    run = o.run
    if #P:filter { run_dir = run } == 0 then
      io.stderr:write("schedtest stats: run ", run, " has no sidecars under ",
                      root, " (see 'schedtest stats list')\n")
      return 2
    end
  elseif not run then
    local runs = runs_newest_first(P, root)
    if #runs == 0 then
      io.stderr:write("schedtest stats: no sidecars under ", root,
                      " (run tests first, or pass --dir)\n")
      return 2
    end
    run = runs[1].run
  end
  local r = runstats.analyse(P, run)
  if o.json then
    io.write(sidecar.to_json(r), "\n")
  else
    io.write(runstats.text(r))
  end
  return 0
end

function sub.list(argv)
  local p = usage.parser { prog = "schedtest stats list",
    summary = "List the run directories of the pool, newest first: RUN, "
      .. "number of TESTS, DATE (earliest sidecar timestamp), ARCH." }
  p:option { "--dir", metavar = "DIR", help = "runs root to read "
    .. "(default: the runs root)" }
  p:flag { "--json", help = "print JSON" }
  local o = p:parse(argv)
  if not o then return 0 end
  local root = runs_root(o.dir)
  local P = open_pool(root)
  if not P then return 2 end
  local runs = runs_newest_first(P, root)
  if o.json then
    for _, r in ipairs(runs) do r.mtime = nil end
    io.write(sidecar.to_json(sidecar.array(runs)), "\n")
    return 0
  end
  local rows = {}
  for _, r in ipairs(runs) do
    rows[#rows + 1] = { r.run, tostring(r.tests), r.date, r.arch }
  end
  print_table({ "RUN", "TESTS", "DATE", "ARCH" }, rows)
  return 0
end

sub["list-values"] = function(argv)
  local p = usage.parser { prog = "schedtest stats list-values",
    summary = "Distinct values of every dimension in the pool (what "
      .. "filters such as --kernel or --commit can select).",
    description = "In --json output each dimension maps to an array; null "
      .. "means some sidecars did not record it.  'commit' is the "
      .. "sidecar's project_commit and 'source' its run_source." }
  p:flag { "--json", help = "print a JSON object of arrays" }
  p:option { "--dir", metavar = "DIR", help = "pool directory (a runs root "
    .. "or one run directory; default: the runs root)" }
  local o = p:parse(argv)
  if not o then return 0 end
  local P = open_pool(runs_root(o.dir))
  if not P then return 2 end
  local out = {}
  for _, d in ipairs(VALUE_DIMS) do
    local vals, unrecorded = P:values(d)
    local list = sidecar.array(vals)
    if unrecorded then list[#list + 1] = sidecar.null end
    out[d] = list
  end
  if o.json then
    io.write(sidecar.to_json(out), "\n")
    return 0
  end
  for _, d in ipairs(VALUE_DIMS) do
    local shown = {}
    for i, v in ipairs(out[d]) do
      shown[i] = v == sidecar.null and "(not recorded)" or tostring(v)
    end
    io.write(string.format("%-16s %s\n", d .. ":",
                           #shown > 0 and table.concat(shown, ", ") or "-"))
  end
  return 0
end

local POLARITY_WORD = { LowerBetter = "lower", HigherBetter = "higher",
                        Informational = "info", Unknown = "unknown" }

local function num(v)
  if math.type(v) == "float" and v == math.floor(v) and math.abs(v) < 1e15 then
    return string.format("%d", v)
  end
  return tostring(v)
end

sub["list-metrics"] = function(argv)
  local p = usage.parser { prog = "schedtest stats list-metrics",
    summary = "The metric registry: name, polarity (lower/higher is "
      .. "better, info), default absolute and relative gates, unit." }
  p:flag { "--json", help = "dump the whole registry as JSON" }
  local o = p:parse(argv)
  if not o then return 0 end
  if o.json then
    io.write(sidecar.to_json(sidecar.array(table.move(registry.metrics, 1, #registry.metrics, 1, {}))), "\n")
    return 0
  end
  local rows = {}
  for _, m in ipairs(registry.metrics) do
    rows[#rows + 1] = { m.name, POLARITY_WORD[m.polarity] or m.polarity,
                        num(m.abs), num(m.rel), m.unit ~= "" and m.unit or "-" }
  end
  print_table({ "NAME", "POLARITY", "DEFAULT_ABS", "DEFAULT_REL", "UNIT" },
              rows)
  return 0
end

-- The pool of one run directory; nil after an error message.
local function run_pool(o)
  local dir = runs_root(o.dir) .. "/" .. o.run
  local st = fs.stat(dir)
  if not st or st.type ~= "directory" then
    io.stderr:write("schedtest stats: no run directory ", dir,
                    " (see 'schedtest stats list')\n")
    return nil
  end
  return open_pool(dir, o.quiet), dir
end

local function flatten(t, prefix, out)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local v = t[k]
    local name = prefix and prefix .. "." .. k or k
    if type(v) == "table" then
      if next(v) == nil then out[#out + 1] = { name, "{}" }
      else flatten(v, name, out) end
    else
      out[#out + 1] = { name, tostring(v) }
    end
  end
  return out
end

sub["show-host"] = function(argv)
  local p = usage.parser { prog = "schedtest stats show-host",
    summary = "Host context of a run: the first sidecar of the run that "
      .. "recorded one (CPU, memory, tunables, kernel, VM accelerator)." }
  p:option { "--run", metavar = "ID", help = "run directory name "
    .. "(see 'schedtest stats list')" }
  p:option { "--dir", metavar = "DIR", help = "runs root (default: the "
    .. "runs root)" }
  p:flag { "--json", help = "print the host object as JSON" }
  local o = p:parse(argv)
  if not o then return 0 end
  if not o.run then usage.error("schedtest stats show-host: --run ID is "
                                .. "required (see 'schedtest stats list')") end
  local P = run_pool(o)
  if not P then return 2 end
  for i = 1, #P do
    local sc = P:row(i)
    if sc and type(sc.host) == "table" then
      if o.json then
        io.write(sidecar.to_json(sc.host), "\n")
      else
        io.write("run: ", o.run, "\nsidecar: ", P:get(i).path, "\n")
        for _, kv in ipairs(flatten(sc.host, nil, {})) do
          io.write(string.format("  %s: %s\n", kv[1], kv[2]))
        end
      end
      return 0
    end
  end
  io.stderr:write("schedtest stats: no sidecar in run ", o.run,
                  " has a host context\n")
  return 1
end

-- Option fields of a sidecar, whether null is expected, and the fix.
local OPTION_FIELDS = {
  { "scheduler_commit", "expected", nil },
  { "resolve_source", "actionable", "declare the scheduler binary in "
    .. "schedtest.lua (or run under the eevdf default)" },
  { "project_commit", "actionable", "run inside a git repository, or set "
    .. "SCHEDTEST_PROJECT_COMMIT" },
  { "payload", "expected", nil },
  { "monitor", "actionable", "the host monitor produced nothing: check the "
    .. "VM reached the scenario (schedtest run -v)" },
  { "kvm_stats", "expected", nil },
  { "kernel_version", "actionable", "pass --kernel with a versioned kernel "
    .. "(cache name, source tree or bzImage with a version)" },
  { "kernel_commit", "expected", nil },
  { "host", "actionable", "the writer could not read /proc and /sys on the "
    .. "host" },
  { "cleanup_duration_ms", "expected", nil },
  { "run_source", "actionable", "set SCHEDTEST_CI=1 in CI, or rewrite the "
    .. "sidecar with a newer schedtest" },
}

sub["explain-sidecar"] = function(argv)
  local p = usage.parser { prog = "schedtest stats explain-sidecar",
    summary = "For every sidecar of a run, the optional fields that are "
      .. "null, each classified 'expected' or 'actionable' with a fix.",
    description = "Always exits 0 once the run is found." }
  p:option { "--run", metavar = "ID", help = "run directory name" }
  p:option { "--dir", metavar = "DIR", help = "runs root (default: the "
    .. "runs root)" }
  p:flag { "--json", help = "print JSON ({_schema_version, _walk, fields})" }
  local o = p:parse(argv)
  if not o then return 0 end
  if not o.run then usage.error("schedtest stats explain-sidecar: --run ID "
                                .. "is required") end
  o.quiet = true
  local P = run_pool(o)
  if not P then return 2 end
  local walk = P:walk()
  local fields = {}
  for i = 1, #P do
    local sc = P:row(i)
    local none = sidecar.array()
    if sc then
      for _, f in ipairs(OPTION_FIELDS) do
        if sc[f[1]] == nil then
          none[#none + 1] = { field = f[1], class = f[2], fix = f[3] }
        end
      end
    end
    fields[#fields + 1] = { path = P:get(i).path,
                            test = sc and sc.test_name or nil, none = none }
  end
  if o.json then
    io.write(sidecar.to_json { _schema_version = "1", _walk = walk,
                               fields = sidecar.array(fields) }, "\n")
    return 0
  end
  io.write(string.format("walked %d sidecar file(s), parsed %d valid\n",
                         walk.walked, walk.valid))
  for _, e in ipairs(P:errors()) do
    io.write(string.format("  invalid: %s%s: %s\n", e.path,
      e.offset and (" (byte " .. e.offset .. ")") or "", e.reason))
  end
  for _, f in ipairs(fields) do
    io.write(f.test or "?", "  ", f.path, "\n")
    if #f.none == 0 then io.write("  every optional field is set\n") end
    for _, n in ipairs(f.none) do
      io.write(string.format("  %-20s None (%s)%s\n", n.field, n.class,
                             n.fix and ("\n    fix: " .. n.fix) or ""))
    end
  end
  return 0
end

function sub.errors(argv)
  local p = usage.parser { prog = "schedtest stats errors",
    summary = "Sidecar files that failed to load: path, byte offset and "
      .. "reason.  Exits 1 when there are any." }
  p:option { "--dir", metavar = "DIR", help = "pool directory (default: the "
    .. "runs root)" }
  p:flag { "--json", help = "print JSON" }
  local o = p:parse(argv)
  if not o then return 0 end
  local P = open_pool(runs_root(o.dir), true)
  if not P then return 2 end
  local errs = P:errors()
  if o.json then
    io.write(sidecar.to_json(sidecar.array(errs)), "\n")
  else
    for _, e in ipairs(errs) do
      io.write(string.format("%s:%s %s [%s]\n", e.path,
        e.offset and (" byte " .. e.offset .. ":") or "", e.reason, e.code))
    end
    local w = P:walk()
    io.write(string.format("%d of %d sidecar file(s) failed to load\n",
                           #errs, w.walked))
  end
  return #errs > 0 and 1 or 0
end

local ORDER = { "list", "list-values", "list-metrics", "show-host",
                "explain-sidecar", "errors" }

local function help()
  io.write("usage: schedtest stats [--run ID] [--dir DIR] [--json]\n",
           "       schedtest stats COMMAND [OPTIONS]\n\n",
           "Inspect the sidecar pool.  Without a command: analyse the newest ",
           "run\n(see 'schedtest stats --run ID --help').\n\ncommands:\n")
  local text = {
    list = "runs in the pool, newest first (RUN TESTS DATE ARCH)",
    ["list-values"] = "distinct values of every dimension",
    ["list-metrics"] = "the metric registry",
    ["show-host"] = "host context of a run",
    ["explain-sidecar"] = "null optional fields of a run's sidecars",
    errors = "files that failed to load",
  }
  for _, n in ipairs(ORDER) do
    io.write(string.format("  %-16s %s\n", n, text[n]))
  end
  io.write("\n'schedtest stats COMMAND --help' shows a command's options.\n")
end

local cmd = args[1]
if cmd == "-h" or cmd == "--help" or cmd == "help" then
  help()
  return 0
end
if cmd == nil or cmd:sub(1, 1) == "-" then return summary(args) end
local f = sub[cmd]
if not f then
  usage.error("schedtest stats: unknown command '%s' (one of: %s)", cmd,
              table.concat(ORDER, ", "))
end
return f(table.move(args, 2, #args, 1, {}))
