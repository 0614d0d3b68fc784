#!/bin/sh
# VM launch: launch-to-workload time and host-side overhead per VM, for
# every cached kernel (built, debian), as medians of BENCH_N boots (5),
# each against a bare boot of the same kernel measured in the same run;
# then, per kernel, the CV of the median wake latency of one pinned
# ping-pong test over BENCH_CV_N boots (10).  Under TCG: 3-5 minutes.
set -eu
SCHEDTEST=${SCHEDTEST:-build/schedtest}
exec "$SCHEDTEST" run bench/bench_vm.lua
