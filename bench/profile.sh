#!/usr/bin/env bash
# profile.sh -- where does the sealfs daemon spend its time on one workload?
#
#   bench/profile.sh [--tool perf|strace|both|fuse|callgrind|rss] [--out DIR] WORKLOAD...
#
# WORKLOAD: seqwrite seqread randread randwrite extract drain find lsR readall
#           rm create stat unlink save sqlite   (the rows of run.sh; "all" =
#           every one; drain: `sealfs sync` after the extract)
#
# For each workload: a fresh vault is made and mounted in the foreground
# (`sealfs mount -f`, so the daemon pid is known), the workload's input is
# prepared (not measured), then the workload runs
#   1. alone, timed (wall seconds);
#   2. with `perf record -e cpu-clock -g` attached to the daemon: on-CPU
#      profile, flat by symbol and with callers (DIR/W.perf.txt);
#   3. with `strace -c -w -f` attached to the daemon: every system call the
#      daemon makes, count and wall time (DIR/W.strace.txt); for the
#      per-operation workloads the counts are also divided by the number
#      of operations (DIR/W.perop.txt: e.g. fsyncs per atomic save).
# --tool fuse instead mounts with `-o debug` and counts the FUSE requests the
# kernel sent during the workload, by opcode (DIR/W.fuse.txt): the measure
# that does not move with the machine's load (docs/PERFORMANCE.md, "FUSE
# requests per workload").
# --tool callgrind runs the daemon under `valgrind --tool=callgrind` with
# instrumentation off, switches it on for the workload only and counts the
# instructions the daemon executed (DIR/W.callgrind.txt: the total and the
# top functions, inclusive and self): the CPU measure that, unlike time, does
# not move with the load of a shared machine (the workload runs 20-50x slower).
# --tool rss resets the daemon's VmHWM after the preparation (clear_refs) and
# reports its peak and final RSS over the workload, with the mappings that
# hold the most at the end (DIR/W.rss.txt, from /proc/PID/smaps).
# Each of the three runs starts from the same prepared state (destructive
# workloads are prepared again).  Sizes are smaller than run.sh's so that a
# workload profiles in seconds; set them with the same variables.
#
# Env: SEALFS_BIN (default build/fs/sealfs of this repo), PROFILE_MOUNT_O
# (extra -o mount options, e.g. default_permissions), PROFILE_TMP
# (scratch, default /tmp/bench-profile-scratch), BENCH_CACHE (corpus and
# helpers, shared with run.sh), SEQ_MB (256) RAND_MB (64) RAND_SECS (10)
# META_FILES (2000) SAVES (200) SQL_ROWS (5000) SQL_TXN_ROWS (100).
# Needs root, /dev/fuse, perf (Debian: linux-perf) and strace; a release
# build with `-g -fno-omit-frame-pointer` gives readable call chains.

set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SEALFS_BIN="${SEALFS_BIN:-$(cd "$HERE/.." && pwd)/build/fs/sealfs}"
PROFILE_TMP="${PROFILE_TMP:-/tmp/bench-profile-scratch}"
BENCH_CACHE="${BENCH_CACHE:-/tmp/bench-cache}"
SEQ_MB="${SEQ_MB:-256}"; RAND_MB="${RAND_MB:-64}"; RAND_SECS="${RAND_SECS:-10}"
META_FILES="${META_FILES:-2000}"; SAVES="${SAVES:-200}"
SQL_ROWS="${SQL_ROWS:-5000}"; SQL_TXN_ROWS="${SQL_TXN_ROWS:-100}"
ALL="seqwrite seqread randread randwrite extract drain find lsR readall rm create stat unlink save sqlite"

TOOL=both; OUT=""; WL=()
while [ $# -gt 0 ]; do
    case "$1" in
        --tool) TOOL=$2; shift ;;
        --out) OUT=$2; shift ;;
        -h|--help) sed -n '2,37p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        all) read -r -a WL <<< "$ALL" ;;
        -*) echo "unknown option $1" >&2; exit 2 ;;
        *) WL+=("$1") ;;
    esac
    shift
done
[ ${#WL[@]} -gt 0 ] || { sed -n '2,37p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
for w in "${WL[@]}"; do [[ " $ALL " == *" $w "* ]] || { echo "unknown workload $w (known: $ALL)" >&2; exit 2; }; done
case "$TOOL" in perf|strace|both|fuse|callgrind|rss) ;; *) echo "--tool perf|strace|both|fuse|callgrind|rss" >&2; exit 2 ;; esac
[ "$(id -u)" -eq 0 ] || { echo "profile.sh must run as root" >&2; exit 1; }
[ -x "$SEALFS_BIN" ] || { echo "SEALFS_BIN=$SEALFS_BIN is not an executable" >&2; exit 1; }
OUT="${OUT:-/tmp/bench-profile/$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$OUT" "$BENCH_CACHE/bin" || exit 1
LOG="$OUT/profile.log"; : > "$LOG"
say() { echo "$*" | tee -a "$LOG" >&2; }

need=()
[ "$TOOL" = perf ] || [ "$TOOL" = both ] && ! command -v perf >/dev/null && need+=(linux-perf)
[ "$TOOL" = strace ] || [ "$TOOL" = both ] && ! command -v strace >/dev/null && need+=(strace)
[ "$TOOL" = callgrind ] && ! command -v valgrind >/dev/null && need+=(valgrind)
command -v fio >/dev/null || need+=(fio)
command -v sqlite3 >/dev/null || need+=(sqlite3)
if [ ${#need[@]} -gt 0 ]; then
    say "installing: ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >>"$LOG" 2>&1 ||
        { apt-get update -q >>"$LOG" 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >>"$LOG" 2>&1; } ||
        { say "apt-get install failed (see $LOG)"; exit 1; }
fi
FSOPS="$BENCH_CACHE/bin/fsops"
cc -O2 -Wall -o "$FSOPS" "$HERE/fsops.c" || exit 1

CORPUS="$BENCH_CACHE/corpus-glibc-2.36.tar"   # built by run.sh
if [ ! -s "$CORPUS" ]; then
    CORPUS="$BENCH_CACHE/corpus-_usr_include.tar"
    [ -s "$CORPUS" ] || tar cf "$CORPUS" -C / --sort=name --dereference usr/include 2>>"$LOG"
fi
SQLFILE="$BENCH_CACHE/sqlite-$SQL_ROWS-$SQL_TXN_ROWS.sql"
[ -s "$SQLFILE" ] || awk -v rows="$SQL_ROWS" -v per="$SQL_TXN_ROWS" 'BEGIN {
    print "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER, payload BLOB);"
    print "CREATE INDEX items_name ON items(name);"
    for (i = 1; i <= rows; i++) {
        if ((i - 1) % per == 0) print "BEGIN;"
        printf "INSERT INTO items(name, qty, payload) VALUES(%citem-%06d%c, %d, randomblob(200));\n", 39, (i * 7919) % 1000003, 39, i % 97
        if (i % per == 0 || i == rows) print "COMMIT;"
    }
}' > "$SQLFILE"

# ------------------------------------------------------------ the mount
D="$PROFILE_TMP"; STORE="$D/store"; CACHE="$D/cache"; MNT="$D/mnt"; PASS="$D/pass"
DPID=""; WRAP=()
drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches; }
fs_mount() {
    "${WRAP[@]}" "$SEALFS_BIN" mount "$STORE" "$MNT" --cache "$CACHE" --passphrase-file "$PASS" -f $MOUNT_OPTS \
        </dev/null >>"$D/daemon.log" 2>&1 &
    DPID=$!
    local i
    for ((i = 0; i < 1200; i++)); do mountpoint -q "$MNT" && return 0; kill -0 "$DPID" 2>/dev/null || break; sleep 0.1; done
    say "mount failed (see $D/daemon.log)"; return 1
}
fs_unmount() {
    [ -n "$DPID" ] || return 0
    "$SEALFS_BIN" unmount "$MNT" >>"$LOG" 2>&1 || { fusermount3 -uz "$MNT"; kill "$DPID" 2>/dev/null; }
    wait "$DPID" 2>/dev/null; DPID=""
}
fresh() {   # a new, empty, mounted vault (cheap KDF: the mount is not what is profiled)
    fs_unmount; rm -rf "$D"; mkdir -p "$MNT"; printf 'profile-passphrase\n' > "$PASS"
    "$SEALFS_BIN" init "$STORE" --passphrase-file "$PASS" --insecure-test-kdf --kdf-memlimit 8 --kdf-opslimit 1 >>"$LOG" 2>&1 || { say "init failed"; return 1; }
    fs_mount
}
cold() { fs_unmount; drop_caches; fs_mount; }
cleanup() { fs_unmount; rm -rf "$D"; }
trap 'cleanup; exit 130' INT TERM
trap cleanup EXIT

# ------------------------------------------------------------ workloads
# prep_W: make the state W starts from (fresh vault included); run_W: the
# measured step; ops_W: how many operations run_W performs (for per-op counts)
fio_job() { fio --name=p --filename="$MNT/rand.bin" --size="${RAND_MB}m" --rw="$1" --bs=4k --ioengine=psync \
    --direct=1 --runtime="$RAND_SECS" --time_based --fallocate=none --randrepeat=1 --norandommap \
    --output-format=terse --terse-version=3 --output="$D/fio.out"; }
prep_seqwrite()  { fresh; };               run_seqwrite()  { "$FSOPS" write "$MNT/seq.bin" "$SEQ_MB" && sync; }
ops_seqwrite()   { echo "$SEQ_MB"; }       # per MiB
prep_seqread()   { fresh && "$FSOPS" write "$MNT/seq.bin" "$SEQ_MB" && cold; }
run_seqread()    { dd if="$MNT/seq.bin" of=/dev/null bs=1M status=none; }
ops_seqread()    { echo "$SEQ_MB"; }
prep_randread()  { fresh && "$FSOPS" write "$MNT/rand.bin" "$RAND_MB"; }
run_randread()   { fio_job randread; }
ops_randread()   { awk -F';' '{print int($6 / 4)}' "$D/fio.out"; }       # 4 KiB reads done (field 6: KiB read)
prep_randwrite() { prep_randread; }
run_randwrite()  { fio_job randwrite; }
ops_randwrite()  { awk -F';' '{print int($47 / 4)}' "$D/fio.out"; }      # 4 KiB writes done (field 47: KiB written)
prep_extract()   { fresh && mkdir "$MNT/tree"; }
run_extract()    { tar xf "$CORPUS" -C "$MNT/tree" --no-same-owner && sync; }
ops_extract()    { tar tf "$CORPUS" | wc -l; }                            # per tar member
prep_drain()     { prep_extract && run_extract; }   # then until the store holds the tree:
run_drain()      { "$SEALFS_BIN" sync "$MNT"; }      # its commit and the uploader's round
ops_drain()      { ops_extract; }
prep_tree()      { fresh && mkdir "$MNT/tree" && tar xf "$CORPUS" -C "$MNT/tree" --no-same-owner && cold; }
prep_find()      { prep_tree; };           run_find()    { find "$MNT/tree" -type f | wc -l >/dev/null; }
prep_lsR()       { prep_tree; };           run_lsR()     { ls -lR "$MNT/tree" >/dev/null; }
prep_readall()   { prep_tree; };           run_readall() { tar cf - -C "$MNT/tree" . | wc -c >/dev/null; }
prep_rm()        { prep_tree; };           run_rm()      { rm -rf "$MNT/tree" && sync; }
ops_find()       { ops_extract; }; ops_lsR() { ops_extract; }; ops_readall() { ops_extract; }; ops_rm() { ops_extract; }
prep_create()    { fresh && mkdir "$MNT/meta"; }
run_create()     { "$FSOPS" create "$MNT/meta" "$META_FILES"; }
prep_stat()      { prep_create && "$FSOPS" create "$MNT/meta" "$META_FILES" && cold; }
run_stat()       { "$FSOPS" stat "$MNT/meta" "$META_FILES"; }
prep_unlink()    { prep_create && "$FSOPS" create "$MNT/meta" "$META_FILES"; }
run_unlink()     { "$FSOPS" unlink "$MNT/meta" "$META_FILES"; }
ops_create()     { echo "$META_FILES"; }; ops_stat() { ops_create; }; ops_unlink() { ops_create; }
prep_save()      { fresh && mkdir "$MNT/save"; }
run_save()       { "$FSOPS" save "$MNT/save" "$SAVES"; }
ops_save()       { echo "$SAVES"; }
prep_sqlite()    { fresh; }
run_sqlite()     { sqlite3 -bail "$MNT/db.sqlite" < "$SQLFILE" >/dev/null; }
ops_sqlite()     { echo $((SQL_ROWS / SQL_TXN_ROWS)); }                   # per transaction

timed() { local t0=$EPOCHREALTIME; "$@"; local rc=$?
    LAST_SECS=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.3f", b - a}'); return $rc; }

# perf report: flat top symbols, then the call chains into them
perf_reports() { # DATA TXT
    {
        echo "### flat, by symbol (self time, on-CPU samples of the daemon)"
        perf report -i "$1" --stdio --no-children --sort dso,symbol --percent-limit 0.7 -g none 2>/dev/null | grep -v '^$'
        echo; echo "### inclusive (children), sealfs functions"
        perf report -i "$1" --stdio --children --sort symbol --percent-limit 2 -g none 2>/dev/null |
            grep -E '^ +[0-9.]+%' | head -60
        echo; echo "### call chains (caller graph, >= 3 %)"
        perf report -i "$1" --stdio --no-children --sort symbol -g caller,3,0.5,callee --percent-limit 3 2>/dev/null | grep -v '^$' | head -300
    } > "$2"
}

# strace -c table -> per-operation counts of the syscalls that matter
perop() { # STRACE NOPS
    awk -v n="$2" '$1 ~ /^[0-9.]+$/ && NF >= 5 {name = $NF; calls = $4
        printf "%-20s %10d calls %10.2f per op\n", name, calls, calls / (n > 0 ? n : 1)}' "$1" | sort -k2 -nr
}

# FUSE requests of one run, by opcode, from the daemon's debug log
fuse_counts() { # LOG FROM-LINE
    tail -n +"$2" "$1" | grep -ao 'opcode: [A-Z_0-9]*' | awk '{print $2}' | sort | uniq -c | sort -rn |
        awk '{printf "%-14s %8d\n", $2, $1; s += $1} END {printf "%-14s %8d\n", "total", s}'
}

MOUNT_OPTS="${PROFILE_MOUNT_O:+-o $PROFILE_MOUNT_O}"
if [ "$TOOL" = fuse ]; then
    MOUNT_OPTS="-o debug${PROFILE_MOUNT_O:+,$PROFILE_MOUNT_O}"
    printf '| workload | ops | wall s (debug log on) | FUSE requests |\n|---|---:|---:|---:|\n' > "$OUT/summary.md"
    for w in "${WL[@]}"; do
        say "== $w"
        "prep_$w" >>"$LOG" 2>&1 || { say "  prep failed"; continue; }
        from=$(($(wc -l < "$D/daemon.log") + 1))
        timed "run_$w" >>"$LOG" 2>&1 || say "  $w failed"
        sleep 1   # the writeback and releases that follow the last call
        fuse_counts "$D/daemon.log" "$from" > "$OUT/$w.fuse.txt"
        printf '| %s | %s | %s | %s |\n' "$w" "$("ops_$w" 2>/dev/null)" "$LAST_SECS" \
            "$(awk '$1 == "total" {print $2}' "$OUT/$w.fuse.txt")" >> "$OUT/summary.md"
        say "  -> $OUT/$w.fuse.txt"
    done
    fs_unmount; cat "$OUT/summary.md"; echo "(counts: $OUT)"; exit 0
fi

status_kib() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }
if [ "$TOOL" = rss ]; then
    printf '| workload | ops | VmHWM MiB | VmRSS after MiB | threads at peak |\n|---|---:|---:|---:|---:|\n' > "$OUT/summary.md"
    for w in "${WL[@]}"; do
        say "== $w"
        "prep_$w" >>"$LOG" 2>&1 || { say "  prep failed"; continue; }
        echo 5 > "/proc/$DPID/clear_refs"   # VmHWM := VmRSS now
        # the thread count at the RSS peak, sampled every 50 ms
        ( peak=0; thr=0; while kill -0 "$DPID" 2>/dev/null; do
              r=$(status_kib "$DPID" VmRSS); t=$(status_kib "$DPID" Threads)
              [ "${r:-0}" -gt "$peak" ] && { peak=$r; thr=$t; echo "$thr" > "$D/rss.thr"; }
              sleep 0.05; done ) & spid=$!
        timed "run_$w" >>"$LOG" 2>&1 || say "  $w failed"
        sleep 1
        kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null
        hwm=$(status_kib "$DPID" VmHWM); rss=$(status_kib "$DPID" VmRSS)
        { grep -E '^(VmHWM|VmRSS|RssAnon|RssFile|Threads)' "/proc/$DPID/status"; echo
          echo "### mappings by Rss (KiB), largest first"
          awk '/^[0-9a-f]+-[0-9a-f]+ / {m = $6 ? $6 : "[anon]"} /^Rss:/ {r[m] += $2; n[m]++}
               END {for (k in r) printf "%8d %5d %s\n", r[k], n[k], k}' "/proc/$DPID/smaps" | sort -rn | head -15
        } > "$OUT/$w.rss.txt"
        printf '| %s | %s | %.1f | %.1f | %s |\n' "$w" "$("ops_$w" 2>/dev/null)" "$(awk -v k="$hwm" 'BEGIN {print k / 1024}')" \
            "$(awk -v k="$rss" 'BEGIN {print k / 1024}')" "$(cat "$D/rss.thr" 2>/dev/null)" >> "$OUT/summary.md"
        say "  VmHWM $hwm KiB -> $OUT/$w.rss.txt"
    done
    fs_unmount; cat "$OUT/summary.md"; echo "(details: $OUT)"; exit 0
fi

if [ "$TOOL" = callgrind ]; then
    WRAP=(valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$D/cg.out.%p")
    printf '| workload | ops | daemon instructions (Ir) | per op |\n|---|---:|---:|---:|\n' > "$OUT/summary.md"
    for w in "${WL[@]}"; do
        say "== $w"
        "prep_$w" >>"$LOG" 2>&1 || { say "  prep failed"; continue; }
        rm -f "$D"/cg.out.*.[0-9]*
        callgrind_control -z "$DPID" >>"$LOG" 2>&1 && callgrind_control -i on "$DPID" >>"$LOG" 2>&1 ||
            { say "  callgrind_control failed"; continue; }
        timed "run_$w" >>"$LOG" 2>&1 || say "  $w failed"
        sleep 1   # the writeback and releases that follow the last call
        callgrind_control -i off "$DPID" >>"$LOG" 2>&1; callgrind_control -d "$w" "$DPID" >>"$LOG" 2>&1
        dump=$(ls -t "$D"/cg.out.*.[0-9]* 2>/dev/null | head -1)
        [ -n "$dump" ] || { say "  no callgrind dump"; continue; }
        cp "$dump" "$OUT/$w.callgrind.out"
        { callgrind_annotate --inclusive=yes "$dump" | head -60; echo; callgrind_annotate "$dump" | sed -n '/Ir/,$p' | head -60; } \
            > "$OUT/$w.callgrind.txt" 2>>"$LOG"
        ir=$(awk '/^totals:/ {print $2}' "$dump"); nops=$("ops_$w" 2>/dev/null)
        printf '| %s | %s | %s | %s |\n' "$w" "$nops" "$ir" \
            "$(awk -v a="$ir" -v n="$nops" 'BEGIN {if (n > 0) printf "%.0f", a / n}')" >> "$OUT/summary.md"
        say "  $ir instructions -> $OUT/$w.callgrind.txt"
    done
    fs_unmount; cat "$OUT/summary.md"; echo "(profiles: $OUT)"; exit 0
fi

printf '| workload | ops | wall s (alone) | wall s (perf) | wall s (strace) |\n|---|---:|---:|---:|---:|\n' > "$OUT/summary.md"
for w in "${WL[@]}"; do
    say "== $w"
    "prep_$w" >>"$LOG" 2>&1 || { say "  prep failed"; continue; }
    timed "run_$w" >>"$LOG" 2>&1 || say "  $w failed (alone)"; t_alone=$LAST_SECS
    nops=$("ops_$w" 2>/dev/null); t_perf="—"; t_strace="—"
    say "  alone: ${t_alone}s ($nops ops)"
    if [ "$TOOL" != strace ]; then
        "prep_$w" >>"$LOG" 2>&1 || { say "  prep failed"; continue; }
        perf record -e cpu-clock -F 1999 -g -p "$DPID" -o "$OUT/$w.perf.data" >>"$LOG" 2>&1 &
        ppid=$!; sleep 1
        timed "run_$w" >>"$LOG" 2>&1 || say "  $w failed (perf)"; t_perf=$LAST_SECS
        kill -INT "$ppid"; wait "$ppid" 2>/dev/null
        perf_reports "$OUT/$w.perf.data" "$OUT/$w.perf.txt"
        say "  perf: ${t_perf}s -> $OUT/$w.perf.txt"
    fi
    if [ "$TOOL" != perf ]; then
        "prep_$w" >>"$LOG" 2>&1 || { say "  prep failed"; continue; }
        strace -c -w -f -p "$DPID" -o "$OUT/$w.strace.txt" 2>>"$LOG" &
        spid=$!; sleep 1
        timed "run_$w" >>"$LOG" 2>&1 || say "  $w failed (strace)"; t_strace=$LAST_SECS
        nops=$("ops_$w" 2>/dev/null)
        kill -INT "$spid"; wait "$spid" 2>/dev/null
        perop "$OUT/$w.strace.txt" "$nops" > "$OUT/$w.perop.txt"
        say "  strace: ${t_strace}s -> $OUT/$w.strace.txt, $OUT/$w.perop.txt"
    fi
    printf '| %s | %s | %s | %s | %s |\n' "$w" "$nops" "$t_alone" "$t_perf" "$t_strace" >> "$OUT/summary.md"
done
fs_unmount
cat "$OUT/summary.md"
echo "(profiles: $OUT)"
