#!/bin/sh
# Initramfs build time: schedtest.initramfs packing a ~6.5 MB dynamically
# linked binary (python3.11: itself + 5 libraries + ld.so, found through
# the ELF walk) against `find | cpio -o -H newc` of the same files already
# staged in a directory (GNU cpio does no dependency walk: that is the
# floor).  Figures: median ms per image (N runs) and the ratio.
# For each cached kernel (built, debian), also: boot to poweroff with a
# plain vs a gzip-compressed initramfs (median of 3 boots each).
set -eu
SCHEDTEST=${SCHEDTEST:-build/schedtest}
BIN=${BENCH_BINARY:-/usr/bin/python3.11}
N=${BENCH_N:-20}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

now_ms() { date +%s%3N; }

# ours: N images inside one process, minus the cost of starting it.
cat > "$tmp/pack.lua" <<'LUA'
local initramfs = require "schedtest.initramfs"
local bin, out, n = ...
for i = 1, tonumber(n) do
  local ir <close> = initramfs.new()
  assert(ir:add_binary("/bin/payload", bin))
  assert(ir:add_bytes("/spec.json", "{}"))
  assert(ir:write(out))
end
LUA
t0=$(now_ms); "$SCHEDTEST" run "$tmp/pack.lua" "$BIN" "$tmp/ours.cpio" 0; t1=$(now_ms)
"$SCHEDTEST" run "$tmp/pack.lua" "$BIN" "$tmp/ours.cpio" "$N"; t2=$(now_ms)
ours=$(( (t2 - t1) - (t1 - t0) ))

# baseline: stage the same files, then time cpio alone.
mkdir -p "$tmp/stage/bin"
(cd "$tmp/stage" && cpio -idm --quiet < "$tmp/ours.cpio")
t0=$(now_ms)
i=0
while [ $i -lt "$N" ]; do
    (cd "$tmp/stage" && find . | cpio -o -H newc --quiet > "$tmp/base.cpio")
    i=$((i + 1))
done
t1=$(now_ms)
base=$((t1 - t0))
size=$(stat -c %s "$tmp/ours.cpio")
awk -v o="$ours" -v b="$base" -v n="$N" -v s="$size" 'BEGIN {
    printf "initramfs_build_ms   %.1f  (cpio baseline %.1f ms, image %.1f MB)\n", o/n, b/n, s/1048576
    printf "initramfs_vs_cpio    %.2f  (ratio, lower is better)\n", (o>0?o:1)/(b>0?b:1)
}'

# Boot: plain vs gzip initramfs, with each cached kernel (built, debian).
cc=${CC:-cc}
if ! command -v qemu-system-x86_64 >/dev/null ||
   ! $cc -static -O2 -o "$tmp/init" tests/fixtures/kernel/init_probe.c 2>/dev/null; then
    echo "boot_gzip_vs_plain   skipped (no qemu or no static C compiler)"
    exit 0
fi
cat > "$tmp/img.lua" <<'LUA'
local initramfs = require "schedtest.initramfs"
local init, bin, out, gz = ...
local ir <close> = initramfs.new()
assert(ir:add_file("/init", init, 493))
assert(ir:add_chardev("/dev/console", 384, 5, 1))
assert(ir:add_binary("/bin/payload", bin))
assert(ir:write(out, { gzip = gz == "1" }))
LUA
"$SCHEDTEST" run "$tmp/img.lua" "$tmp/init" "$BIN" "$tmp/plain.cpio" 0
"$SCHEDTEST" run "$tmp/img.lua" "$tmp/init" "$BIN" "$tmp/gz.cpio" 1
boot() { # kernel initrd -> ms
    a=$(now_ms)
    timeout 60 qemu-system-x86_64 -accel tcg -cpu max -M pc -m 512 -smp 2 \
        -nodefaults -no-user-config -display none -serial file:"$tmp/console" \
        -no-reboot -kernel "$1" -initrd "$2" \
        -append "console=ttyS0 quiet panic=-1" </dev/null >/dev/null 2>&1 || true
    b=$(now_ms)
    grep -q "PROBE done" "$tmp/console" || { echo "boot failed" >&2; echo 0; return; }
    echo $((b - a))
}
median3() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
for kind in built debian; do
    kernel=$("$SCHEDTEST" -e "local k = require('schedtest.kernel').resolve('$kind'); io.write(k and k.boot_path or '')")
    if [ -z "$kernel" ]; then
        echo "boot_${kind}_gzip_vs_plain  skipped (no cached $kind kernel)"
        continue
    fi
    p=$(median3 "$(boot "$kernel" "$tmp/plain.cpio")" "$(boot "$kernel" "$tmp/plain.cpio")" "$(boot "$kernel" "$tmp/plain.cpio")")
    g=$(median3 "$(boot "$kernel" "$tmp/gz.cpio")" "$(boot "$kernel" "$tmp/gz.cpio")" "$(boot "$kernel" "$tmp/gz.cpio")")
    awk -v k="$kind" -v p="$p" -v g="$g" -v sp="$(stat -c %s "$tmp/plain.cpio")" -v sg="$(stat -c %s "$tmp/gz.cpio")" 'BEGIN {
        printf "boot_%s_plain_ms     %d  (initramfs %.1f MB)\n", k, p, sp/1048576
        printf "boot_%s_gzip_ms      %d  (initramfs %.1f MB)\n", k, g, sg/1048576
        printf "boot_%s_gzip_vs_plain %.2f  (ratio, lower is better)\n", k, g/(p>0?p:1)
    }'
done
