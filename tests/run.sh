#!/bin/sh
# Run the test suites and print one closing line "N passed, N failed"
# (", N skipped" when any were skipped).  Exit 0 only if nothing failed.
#   tests/run.sh all|c|lua|e2e     (BUILD and SCHEDTEST come from make)
set -u
BUILD=${BUILD:-build}
SCHEDTEST=${SCHEDTEST:-$BUILD/schedtest}
export SCHEDTEST
what=${1:-all}
# Under SANITIZE=1: libgit2 1.5 leaks 64 bytes inside git_merge_base when a
# shallow clone lacks history (not ours to fix); everything else must be
# leak-free.
export LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan.supp:print_suppressions=0"
results=$BUILD/test-results
rm -rf "$results"
mkdir -p "$results"

total_pass=0 total_fail=0 total_skip=0

add_counts() { # file
    if [ -s "$1" ]; then
        read -r p f s < "$1"
    else
        p=0 f=1 s=0 # the suite died before reporting: count it as failed
    fi
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
    total_skip=$((total_skip + ${s:-0}))
}

# cmocka: one binary per core module; parse its summary lines.
run_c() {
    for t in "$BUILD"/tests/test_*; do
        [ -x "$t" ] || continue
        name=$(basename "$t")
        out="$results/$name.out"
        "$t" > "$out" 2>&1
        rc=$?
        cat "$out"
        p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -1)
        f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -1)
        s=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' "$out" | tail -1)
        p=${p:-0} f=${f:-0} s=${s:-0}
        if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
            echo "$name: exited with status $rc" >&2
            f=1
        fi
        echo "$p $f $s" > "$results/$name.counts"
        add_counts "$results/$name.counts"
    done
}

# busted specs, run inside the schedtest binary.
run_busted() { # suite-name busted-task
    root=tests/lua
    [ "$2" = e2e ] && root=tests/e2e
    if ! ls "$root"/*_spec.lua >/dev/null 2>&1; then
        echo "$1: no specs under $root"
        return
    fi
    SCHEDTEST_SUITE=$1 SCHEDTEST_COUNTS="$results/$1.counts" \
        "$SCHEDTEST" run tests/lua/run.lua --run="$2"
    add_counts "$results/$1.counts"
}

case $what in
    all) run_c; run_busted lua default; run_busted e2e e2e ;;
    c) run_c ;;
    lua) run_busted lua default ;;
    e2e) run_busted e2e e2e ;;
    *) echo "usage: tests/run.sh all|c|lua|e2e" >&2; exit 2 ;;
esac

line="$total_pass passed, $total_fail failed"
[ "$total_skip" -gt 0 ] && line="$line, $total_skip skipped"
echo
echo "$line"
[ "$total_fail" -eq 0 ]
