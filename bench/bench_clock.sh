#!/bin/sh
# Measurement clocks: for every performance test of examples/scx_vtime,
# the CV of its headline metrics over BENCH_CLOCK_N runs (10) under the
# host clock against the same under the virtual clock (qemu -icount, a
# different seed per run), measured in the same run, interleaved.
# Under TCG: about 11 minutes (65 s a round on 2 cores).
set -eu
SCHEDTEST=${SCHEDTEST:-build/schedtest}
exec "$SCHEDTEST" run bench/bench_clock.lua
