-- schedtest.perfdelta: the perf-delta workflow behind scripts/perf-delta.lua
-- (ktstr-spec.md §3).  Every step is a plain function so a user script can
-- reuse the pieces: resolve the sides, produce runs, compare, report.

local fs = require "schedtest.fs"
local host = require "schedtest.host"
local proc = require "schedtest.proc"
local usage = require "schedtest.usage"
local testsummary = require "schedtest.testsummary"

local string, table, math, os, io = string, table, math, os, io
local ipairs, pairs, type, tostring, require, assert, pcall, error =
  ipairs, pairs, type, tostring, require, assert, pcall, error

local M = {}

-- (Signals exit 128 + n through the host: 130 SIGINT, 143 SIGTERM,
-- 129 SIGHUP.)
M.EXIT = { pass = 0, gate = 1, error = 2, interrupted = 130 }

local function say(fmt, ...)
  io.stdout:flush() -- keep the report and the notes in order on a terminal
  io.stderr:write(string.format(fmt, ...), "\n")
  io.stderr:flush()
end

--- An environment error: message on stderr, exit status 2.
local function env_error(msg)
  say("perf-delta: %s", msg)
  return M.EXIT.error
end

-- {==================================================================
-- Flag validation (before anything runs)
-- ===================================================================

--- `--noise-adjust`: "N" (N >= 2) gives N, nil; "auto" or "auto:MAX"
-- (MAX >= 5, default 20) gives nil, MAX.  Anything else gives nil.
function M.parse_noise_adjust(spec)
  spec = tostring(spec)
  local n = spec:match("^%d+$") and tonumber(spec)
  if n then return n >= 2 and n or nil, nil end
  if spec == "auto" then return false, 20 end
  local max = tonumber(spec:match("^auto:(%d+)$") or "")
  if max and max >= 5 then return false, max end
  return nil
end

--- Check flag combinations that would otherwise be silently ignored.
function M.validate(opts)
  local noise = opts.noise_adjust ~= nil
  if noise and not opts.kernel then
    usage.error("schedtest perf-delta: --noise-adjust needs --kernel " ..
                "(the kernel both sides' runs boot)")
  end
  if noise and opts.averaged then
    usage.error("schedtest perf-delta: --averaged would be ignored with " ..
                "--noise-adjust (noise mode always judges from the spread)")
  end
  if not noise then
    for flag, v in pairs({ ["--noise-spread-threshold"] =
                             opts.noise_spread_threshold,
                           ["--kernel"] = opts.kernel,
                           ["--jobs"] = opts.jobs,
                           ["--relevant"] = opts.relevant or nil,
                           ["-E/--filter"] = opts.filter,
                           ["--clock"] = opts.clock,
                           ["--seed"] = opts.seed,
                           ["-- ARGS"] = opts["--"] }) do
      if v ~= nil then
        usage.error("schedtest perf-delta: %s would be ignored without " ..
                    "--noise-adjust (cached mode runs no tests)", flag)
      end
    end
  end
  if opts.base and opts.base_ref then
    usage.error("schedtest perf-delta: --base and --base-ref are exclusive")
  end
  -- each round's clock and seed are perf-delta's to choose: the sides of
  -- a round must share them
  for _, a in ipairs(opts["--"] or {}) do
    local flag = a:match("^(%-%-[%w-]+)")
    if flag == "--clock" or flag == "--seed" then
      usage.error("schedtest perf-delta: give %s to perf-delta itself, " ..
                  "not after --: it chooses each round's %s for both " ..
                  "sides", flag, flag:sub(3))
    end
  end
end

--- Validate --must-fail names against the registry; returns the list.
function M.must_fail_list(spec, noise)
  if not spec then return {} end
  local registry = require "schedtest.registry"
  local list = {}
  for name in spec:gmatch("[^,%s]+") do
    local e = registry.get(name)
    if not e then
      local names = {}
      for _, m in ipairs(registry.metrics) do names[#names + 1] = m.name end
      local near = require("schedtest.suite").suggest(name, names)
      usage.error("schedtest perf-delta: --must-fail: unknown metric " ..
                  "'%s'%s (see 'schedtest stats list-metrics')", name,
                  near and (" — did you mean '" .. near .. "'?") or "")
    end
    if e.suppressed then
      usage.error("schedtest perf-delta: --must-fail: '%s' is a rate " ..
                  "component, never reported on its own; name the rate", name)
    end
    if e.kind == "PerPhase" then
      usage.error("schedtest perf-delta: --must-fail: '%s' is per-phase " ..
                  "only; declare a per-test gate with a phase instead", name)
    end
    if not noise and (e.kind == "PerRunDistribution" or
                      e.polarity == "Informational") then
      usage.error("schedtest perf-delta: --must-fail: '%s' can only " ..
                  "regress under --noise-adjust", name)
    end
    list[#list + 1] = name
  end
  return list
end
-- }==================================================================

-- {==================================================================
-- Sides
-- ===================================================================

--- Open the repository and resolve both sides.  Returns ctx or nil, msg.
function M.resolve_sides(opts)
  local git = require "schedtest.git"
  local repo, msg = git.open(fs.cwd() or ".")
  if not repo then return nil, msg end
  local base, why = repo:resolve_baseline{
    base = opts.base, base_ref = opts.base_ref,
    default_branch = opts.default_branch }
  if not base then repo:close(); return nil, why end
  return { repo = repo, base = base, head_label = base.head_label,
           root = (repo:workdir() or "."):gsub("/$", "") }
end

function M.runs_root(opts, ctx)
  if opts.runs_root then return opts.runs_root end
  return require("schedtest.sidecar").runs_root(ctx.root)
end

-- Host-context keys worth showing when they differ between the sides.
local HOST_KEYS = { "accelerator", "clock", "icount_shift", "qemu_version",
                    "guest_kernel",
                    "cpu_model", "online_cpus", "kernel_release",
                    "total_memory_kb", "vm_vcpus", "vm_memory_mb" }

--- Differences between the first host context of each side.
function M.host_delta(view_a, view_b, label_a, label_b)
  local function first_host(view)
    for i = 1, #view do
      local sc = view:row(i)
      if sc and sc.host then return sc.host end
    end
    return {}
  end
  local ha, hb = first_host(view_a), first_host(view_b)
  local changes = {}
  for _, k in ipairs(HOST_KEYS) do
    local a, b = ha[k], hb[k]
    if a ~= nil and b ~= nil and tostring(a) ~= tostring(b) then
      changes[#changes + 1] = { key = k, a = tostring(a), b = tostring(b) }
    end
  end
  return { a = label_a, b = label_b, changes = changes,
           accelerators = { a = ha.accelerator, b = hb.accelerator } }
end
-- }==================================================================

--- What one sidecar's timings were measured in: "host" (also every
-- sidecar from before clocks were recorded, and ktstr's), or
-- "virtual (icount shift S)".
function M.clock_label(host_ctx)
  local h = type(host_ctx) == "table" and host_ctx or {}
  if h.clock ~= "virtual" then return "host" end
  return string.format("virtual (icount shift %s)",
                       tostring(h.icount_shift or "?"))
end

--- The distinct clock labels of every run in `view`, sorted.
function M.clocks_of(view)
  local seen, list = {}, {}
  for i = 1, #view do
    local sc = view:row(i)
    local label = M.clock_label(sc and sc.host)
    if not seen[label] then
      seen[label] = true
      list[#list + 1] = label
    end
  end
  table.sort(list)
  return list
end

--- Loud warnings when the sides' runs were not all measured with the
-- same clock and shift: such timings differ by construction, not by
-- the code under test.  clocks = { a = labels, b = labels }.
function M.clock_warnings(clocks, label_a, label_b)
  local warnings = {}
  local a, b = table.concat(clocks.a, ", "), table.concat(clocks.b, ", ")
  for _, side in ipairs({ { clocks.a, "BASELINE", label_a },
                          { clocks.b, "HEAD", label_b } }) do
    if #side[1] > 1 then
      warnings[#warnings + 1] = string.format("THE %s RUNS (%s) MIX " ..
        "CLOCKS (%s): their timings are not comparable with each other",
        side[2], side[3], table.concat(side[1], ", "))
    end
  end
  if #clocks.a > 0 and #clocks.b > 0 and a ~= b then
    warnings[#warnings + 1] = string.format("THE SIDES RAN UNDER " ..
      "DIFFERENT CLOCKS (%s: %s, %s: %s): timings are not comparable; " ..
      "rerun both with the same --clock", label_a, a, label_b, b)
  end
  return warnings
end

-- {==================================================================
-- Compare and report
-- ===================================================================

local function color_wanted()
  return host.isatty(1) and (os.getenv("NO_COLOR") or "") == ""
end

--- The comparison of the pool's two sides, without reports.  mode is
-- "scalar" (cached) or "noise"; ctx.sequential (a look of --noise-adjust
-- auto) tests the rows at that look's level.
function M.compare(pool, opts, ctx, mode)
  -- One precedence for every setting: a flag given on the command line
  -- over the policy file over the defaults (compare.settings); a flag not
  -- given is nil so the policy's value stands.  Cached mode ("scalar")
  -- judges keys with two or more runs per side from their spread unless
  -- --averaged or the policy asks for ktstr's averaged comparison.
  return require("schedtest.compare").run{
    rows = pool, a = ctx.base.label, b = ctx.head_label,
    mode = mode == "scalar" and "cached" or mode, averaged = opts.averaged,
    -- noise mode's interleaved rounds pair (a row's `round`, else the
    -- round number of its run directory): the evidence is then paired
    rounds = mode == "noise" and "auto" or nil,
    policy = opts.policy, threshold = opts.threshold,
    fail_threshold = opts.fail_threshold,
    must_fail = opts.must_fail and ctx.must_fail or nil,
    spread_threshold = opts.noise_spread_threshold,
    sequential = ctx.sequential,
  }
end

--- Compare the pool's two sides and write the reports; returns the exit
-- status.  mode is "scalar" (cached) or "noise"; health (schedtest.health)
-- says whether every test ran on both sides: its failures fail the gate.
function M.compare_and_report(pool, opts, ctx, mode, health)
  local report = require "schedtest.report"
  local view_a = pool:filter{ commit = ctx.base.label }
  local view_b = pool:filter{ commit = ctx.head_label }
  local result = M.compare(pool, opts, ctx, mode)
  require("schedtest.health").apply(result, health)
  if ctx.auto then result.notes[#result.notes + 1] = ctx.auto.note end
  result.context = { how = ctx.base.how, base = ctx.base.label,
                     head = ctx.head_label, rounds = ctx.auto,
                     invocation = ctx.invocation and ctx.invocation.dir,
                     sources = ctx.sources }
  result.host_delta = M.host_delta(view_a, view_b, ctx.base.label,
                                   ctx.head_label)
  local acc = result.host_delta.accelerators
  local loud = M.clock_warnings({ a = M.clocks_of(view_a),
                                  b = M.clocks_of(view_b) },
                                ctx.base.label, ctx.head_label)
  if acc.a and acc.b and acc.a ~= acc.b then
    table.insert(loud, 1, string.format("THE SIDES RAN UNDER " ..
      "DIFFERENT VM ACCELERATORS (%s: %s, %s: %s): timings are not " ..
      "comparable", ctx.base.label, acc.a, ctx.head_label, acc.b))
  end
  for i = #loud, 1, -1 do table.insert(result.warnings, 1, loud[i]) end
  -- Without --output, stdout gets the chosen format alone (so --format
  -- json pipes cleanly); with --output, the file gets it and the terminal
  -- still gets the text report.
  local function render(format, color)
    return assert(report.render(result, format,
                                { all_metrics = opts.all_metrics,
                                  color = color }))
  end
  local text = render("text", color_wanted())
  if opts.output then
    io.stdout:write(text)
    local ok, msg = fs.write_atomic(opts.output, render(opts.format, false))
    if not ok then return env_error("cannot write --output: " .. msg) end
    say("perf-delta: wrote the %s report to %s", opts.format, opts.output)
  else
    io.stdout:write(opts.format == "text" and text
                    or render(opts.format, false))
  end
  if opts.html then
    local ok, msg = fs.write_atomic(opts.html, render("html", false))
    if not ok then return env_error("cannot write --html: " .. msg) end
    say("perf-delta: wrote the HTML report to %s", opts.html)
  end
  ctx.result = result
  return result.exit_code
end

--- The commits a pool holds, for an empty-side error.
local function pool_commits(pool)
  local values = pool:values("commit")
  local out = {}
  for _, v in ipairs(values) do out[#out + 1] = tostring(v) end
  return out
end

local function open_pool(root)
  local pool_mod = require "schedtest.pool"
  local pool, msg, code = pool_mod.open(root)
  if not pool then return nil, msg, code end
  local errs = pool:errors()
  if #errs > 0 then
    say("perf-delta: warning: %d sidecar file(s) under %s could not be " ..
        "read and were skipped (see 'schedtest stats explain-sidecar')",
        #errs, root)
  end
  return pool
end
-- }==================================================================

-- {==================================================================
-- Cached mode
-- ===================================================================

function M.cached(opts, ctx)
  local root = M.runs_root(opts, ctx)
  local pool, msg = open_pool(root)
  if not pool then return env_error(msg) end
  for _, side in ipairs({ { ctx.base.label, "baseline" },
                          { ctx.head_label, "HEAD" } }) do
    if #pool:filter{ commit = side[1] } == 0 then
      local commits = pool_commits(pool)
      local hint = ""
      for _, c in ipairs(commits) do
        if c == side[1] .. "-dirty" then
          hint = string.format(" — did you mean '%s-dirty'? (that run " ..
                               "had uncommitted changes)", side[1])
        end
      end
      return env_error(string.format("no sidecars for the %s commit %s " ..
        "under %s; the pool holds: %s%s (see 'schedtest stats " ..
        "list-values')", side[2], side[1], root,
        #commits > 0 and table.concat(commits, ", ") or "nothing", hint))
    end
  end
  ctx.sources = M.sources(pool, ctx)
  for _, src in ipairs(ctx.sources) do
    if src.label:match("%-dirty$") and #src.from > 1 then
      say("perf-delta: warning: the runs labelled %s come from %d " ..
          "different run directories; uncommitted edits all share that " ..
          "label, so they may measure different code", src.label,
          #src.from)
    end
  end
  local labels = { a = ctx.base.label, b = ctx.head_label }
  local records = require("schedtest.health").records_of_rows(pool,
    function(row)
      return row.commit == labels.a and "a" or
             row.commit == labels.b and "b" or nil
    end)
  local health = require("schedtest.health").assess(records, {
    min_runs = opts.min_runs,
    labels = { a = "baseline " .. labels.a, b = "HEAD " .. labels.b } })
  return M.compare_and_report(pool, opts, ctx, "scalar", health)
end

--- Where each side's runs come from: per label, the run directories
-- (a `schedtest test` run dir, or one perf-delta invocation) and how many
-- runs each gave.  Cached mode states this so a user sees what was pooled.
function M.sources(pool, ctx)
  local out = {}
  for _, label in ipairs({ ctx.base.label, ctx.head_label }) do
    local counts, order = {}, {}
    for row in pool:filter{ commit = label }:rows() do
      local dir = row.run_dir or "?"
      if not counts[dir] then order[#order + 1] = dir; counts[dir] = 0 end
      counts[dir] = counts[dir] + 1
    end
    table.sort(order)
    local from = {}
    for _, dir in ipairs(order) do
      from[#from + 1] = { dir = dir, runs = counts[dir] }
    end
    out[#out + 1] = { label = label, from = from }
  end
  return out
end
-- }==================================================================

-- {==================================================================
-- Noise mode: produce interleaved runs in plain checkouts
-- ===================================================================

local function fmt_time(s)
  s = math.max(0, math.floor(s + 0.5))
  return string.format("%d:%02d", s // 60, s % 60)
end

-- Progress over the 2N rounds: a live line on a terminal, plain lines
-- otherwise.
local function progress(total)
  local tty = host.isatty(2)
  local started = os.time()
  local done = 0
  local self = {}
  function self.start(what)
    local elapsed = os.time() - started
    local eta = done > 0 and (elapsed / done * (total - done)) or nil
    local line = string.format("[%d/%d] %s  elapsed %s%s", done + 1, total,
      what, fmt_time(elapsed), eta and ("  ETA " .. fmt_time(eta)) or "")
    io.stdout:flush()
    if tty then
      io.stderr:write("\r\27[K", line)
    else
      io.stderr:write(line, "\n")
    end
    io.stderr:flush()
  end
  function self.finish(note)
    done = done + 1
    if tty then io.stderr:write("\r\27[K") end
    if note then io.stderr:write(note, "\n") end
    io.stderr:flush()
  end
  return self
end

--- Tests that base..HEAD (and the work tree) can have changed, as a
-- filter expression, or "none()" when only documentation changed.
function M.relevant_filter(ctx)
  local paths = assert(ctx.repo:changed_paths(ctx.base.commit, "HEAD",
                                              { worktree = true }))
  local code_changed, suite_changed = false, false
  for _, p in ipairs(paths) do
    if p == "schedtest.lua" then
      suite_changed = true
    elseif not (p:match("%.md$") or p:match("^docs/") or
                p:match("%.txt$") or p:match("^LICENSE") or
                p:match("^%.github/")) then
      code_changed = true
    end
  end
  if code_changed then return nil end -- everything is relevant
  if not suite_changed then return "none()" end
  -- Only the suite changed: the tests whose declarations differ.
  local suite = require "schedtest.suite"
  local head = suite.load(ctx.root .. "/schedtest.lua")
  local old_text = ctx.repo:show(ctx.base.commit, "schedtest.lua")
  if not head or not old_text then return nil end
  local tmp = assert(fs.tempdir("perf-delta-suite-"))
  fs.write_atomic(tmp .. "/schedtest.lua", old_text)
  local base = suite.load(tmp .. "/schedtest.lua")
  fs.remove_tree(tmp)
  if not base then return nil end
  local pretty = require "schedtest.pretty"
  local before = {}
  for _, t in ipairs(base.tests) do
    local copy = {}
    for k, v in pairs(t) do if k ~= "line" then copy[k] = v end end
    before[t.name] = pretty.format(copy, { depth = 10, width = 1e9 })
  end
  local names = {}
  for _, t in ipairs(head.tests) do
    local copy = {}
    for k, v in pairs(t) do if k ~= "line" then copy[k] = v end end
    if before[t.name] ~= pretty.format(copy, { depth = 10, width = 1e9 }) then
      names[#names + 1] = "test(=" .. t.name .. ")"
    end
  end
  return #names > 0 and table.concat(names, " | ") or "none()"
end

--- A fresh invocation under the runs root: its own directory (the only
-- place its runs go and the only pool its comparison reads), its logs and
-- an id.  Leaves are {dir}/{base,head}-{label}-{round}.
function M.new_invocation(root)
  local rnd = io.open("/dev/urandom", "rb")
  local bytes = rnd and rnd:read(4) or tostring(os.clock())
  if rnd then rnd:close() end
  local id = os.date("!%Y%m%dT%H%M%SZ") .. "-" ..
             bytes:gsub(".", function(c) return ("%02x"):format(c:byte()) end)
  local dir = root .. "/perf-delta-" .. id
  return { id = id, dir = dir, logs = dir .. "/logs" }
end

-- Each side's suite, evaluated here before any VM boots: a suite that does
-- not load is an environment error with its message on the terminal, and
-- the selected tests say what each side is expected to run (and on which
-- clock).  Returns the tests and their names.
local function side_tests(side, filters)
  local suite_mod = require "schedtest.suite"
  local runner = require "schedtest.runner"
  local path = side.co:path() .. "/schedtest.lua"
  local suite, msg = suite_mod.load(path, { display = "schedtest.lua" })
  if not suite then
    return nil, string.format("%s %s: schedtest.lua does not load: %s",
                              side.what, side.label, msg)
  end
  local tests, ferr = runner.select(suite, filters, true)
  if not tests then return nil, "-E: " .. ferr end
  local names = {}
  for i, t in ipairs(tests) do names[i] = t.name end
  return tests, names
end

-- {==================================================================
-- Seeds and clocks of the rounds
-- ===================================================================

--- A base seed for this invocation: --seed, else a random one.
function M.base_seed(opts)
  if opts.seed then return opts.seed end
  local rnd = io.open("/dev/urandom", "rb")
  local bytes = rnd and rnd:read(4)
  if rnd then rnd:close() end
  if not bytes or #bytes < 4 then return os.time() & 0xFFFFFFFF end
  return (string.unpack("<I4", bytes))
end

--- Round i's seed (i from 0), from the invocation's base seed: both sides
-- of a round get it (common random numbers: sides that run byte-identical
-- code then measure identically; code that differs diverges as another
-- seed would, docs/vm.md "Replay"), every round a different one so the
-- rounds sample the spread.  splitmix64 of base and round, cut to 32 bits.
function M.round_seed(base, i)
  local z = base + 0x9E3779B97F4A7C15 * (i + 1)
  z = (z ~ (z >> 30)) * 0xBF58476D1CE4E5B9
  z = (z ~ (z >> 27)) * 0x94D049BB133111EB
  z = z ~ (z >> 31)
  return z & 0xFFFFFFFF
end

-- The --accel the child rounds run with: from -- ARGS, else auto.
local function passthrough_accel(args)
  for i, a in ipairs(args or {}) do
    if a == "--accel" then return args[i + 1] or "auto" end
    local v = a:match("^%-%-accel=(.+)$")
    if v then return v end
  end
  return "auto"
end

--- The clocks the selected tests of both sides will run on, as the child
-- rounds will decide them (runner.clock_plan): a sorted list, or nil,
-- message when a side asks for a clock that cannot run.
function M.round_clocks(tests_by_side, opts, kernel_path)
  local runner = require "schedtest.runner"
  local how = { clock = opts.clock or "auto",
                accel = passthrough_accel(opts["--"]),
                auto_accel = runner.auto_accel(kernel_path) }
  local seen, list = {}, {}
  for _, tests in ipairs(tests_by_side) do
    local plan, why = runner.clock_plan(tests, how)
    if not plan then return nil, why end
    for _, t in ipairs(tests) do
      local c = plan[t.name].clock
      if not seen[c] then seen[c] = true; list[#list + 1] = c end
    end
  end
  table.sort(list)
  return list
end

--- Whether both sides' round i may run at the same time: every test runs
-- on the virtual clock, which host load cannot move, and the host has a
-- CPU for each side (each icount VM runs on one host thread).  `--jobs 1`
-- asks for one VM at a time, so the sides then take turns.
function M.sides_together(clocks, host_cpus, jobs)
  return #clocks == 1 and clocks[1] == "virtual" and host_cpus >= 2
         and jobs ~= 1
end
-- }==================================================================

-- The argv of one `schedtest test` round.
local function round_argv(kinfo, filters, opts, summary, first, seed)
  local argv = { host.exe, "test", "--kernel", kinfo.path, "--perf-only",
                 "--keep-going", "--json-summary", summary,
                 "--clock", opts.clock or "auto", "--seed", tostring(seed) }
  if not first then argv[#argv + 1] = "--no-build" end
  for _, f in ipairs(filters) do
    argv[#argv + 1] = "-E"
    argv[#argv + 1] = f
  end
  if opts.jobs then
    argv[#argv + 1] = "--jobs"
    argv[#argv + 1] = tostring(opts.jobs)
  end
  if opts["--"] then
    argv[#argv + 1] = "--"
    for _, a in ipairs(opts["--"]) do argv[#argv + 1] = a end
  end
  return argv
end

local function log_tail(path, n)
  local text = fs.read_file(path) or ""
  local lines = {}
  for line in text:gmatch("[^\n]+") do lines[#lines + 1] = line end
  return table.concat(lines, "\n", math.max(1, #lines - n + 1))
end

-- Why a child may have left no result: its directory cannot be written
-- (a full disk also swallows the child's own log).  "" when it can.
local function writable(dir)
  local probe = dir .. "/.write-probe"
  local ok, msg = fs.write_atomic(probe, string.rep("x", 4096))
  os.remove(probe)
  return ok and "" or (" (" .. dir .. " cannot be written: " .. msg .. ")")
end

--- Start one side's round i with `seed`: `schedtest test` in the side's
-- checkout, writing into the round's own leaf.  Returns the round
-- { handle = schedtest.Proc, ... } (close the handle) or nil, message.
function M.start_round(side, i, n, ctx, seed)
  local leaf = string.format("%s/%s-%s-%d", ctx.inv.dir, side.name,
                             side.label, i)
  local ok, msg = fs.mkdir_p(leaf)
  if not ok then return nil, "cannot create the run directory: " .. msg end
  local tag = string.format("%s-%d", side.name, i)
  local log = ctx.inv.logs .. "/" .. tag .. ".log"
  local summary = ctx.inv.logs .. "/" .. tag .. ".json"
  local h, err = proc.start(round_argv(ctx.kinfo, ctx.filters, ctx.opts,
                                       summary, i == 0, seed), {
    cwd = side.co:path(), stdout = log, stderr = "stdout",
    env = { PWD = side.co:path(), SCHEDTEST_PERF_ONLY = "1",
            SCHEDTEST_SIDECAR_DIR = leaf,
            SCHEDTEST_PROJECT_COMMIT = side.label,
            SCHEDTEST_RUNS_ROOT = ctx.inv.dir } })
  if not h then return nil, "cannot start `schedtest test`: " .. err end
  return { handle = h, side = side, i = i, n = n, log = log,
           summary = summary }
end

--- Wait for a started round.  Returns the summary of the child run, or
-- nil, message for anything that is not a test result (the child stopped
-- on an environment error, died): those end perf-delta with exit status 2.
function M.finish_round(round, ctx)
  local r = round.handle:wait()
  round.handle:close()
  if r.interrupted or host.interrupted() then error("interrupted!", 0) end
  local side, log = round.side, round.log
  local where = string.format("%s %s round %d/%d", side.what, side.label,
                              round.i + 1, round.n)
  local doc = testsummary.read(round.summary)
  if doc and doc.error then
    return nil, string.format("%s: %s\n(log: %s)", where,
                              doc.error.message, log)
  end
  if not doc or not r.code or r.code > 1 then
    return nil, string.format("%s: `schedtest test` %s without a result%s;" ..
      " last lines of %s:\n%s", where,
      r.code and ("exited with status " .. r.code)
      or ("died on signal " .. tostring(r.signal)), writable(ctx.inv.logs),
      log, log_tail(log, 15))
  end
  doc.log = log
  return doc
end

--- Run one side's round i to its end (start_round, then finish_round).
function M.run_round(side, i, n, ctx, seed)
  local round, why = M.start_round(side, i, n, ctx, seed)
  if not round then return nil, why end
  local h <close> = round.handle
  return M.finish_round(round, ctx)
end

--- Both sides' round i at the same time; their summaries in side order,
-- or nil, message as soon as one has none (the other is then stopped).
function M.run_round_together(sides, i, n, ctx, seed)
  local ra, why = M.start_round(sides[1], i, n, ctx, seed)
  if not ra then return nil, why end
  local ha <close> = ra.handle
  local rb, why2 = M.start_round(sides[2], i, n, ctx, seed)
  if not rb then return nil, why2 end
  local hb <close> = rb.handle
  local da, ea = M.finish_round(ra, ctx)
  if not da then return nil, ea end
  local db, eb = M.finish_round(rb, ctx)
  if not db then return nil, eb end
  return { da, db }
end

-- Loud, immediate notes about failed tests of a round (the report repeats
-- them; CI logs show them as they happen).
local function round_failures(doc, side, i)
  local lines = {}
  for _, t in ipairs(doc.tests or {}) do
    if t.status == "fail" then
      lines[#lines + 1] = string.format("perf-delta: %s %s round %d: %s " ..
        "FAILED: %s", side.what, side.label, i + 1, t.name,
        (t.reasons or {})[1] or "no reason recorded")
    end
  end
  return #lines > 0 and table.concat(lines, "\n") or nil
end

-- Plain checkouts of both sides, unique to this invocation.
local function checkouts(ctx, inv)
  local git = require "schedtest.git"
  local tmp = os.getenv("TMPDIR")
  tmp = (tmp and tmp ~= "") and tmp or "/tmp"
  local prefix = tmp .. "/schedtest-perf-delta-co-"
  git.sweep(prefix .. "*")
  local head_tree = "HEAD"
  if ctx.repo:is_dirty() or ctx.head_label:match("%-dirty$") then
    local tree, changed = ctx.repo:snapshot()
    if not tree then return nil, changed end
    say("perf-delta: HEAD is dirty; snapshotting %d uncommitted change(s) " ..
        "into the HEAD side", changed)
    head_tree = tree
  end
  local co_base, msg = ctx.repo:checkout(ctx.base.commit, prefix ..
                                         ctx.base.label .. "-" .. inv.id)
  if not co_base then return nil, msg end
  local co_head, msg2 = ctx.repo:checkout(head_tree, prefix ..
                                          ctx.head_label .. "-" .. inv.id)
  if not co_head then co_base:close(); return nil, msg2 end
  return co_base, co_head
end

-- What noise mode is about to do, on stdout: the sides, the tests, how
-- the rounds run, their clock and seeds (the base seed reproduces them).
local function print_plan(ctx, tests, n, kinfo, plan, inv)
  io.stdout:write(string.format("perf-delta: candidate HEAD %s vs baseline " ..
    "%s\n  baseline: %s\n  perf tests: %s\n  runs: %s per side, " ..
    "%s; kernel %s (%s)\n  clock: %s; seeds from base %d, the same " ..
    "for both sides of a round (--seed %d reproduces them)\n" ..
    "  invocation: %s\n", ctx.head_label, ctx.base.label, ctx.base.how,
    #tests > 0 and table.concat(tests, ", ") or "none", n,
    plan.together and "both sides of a round at once" or "interleaved",
    kinfo.version or "?", kinfo.path,
    #plan.clocks > 0 and table.concat(plan.clocks, " and ") or "-",
    plan.base_seed, plan.base_seed, inv.dir))
  io.stdout:flush()
end

-- The health records of one side's round.
local function round_records(records, doc, side, i)
  for _, t in ipairs(doc.tests or {}) do
    records[#records + 1] = { side = side.side, test = t.name,
      status = t.status, reasons = t.reasons, round = i }
  end
end

--- Rounds first..last (0-based) of both sides, their health records
-- appended to `records`: round i gets round_seed(base, i) on both sides,
-- and runs both sides at once when plan.together; otherwise the sides take
-- turns in an order that alternates with the round (baseline first in
-- even rounds, HEAD first in odd ones), so a drift or an order effect
-- within a round falls on both sides alike.  Returns records, or nil,
-- message.
function M.run_rounds(sides, first, last, round_ctx, plan, records, bar)
  local n = last + 1
  for i = first, last do
    local seed = M.round_seed(plan.base_seed, i)
    if plan.together then
      bar.start(string.format("round %d/%d: %s %s and %s %s at once",
        i + 1, n, sides[1].what, sides[1].label, sides[2].what,
        sides[2].label))
      local docs, why = M.run_round_together(sides, i, n, round_ctx, seed)
      if not docs then bar.finish(); return nil, why end
      for k, side in ipairs(sides) do
        bar.finish(round_failures(docs[k], side, i))
        round_records(records, docs[k], side, i)
      end
    else
      local order = i % 2 == 0 and { sides[1], sides[2] }
                    or { sides[2], sides[1] }
      for _, side in ipairs(order) do
        bar.start(string.format("%s %s round %d/%d", side.what, side.label,
                                i + 1, n))
        local doc, why = M.run_round(side, i, n, round_ctx, seed)
        bar.finish(doc and round_failures(doc, side, i))
        if not doc then return nil, why end
        round_records(records, doc, side, i)
      end
    end
  end
  return records
end

-- The health of the rounds so far (n asked per side).
local function assess(records, n, opts, ctx, expected)
  return require("schedtest.health").assess(records, {
    asked = n, min_runs = opts.min_runs, expected = expected,
    labels = { a = "baseline " .. ctx.base.label,
               b = "HEAD " .. ctx.head_label } })
end

--- --noise-adjust auto[:MAX]: rounds in looks (schedtest.sequential),
-- each look compared at its own level, until the gated metrics are
-- decided, the gate fails or MAX runs per side ran.  Returns the records
-- and the runs per side, or nil, message; ctx.sequential and ctx.auto say
-- which look the final comparison is and why the rounds stopped.
function M.run_auto(sides, max, round_ctx, plan, ctx, opts, expected)
  local seq = require "schedtest.sequential"
  local splan = seq.plan{ max = max }
  local records, done, n, previous = {}, 0, splan.looks[1], nil
  local bar = progress(2 * max)
  while true do
    local ok, why = M.run_rounds(sides, done, n - 1, round_ctx, plan,
                                 records, bar)
    if not ok then return nil, why end
    done = n
    local pool, pmsg = open_pool(round_ctx.inv.dir)
    if not pool then return nil, pmsg end
    ctx.sequential = { plan = splan, runs = n, previous = previous }
    local result = M.compare(pool, opts, ctx, "noise")
    require("schedtest.health").apply(result, assess(records, n, opts, ctx,
                                                     expected))
    local d = seq.decide(splan, result)
    say("perf-delta: look %d after %d run(s) per side: %s", d.look, n,
        d.stop and ("stop — " .. d.reason) or
        ("continue to " .. d.next .. " — " .. (d.reason or "")))
    if d.stop then
      ctx.auto = { runs = n, max = max, look = d.look, why = d.reason,
                   note = string.format("--noise-adjust auto: %d run(s) " ..
                     "per side in %d look(s), stopped: %s", n, d.look,
                     d.reason) }
      return records, n
    end
    n, previous = d.next, result
  end
end

function M.noise(opts, ctx)
  local kernel_mod = require "schedtest.kernel"
  local n = opts.noise_adjust or opts.noise_auto
  if opts.min_runs and opts.min_runs > n then
    usage.error("schedtest perf-delta: --min-runs %d is more than the %d " ..
                "runs per side --noise-adjust asks for", opts.min_runs, n)
  end

  -- A relative --kernel means the user's directory, not the checkout's.
  local kinfo, kmsg = kernel_mod.resolve(opts.kernel)
  if not kinfo then return env_error(kmsg) end
  local ready, why = require("schedtest.runner").preflight()
  if not ready then return env_error(why) end

  local filters = {}
  for _, f in ipairs(opts.filter or {}) do filters[#filters + 1] = f end
  if opts.relevant then
    local rel = M.relevant_filter(ctx)
    if rel == "none()" then
      say("perf-delta: nothing relevant changed between %s and HEAD " ..
          "(documentation only) — no tests to run", ctx.base.label)
      return M.EXIT.pass
    elseif rel then
      local joined = #filters > 0 and ("(" .. table.concat(filters, ") | (")
                                       .. ")") or nil
      filters = { joined and ("(" .. rel .. ") & (" .. joined .. ")") or rel }
    end
  end

  -- One perf-delta per runs root at a time: two would write beside each
  -- other and, on the host clock, disturb each other's timings.
  local root = M.runs_root(opts, ctx)
  local lock, lmsg, lcode = fs.lock(root .. "/.locks/perf-delta.lock", {
    note = string.format("schedtest perf-delta since %s in %s",
                         os.date("%Y-%m-%d %H:%M:%S"), ctx.root) })
  if not lock then
    if lcode == "EBUSY" then
      return env_error(string.format("another perf-delta is running on " ..
        "the runs root %s (%s); wait for it to finish", root, lmsg))
    end
    return env_error("cannot lock the runs root: " .. lmsg)
  end
  local held <close> = lock
  -- What killed runs left: VM scratch directories (checkouts are swept
  -- below, by their own locks).
  local swept = fs.sweep_scratch()
  if swept and swept > 0 then
    say("perf-delta: removed %d stale scratch director%s of killed runs",
        swept, swept == 1 and "y" or "ies")
  end
  local inv = M.new_invocation(root)

  local co_base, co_head = checkouts(ctx, inv)
  if not co_base then return env_error(co_head) end
  local cb <close> = co_base
  local ch <close> = co_head
  local sides = {
    { name = "base", label = ctx.base.label, co = co_base, what = "baseline",
      side = "a" },
    { name = "head", label = ctx.head_label, co = co_head, what = "HEAD",
      side = "b" },
  }
  local expected, selected = {}, {}
  for _, side in ipairs(sides) do
    local tests, names = side_tests(side, filters)
    if not tests then return env_error(names) end
    expected[side.side], selected[#selected + 1] = names, tests
  end
  local clocks, cwhy = M.round_clocks(selected, opts, kinfo.path)
  if not clocks then return env_error(cwhy) end
  local plan = { base_seed = M.base_seed(opts), clocks = clocks,
                 together = M.sides_together(clocks,
                   require("schedtest.runner").host_cpus(), opts.jobs) }

  -- Created only now, so an early stop leaves nothing in the runs root.
  local ok, merr = fs.mkdir_p(inv.logs)
  if not ok then return env_error("cannot create " .. inv.dir .. ": " .. merr) end
  print_plan(ctx, expected.a, opts.noise_auto and
             ("auto, up to " .. opts.noise_auto) or tostring(n), kinfo, plan,
             inv)
  if #expected.a == 0 then
    say("perf-delta: the baseline %s has no performance_mode test%s — " ..
        "nothing to compare", ctx.base.label,
        #filters > 0 and " matching the filter" or "")
    return M.EXIT.pass
  end

  local round_ctx = { inv = inv, kinfo = kinfo, filters = filters,
                      opts = opts }
  local records, rwhy
  if opts.noise_auto then
    records, rwhy = M.run_auto(sides, opts.noise_auto, round_ctx, plan, ctx,
                               opts, expected)
    n = rwhy
  else
    records, rwhy = M.run_rounds(sides, 0, n - 1, round_ctx, plan, {},
                                 progress(2 * n))
  end
  if not records then return env_error(rwhy) end
  local health = assess(records, n, opts, ctx, expected)
  local pool, pmsg = open_pool(inv.dir)
  if not pool then return env_error(pmsg) end
  ctx.invocation = inv
  return M.compare_and_report(pool, opts, ctx, "noise", health)
end
-- }==================================================================

--- The whole command: validate, resolve, produce (noise) or not, compare.
function M.main(opts)
  if opts.noise_adjust ~= nil then
    opts.noise_adjust, opts.noise_auto =
      M.parse_noise_adjust(opts.noise_adjust)
  end
  M.validate(opts)
  local noise = opts.noise_adjust ~= nil
  local must_fail = M.must_fail_list(opts.must_fail, noise)
  if opts.policy then
    local ok, perr = pcall(require("schedtest.policy").load, opts.policy)
    if not ok then usage.error("schedtest perf-delta: --policy: %s",
                               tostring(perr)) end
  end
  local ctx, msg = M.resolve_sides(opts)
  if not ctx then return env_error(msg) end
  local repo <close> = ctx.repo
  ctx.must_fail = must_fail
  if noise then return M.noise(opts, ctx) end
  return M.cached(opts, ctx)
end

return M
