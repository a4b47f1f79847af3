#!/usr/bin/env bash
# s3.sh -- upload and download throughput to a local S3 server: sealfs
# through its mount against `rclone copy` of the same files to the same
# server, plain and through an rclone crypt remote (see README.md).
#
#   bench/s3.sh [--quick] [--runs N]
#
# One s3rver on 127.0.0.1:$S3_PORT (installed and patched by peers.sh), two
# data sets: one big file ($BIG_MB MiB, random) and the small-file tree
# corpus of run.sh.  For each, per run:
#   sealfs up     fresh vault; mount; cp into the mount; `sealfs unmount`
#                 until the daemon has exited (the data is in the store)
#   sealfs down   mount with a fresh, empty cache; cp out of the mount to a
#                 local directory
#   rclone up     rclone copy SRC remote:    (plain S3, then crypt over S3)
#   rclone down   rclone copy remote: DST
# Every copy is checked (cmp / diff -r) outside the timed part.  Prints a
# markdown table: MB/s (median of the runs) and sealfs / rclone ratios
# (> 1.00x: sealfs faster).  --quick: 1 run, a 128 MiB file and one corpus
# subdirectory.  Needs root and /dev/fuse.  Loopback only.

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
S3_PORT="${S3_PORT:-4573}"   # not run.sh's 4571: both may run at once
. "$HERE/peers.sh"

RUNS=3; QUICK=0
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1; RUNS=1 ;;
        --runs) RUNS=$2; shift ;;
        -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
if [ "$QUICK" = 1 ]; then BIG_MB="${BIG_MB:-128}"; TREE_SUBDIR="${TREE_SUBDIR:-glibc-2.36/elf}"
else BIG_MB="${BIG_MB:-1024}"; TREE_SUBDIR="${TREE_SUBDIR:-glibc-2.36}"; fi
BENCH_TMP="${BENCH_TMP:-/tmp/bench-scratch}"
BENCH_OUT="${BENCH_OUT:-/tmp/bench-results/s3-$(date +%Y%m%d-%H%M%S)}"
CORPUS_TAR="${CORPUS_TAR:-$BENCH_CACHE/corpus-glibc-2.36.tar}"
STEP_TIMEOUT="${STEP_TIMEOUT:-900}"
W="$BENCH_TMP/s3cmp"   # scratch: src/, dst/, the s3rver data, mounts

[ "$(id -u)" -eq 0 ] || { echo "s3.sh must run as root (FUSE mounts)" >&2; exit 1; }
mkdir -p "$BENCH_OUT" || exit 1
LOG="$BENCH_OUT/run.log"; RESULTS="$BENCH_OUT/results.tsv"; : > "$LOG"; : > "$RESULTS"
say() { echo "$*" | tee -a "$LOG" >&2; }

# ------------------------------------------------------------------ setup
command -v rclone >/dev/null || { say "installing rclone"; DEBIAN_FRONTEND=noninteractive apt-get install -y -q rclone >>"$LOG" 2>&1; }
for c in rclone node npm fusermount3; do _need "$c" >/dev/null || { say "$c is not installed"; exit 1; }; done
_sealfs_check >/dev/null || { say "$(_sealfs_check)"; exit 1; }
s3rver_install || { say "cannot install s3rver (see $BENCH_CACHE/s3rver/npm.log)"; exit 1; }
if [ ! -s "$CORPUS_TAR" ]; then   # run.sh builds it (tree group on the raw directory)
    say "building the tree corpus with run.sh"
    "$HERE/run.sh" --quick --only tree raw >>"$LOG" 2>&1
    [ -s "$CORPUS_TAR" ] || { say "no corpus at $CORPUS_TAR"; exit 1; }
fi

cleanup() {
    trap - EXIT INT TERM
    local m
    for m in "$W"/*/mnt; do mountpoint -q "$m" 2>/dev/null && { fusermount3 -u "$m" 2>/dev/null || _force_unmount "$m"; }; done
    D="$W"; _stop_pidfile "$W/.s3rver.pid"
    rm -rf "$W"
}
trap 'cleanup; exit 130' INT TERM
trap cleanup EXIT

rm -rf "$W"; mkdir -p "$W/src" "$W/log" || exit 1
D="$W"; LOGDIR="$W/log"
# s3rver 3.7.1 makes its listing continuation tokens with DES, which Node 20's
# OpenSSL 3 has only in its legacy provider: without it every truncated
# listing (sealfs checks the bucket with max-keys=1) fails with 500.
NODE_OPTIONS="${NODE_OPTIONS:+$NODE_OPTIONS }--openssl-legacy-provider" _s3rver_start bench-sealfs bench-rclone || exit 1
say "data: $BIG_MB MiB random file; tree $TREE_SUBDIR of $(basename "$CORPUS_TAR")"
head -c "$((BIG_MB * 1048576))" /dev/urandom > "$W/src/big.bin" || exit 1
mkdir -p "$W/src/tree" && tar xf "$CORPUS_TAR" -C "$W/src/tree" "$TREE_SUBDIR" || exit 1
TREE_BYTES=$(find "$W/src/tree" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
TREE_FILES=$(find "$W/src/tree" -type f | wc -l)
BIG_BYTES=$((BIG_MB * 1048576))

# rclone: [back] plain S3 on s3rver, [sec] crypt over back:bench-rclone/crypt
mkdir -p "$W/rclone"; printf '%s\n' "$PEER_PASSPHRASE" > "$W/rclone/pass"
D="$W/rclone"; PASSFILE="$D/pass"
_rclone_s3_conf "back:bench-rclone/crypt"
RCL=(env -u AWS_CA_BUNDLE rclone --config "$D/rclone.conf")

# ------------------------------------------------------------------ steps
rec() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$RESULTS"; }   # tool data dir value
# timed CMD... : STEP_SECS = wall seconds, STEP_RC = exit status
timed() {
    local t0=$EPOCHREALTIME
    echo "--- $*" >> "$LOG"
    timeout -k 10 "$STEP_TIMEOUT" "$@" >>"$LOG" 2>&1; STEP_RC=$?
    STEP_SECS=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.4f", b - a}')
}
# result TOOL DATA DIR CHECK-CMD... : records the last step (fail/wrong or seconds)
result() {
    local tool=$1 data=$2 dir=$3; shift 3
    if [ "$STEP_RC" -ne 0 ]; then rec "$tool" "$data" "$dir" fail; say "  $tool $data $dir: FAILED rc=$STEP_RC"
    elif ! "$@" >>"$LOG" 2>&1; then rec "$tool" "$data" "$dir" wrong; say "  $tool $data $dir: WRONG data"
    else rec "$tool" "$data" "$dir" "$STEP_SECS"; say "  $tool $data $dir: ${STEP_SECS}s"; fi
}
src_of() { [ "$1" = big ] && echo "$W/src/big.bin" || echo "$W/src/tree/$TREE_SUBDIR"; }
same() { if [ -d "$1" ]; then diff -r -q "$1" "$2"; else cmp "$1" "$2"; fi; }

# sealfs: store s3://bench-sealfs/RUN-DATA, the peers.sh command lines
sealfs_vars() { # RUN DATA CACHE-NAME
    D="$W/sealfs-$1-$2"; MNT="$D/mnt"; CACHE="$D/$3"; PASSFILE="$D/pass"; LOGDIR="$D/log"
    SEALFS_S3_STORE="s3://bench-sealfs/r$1-$2"; STORE=$SEALFS_S3_STORE
}
sealfs_pair() { # RUN DATA
    local run=$1 data=$2 src dst; src=$(src_of "$data"); dst="$W/dst/sealfs-$run-$data"
    sealfs_vars "$run" "$data" cache-up
    mkdir -p "$MNT" "$CACHE" "$LOGDIR"; printf '%s\n' "$PEER_PASSPHRASE" > "$PASSFILE"
    ( sealfs_s3_env; sealfs_cmd_init ) >>"$LOG" 2>&1 || { say "  sealfs init failed"; rec sealfs "$data" up fail; return; }
    p_sealfs_s3_mount >>"$LOG" 2>&1 || { say "  sealfs mount failed"; rec sealfs "$data" up fail; return; }
    timed bash -c 'cp -r "$1" "$2/" && "$3" unmount "$2" && while [ -e "/proc/$4" ] && ! grep -q "^State:.*Z" "/proc/$4/status"; do sleep 0.05; done' \
        _ "$src" "$MNT" "$SEALFS_BIN" "$PEER_PID"
    mountpoint -q "$MNT" && p_sealfs_s3_unmount >>"$LOG" 2>&1
    result sealfs "$data" up true
    sealfs_vars "$run" "$data" cache-down; mkdir -p "$CACHE" "$(dirname "$dst")"
    p_sealfs_s3_mount >>"$LOG" 2>&1 || { say "  sealfs mount (fresh cache) failed"; rec sealfs "$data" down fail; return; }
    timed cp -r "$MNT/$(basename "$src")" "$dst"
    result sealfs "$data" down same "$src" "$dst"
    p_sealfs_s3_unmount >>"$LOG" 2>&1
    rm -rf "$dst" "$W/sealfs-$run-$data"
}
rclone_pair() { # RUN DATA REMOTE(back|sec) TOOL
    local run=$1 data=$2 remote=$3 tool=$4 src dst path
    src=$(src_of "$data"); dst="$W/dst/$tool-$run-$data"; mkdir -p "$dst"
    path="$remote:r$run-$data"; [ "$remote" = back ] && path="back:bench-rclone/plain/r$run-$data"
    if [ "$data" = big ]; then timed "${RCL[@]}" copy "$src" "$path"
    else timed "${RCL[@]}" copy "$src" "$path/$(basename "$src")"; fi
    result "$tool" "$data" up true
    timed "${RCL[@]}" copy "$path" "$dst"
    result "$tool" "$data" down same "$src" "$dst/$(basename "$src")"
    rm -rf "$dst"
}

# ------------------------------------------------------------------ run
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg); T_START=$EPOCHREALTIME
say "load average at start: $LOAD_START"
for ((run = 1; run <= RUNS; run++)); do
    for data in big tree; do
        say "run $run/$RUNS, $data: $(date +%H:%M:%S)"
        sealfs_pair "$run" "$data"
        rclone_pair "$run" "$data" back rclone
        rclone_pair "$run" "$data" sec rclone-crypt
    done
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# ------------------------------------------------------------------ report
table() {
    awk -F'\t' -v big="$BIG_BYTES" -v tree="$TREE_BYTES" -v bigmb="$BIG_MB" -v files="$TREE_FILES" '
    function median(arr, n,   i, j, t) {
        for (i = 2; i <= n; i++) { t = arr[i]; for (j = i - 1; j >= 1 && arr[j] > t; j--) arr[j + 1] = arr[j]; arr[j + 1] = t }
        return n % 2 ? arr[(n + 1) / 2] : (arr[n / 2] + arr[n / 2 + 1]) / 2
    }
    { k = $1 SUBSEP $2 SUBSEP $3; if ($4 ~ /^[0-9.]+$/) val[k, ++n[k]] = $4; else bad[k] = $4 }
    function cell(tool, data, dir,   k, a, i, s) {
        k = tool SUBSEP data SUBSEP dir
        if (!n[k]) { MBS = 0; return (k in bad) ? bad[k] : "—" }
        for (i = 1; i <= n[k]; i++) a[i] = val[k, i]
        s = median(a, n[k]); MBS = (data == "big" ? big : tree) / 1e6 / s
        return sprintf("%.1f (%.1f s)", MBS, s)
    }
    END {
        print "| Workload | sealfs MB/s | rclone copy, plain S3 | rclone copy, crypt | sealfs / rclone crypt | sealfs / rclone plain |"
        print "|---|---:|---:|---:|---:|---:|"
        split("big up,big down,tree up,tree down", rows, ",")
        for (r = 1; r <= 4; r++) {
            split(rows[r], p, " ")
            what = (p[1] == "big" ? sprintf("%d MiB file", bigmb) : sprintf("tree, %d files, %.1f MB", files, tree / 1e6))
            what = what (p[2] == "up" ? ": upload, until in the store" : ": download, fresh cache")
            c1 = cell("sealfs", p[1], p[2]); s = MBS
            c2 = cell("rclone", p[1], p[2]); pl = MBS
            c3 = cell("rclone-crypt", p[1], p[2]); cr = MBS
            r1 = (s && cr) ? sprintf("%.2f×", s / cr) : "—"; r2 = (s && pl) ? sprintf("%.2f×", s / pl) : "—"
            printf "| %s | %s | %s | %s | %s | %s |\n", what, c1, c2, c3, r1, r2
        }
    }' "$RESULTS"
}
{
    echo "## S3 throughput: sealfs against rclone copy"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); CPU: $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo); $(nproc) cores"
    echo "- load average at start: $LOAD_START; at the end: $LOAD_END; wall time $(awk -v a="$T_START" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.0f min", (b - a) / 60}')"
    echo "- $(rclone version 2>/dev/null | head -1); s3rver $S3RVER_VERSION on 127.0.0.1; sealfs: $SEALFS_BIN; scratch $W"
    echo "- runs per cell: $RUNS (median); MB/s = 10^6 bytes of plaintext per second"
    echo
    table
} | tee "$BENCH_OUT/report.md"
say "results: $BENCH_OUT (report.md, results.tsv, run.log)"
