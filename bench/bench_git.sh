#!/bin/sh
# bench_git: plain checkout (schedtest.git, libgit2) of a real tree of
# ~9,000 files against `git archive HEAD | tar -x` of the same tree, in the
# same run.  Figure: checkout time / archive time (target <= 1.5).
#
# The tree is fs/, kernel/ and include/ of Debian's linux-source-6.12,
# committed once into a packed repository cached under
# ~/.cache/schedtest/bench (rebuilt when missing).
set -eu
SCHEDTEST=$(realpath "${SCHEDTEST:-build/schedtest}")
SRC_TAR=${SRC_TAR:-/usr/src/linux-source-6.12.tar.xz}
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/schedtest/bench
REPO=$CACHE/linux-subset-repo
ROUNDS=${ROUNDS:-3}

if [ ! -d "$REPO/.git" ] || [ ! -f "$REPO/.ready" ]; then
    if [ ! -f "$SRC_TAR" ]; then
        echo "bench_git: $SRC_TAR missing (apt-get install linux-source-6.12); skipped"
        exit 0
    fi
    echo "bench_git: building the benchmark repository in $REPO (once)"
    rm -rf "$REPO"
    mkdir -p "$REPO"
    xz -dc "$SRC_TAR" | tar -x -C "$REPO" --strip-components=1 \
        --wildcards 'linux-source-6.12/fs/*' 'linux-source-6.12/kernel/*' \
        'linux-source-6.12/include/*'
    (
        cd "$REPO"
        git init -q -b main .
        git add -A
        GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@localhost \
        GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@localhost \
            git -c commit.gpgsign=false -c gc.auto=0 commit -qm "linux subset"
        git gc -q
    )
    touch "$REPO/.ready"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/schedtest-bench-git-XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

now() { date +%s.%N; }

# One plain checkout; the process exits without closing the handle so
# that removal is not timed (the directory is removed afterwards).
co_script='local git = require "schedtest.git"
local r = assert(git.open(os.getenv("BENCH_REPO")))
_G.co = assert(r:checkout("HEAD", os.getenv("BENCH_OUT")))
os.exit(0, false)'

files=$(git -C "$REPO" ls-tree -r HEAD | wc -l)
t_co=""
t_ar=""
i=0
while [ "$i" -lt "$ROUNDS" ]; do
    # alternate the order so neither side always runs with warmer caches
    for side in co ar; do
        [ $((i % 2)) -eq 1 ] && side=$([ "$side" = co ] && echo ar || echo co)
        rm -rf "$work/out" "$work/out.lock"
        sync
        if [ "$side" = co ]; then
            s=$(now)
            BENCH_REPO=$REPO BENCH_OUT=$work/out "$SCHEDTEST" -e "$co_script"
            e=$(now)
            t_co="$t_co $(awk "BEGIN { print $e - $s }")"
        else
            s=$(now)
            mkdir "$work/out"
            git -C "$REPO" archive HEAD | tar -x -C "$work/out"
            e=$(now)
            t_ar="$t_ar $(awk "BEGIN { print $e - $s }")"
        fi
    done
    i=$((i + 1))
done
rm -rf "$work/out" "$work/out.lock"

median() { echo "$@" | tr ' ' '\n' | grep . | sort -g | awk '
    { v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
mc=$(median $t_co)
ma=$(median $t_ar)
ratio=$(awk "BEGIN { printf \"%.2f\", $mc / $ma }")
printf 'git plain checkout of %d files: %.3fs vs git archive | tar -x %.3fs (median of %d)\n' \
    "$files" "$mc" "$ma" "$ROUNDS"
printf 'git_checkout_vs_archive_ratio %s (target <= 1.5)\n' "$ratio"
