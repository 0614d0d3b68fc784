-- schedtest.registry: the metric registry (ktstr's `stats::METRICS`, spec
-- §2.2): name, polarity, kind, default absolute and relative gates, unit.
--
--   local registry = require "schedtest.registry"
--   registry.get("worst_spread").abs            --> 5
--   registry.lookup("my_p99_latency_us").polarity --> "LowerBetter"
--   registry.register{ name = "my_ops", polarity = "HigherBetter",
--                      kind = "Counter", abs = 10, rel = 0.1, unit = "ops" }
--   registry.value(row_or_sidecar, "worst_spread")
--   registry.family("iteration_rate")               --> "throughput"
--
-- `field` is the typed sidecar field a metric is read from first (the C
-- pool has the same table: schedtest.pool.accessors()); everything else is
-- read from stats.ext_metrics.
local M = {}

local L, H, I = "LowerBetter", "HigherBetter", "Informational"

M.metrics = {}
local by_name = {}

local function add(e)
  e.registered = e.registered == nil and true or e.registered
  e.suppressed = e.suppressed or false
  e.unit = e.unit or ""
  if by_name[e.name] then
    for i, old in ipairs(M.metrics) do
      if old.name == e.name then M.metrics[i] = e end
    end
  else
    M.metrics[#M.metrics + 1] = e
  end
  by_name[e.name] = e
  return e
end

local function def(name, polarity, kind, abs, rel, unit, extra)
  local e = { name = name, polarity = polarity, kind = kind, abs = abs,
              rel = rel, unit = unit }
  for k, v in pairs(extra or {}) do e[k] = v end
  return add(e)
end

local function gauge(g) return { gauge = g } end
local function rate(num, den) return { num = num, den = den } end
local function dist(source, reduction)
  return { source = source, reduction = reduction }
end
local SUP = { suppressed = true }

-- Core
def("worst_spread", L, "Gauge", 5, 0.25, "%",
    { gauge = "Last", field = "stats.worst_spread" })
def("worst_gap_ms", L, "Peak", 500, 0.50, "ms", { field = "stats.worst_gap_ms" })
def("total_migrations", L, "Counter", 10, 0.30, "",
    { field = "stats.total_migrations" })
def("worst_migration_ratio", L, "Gauge", 0.05, 0.20, "",
    { gauge = "Last", field = "stats.worst_migration_ratio" })
def("max_imbalance_ratio", L, "Peak", 1, 0.25, "x",
    { field = "monitor.max_imbalance_ratio" })
def("avg_imbalance_ratio", L, "Gauge", 0.5, 0.25, "x",
    { gauge = "Avg", field = "monitor.avg_imbalance_ratio" })
def("max_dsq_depth", L, "Peak", 10, 0.50, "",
    { field = "monitor.max_local_dsq_depth" })
def("avg_dsq_depth", L, "Gauge", 5, 0.50, "",
    { gauge = "Avg", field = "monitor.avg_local_dsq_depth" })
def("stuck_count", L, "Counter", 1, 0.50, "")
def("total_fallback", L, "Counter", 5, 0.30, "",
    { field = "monitor.event_deltas.total_fallback" })
def("total_keep_last", L, "Counter", 5, 0.30, "",
    { field = "monitor.event_deltas.total_dispatch_keep_last" })

-- schedstat
def("total_run_delay", I, "Counter", 1e6, 0.10, "ns",
    { field = "monitor.schedstat_deltas.total_run_delay" })
for _, n in ipairs { "total_pcount", "total_sched_count", "total_yld_count",
                     "total_sched_goidle", "total_ttwu_count",
                     "total_ttwu_local" } do
  def(n, I, "Counter", 100, 0.10, "", { field = "monitor.schedstat_deltas." .. n })
end
def("total_run_delay_ns_per_sched", L, "Rate", 1000, 0.15, "ns",
    rate("total_run_delay", "total_pcount"))
def("ttwu_local_fraction", H, "Rate", 0.05, 0.10, "",
    rate("total_ttwu_local", "total_ttwu_count"))
def("sched_goidle_fraction", I, "Rate", 0.05, 0.10, "",
    rate("total_sched_goidle", "total_sched_count"))
def("avg_nr_running", L, "Gauge", 0.5, 0.20, "",
    { gauge = "Avg", field = "monitor.avg_nr_running" })

-- Latency distributions (pooled across cgroups and phases)
def("worst_p99_wake_latency_us", L, "Distribution", 50, 0.25, "µs",
    { source = "WakeLatencyNs", reduction = "P99",
      field = "stats.worst_p99_wake_latency_us" })
def("worst_median_wake_latency_us", L, "Distribution", 20, 0.25, "µs",
    { source = "WakeLatencyNs", reduction = "Median",
      field = "stats.worst_median_wake_latency_us" })
def("worst_wake_latency_cv", L, "Distribution", 0.10, 0.25, "",
    { source = "WakeLatencyNs", reduction = "Cv",
      field = "stats.worst_wake_latency_cv" })
def("worst_p99_timer_latency_us", L, "Distribution", 50, 0.25, "µs",
    dist("TimerLatencyNs", "P99"))
def("worst_median_timer_latency_us", L, "Distribution", 20, 0.25, "µs",
    dist("TimerLatencyNs", "Median"))
def("worst_p999_timer_latency_us", L, "Distribution", 100, 0.25, "µs",
    dist("TimerLatencyNs", "P999"))
def("worst_timer_latency_us", L, "Distribution", 200, 0.25, "µs",
    dist("TimerLatencyNs", "Worst"))
def("worst_mean_run_delay_us", L, "Distribution", 50, 0.25, "µs",
    { source = "RunDelayNs", reduction = "Mean",
      field = "stats.worst_mean_run_delay_us" })
def("worst_run_delay_us", L, "Distribution", 100, 0.50, "µs",
    { source = "RunDelayNs", reduction = "Worst",
      field = "stats.worst_run_delay_us" })
def("worst_wake_latency_tail_ratio", L, "WakeLatencyTailRatio", 0.5, 0.25, "x",
    { field = "stats.worst_wake_latency_tail_ratio" })

-- Throughput / CPU
def("iteration_rate", H, "Rate", 1, 0.30, "iter/s",
    rate("total_phase_iterations", "total_phase_duration_sec"))
def("total_iterations", H, "Counter", 100, 0.10, "",
    { field = "stats.total_iterations" })
def("total_phase_iterations", H, "Counter", 100, 0.10, "", SUP)
def("total_phase_duration_sec", H, "Counter", 1, 0.30, "s", SUP)
def("total_cpu_time_sec", H, "Counter", 1, 0.30, "s", SUP)
def("total_iterations_pooled", H, "Counter", 100, 0.10, "", SUP)
def("iterations_per_cpu_sec", H, "Rate", 10, 0.10, "iter/cpu-s",
    rate("total_iterations_pooled", "total_cpu_time_sec"))
def("system_time_ns", L, "PerPhaseDeltaSum", 1e6, 0.30, "ns")
def("user_time_ns", L, "PerPhaseDeltaSum", 1e6, 0.30, "ns")
def("worst_iterations_per_worker", H, "WorstLowest", 10, 0.10, "",
    { field = "stats.worst_iterations_per_worker" })
def("worst_iterations_per_cpu_sec", H, "WorstLowest", 10, 0.10, "iter/cpu-s")

-- NUMA
def("worst_page_locality", H, "WorstLowest", 0.05, 0.10, "",
    { field = "stats.worst_page_locality" })
def("worst_cross_node_migration_ratio", L, "WorstCrossNodeRatio", 0.05, 0.20,
    "", { field = "stats.worst_cross_node_migration_ratio" })

-- IRQ / pressure
def("total_hardirqs", I, "Counter", 1000, 0.50, "")
def("total_softirq_net_rx", I, "Counter", 500, 0.50, "")
def("total_softirq_net_tx", I, "Counter", 500, 0.50, "")
def("total_softirq_timer", I, "Counter", 1000, 0.50, "")
def("total_softirq_sched", I, "Counter", 1000, 0.50, "")
def("total_irq_time_ns", I, "Counter", 1e6, 0.50, "ns")
def("total_softirq_time_ns", I, "Counter", 1e6, 0.50, "ns")
def("total_steal_time_ns", I, "Counter", 1e6, 0.50, "ns")
def("avg_irq_util", L, "Gauge", 20, 0.30, "", gauge("Avg"))
def("max_avg_irq_util", L, "Peak", 50, 0.30, "")
def("hardirq_rate", I, "Rate", 10, 0.30, "irq/s",
    rate("total_hardirqs", "total_phase_wall_sec"))
def("net_rx_softirq_rate", I, "Rate", 10, 0.30, "softirq/s",
    rate("total_softirq_net_rx", "total_phase_wall_sec"))
def("irq_time_fraction", L, "Rate", 0.02, 0.30, "",
    rate("total_irq_time_ns", "total_phase_wall_ns"))
def("total_phase_wall_sec", I, "Counter", 0.1, 0.30, "s", SUP)
def("total_phase_wall_ns", I, "Counter", 1e6, 0.30, "ns", SUP)
def("max_cpu_hardirqs", I, "Peak", 500, 0.50, "")
def("max_cpu_softirq_net_rx", I, "Peak", 500, 0.50, "")
def("max_cpu_hardirq_concentration", L, "Peak", 1, 0.25, "x")
def("max_cpu_softirq_net_rx_concentration", L, "Peak", 1, 0.25, "x")
def("max_cgroup_irq_pressure", I, "Peak", 1000, 0.50, "µs")
def("max_cgroup_irq_pressure_concentration", L, "Peak", 1, 0.25, "x")
def("max_cgroup_psi_irq_avg10", L, "Peak", 5, 0.30, "%")
def("psi_irq_full_avg10", L, "Gauge", 5, 0.30, "%", gauge("Avg"))
def("total_irq_pressure_us", I, "Counter", 1000, 0.50, "µs")

-- schbench, per phase
for _, n in ipairs { "wakeup_p50_latency_us", "wakeup_p90_latency_us",
                     "request_p50_latency_us", "request_p90_latency_us" } do
  def(n, L, "PerPhase", 20, 0.25, "µs")
end
for _, n in ipairs { "wakeup_p99_latency_us", "wakeup_p999_latency_us",
                     "request_p99_latency_us", "request_p999_latency_us",
                     "sched_delay_msg_us", "sched_delay_worker_us" } do
  def(n, L, "PerPhase", 50, 0.25, "µs")
end
def("schbench_loop_count", H, "PerPhase", 10, 0.30, "")
def("wakeup_min_latency_us", L, "PerPhase", 20, 0.25, "µs")
def("request_min_latency_us", L, "PerPhase", 20, 0.25, "µs")
def("wakeup_max_latency_us", L, "PerPhase", 50, 0.50, "µs")
def("request_max_latency_us", L, "PerPhase", 50, 0.50, "µs")
for _, n in ipairs { "rps_p20", "rps_p50", "rps_p90", "rps_min", "rps_max" } do
  def(n, H, "PerPhase", 100, 0.10, "req/s")
end

-- schbench, whole run
def("total_schbench_msg_run_delay_ns", L, "Counter", 1000, 0.10, "ns", SUP)
def("total_schbench_worker_run_delay_ns", L, "Counter", 1000, 0.10, "ns", SUP)
def("total_schbench_msg_pcount", I, "Counter", 100, 0.10, "", SUP)
def("total_schbench_worker_pcount", I, "Counter", 100, 0.10, "", SUP)
def("total_schbench_loops", H, "Counter", 100, 0.10, "")
def("schbench_msg_run_delay_ns_per_sched", L, "Rate", 1000, 0.10, "ns",
    rate("total_schbench_msg_run_delay_ns", "total_schbench_msg_pcount"))
def("schbench_worker_run_delay_ns_per_sched", L, "Rate", 1000, 0.10, "ns",
    rate("total_schbench_worker_run_delay_ns", "total_schbench_worker_pcount"))
-- PerRunDistribution twins (thresholds unconfirmed: the per-phase ones)
for _, side in ipairs { "wakeup", "request" } do
  for _, q in ipairs { "p50", "p90", "p99", "p999", "min", "max" } do
    local base = by_name[side .. "_" .. q .. "_latency_us"]
    def(side .. "_" .. q .. "_latency_us_whole", L, "PerRunDistribution",
        base.abs, base.rel, "µs")
  end
end
for _, q in ipairs { "p20", "p50", "p90", "min", "max" } do
  def("rps_" .. q .. "_whole", H, "PerRunDistribution", 100, 0.10, "req/s")
end

-- taobench
def("taobench_total_qps", H, "PerPhase", 1000, 0.10, "ops/s")
def("taobench_fast_qps", H, "PerPhase", 1000, 0.10, "ops/s")
def("taobench_slow_qps", I, "PerPhase", 1000, 0.10, "ops/s")
def("taobench_hit_ratio", I, "PerPhase", 0.02, 0.05, "")
def("taobench_hit_rate", I, "PerPhase", 0.02, 0.05, "")
def("total_taobench_ops", H, "Counter", 1000, 0.10, "", SUP)
def("total_taobench_fast_ops", H, "Counter", 1000, 0.10, "", SUP)
def("total_taobench_slow_ops", I, "Counter", 1000, 0.10, "", SUP)
def("total_taobench_wall_sec", H, "Counter", 1, 0.30, "s", SUP)
def("taobench_total_ops_per_sec", H, "Rate", 1000, 0.10, "ops/s",
    rate("total_taobench_ops", "total_taobench_wall_sec"))
def("taobench_fast_ops_per_sec", H, "Rate", 1000, 0.10, "ops/s",
    rate("total_taobench_fast_ops", "total_taobench_wall_sec"))
def("taobench_slow_ops_per_sec", I, "Rate", 1000, 0.10, "ops/s",
    rate("total_taobench_slow_ops", "total_taobench_wall_sec"))
def("taobench_hit_fraction", I, "Rate", 0.02, 0.05, "",
    rate("total_taobench_fast_ops", "total_taobench_ops"))

-- Families: metrics derived from one measurement, or duplicates of one,
-- move together, so one shift of the scheduler moves them all.  A family
-- counts once toward the fail threshold of a comparison (schedtest.gate,
-- policy `count = "families"`); every row is still reported.  A metric
-- without a family is its own.
M.families = {
  throughput = { "total_iterations", "iteration_rate", "iterations_per_cpu_sec",
                 "worst_iterations_per_worker", "worst_iterations_per_cpu_sec" },
  -- wake and timer latencies are measured on the same workers
  latency = { "worst_p99_wake_latency_us", "worst_median_wake_latency_us",
              "worst_wake_latency_cv", "worst_wake_latency_tail_ratio",
              "worst_p99_timer_latency_us", "worst_median_timer_latency_us",
              "worst_p999_timer_latency_us", "worst_timer_latency_us" },
  run_delay = { "total_run_delay_ns_per_sched", "worst_mean_run_delay_us",
                "worst_run_delay_us" },
  imbalance = { "max_imbalance_ratio", "avg_imbalance_ratio" },
  dsq_depth = { "max_dsq_depth", "avg_dsq_depth" },
  migration = { "total_migrations", "worst_migration_ratio" },
  irq_load = { "avg_irq_util", "max_avg_irq_util", "irq_time_fraction" },
  schbench_run_delay = { "schbench_msg_run_delay_ns_per_sched",
                         "schbench_worker_run_delay_ns_per_sched",
                         "sched_delay_msg_us", "sched_delay_worker_us" },
  taobench_throughput = { "taobench_total_qps", "taobench_total_ops_per_sec",
                          "taobench_fast_qps", "taobench_fast_ops_per_sec" },
}
-- schbench's per-phase latencies and their whole-run twins
M.families.schbench_wakeup, M.families.schbench_request, M.families.schbench_rps = {}, {}, {}
for _, side in ipairs { "wakeup", "request" } do
  for _, q in ipairs { "p50", "p90", "p99", "p999", "min", "max" } do
    local fam = M.families["schbench_" .. side]
    fam[#fam + 1] = side .. "_" .. q .. "_latency_us"
    fam[#fam + 1] = side .. "_" .. q .. "_latency_us_whole"
  end
end
for _, q in ipairs { "p20", "p50", "p90", "min", "max" } do
  local fam = M.families.schbench_rps
  fam[#fam + 1] = "rps_" .. q
  fam[#fam + 1] = "rps_" .. q .. "_whole"
end
for fam, names in pairs(M.families) do
  for _, n in ipairs(names) do
    assert(by_name[n], "registry: family " .. fam .. " names unknown metric " .. n)
    by_name[n].family = fam
  end
end

--- The family of a metric: its registry family, else its own name.
function M.family(name)
  local e = by_name[name]
  return e and e.family or name
end

-- Name tokens for unregistered metrics (spec §2.1): the higher-is-worse
-- tokens are checked first; no match at all means higher is worse.
M.worse_tokens = { "latency", "delay", "_gap", "stall", "stuck", "_cv",
                   "error", "fail", "drop", "spread", "_us", "_ms", "_ns",
                   "migration_ratio", "imbalance", "_depth", "dsq" }
M.better_tokens = { "iops", "throughput", "bandwidth", "iterations",
                    "ops_per_sec", "locality", "_score", "goodput" }

--- Polarity of an unregistered name from its tokens.
function M.polarity_from_name(name)
  for _, t in ipairs(M.worse_tokens) do
    if name:find(t, 1, true) then return L end
  end
  for _, t in ipairs(M.better_tokens) do
    if name:find(t, 1, true) then return H end
  end
  return L
end

--- The registered entry for `name`, or nil.
function M.get(name)
  return by_name[name]
end

--- The entry for `name`; unregistered names get a synthesized Gauge entry.
function M.lookup(name)
  local e = by_name[name]
  if e then return e end
  return { name = name, polarity = M.polarity_from_name(name), kind = "Gauge",
           gauge = "Avg", abs = 0, rel = 0.10, unit = "", suppressed = false,
           registered = false }
end

local POLARITIES = { LowerBetter = true, HigherBetter = true,
                     Informational = true, Unknown = true }

--- Add or replace an entry (name, polarity, kind required).
function M.register(entry)
  assert(type(entry) == "table", "registry.register: table expected")
  assert(type(entry.name) == "string" and entry.name ~= "",
         "registry.register: entry.name must be a non-empty string")
  assert(POLARITIES[entry.polarity],
         "registry.register: polarity must be LowerBetter, HigherBetter, "
         .. "Informational or Unknown")
  assert(type(entry.kind) == "string", "registry.register: kind expected")
  local e = {}
  for k, v in pairs(entry) do e[k] = v end
  e.abs = e.abs or 0
  e.rel = e.rel or 0.10
  e.registered = true
  return add(e)
end

local function walk(t, path)
  for seg in path:gmatch("[^.]+") do
    if type(t) ~= "table" then return nil end
    t = t[seg]
  end
  return type(t) == "number" and t or nil
end

local function raw(t, name)
  if t.stats == nil and type(t.metrics) == "table" then
    return t.metrics[name] -- a pool row: already typed-first
  end
  local e = by_name[name]
  if e and e.field then
    local v = walk(t, e.field)
    if v ~= nil then return v end
  end
  local ext = type(t.stats) == "table" and t.stats.ext_metrics
  local v = type(ext) == "table" and ext[name] or nil
  return type(v) == "number" and v or nil
end

--- Value of metric `name` in a pool row or a decoded sidecar: the typed
-- field first, then stats.ext_metrics; Rates are num/den (nil when den is 0
-- or a value is missing or non-finite).
function M.value(t, name)
  local e = by_name[name]
  if e and e.kind == "Rate" and t.stats ~= nil then
    local n, d = raw(t, e.num), raw(t, e.den)
    if n and d and d ~= 0 and n == n and d == d and math.abs(n) ~= math.huge
       and math.abs(d) ~= math.huge then
      return n / d
    end
    return nil
  end
  return raw(t, name)
end

return M
