#!/bin/sh
# bench_pool: load a synthetic pool of BENCH_POOL_N (default 20000) sidecars
# of realistic shape and size with `schedtest stats list-values`, against
#  (a) Python 3 json.load of every file collecting the same values, and
#  (b) reading every file's bytes: find ... -print0 | xargs -0 cat.
# Each time is the best of BENCH_REPEAT (default 3) warm-cache runs; wall
# and CPU (user+sys) time are both shown because the build machine is
# shared.  Targets: >= 5x faster than (a), within 2x of (b), peak RSS
# <= 1.5x the pool's size on disk.
set -eu
SCHEDTEST=${SCHEDTEST:-build/schedtest}
N=${BENCH_POOL_N:-20000}
REPEAT=${BENCH_REPEAT:-3}
here=$(dirname "$0")
pool=$(mktemp -d "${TMPDIR:-/tmp}/schedtest-bench-pool-XXXXXX")
trap 'rm -rf "$pool" "$pool".*' EXIT INT TERM

python3 "$here/gen_pool.py" "$pool" "$N"
bytes=$(find "$pool" -name '*.ktstr.json' -printf '%s\n' | awk '{s+=$1} END {print s}')

# correctness first: both tools must report the same values
"$SCHEDTEST" stats list-values --json --dir "$pool" > "$pool.st.json"
python3 "$here/list_values.py" "$pool" > "$pool.py.json"
python3 - "$pool.st.json" "$pool.py.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
if a != b:
    sys.exit("bench_pool: schedtest and python disagree:\n%s\n%s" % (a, b))
PY
rm -f "$pool.st.json" "$pool.py.json"

# GNU time measures the command and the descendants it waited for.
best() { # command... -> "wall cpu rss" (min wall, min cpu, max rss)
    i=0 w= c= r=0
    while [ $i -lt "$REPEAT" ]; do
        /usr/bin/time -f '%e %U %S %M' -o "$pool.time" "$@" > /dev/null
        read -r w1 u1 s1 r1 < "$pool.time"
        c1=$(awk -v u="$u1" -v s="$s1" 'BEGIN {print u + s}')
        w=$(awk -v a="${w:-1e9}" -v b="$w1" 'BEGIN {print (b < a) ? b : a}')
        c=$(awk -v a="${c:-1e9}" -v b="$c1" 'BEGIN {print (b < a) ? b : a}')
        [ "$r1" -gt "$r" ] && r=$r1
        i=$((i + 1))
    done
    rm -f "$pool.time"
    echo "$w $c $r"
}

# warm the page cache
find "$pool" -name '*.ktstr.json' -print0 | xargs -0 cat > /dev/null

st=$(best "$SCHEDTEST" stats list-values --dir "$pool")
py=$(best python3 "$here/list_values.py" "$pool")
ct=$(best sh -c "find '$pool' -name '*.ktstr.json' -print0 | xargs -0 cat >/dev/null")

set -- $st; st_w=$1 st_c=$2 st_r=$3
set -- $py; py_w=$1 py_c=$2
set -- $ct; ct_w=$1 ct_c=$2

awk -v n="$N" -v bytes="$bytes" -v sw="$st_w" -v sc="$st_c" -v sr="$st_r" \
    -v pw="$py_w" -v pc="$py_c" -v cw="$ct_w" -v cc="$ct_c" 'BEGIN {
    mb = bytes / 1048576
    printf "pool: %d sidecars, %.1f MB on disk (%.1f KB each)\n", n, mb, bytes / n / 1024
    printf "times (best of runs, wall / cpu): schedtest %.3f / %.3f s, python %.3f / %.3f s, cat %.3f / %.3f s\n", sw, sc, pw, pc, cw, cc
    printf "speedup vs python json.load: %.1fx wall, %.1fx cpu (target >= 5x)\n", pw / sw, pc / sc
    printf "time vs reading the bytes (cat): %.2fx wall, %.2fx cpu (target <= 2x)\n", sw / cw, sc / cc
    printf "peak RSS vs pool size on disk: %.2fx (%.1f MB / %.1f MB, target <= 1.5x)\n", sr * 1024 / bytes, sr / 1024, mb
}'
