#!/bin/sh
# The comparison engine's cost per compared metric, as a ratio against the
# bare statistics it needs (two describe + one Welch per metric), measured
# in the same process on the same synthetic pool (500 metrics, 5 runs/side).
set -eu
"$SCHEDTEST" -e '
local cal = require "schedtest.calibrate"
local compare = require "schedtest.compare"
local stats = require "schedtest.stats"
local clock = os.clock
-- one synthetic pool through the calibration generator (A/A, seed 1)
local rows
do
  local real = compare.run
  compare.run = function(o) rows = rows or o.rows; return real(o) end
  cal.run{ tests = 10, metrics = 50, trials = 1, policies = { "ktstr" } }
  compare.run = real
end
local reg = cal.registry(0.10)
local function engine()
  return compare.run{ rows = rows, registry = reg, a = "A", b = "B", policy = "ktstr" }
end
local function bare()
  local vals = {}
  for _, r in ipairs(rows) do
    for name, v in pairs(r.metrics) do
      local k = r.test .. name
      vals[k] = vals[k] or { A = {}, B = {} }
      table.insert(vals[k][r.commit], v)
    end
  end
  for _, s in pairs(vals) do
    stats.describe(s.A); stats.describe(s.B); stats.welch(s.A, s.B)
  end
end
local function time(f, n)
  local t0 = clock()
  for _ = 1, n do f() end
  return (clock() - t0) / n
end
time(engine, 2); time(bare, 2)
local te, tb = time(engine, 20), time(bare, 20)
print(string.format("compare.run / bare statistics (500 metrics): %.2fx", te / tb))
'
