-- schedtest.health: did every test of a comparison actually run?
--
-- perf-delta compares metrics only over runs that passed.  A test that
-- crashes at HEAD leaves no metrics to regress, so without this step a
-- broken branch would read as "nothing changed".  Here each test's runs
-- on both sides are counted and judged:
--
--   failed at B       B has failed runs and A none: the branch broke it
--   incomplete        a side has fewer usable runs than min_runs (failed,
--                     lost or skipped runs): the comparison cannot pass
--   only at A / B     the test exists on one side (added, removed,
--                     renamed): a note, nothing to compare
--   ok
--
-- A record is one run of one test on one side:
--   { side = "a"|"b", test = name, status = "pass"|"fail"|"skipped"|
--     "inconclusive"|"expected_failure", reasons = {..}, round = i|nil }

local string, table, math = string, table, math
local ipairs, pairs, tostring = ipairs, pairs, tostring

local M = {}

M.FAILED_AT_B, M.INCOMPLETE, M.OK = "FAILED", "INCOMPLETE", "ok"
M.ONLY_A, M.ONLY_B = "only at baseline", "only at HEAD"

local function new_side()
  return { runs = 0, usable = 0, failed = 0, other = 0, reasons = {},
           failed_rounds = {} }
end

local function count(entry, rec)
  entry.runs = entry.runs + 1
  if rec.status == "pass" then
    entry.usable = entry.usable + 1
  elseif rec.status == "fail" then
    entry.failed = entry.failed + 1
    if rec.round then entry.failed_rounds[#entry.failed_rounds + 1] = rec.round end
    for _, why in ipairs(rec.reasons or {}) do
      entry.reasons[why] = (entry.reasons[why] or 0) + 1
    end
  else
    entry.other = entry.other + 1
  end
end

-- The most frequent failure reason of a side, with how many runs gave it.
local function top_reason(entry)
  local best, n = nil, 0
  for why, k in pairs(entry.reasons) do
    if k > n or (k == n and why < best) then best, n = why, k end
  end
  return best and string.format("%s%s", best,
    n < entry.failed and string.format(" (and %d other reason(s))",
                                       entry.failed - n) or "")
    or "no reason recorded"
end

local function judge(t, min_runs, labels)
  local a, b = t.a, t.b
  if b.failed > 0 and a.failed == 0 then
    t.state = M.FAILED_AT_B
    t.why = string.format("%s failed at %s in %d of %d run(s): %s", t.test,
      labels.b, b.failed, b.runs, top_reason(b))
  elseif a.usable < min_runs or b.usable < min_runs then
    t.state = M.INCOMPLETE
    local parts = {}
    for _, side in ipairs({ "a", "b" }) do
      local e = t[side]
      if e.usable < min_runs then
        parts[#parts + 1] = string.format("%s has %d usable of %d run(s)%s",
          labels[side], e.usable, t.asked or e.runs,
          e.failed > 0 and (", " .. e.failed .. " failed: " .. top_reason(e))
          or "")
      end
    end
    t.why = string.format("%s is incomplete (at least %d usable run(s) " ..
      "per side needed): %s", t.test, min_runs, table.concat(parts, "; "))
  else
    t.state = M.OK
  end
end

--- Judge the records.  opts: asked (runs each side was asked for, or nil
-- in cached mode), min_runs (default: asked, else 1), labels {a=, b=},
-- expected {a = {names}, b = {names}} (the tests each side selected: a
-- test selected but never recorded counts as lost runs).
-- Returns { tests = {...}, failures = {why...}, notes = {...}, min_runs }.
function M.assess(records, opts)
  opts = opts or {}
  local labels = opts.labels or { a = "A", b = "B" }
  local min_runs = opts.min_runs or opts.asked or 1
  local by_name, order = {}, {}
  local function entry(name)
    local t = by_name[name]
    if not t then
      t = { test = name, a = new_side(), b = new_side(), asked = opts.asked,
            on = {} }
      by_name[name] = t
      order[#order + 1] = name
    end
    return t
  end
  for side, names in pairs(opts.expected or {}) do
    for _, name in ipairs(names) do entry(name).on[side] = true end
  end
  for _, rec in ipairs(records) do
    local t = entry(rec.test)
    t.on[rec.side] = true
    count(t[rec.side], rec)
  end
  table.sort(order)
  local out = { tests = {}, failures = {}, notes = {}, min_runs = min_runs }
  for _, name in ipairs(order) do
    local t = by_name[name]
    if not (t.on.a and t.on.b) then
      t.state = t.on.a and M.ONLY_A or M.ONLY_B
      out.notes[#out.notes + 1] = string.format("%s runs only at %s: " ..
        "nothing to compare it with", name,
        t.on.a and labels.a or labels.b)
    elseif t.a.usable + t.a.failed + t.b.usable + t.b.failed == 0 and
           t.a.runs + t.b.runs > 0 then
      t.state = M.OK -- skipped or an expected failure on both sides
      out.notes[#out.notes + 1] = name .. ": no measured run on either " ..
        "side (skipped or expected failure)"
    else
      judge(t, min_runs, labels)
      if t.why then out.failures[#out.failures + 1] = t.why end
    end
    out.tests[#out.tests + 1] = t
  end
  return out
end

--- Fold a health assessment into a comparison result: failures trip the
-- gate whatever the policy's gate said (a broken run never passes).
function M.apply(result, health)
  result.health = health
  if #health.failures == 0 then return result end
  result.gate = result.gate or { reasons = {} }
  result.gate.fails = true
  local reasons = {}
  for _, why in ipairs(health.failures) do reasons[#reasons + 1] = why end
  for _, why in ipairs(result.gate.reasons or {}) do
    reasons[#reasons + 1] = why
  end
  result.gate.reasons = reasons
  result.exit_code = math.max(result.exit_code or 0, 1)
  result.overall = require("schedtest.gate").overall(result)
  return result
end

--- Records from pool rows (cached mode): one per row of either side.
-- side_of(row) returns "a", "b" or nil; reasons are read from the sidecar
-- of failed rows.
function M.records_of_rows(rows, side_of)
  local sidecar = require "schedtest.sidecar"
  local out = {}
  for row in rows:rows() do
    local side = side_of(row)
    if side then
      local status = row.skipped and "skipped"
        or row.expected_failure and "expected_failure"
        or row.inconclusive and "inconclusive"
        or row.passed and "pass" or "fail"
      local reasons = {}
      if status == "fail" then
        local sc = row.path and sidecar.read(row.path)
        for _, why in ipairs(sc and sc.failure_reasons or {}) do
          reasons[#reasons + 1] = tostring(why)
        end
      end
      out[#out + 1] = { side = side, test = row.test, status = status,
                        reasons = reasons, source = row.run_dir }
    end
  end
  return out
end

return M
