local registry = require "schedtest.registry"
local pool = require "schedtest.pool"
local S = require "helpers.sidecars"

describe("schedtest.registry", function()
  it("holds every metric of spec §2.2 with gates and units", function()
    assert.are.equal(126, #registry.metrics)
    local e = registry.get("worst_spread")
    assert.are.same({ "LowerBetter", "Gauge", "Last", 5, 0.25, "%" },
                    { e.polarity, e.kind, e.gauge, e.abs, e.rel, e.unit })
    e = registry.get("total_run_delay_ns_per_sched")
    assert.are.same({ "Rate", "total_run_delay", "total_pcount", 1000, 0.15 },
                    { e.kind, e.num, e.den, e.abs, e.rel })
    assert.are.equal("P99", registry.get("worst_p99_wake_latency_us").reduction)
    assert.is_true(registry.get("total_phase_iterations").suppressed)
    assert.are.equal("PerRunDistribution",
                     registry.get("wakeup_p99_latency_us_whole").kind)
    for _, m in ipairs(registry.metrics) do
      assert.is_string(m.name)
      assert.truthy(({ LowerBetter = 1, HigherBetter = 1, Informational = 1 })[m.polarity])
      assert.is_number(m.abs)
      assert.is_number(m.rel)
      assert.is_true(m.registered)
    end
  end)

  it("groups derived and duplicate metrics into families", function()
    for _, n in ipairs{ "total_iterations", "iteration_rate", "iterations_per_cpu_sec" } do
      assert.are.equal("throughput", registry.family(n))
      assert.are.equal("throughput", registry.get(n).family)
    end
    assert.are.equal("latency", registry.family("worst_p99_wake_latency_us"))
    assert.are.equal("latency", registry.family("worst_p99_timer_latency_us"))
    assert.are.equal("schbench_wakeup", registry.family("wakeup_p99_latency_us_whole"))
    assert.are.equal("worst_gap_ms", registry.family("worst_gap_ms")) -- its own
    assert.are.equal("frobs", registry.family("frobs"))
  end)

  it("synthesizes entries for unregistered names from tokens", function()
    local e = registry.lookup("my_wake_latency_p50")
    assert.are.same({ "LowerBetter", "Gauge", 0, 0.10, false },
                    { e.polarity, e.kind, e.abs, e.rel, e.registered })
    assert.are.equal("HigherBetter", registry.lookup("disk_iops").polarity)
    assert.are.equal("LowerBetter", registry.lookup("frobs").polarity)
    assert.are.equal("LowerBetter", registry.lookup("iterations_us").polarity)
  end)

  it("lets users register and override entries", function()
    registry.register { name = "my_ops", polarity = "HigherBetter",
                        kind = "Counter", abs = 3, rel = 0.2, unit = "ops" }
    assert.are.equal(3, registry.get("my_ops").abs)
    local n = #registry.metrics
    registry.register { name = "my_ops", polarity = "HigherBetter",
                        kind = "Counter", abs = 4 }
    assert.are.equal(n, #registry.metrics)
    assert.are.equal(4, registry.lookup("my_ops").abs)
    assert.has_error(function() registry.register { name = "x" } end)
  end)

  it("reads typed fields first, then ext_metrics, and derives rates", function()
    local t = S.make()
    t.stats.ext_metrics.worst_spread = 99.0
    assert.are.equal(4.75, registry.value(t, "worst_spread"))
    assert.are.equal(17508213019.0, registry.value(t, "user_time_ns"))
    assert.are.equal(1500 / 3000, registry.value(t, "ttwu_local_fraction"))
    assert.are.equal(3, registry.value(t, "max_dsq_depth"))
    assert.is_nil(registry.value(t, "nothing"))
    local row = { metrics = { worst_spread = 1.5 } }
    assert.are.equal(1.5, registry.value(row, "worst_spread"))
  end)

  it("agrees with the C pool's typed accessors and rates", function()
    local acc = pool.accessors()
    for name, path in pairs(acc) do
      assert.are.equal(path, registry.get(name).field, name)
    end
    for _, m in ipairs(registry.metrics) do
      if m.field then assert.are.equal(m.field, acc[m.name], m.name) end
    end
    local rates = pool.rates()
    for _, m in ipairs(registry.metrics) do
      if m.kind == "Rate" then
        assert.are.same({ num = m.num, den = m.den }, rates[m.name], m.name)
      end
    end
  end)
end)
