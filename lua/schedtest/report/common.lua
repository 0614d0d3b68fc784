-- schedtest.report.common: pieces shared by the report formats.

local string, table, math = string, table, math
local ipairs, type, tostring, utf8, setmetatable =
  ipairs, type, tostring, utf8, setmetatable

local M = {}

--- Verdicts shown by default (stable and NOISY rows are hidden unless
-- --all-metrics).
-- INCONCLUSIVE rows are hidden too: with few runs most metrics cannot be
-- told apart from noise, and listing them all buries the findings; the
-- footer counts them and --all-metrics shows them with the smallest
-- detectable change and the suggested number of runs.
M.SHOWN = { REGRESSION = true, improvement = true, informational = true }

function M.finite(x)
  return type(x) == "number" and x == x and x ~= math.huge
    and x ~= -math.huge
end

--- The rows a report lists, in a stable order: regressions first.
function M.visible_rows(result, all)
  local order = { REGRESSION = 1, INCONCLUSIVE = 2, improvement = 3,
                  informational = 4, NOISY = 5, stable = 6 }
  local rows = {}
  for _, r in ipairs(result.rows or {}) do
    if all or M.SHOWN[r.verdict] then rows[#rows + 1] = r end
  end
  table.sort(rows, function(x, y)
    local ox, oy = order[x.verdict] or 9, order[y.verdict] or 9
    if ox ~= oy then return ox < oy end
    if x.key ~= y.key then return x.key < y.key end
    return (x.metric or "") < (y.metric or "")
  end)
  return rows
end

--- The test part of a row's label: the test name, or the whole pairing
-- key when one test name appears under several keys (say, two
-- topologies).  The header names the pairing dimensions.
local keys_per_test = setmetatable({}, { __mode = "k" })

function M.test_label(r, result)
  if not r.test then return r.key or "?" end
  keys_per_test[result] = keys_per_test[result] or {}
  local cache = keys_per_test[result]
  if cache[r.test] == nil then
    local keys, n = {}, 0
    for _, x in ipairs(result.rows or {}) do
      if x.test == r.test and not keys[x.key] then keys[x.key] = true; n = n + 1 end
    end
    cache[r.test] = n
  end
  return cache[r.test] > 1 and (r.key or r.test) or r.test
end

--- "TEST / METRIC" label of a row (phase rows get a [phase] suffix).
function M.row_label(r, result)
  local s = (result and M.test_label(r, result) or r.key or r.test or "?")
            .. " / " .. (r.metric or "?")
  if r.phase ~= nil then s = s .. " [phase " .. tostring(r.phase) .. "]" end
  return s
end

function M.num(x, fmt)
  if x == nil then return "-" end
  if not M.finite(x) then return tostring(x) end
  -- Large counters (ns, iterations) read better in scientific notation.
  if math.abs(x) >= 1e6 then return string.format("%.4g", x) end
  return string.format(fmt or "%.2f", x)
end

--- A side's cell in noise mode: mean [min-max] spread%.
function M.noise_cell(s)
  if not s or (s.n or 0) == 0 then return "-" end
  return string.format("%s [%s-%s] %s%%", M.num(s.mean, "%.1f"),
                       M.num(s.min, "%.1f"), M.num(s.max, "%.1f"),
                       M.num(s.spread_pct, "%.2f"))
end

--- Relative change of means as "+12.3%" (nil when undefined).
function M.pct(r)
  if not M.finite(r.rel_delta) then return nil end
  return string.format("%+.1f%%", r.rel_delta * 100)
end

-- A relative change as a percentage; an unbounded end says so.
local function pct_end(x)
  if x == math.huge then return "+inf" end
  if x == -math.huge then return "-inf" end
  return string.format("%+.1f%%", x * 100)
end

--- "95% CI of change -12.0%..+3.4%" for a row with an interval, or nil.
--- A metric whose values are all >= 0 can fall by 100 % at most: its
--- interval never reads below -100 %.
function M.interval(r)
  local lo, hi = r.ci_lo, r.ci_hi
  if lo == nil or hi == nil or lo ~= lo or hi ~= hi then return nil end
  if lo == -math.huge and hi == math.huge then return nil end
  local nonneg = r.a and r.b and (r.a.min or -1) >= 0 and (r.b.min or -1) >= 0
  if nonneg and lo < -1 then lo = -1 end
  return string.format("%d%% CI of change %s..%s", math.floor((r.ci_level or 0.95) * 100 + 0.5),
                       pct_end(lo), pct_end(hi))
end

--- The verdict word with its annotations: "REGRESSION (noisy spread)".
function M.verdict_text(r)
  local v = r.verdict or "?"
  if r.verdict == "NOISY" then v = "NOISY (<2 runs)" end
  if r.annotations and #r.annotations > 0 then
    v = v .. " (" .. table.concat(r.annotations, ", ") .. ")"
  end
  return v
end

--- Tests whose runs were not all usable (schedtest.health), one entry
-- each: { test, a = "usable/runs", b = "usable/runs", state, why }.
-- Every report format lists these: a failed run is never hidden.
function M.health_rows(result)
  local h = result.health
  local out = {}
  if not h then return out end
  local function cell(e)
    local s = string.format("%d/%d", e.usable, e.asked or e.runs)
    if e.failed > 0 then s = s .. string.format(" (%d failed)", e.failed) end
    return s
  end
  for _, t in ipairs(h.tests) do
    if t.state ~= "ok" and t.why then
      out[#out + 1] = { test = t.test, a = cell(t.a), b = cell(t.b),
                        state = t.state, why = t.why }
    end
  end
  return out
end

--- "4 regressed" or, when the gate counts families and some regressed
--- rows share one, "4 regressed (2 metric families)".
function M.regressed_text(result)
  local t = result.totals or {}
  local n = t.regressions or 0
  local g = result.gate or {}
  if g.count == "families" and g.counted and g.counted ~= n then
    return string.format("%d regressed (%d metric famil%s)", n, g.counted,
                         g.counted == 1 and "y" or "ies")
  end
  return string.format("%d regressed", n)
end

--- Overall word of the footer (schedtest.gate.overall), computed afresh
-- so a result a policy changed after the gate still reads right.
function M.overall(result)
  return require("schedtest.gate").overall(result)
end

--- Pad a table of string rows into aligned columns.
function M.columns(rows, sep)
  local widths = {}
  for _, row in ipairs(rows) do
    for i, cell in ipairs(row) do
      widths[i] = math.max(widths[i] or 0, utf8.len(cell) or #cell)
    end
  end
  local out = {}
  for _, row in ipairs(rows) do
    local cells = {}
    for i, cell in ipairs(row) do
      local pad = widths[i] - (utf8.len(cell) or #cell)
      cells[i] = i == #row and cell or (cell .. string.rep(" ", pad))
    end
    out[#out + 1] = table.concat(cells, sep or "  ")
  end
  return out
end

return M
