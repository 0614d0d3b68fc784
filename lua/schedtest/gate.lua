-- schedtest.gate: does a comparison fail, and why?
--
--   local gate = require "schedtest.gate"
--   local g = gate.evaluate(result, ctx, policy)
--   g.fails, g.reasons, g.exit_code, g.counted
--
-- The count rule (ktstr-spec.md §3.4): fail when at least `fail_threshold`
-- (>= 1) regressions, when a must-fail metric regressed, or when a declared
-- per-test gate regressed.  What one regression *is* for the count is the
-- policy's `count`: "metrics" (ktstr: every regressed row counts) or
-- "families" (the default policy: derived or duplicate metrics of one test
-- — a registry `family` such as total_iterations, iteration_rate and
-- iterations_per_cpu_sec — count once, since one shift moves them all).
-- The report still lists every row.  schedtest.health folds failed and
-- incomplete test runs into the result after this (health.apply).

local string, math = string, math
local ipairs, tostring = ipairs, tostring

local M = {}

--- The family a row counts in: its pairing key plus the registry family
--- (the metric itself when the registry names none), plus its phase.
function M.family_of(row)
  local fam = row.entry and row.entry.family or row.metric
  local id = tostring(row.key) .. "/" .. tostring(fam)
  if row.phase ~= nil then id = id .. "@" .. tostring(row.phase) end
  return id
end

--- Distinct units among `rows` under `how` ("metrics" or "families"):
--- returns the count and the list of unit names in first-seen order.
function M.count(rows, how)
  local seen, units = {}, {}
  for _, r in ipairs(rows) do
    local u = how == "families" and M.family_of(r)
              or (tostring(r.key) .. "/" .. tostring(r.metric) ..
                  (r.phase ~= nil and ("@" .. tostring(r.phase)) or ""))
    if not seen[u] then seen[u] = true; units[#units + 1] = u end
  end
  return #units, units
end

--- The count rule.  `ctx` holds fail_threshold and count ("metrics" or
--- "families").  Returns fails, reasons.
function M.default(result, ctx)
  local reasons = {}
  local n = ctx.fail_threshold
  local regs = result.regressions
  local how = ctx.count or "metrics"
  local counted = M.count(regs, how)
  if n >= 1 and counted >= n then
    if how == "families" and counted ~= #regs then
      reasons[#reasons + 1] = string.format(
        "%d regressed metric famil%s (%d rows) >= fail threshold %d", counted,
        counted == 1 and "y" or "ies", #regs, n)
    else
      reasons[#reasons + 1] = string.format("%d regression(s) >= fail threshold %d",
                                            counted, n)
    end
  end
  local must = {}
  for _, m in ipairs(result.must_fail or {}) do must[m] = true end
  for _, r in ipairs(regs) do
    if must[r.metric] then
      reasons[#reasons + 1] = string.format("must-fail metric %s regressed (%s)", r.metric, r.key)
    end
  end
  if result.declared and result.declared.regressions > 0 then
    reasons[#reasons + 1] = string.format("%d declared per-test gate(s) regressed",
                                          result.declared.regressions)
  end
  return #reasons > 0, reasons
end

--- Run the policy's gate (policy.gate, else the count rule) and record it
--- on the result: result.gate = { fails, reasons, fail_threshold, count,
--- counted }, result.exit_code (0 pass, 1 fail) and result.overall (the
--- footer word of ktstr's noise report, §3.6).  Returns result.gate.
function M.evaluate(result, ctx, policy)
  local rule = policy and policy.gate or M.default
  local fails, reasons = rule(result, ctx)
  local counted = M.count(result.regressions or {}, ctx.count or "metrics")
  result.gate = { fails = fails and true or false, reasons = reasons or {},
                  fail_threshold = ctx.fail_threshold, count = ctx.count or "metrics",
                  counted = counted }
  result.exit_code = result.gate.fails and 1 or 0
  result.overall = M.overall(result)
  return result.gate
end

--- The footer word of a result (ktstr's noise report, §3.6): STABLE,
--- REGRESSED, IMPROVED (improvements at or above the fail threshold, at
--- least one) or both; BROKEN when only failed or missing runs
--- (schedtest.health) tripped the gate.  The one definition: the gate
--- records it, health.apply re-records it, every report prints it.
function M.overall(result)
  local t = result.totals or {}
  local regressed = result.gate and result.gate.fails
  if regressed and (t.regressions or 0) == 0 and result.health and
     #result.health.failures > 0 then
    return "BROKEN"
  end
  local improved = (t.improvements or 0) > 0 and
    (t.improvements or 0) >= math.max(1, result.fail_threshold or 5)
  if regressed and improved then return "REGRESSED + IMPROVED" end
  if regressed then return "REGRESSED" end
  if improved then return "IMPROVED" end
  return "STABLE"
end

--- Exit status of a result (after health.apply, which may raise it).
function M.exit_code(result)
  return math.max(result.exit_code or 0, (result.gate and result.gate.fails) and 1 or 0)
end

return M
