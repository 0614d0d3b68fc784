-- schedtest.sequential: error control for `perf-delta --noise-adjust
-- auto[:MAX]`, which adds rounds while gated metrics are INCONCLUSIVE.
--
--   local seq = require "schedtest.sequential"
--   local plan = seq.plan{ max = 20 }            -- looks after 5, 10, 20 rounds
--   local n, previous = plan.looks[1], nil
--   repeat
--     -- ... run rounds until both sides have n runs ...
--     local result = compare.run{ rows = pool, a = base, b = head, mode = "noise",
--                                 sequential = { plan = plan, runs = n,
--                                                previous = previous } }
--     local d = seq.decide(plan, result)
--     n, previous = d.next, result
--   until d.stop
--
-- Looking at the data after every few rounds and stopping when it looks
-- decided is optional stopping: tested at the fixed-N level each time, the
-- chance of a false REGRESSION grows with every look.  Here each look is a
-- look of a group-sequential design: the per-metric level of the fixed
-- design (alpha) is *spent* over the planned looks by a spending function
-- f(t) of the information fraction t = runs / MAX, and the level a look
-- is tested at is the nominal level of the boundary that makes the
-- probability of a first false crossing at that look exactly
-- f(t_k) - f(t_{k-1}) (stats.gs_bounds; the looks of a t-test share runs,
-- so they are correlated like a Brownian motion at t_k).  Over all looks a
-- metric is falsely called REGRESSION with probability at most alpha, so
-- the expected number of false REGRESSION rows and the A/A false-fail
-- bound of the fixed design hold for the whole sequence.  A REGRESSION (or
-- improvement) is final once a look finds it (compare carries it on from
-- `previous`); stopping because nothing is INCONCLUSIVE, or because more
-- rounds could not decide (futility), never adds false regressions.

local stats = require "schedtest.stats"

local math, string, table = math, string, table
local ipairs, pairs, tostring, assert, type = ipairs, pairs, tostring, assert, type

local M = {}

M.defaults = { first = 5, max = 20, growth = 2, spending = "pocock", rho = 1,
               futility = true }

--- A plan of looks.  opts: max (MAX rounds, >= 2), first (rounds before
--- the first look, default 5, at most max), growth (each look multiplies
--- the rounds by this, default 2; the last look is MAX), looks (an explicit
--- increasing list instead), spending ("pocock" default, "obf" or "power"
--- with rho), futility (stop when no INCONCLUSIVE metric can be decided by
--- MAX rounds; default true).
function M.plan(opts)
  opts = opts or {}
  local o = {}
  for k, v in pairs(M.defaults) do o[k] = v end
  for k, v in pairs(opts) do o[k] = v end
  assert(type(o.max) == "number" and o.max >= 2, "sequential.plan: max must be at least 2")
  local looks = o.looks
  if not looks then
    looks = {}
    local n = math.min(o.first, o.max)
    while n < o.max do
      looks[#looks + 1] = n
      n = math.max(n + 1, math.floor(n * o.growth + 0.5))
    end
    looks[#looks + 1] = o.max
  end
  local t = {}
  for i, n in ipairs(looks) do
    assert(n >= 2 and (i == 1 or n > looks[i - 1]),
           "sequential.plan: looks must increase from at least 2 runs")
    t[i] = n / looks[#looks]
  end
  return { looks = looks, t = t, max = looks[#looks], spending = o.spending, rho = o.rho,
           futility = o.futility, cache = {} }
end

--- The index of the look at `runs` rounds (the last planned look at or
--- below it), or nil before the first look.
function M.look_index(plan, runs)
  local idx
  for i, n in ipairs(plan.looks) do
    if n <= runs then idx = i end
  end
  return idx
end

--- Nominal one-sided level of look `i` for a total one-sided `alpha`
--- spent over the plan.  Cached per plan and alpha.
function M.nominal(plan, alpha, i)
  if alpha <= 0 then return 0 end
  if #plan.looks == 1 then return alpha end
  local key = string.format("%.17g", alpha)
  local levels = plan.cache[key]
  if not levels then
    local cum = assert(stats.gs_spend(plan.t, alpha, plan.spending, plan.rho))
    levels = assert(stats.gs_bounds(plan.t, cum)).nominal
    plan.cache[key] = levels
  end
  return levels[i]
end

-- Rows a further round could still decide: INCONCLUSIVE, and (with
-- futility) not needing more than the plan's last look.
local function undecided(plan, result)
  local open, futile = {}, {}
  for _, r in ipairs(result.rows or {}) do
    if r.verdict == "INCONCLUSIVE" then
      if plan.futility and (r.suggested_n == nil or r.suggested_n > plan.max) then
        futile[#futile + 1] = r
      else
        open[#open + 1] = r
      end
    end
  end
  return open, futile
end

--- Whether to stop after the look `result` was computed at (compare.run
--- with `sequential = { plan, runs }`).  Returns
---   { stop = bool, reason = string, look = i, runs = n,
---     next = rounds per side to reach before the next look (nil on stop),
---     open = INCONCLUSIVE rows more rounds could decide,
---     futile = INCONCLUSIVE rows that would need more than MAX }.
--- Stops when the gate already fails (a REGRESSION is final), when no
--- gated metric is INCONCLUSIVE, when the INCONCLUSIVE ones would need
--- more than MAX rounds (futility), or at the last look.
function M.decide(plan, result)
  local s = assert(result.sequential, "sequential.decide: the result was not computed " ..
                                      "with compare.run{ sequential = ... }")
  local i, runs = s.look, s.runs
  local open, futile = undecided(plan, result)
  local d = { look = i, runs = runs, open = open, futile = futile, stop = true }
  if result.gate and result.gate.fails then
    d.reason = string.format("the gate failed at look %d (%d runs per side)", i, runs)
  elseif #open == 0 and #futile == 0 then
    d.reason = string.format("every gated metric is decided after %d runs per side", runs)
  elseif #open == 0 then
    d.reason = string.format("%d INCONCLUSIVE metric(s) would need more than %d runs per side",
                             #futile, plan.max)
  elseif i >= #plan.looks then
    d.reason = string.format("reached %d runs per side with %d metric(s) INCONCLUSIVE",
                             runs, #open + #futile)
  else
    d.stop = false
    d.next = plan.looks[i + 1]
    d.reason = string.format("%d gated metric(s) INCONCLUSIVE after %d runs per side; next look at %d",
                             #open, runs, d.next)
  end
  return d
end

--- A one-line description of a plan, for reports.
function M.describe(plan)
  local parts = {}
  for _, n in ipairs(plan.looks) do parts[#parts + 1] = tostring(n) end
  return string.format("looks at %s runs per side, %s alpha spending",
                       table.concat(parts, ", "), plan.spending)
end

return M
