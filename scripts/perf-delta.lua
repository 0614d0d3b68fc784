-- Did my branch make the scheduler slower? Compare HEAD with its baseline.
--
-- Stock workflow (edit freely: copy to $SCHEDTEST_LUA_PATH/scripts/ to
-- override).  The heavy work is in the C modules: git (baseline, snapshot,
-- plain checkouts), the pool loader and the statistics.

local usage = require "schedtest.usage"
local perf = require "schedtest.perfdelta"

local p = usage.parser{
  prog = "schedtest perf-delta",
  summary = "Compare every performance_mode metric of HEAD against its " ..
            "baseline and exit non-zero when enough metrics regress.",
  description = [[
Without --noise-adjust, compares the sidecars already pooled under the runs
root (cached mode): side A = the baseline commit, side B = HEAD's label.
A test with two or more runs on each side is judged from their spread, like
noise mode; one run on a side (or --averaged, or --policy ktstr) compares
the two sides' averages (ktstr's rule).
With --noise-adjust N, checks both commits out into plain checkouts, builds
each side once, runs each side's performance_mode tests N times
(interleaved: baseline round i, then HEAD round i) into a directory of
this invocation's own under the runs root, and compares those runs alone
from the observed spread.  Without the virtual clock the sides take turns
in an order that alternates per round.  --noise-adjust auto[:MAX] adds
rounds in looks (5, 10, 20, ... runs per side) while gated metrics are
INCONCLUSIVE, up to MAX, each look tested at a level that keeps the
false-fail rate of all looks together at the policy's.  One perf-delta
runs per runs root at a time.

Clocks and seeds: under TCG the rounds measure in virtual time (qemu's
instruction counter; see --clock), which host load cannot move, so both
sides of a round run at the same time when the host has 2 CPUs or more.
Round i gets the same seed on both sides and a different one from the
other rounds, derived from a base seed that is printed (--seed reproduces
it).  Comparing runs measured with different clocks or shifts is warned
about loudly.

Baseline: --base C, else merge-base(HEAD, --base-ref R), else
merge-base(HEAD, origin/$GITHUB_BASE_REF), else merge-base(HEAD, main).
When that is HEAD itself and the work tree has uncommitted changes, the
work tree is compared against HEAD.

A failed run never passes: a test that fails at HEAD and not at the
baseline fails the gate, and so does a test with fewer usable runs on a
side than --min-runs (default: every run asked for), whatever the metrics
say.  The reports name each such test with its reason.]],
  epilog = [[
exit status: 0 the gate passed, or the baseline has no performance_mode
test (nothing to compare); 1 the gate tripped: a test failed at HEAD or
has too few usable runs, at least --fail-threshold metrics regressed, a
--must-fail metric regressed, or a declared per-test gate regressed;
2 usage or environment error (the baseline is HEAD with a clean work
tree, a suite that does not load, a build failure, qemu missing, a full
disk, another perf-delta on the same runs root); 130 interrupted (143 on
SIGTERM, 129 on SIGHUP).]],
  passthrough = "ARGS passed to `schedtest test` on both sides",
}
p:option{ "--base", metavar = "COMMIT",
          help = "explicit baseline commit (no merge-base)" }
p:option{ "--base-ref", metavar = "REF",
          help = "baseline = merge-base(HEAD, REF)" }
p:option{ "--default-branch", metavar = "BRANCH", default = "main",
          help = "branch whose merge-base is the baseline when nothing " ..
                 "else selects one" }
p:option{ "-E", "--filter", metavar = "EXPR", repeatable = true,
          help = "narrow the performance tests (filter expression; " ..
                 "repeat to OR)" }
p:flag{ "--relevant", help = "only tests that base..HEAD (and the work " ..
        "tree) can have changed; nothing relevant: exit 0" }
p:option{ "--kernel", metavar = "KERNEL",
          help = "kernel for the runs: bzImage, source tree or cache " ..
                 "name (required with --noise-adjust)" }
p:option{ "--noise-adjust", metavar = "N|auto[:MAX]",
          check = function(v) return perf.parse_noise_adjust(v) ~= nil,
            "expected a number of runs of at least 2 (variance needs two " ..
            "samples; 5 or more is recommended), or auto or auto:MAX " ..
            "(MAX at least 5)" end,
          help = "produce N runs per side and compare from the spread; " ..
                 "auto[:MAX] keeps adding rounds while gated metrics are " ..
                 "INCONCLUSIVE, up to MAX per side (default 20), with " ..
                 "sequential error control" }
p:option{ "--noise-spread-threshold", metavar = "PCT", type = "number",
          help = "flag sides whose spread exceeds PCT (advisory) " ..
                 "[default: 5]" }
p:option{ "--threshold", metavar = "PCT", type = "number",
          help = "relative gate for every metric, in percent (instead " ..
                 "of the registry's and the policy's default_percent; a " ..
                 "policy's per-metric thresholds still apply)" }
p:option{ "--policy", metavar = "NAME|FILE.lua",
          help = "comparison policy: schedtest (default), ktstr, or a " ..
                 "Lua file; flags given here override its settings" }
p:option{ "--fail-threshold", metavar = "N", type = "integer",
          check = function(v) return v >= 0, "must be 0 or more" end,
          help = "fail when at least N metrics regress (1 = any, 0 = count " ..
                 "gate off; the default policy counts a family of derived " ..
                 "metrics once) [default: the policy's, 5]" }
p:flag{ "--averaged", help = "cached mode: compare the two sides' averages " ..
        "(ktstr's rule) even where the pool holds several runs per side" }
p:option{ "--must-fail", metavar = "M1,M2",
          help = "fail when any of these metrics regresses, whatever the " ..
                 "count [default: the policy's must_fail]" }
p:option{ "--min-runs", metavar = "K", type = "integer",
          check = function(v) return v >= 1, "must be at least 1" end,
          help = "usable runs each side of a test needs, or the gate " ..
                 "fails [default: N of --noise-adjust; 1 in cached mode]" }
p:flag{ "--all-metrics", help = "also show stable and under-sampled rows" }
p:option{ "--format", metavar = "FORMAT", default = "text",
          choices = { "text", "markdown", "json", "html", "junit" },
          help = "report format" }
p:option{ "--output", metavar = "FILE",
          help = "write the --format report to FILE; the terminal then " ..
                 "gets the text report (without it, stdout gets the " ..
                 "--format report alone)" }
p:option{ "--html", metavar = "FILE",
          help = "also write the HTML report to FILE" }
p:option{ "--jobs", metavar = "N", type = "integer",
          check = function(v) return v >= 1, "must be at least 1" end,
          help = "VMs in parallel per side for non-performance and " ..
                 "virtual-clock tests (passed on); 1: one VM at a time, " ..
                 "the sides taking turns even on the virtual clock" }
p:option{ "--clock", metavar = "MODE", choices = { "auto", "virtual", "host" },
          help = "what both sides' VMs measure time with (passed on): " ..
                 "auto uses the suites' choice, else virtual for " ..
                 "performance tests under TCG [default: auto]" }
p:option{ "--seed", metavar = "S", type = "integer",
          check = require("schedtest.runner").check_seed,
          help = "base seed of the rounds' seeds (printed when drawn at " ..
                 "random); the same base reproduces the same rounds" }
p:option{ "--runs-root", metavar = "DIR",
          help = "pool directory [default: $SCHEDTEST_RUNS_ROOT, " ..
                 "$KTSTR_RUNS_ROOT, or target/ktstr under the project]" }

local opts = p:parse({ ... })
if not opts then return 0 end
return perf.main(opts)
