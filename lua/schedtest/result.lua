-- schedtest.result: what a test's `check(result)` function receives.
--
--   check = function(result)
--     return result:better_across_phases("BASELINE", 1,
--                                        "worst_p99_wake_latency_us")
--                  :by_at_least(0.10)
--   end
--
-- `result` wraps the folded VM result (schedtest.vm.run).  Metric
-- directions come from the metric registry, so `better` means lower for
-- latencies and higher for throughput.  Missing data never passes by
-- accident: it gives an INCONCLUSIVE verdict that says what was missing.

local string, table, math = string, table, math
local setmetatable, getmetatable, type, tostring, ipairs, require, select,
      pcall, error =
  setmetatable, getmetatable, type, tostring, ipairs, require, select,
  pcall, error

local M = {}

local Result = {}
Result.__index = Result
Result.__name = "schedtest.Result"

local Verdict = {}
Verdict.__index = Verdict
Verdict.__name = "schedtest.Verdict"
Verdict.__tostring = function(v)
  return string.format("%s: %s", v.status:upper(), v.reason)
end

local Comparison = {}
Comparison.__index = Comparison

local function finite(x)
  return type(x) == "number" and x == x and x ~= math.huge and x ~= -math.huge
end

local function registry_entry(name)
  local ok, registry = pcall(require, "schedtest.registry")
  if not ok then return nil end
  return registry.lookup(name)
end

--- Wrap a folded VM result (the table schedtest.vm.run returns).
function M.new(raw)
  return setmetatable({ raw = raw }, Result)
end

function M.is_verdict(v)
  return getmetatable(v) == Verdict
end

--- Whole-run value of a metric (typed field first, then ext_metrics).
function Result:metric(name)
  local ok, registry = pcall(require, "schedtest.registry")
  if ok and registry.value then return registry.value(self.raw, name) end
  local stats = self.raw.stats or {}
  if stats[name] ~= nil then return stats[name] end
  return (stats.ext_metrics or {})[name]
end

-- Find a phase bucket by step index (0 = BASELINE) or label.
function Result:phase(which)
  local phases = (self.raw.stats and self.raw.stats.phases)
                 or self.raw.phases or {}
  for _, p in ipairs(phases) do
    if p.step_index == which or p.label == which then return p end
  end
  return nil
end

--- Value of `name` in one phase, or nil.
function Result:phase_metric(which, name)
  local p = self:phase(which)
  return p and p.metrics and p.metrics[name] or nil
end

--- Compare metric `name` between two phases of this run.
function Result:better_across_phases(baseline, candidate, name)
  return setmetatable({ result = self, baseline = baseline,
                        candidate = candidate, metric = name }, Comparison)
end

local function verdict(c, status, reason, b, v, change, polarity)
  return setmetatable({ status = status, reason = reason, metric = c.metric,
    baseline_phase = c.baseline, candidate_phase = c.candidate,
    baseline = b, candidate = v, change = change, polarity = polarity },
    Verdict)
end

-- margin nil: strictly better; a number: better by at least that fraction.
local function judge(c, margin)
  local what = string.format("%s in %s vs %s", c.metric,
                             tostring(c.candidate), tostring(c.baseline))
  for _, which in ipairs({ c.baseline, c.candidate }) do
    if not c.result:phase(which) then
      return verdict(c, "inconclusive", what .. ": phase " ..
                     tostring(which) .. " is missing from the result")
    end
  end
  local b = c.result:phase_metric(c.baseline, c.metric)
  local v = c.result:phase_metric(c.candidate, c.metric)
  if b == nil or v == nil then
    return verdict(c, "inconclusive", what .. ": no value in phase " ..
                   tostring(b == nil and c.baseline or c.candidate), b, v)
  end
  if not finite(b) or not finite(v) then
    return verdict(c, "fail", what .. ": non-finite value (" ..
                   tostring(b) .. ", " .. tostring(v) .. ")", b, v)
  end
  local entry = registry_entry(c.metric)
  local polarity = entry and entry.polarity or "Unknown"
  if polarity ~= "LowerBetter" and polarity ~= "HigherBetter" then
    return verdict(c, "inconclusive", what .. ": the metric has no " ..
                   "better direction (" .. polarity .. ")", b, v, nil,
                   polarity)
  end
  -- Gain as a fraction of the baseline, positive when the candidate is
  -- better in the metric's direction.
  local gain = polarity == "LowerBetter" and (b - v) or (v - b)
  local change
  if b ~= 0 then change = gain / math.abs(b) end
  if margin == nil then
    local ok = gain > 0
    return verdict(c, ok and "pass" or "fail", string.format(
      "%s: %.6g -> %.6g (%s), %s", what, b, v,
      polarity == "LowerBetter" and "lower is better" or "higher is better",
      ok and "better" or "not better"), b, v, change, polarity)
  end
  if b == 0 then
    return verdict(c, "inconclusive", what .. ": baseline is 0, so a " ..
                   "relative margin is undefined", b, v, nil, polarity)
  end
  local ok = change >= margin
  return verdict(c, ok and "pass" or "fail", string.format(
    "%s: %.6g -> %.6g, %+.1f%% better, wanted at least %.1f%%", what, b, v,
    change * 100, margin * 100), b, v, change, polarity)
end

--- Strictly better in the metric's direction.
function Comparison:better_than()
  return judge(self, nil)
end

--- Better by at least `fraction` of the baseline (0.1 = 10 %).
function Comparison:by_at_least(fraction)
  if type(fraction) ~= "number" or fraction < 0 then
    error("by_at_least: expected a non-negative fraction such as 0.10", 2)
  end
  return judge(self, fraction)
end

--- Interpret what a check function returned:
-- nil/true -> pass; false[, reason] or a string -> fail; a Verdict or a
-- list of Verdicts -> fail if any failed, else inconclusive if any was.
-- Returns status ("pass"|"fail"|"inconclusive") and a list of reasons.
function M.outcome(...)
  local n = select("#", ...)
  local first, second = ...
  if n == 0 or first == nil or first == true then return "pass", {} end
  if first == false then
    return "fail", { second and tostring(second) or "check returned false" }
  end
  if type(first) == "string" then return "fail", { first } end
  local list = M.is_verdict(first) and { first } or first
  if type(list) ~= "table" then
    return "fail", { "check returned a " .. type(first) ..
                     "; expected true, false, a verdict or a list of them" }
  end
  local status, reasons = "pass", {}
  for _, v in ipairs(list) do
    if not M.is_verdict(v) then
      return "fail", { "check returned a list holding a " .. type(v) ..
                       "; expected verdicts" }
    end
    if v.status == "fail" then status = "fail"
    elseif v.status == "inconclusive" and status == "pass" then
      status = "inconclusive"
    end
    if v.status ~= "pass" then reasons[#reasons + 1] = tostring(v) end
  end
  return status, reasons
end

return M
