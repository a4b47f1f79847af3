#!/usr/bin/env bash
# coldread.sh -- cold sequential read of one big file, two sealfs binaries in
# turn (a before/after figure for docs/PERFORMANCE.md).
#
#   bench/coldread.sh BIN_A BIN_B [MIB] [ROUNDS]
#
# For each round and each binary: a fresh vault on a local store under
# $COLDREAD_TMP (default /tmp/coldread), MIB MiB (default 1024) written with
# dd and fsync, then twice: unmount, sync, drop the page cache, mount, and
# time `dd of=/dev/null bs=1M` of the file. Prints MB/s per read, one line
# per binary and round. Root, /dev/fuse; needs MIB x 2 of free disk.
set -u
[ $# -ge 2 ] || { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
A=$1 B=$2 MIB=${3:-1024} ROUNDS=${4:-3} T=${COLDREAD_TMP:-/tmp/coldread}

one() { # BIN: prints the two reads' MB/s
    local bin=$1 s a
    rm -rf "$T"; mkdir -p "$T/m" "$T/s"; echo coldread-not-secret > "$T/p"
    "$bin" init "$T/s" --passphrase-file "$T/p" >/dev/null 2>&1 || { echo "init failed"; return 1; }
    mnt() { "$bin" mount "$T/s" "$T/m" --cache "$T/c" --passphrase-file "$T/p" >/dev/null 2>&1; }
    umnt() { "$bin" unmount "$T/m"; while pgrep -f "^$bin mount" >/dev/null; do sleep 0.05; done; }
    mnt || { echo "mount failed"; return 1; }
    dd if=/dev/zero of="$T/m/f" bs=1M count="$MIB" conv=fsync status=none
    for s in 1 2; do
        umnt; sync; echo 3 > /proc/sys/vm/drop_caches; mnt
        a=$EPOCHREALTIME; dd if="$T/m/f" of=/dev/null bs=1M status=none
        awk -v a="$a" -v b="$EPOCHREALTIME" -v m="$MIB" 'BEGIN {printf " %.0f", m * 1.048576 / (b - a)}'
    done
    umnt; rm -rf "$T"
}
for ((r = 1; r <= ROUNDS; r++)); do
    for bin in "$A" "$B"; do printf '%s round %d MB/s:' "$bin" "$r"; one "$bin"; echo; done
done
