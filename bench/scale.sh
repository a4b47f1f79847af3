#!/usr/bin/env bash
# scale.sh -- how costs grow with the size of a vault (issue #19), sealfs side
# by side with gocryptfs, in one run. Not a timed test: prints a markdown table.
#
#   nice -n 10 ./scale.sh [FS...]        (default: gocryptfs sealfs)
#
# Knobs (environment): FILES (default 1000000) files of 1-8 KiB in a
# three-level tree; BIG (default "10000 100000") entries of the big
# directory, one run per size; SPARSE_GIB (100) size of the sparse file and
# SPARSE_WRITE_MIB (1024) written into it at random 1 MiB-aligned offsets.
# Steps: tree create, unmount, mount with a fresh cache (sealfs: empty
# --cache; every fs: page, dentry and inode caches dropped), find | wc -l,
# read all, stat all; big directory create, ls -l cold and warm, stat of 1,000
# random names, touch + fsync of one entry, rename 1,000 names within it,
# delete all; the sparse file. For each step: seconds, the daemon's peak
# VmRSS (sampled every 0.2 s) and peak mapping count. Needs root, /dev/fuse.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/peers.sh"
FILES="${FILES:-1000000}"; BIG="${BIG:-10000 100000}"
SPARSE_GIB="${SPARSE_GIB:-100}"; SPARSE_WRITE_MIB="${SPARSE_WRITE_MIB:-1024}"
BENCH_TMP="${BENCH_TMP:-/tmp/bench-scale}"
FS_LIST=("$@"); [ ${#FS_LIST[@]} -eq 0 ] && FS_LIST=(gocryptfs sealfs)
[ "$(id -u)" -eq 0 ] || { echo "scale.sh must run as root" >&2; exit 1; }
OUT="$BENCH_TMP/results.tsv"; mkdir -p "$BENCH_TMP"; : > "$OUT"

drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }

# sampler PID FILE: writes "maxrss_kib maxmaps" to FILE until killed
sampler() {
    local pid=$1 f=$2 rss=0 maps=0 r m
    while [ -e "/proc/$pid" ]; do
        r=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null); m=$(wc -l < "/proc/$pid/maps" 2>/dev/null)
        [ -n "$r" ] && [ "$r" -gt "$rss" ] && rss=$r; [ -n "$m" ] && [ "$m" -gt "$maps" ] && maps=$m
        echo "$rss $maps" > "$f"; sleep 0.2
    done
}

# step FS LABEL CMD...: runs CMD in $MNT, records seconds, peak RSS, peak maps
step() {
    local fs=$1 label=$2; shift 2
    local pid s t0 t1 res
    pid=$(peer_pid "$DIR"); s="$BENCH_TMP/sample.$$"; echo "0 0" > "$s"
    [ -n "$pid" ] && { sampler "$pid" "$s" & SAMPLER=$!; }
    t0=$(date +%s.%N)
    ( cd "$MNT" && "$@" ) >/dev/null 2>>"$BENCH_TMP/errors.log" || echo "$fs $label: failed" >&2
    t1=$(date +%s.%N)
    [ -n "$pid" ] && { sleep 0.3; kill "$SAMPLER" 2>/dev/null; wait "$SAMPLER" 2>/dev/null; }
    read -r rss maps < "$s"
    res=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')
    printf '%s\t%s\t%s\t%d\t%s\n' "$fs" "$label" "$res" "$((rss / 1024))" "$maps" | tee -a "$OUT" >&2
}

remount_fresh() {
    peer_unmount "$1" "$DIR" || return 1
    rm -rf "$DIR/cache"; mkdir -p "$DIR/cache"; drop
    peer_mount "$1" "$DIR"
}

# The tree: FILES files of 1-8 KiB in d<a>/e<b>/f<i>, about FILES^(1/3) wide.
tree_create() {
    python3 - "$FILES" <<'PY'
import os, sys
n = int(sys.argv[1]); per = max(2, round(n ** (1 / 3))); buf = os.urandom(8192)
for i in range(n):
    d = "d%d/e%d" % (i // (per * per) % per, i // per % per)
    if i % per == 0: os.makedirs(d, exist_ok=True)
    fd = os.open("%s/f%07d" % (d, i), os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(fd, buf[:1024 + (i * 7919) % 7169]); os.close(fd)
PY
}
read_all() { find . -type f -print0 | xargs -0 cat | wc -c; }
stat_all() { find . -print0 | xargs -0 stat -c %s | wc -l; }
big_create() { python3 -c "
import os, sys
os.mkdir('big')
for i in range($1):
    os.close(os.open('big/n%08d' % i, os.O_WRONLY | os.O_CREAT, 0o644))"; }
big_stat() { python3 -c "
import os, random
r = random.Random(1)
for _ in range(1000): os.stat('big/n%08d' % r.randrange($1))"; }
big_touch_fsync() { python3 -c "
import os
fd = os.open('big/n00000007', os.O_WRONLY); os.write(fd, b'x'); os.fsync(fd); os.close(fd)"; }
big_rename() { python3 -c "
import os
for i in range(1000): os.rename('big/n%08d' % i, 'big/r%08d' % i)"; }
sparse() { python3 -c "
import os, random
r = random.Random(2); size = $SPARSE_GIB << 30; buf = os.urandom(1 << 20)
fd = os.open('sparse', os.O_WRONLY | os.O_CREAT, 0o644); os.ftruncate(fd, size)
for _ in range($SPARSE_WRITE_MIB): os.pwrite(fd, buf, r.randrange(size >> 20) << 20)
os.fsync(fd); os.close(fd)"; }

for fs in "${FS_LIST[@]}"; do
    why=$(peer_check "$fs") || { echo "skipping $fs: $why" >&2; continue; }
    DIR="$BENCH_TMP/$fs"; _peer_vars "$DIR"
    peer_init "$fs" "$DIR" && peer_mount "$fs" "$DIR" || { echo "$fs: cannot mount" >&2; continue; }
    step "$fs" "tree: create $FILES files" tree_create
    remount_fresh "$fs" || continue
    step "$fs" "tree: find | wc -l, cold" sh -c 'find . | wc -l'
    step "$fs" "tree: read all" read_all
    step "$fs" "tree: stat all" stat_all
    step "$fs" "tree: rm -rf" sh -c 'rm -rf d*'
    for n in $BIG; do
        rm -rf "$MNT"/* 2>/dev/null
        step "$fs" "big $n: create" big_create "$n"
        remount_fresh "$fs" || break
        step "$fs" "big $n: ls -l, cold" ls -l big
        step "$fs" "big $n: ls -l, warm" ls -l big
        step "$fs" "big $n: stat 1000 random" big_stat "$n"
        step "$fs" "big $n: touch + fsync one" big_touch_fsync
        step "$fs" "big $n: rename 1000" big_rename
        step "$fs" "big $n: delete all" rm -rf big
    done
    step "$fs" "sparse ${SPARSE_GIB} GiB, ${SPARSE_WRITE_MIB} MiB random" sparse
    peer_destroy "$fs" "$DIR"
done

echo; echo "| step | fs | s | peak RSS MiB | peak maps |"; echo "|---|---|---:|---:|---:|"
awk -F'\t' '{printf "| %s | %s | %s | %s | %s |\n", $2, $1, $3, $4, $5}' "$OUT"
