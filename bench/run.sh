#!/bin/sh
# make bench: run every bench/bench_*.sh in order.  Each prints one figure
# per line, each a ratio against a baseline measured in the same run.
set -u
BUILD=${BUILD:-build}
SCHEDTEST=${SCHEDTEST:-$BUILD/schedtest}
export BUILD SCHEDTEST
status=0
found=0
for b in bench/bench_*.sh; do
    [ -f "$b" ] || continue
    found=1
    echo "== $(basename "$b" .sh)"
    sh "$b" || { echo "$b failed" >&2; status=1; }
done
[ "$found" = 1 ] || echo "no benchmarks yet"
exit $status
