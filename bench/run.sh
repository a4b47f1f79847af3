#!/usr/bin/env bash
# run.sh -- side-by-side benchmark of encrypted FUSE filesystems (see README.md).
#
#   ./run.sh [--quick] [--runs N] [--skip LIST] [--only LIST] [--no-install] [FS...]
#   ./run.sh --table DIR      (print the table again from DIR/results.tsv)
#
# FS: any of raw gocryptfs cryfs securefs rclone-crypt rclone-crypt-s3 encfs
#     sealfs sealfs-s3 (default: raw gocryptfs securefs sealfs; unavailable
#     ones are skipped with a reason).  sealfs is $SEALFS_BIN, by default
#     build/fs/sealfs of this repository.
# Workload groups for --skip/--only (comma separated):
#     crypto seq rand tree meta rename sqlite
# Prints a markdown table (median of the runs, ratio columns sealfs vs
# gocryptfs and vs securefs) and saves it, with every raw measurement, under
# $BENCH_OUT.  Needs root and /dev/fuse.
# Peers that upload behind the writes (sealfs, sealfs-s3, rclone-crypt*) also
# get "until the store holds it" rows after the tree extract and the creates
# (`sealfs sync`; rclone: its upload queue empty); rclone-crypt-s3 also gets
# `rclone copy` of the same files into the same store (plain and crypt, no
# mount): the bar for those drains. "Peak RSS at mount" is the
# whole mount command's (key derivation included) or the daemon's, the larger.

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/peers.sh"

# ------------------------------------------------------------------ knobs
RUNS=3
SEQ_MB="${SEQ_MB:-1024}"               # sequential file size, MiB
RAND_MB="${RAND_MB:-256}"              # random-I/O file size, MiB
RAND_SECS="${RAND_SECS:-30}"           # seconds per random-I/O job
META_FILES="${META_FILES:-10000}"      # empty files for create/stat/unlink
SAVES="${SAVES:-1000}"                 # atomic saves (write+fsync+rename)
SQL_ROWS="${SQL_ROWS:-20000}"          # sqlite rows ...
SQL_TXN_ROWS="${SQL_TXN_ROWS:-100}"    # ... this many per transaction
STEP_TIMEOUT="${STEP_TIMEOUT:-600}"    # hard limit for any single timed step, s
BENCH_TMP="${BENCH_TMP:-/tmp/bench-scratch}"   # scratch parent (one subdir per fs, deleted after it)
BENCH_CACHE="${BENCH_CACHE:-/tmp/bench-cache}" # corpus, helper binaries, s3rver
BENCH_OUT="${BENCH_OUT:-/tmp/bench-results/$(date +%Y%m%d-%H%M%S)}"
BENCH_CORPUS="${BENCH_CORPUS:-glibc}"  # "glibc" (pinned Debian source tree) or a directory to tar

SKIP=","; ONLY=""; INSTALL=1; FS_LIST=(); TABLE_FROM=""
usage() { awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) RUNS=1 ;;
        --runs) RUNS=$2; shift ;;
        --skip) SKIP=",$2,"; shift ;;
        --only) ONLY=",$2,"; shift ;;
        --no-install) INSTALL=0 ;;
        --table) TABLE_FROM=$2; shift ;;
        -h|--help) usage ;;
        -*) echo "unknown option $1" >&2; usage 2 ;;
        *) FS_LIST+=("$1") ;;
    esac
    shift
done
[ ${#FS_LIST[@]} -eq 0 ] && read -r -a FS_LIST <<< "$PEERS_DEFAULT"
want() { [[ "$SKIP" != *",$1,"* ]] && { [ -z "$ONLY" ] || [[ "$ONLY" == *",$1,"* ]]; }; }

if [ -n "$TABLE_FROM" ]; then   # no measuring: only the report functions below are used
    [ -r "$TABLE_FROM/results.tsv" ] || { echo "no $TABLE_FROM/results.tsv" >&2; exit 1; }
    BENCH_OUT=$TABLE_FROM; RESULTS="$TABLE_FROM/results.tsv"
else
[ "$(id -u)" -eq 0 ] || { echo "run.sh must run as root (FUSE mounts, dropping the page cache)" >&2; exit 1; }
[ -c /dev/fuse ] || { echo "/dev/fuse is missing" >&2; exit 1; }
for fs in "${FS_LIST[@]}"; do peer_known "$fs" || { echo "unknown filesystem '$fs' (known: $PEERS_ALL)" >&2; exit 2; }; done

mkdir -p "$BENCH_OUT" "$BENCH_CACHE/bin" "$BENCH_TMP" || exit 1
RESULTS="$BENCH_OUT/results.tsv"; : > "$RESULTS"
LOG="$BENCH_OUT/run.log"; : > "$LOG"
say() { echo "$*" | tee -a "$LOG" >&2; }

# ------------------------------------------------------- Debian packages
ensure_packages() {
    local pkgs=(fio sqlite3 gcc libc6-dev libsodium-dev fuse3 xz-utils tar coreutils findutils util-linux time)
    local fs
    for fs in "${FS_LIST[@]}"; do
        case "$fs" in
            gocryptfs|cryfs|securefs|encfs) pkgs+=("$fs") ;;
            rclone-crypt) pkgs+=(rclone) ;;
            rclone-crypt-s3) pkgs+=(rclone nodejs npm) ;;
            sealfs-s3) pkgs+=(nodejs npm) ;;
        esac
    done
    [ "$BENCH_CORPUS" = glibc ] && pkgs+=(dpkg)
    local missing=() p
    for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
    # node may come from elsewhere than Debian: accept any working node/npm
    if command -v node >/dev/null && command -v npm >/dev/null; then
        local m2=(); for p in "${missing[@]}"; do [[ $p == nodejs || $p == npm ]] || m2+=("$p"); done; missing=("${m2[@]}")
    fi
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$INSTALL" -eq 0 ]; then say "missing packages (not installing, --no-install): ${missing[*]}"; return 0; fi
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$LOG" 2>&1 ||
        { apt-get update -q >>"$LOG" 2>&1 && apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$LOG" 2>&1; } ||
        say "WARNING: apt-get install failed, see $LOG"
}
ensure_packages
fi

# ---------------------------------------------------------- helper binaries
FSOPS="$BENCH_CACHE/bin/fsops"; CRYPTOLIMIT="$BENCH_CACHE/bin/cryptolimit"
if [ -z "$TABLE_FROM" ]; then
cc -O2 -Wall -o "$FSOPS" "$HERE/fsops.c" || { echo "cannot build fsops" >&2; exit 1; }
cc -O2 -Wall -o "$CRYPTOLIMIT" "$HERE/cryptolimit.c" -lsodium || { echo "cannot build cryptolimit (libsodium-dev?)" >&2; exit 1; }
fi

# ----------------------------------------------------------- machine info
machine_info() {
    local cpu fsver=() fs scratchfs
    cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
    scratchfs=$(df -PT "$BENCH_TMP" | awk 'NR==2 {print $2 " on " $1 ", " int($5/1048576) " GiB free"}')
    echo "## Machine"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- CPU: ${cpu:-unknown}; $(nproc) cores online; AES-NI: $(grep -qw aes /proc/cpuinfo && echo yes || echo no)"
    echo "- memory: $(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo); kernel $(uname -r); $(. /etc/os-release; echo "$PRETTY_NAME")"
    echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- scratch: $BENCH_TMP ($scratchfs)"
    for fs in "${FS_LIST[@]}"; do
        case "$fs" in
            gocryptfs) fsver+=("gocryptfs $(gocryptfs -version 2>/dev/null | awk '{sub(/;/, "", $2); print $2}')") ;;
            cryfs) fsver+=("cryfs $(cryfs --version 2>/dev/null | awk '/Version/ {print $3; exit}')") ;;
            securefs) fsver+=("securefs $(dpkg-query -W -f='${Version}' securefs 2>/dev/null)") ;;
            encfs) fsver+=("encfs $(dpkg-query -W -f='${Version}' encfs 2>/dev/null)") ;;
            rclone-crypt*) fsver+=("rclone $(rclone version 2>/dev/null | awk 'NR==1 {print $2}')") ;;
            sealfs*) fsver+=("sealfs: ${SEALFS_BIN}") ;;
        esac
    done
    echo "- versions: $(printf '%s\n' "${fsver[@]}" | sort -u | paste -sd, | sed 's/,/, /g'); fuse3 $(dpkg-query -W -f='${Version}' fuse3 2>/dev/null); fio $(fio --version | sed 's/fio-//'); sqlite3 $(sqlite3 --version | awk '{print $1}')"
    echo "- runs per cell: $RUNS (median); sizes: seq ${SEQ_MB} MiB, random ${RAND_MB} MiB x ${RAND_SECS} s, ${META_FILES} files, ${SAVES} saves, ${SQL_ROWS} rows"
    echo
}

# ------------------------------------------------------------------ corpus
# The small-file tree: by default the glibc 2.36 source tree from Debian's
# glibc-source package (pinned by what the archive serves), minus its four
# largest top-level directories (sysdeps math localedata iconvdata) and its
# single symlink, so that it stays a realistic source checkout of a bounded
# size that every peer can store (rclone mount cannot create symlinks).
CORPUS_TAR=""; CORPUS_DESC=""
prepare_corpus() {
    local t
    if [ "$BENCH_CORPUS" = glibc ]; then
        CORPUS_TAR="$BENCH_CACHE/corpus-glibc-2.36.tar"
        if [ ! -s "$CORPUS_TAR" ]; then
            t=$(mktemp -d "$BENCH_CACHE/corpus.XXXXXX"); chmod 755 "$t"
            ( cd "$t" && { apt-get download glibc-source >>"$LOG" 2>&1 || { apt-get update -q >>"$LOG" 2>&1 && apt-get download glibc-source >>"$LOG" 2>&1; }; } &&
              dpkg-deb --fsys-tarfile glibc-source_*.deb | tar xf - --wildcards '*/glibc-2.36.tar.xz' &&
              mkdir x && xz -dc usr/src/glibc/glibc-2.36.tar.xz | tar xf - -C x \
                  --exclude=glibc-2.36/sysdeps --exclude=glibc-2.36/math \
                  --exclude=glibc-2.36/localedata --exclude=glibc-2.36/iconvdata &&
              find x -type l -delete &&   # its one symlink (dangling); some peers cannot store symlinks
              tar cf "$CORPUS_TAR.part" -C x --sort=name --owner=0 --group=0 --numeric-owner glibc-2.36 &&
              mv "$CORPUS_TAR.part" "$CORPUS_TAR" ) || say "could not build the glibc corpus (see $LOG); falling back to /usr/include"
            rm -rf "$t"
        fi
        [ -s "$CORPUS_TAR" ] && CORPUS_DESC="glibc 2.36 source tree (Debian glibc-source, without sysdeps/ math/ localedata/ iconvdata/)"
    fi
    if [ -z "$CORPUS_DESC" ]; then
        local dir=$BENCH_CORPUS; [ "$dir" = glibc ] && dir=/usr/include
        CORPUS_TAR="$BENCH_CACHE/corpus-$(echo "$dir" | tr / _).tar"
        tar cf "$CORPUS_TAR" -C "$(dirname "$dir")" --sort=name --dereference "$(basename "$dir")" 2>>"$LOG"
        CORPUS_DESC="tar of $dir (content depends on installed packages)"
    fi
    CORPUS_FILES=$(tar tvf "$CORPUS_TAR" | grep -c '^-')
    CORPUS_DIRS=$(tar tvf "$CORPUS_TAR" | grep -c '^d')
    CORPUS_BYTES=$(tar tvf "$CORPUS_TAR" | awk '$1 ~ /^-/ {s += $3} END {print s}')
    CORPUS_SHA=$(sha256sum "$CORPUS_TAR" | cut -c1-12)
}

# --------------------------------------------------------------- sqlite input
SQLFILE="$BENCH_CACHE/sqlite-$SQL_ROWS-$SQL_TXN_ROWS.sql"
[ -n "$TABLE_FROM" ] || [ -s "$SQLFILE" ] || awk -v rows="$SQL_ROWS" -v per="$SQL_TXN_ROWS" 'BEGIN {
    print "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER, payload BLOB);"
    print "CREATE INDEX items_name ON items(name);"
    for (i = 1; i <= rows; i++) {
        if ((i - 1) % per == 0) print "BEGIN;"
        printf "INSERT INTO items(name, qty, payload) VALUES(%citem-%06d%c, %d, randomblob(200));\n", 39, (i * 7919) % 1000003, 39, i % 97
        if (i % per == 0 || i == rows) print "COMMIT;"
    }
}' > "$SQLFILE"

# ------------------------------------------------------------------ metrics
# id | group | label | unit | better(hi/lo)
METRICS="seq_write|seq|Seq write ${SEQ_MB} MiB + fsync|MB/s|hi
unmount_after_write|seq|Unmount right after that write|s|lo
seq_read_cold|seq|Seq read, cold (remount + drop caches)|MB/s|hi
seq_read_warm|seq|Seq read, warm (again)|MB/s|hi
rand_read|rand|Random 4 KiB read, ${RAND_MB} MiB file, ${RAND_SECS} s|IOPS|hi
rand_write|rand|Random 4 KiB write, ${RAND_MB} MiB file, ${RAND_SECS} s|IOPS|hi
tree_extract|tree|Tree: extract (tar x) + sync|s|lo
tree_drain|tree|Tree: then until the store holds it (sealfs sync / rclone queue empty)|s|lo
tree_copy_plain|tree|Tree: rclone copy of the same files into the same store, plain (no mount)|s|lo
tree_copy_crypt|tree|Tree: rclone copy of the same files into the same store, crypt (no mount)|s|lo
tree_find|tree|Tree: find -type f + wc -l, cold|s|lo
tree_lsR|tree|Tree: ls -lR|s|lo
tree_read|tree|Tree: read every file (tar cf - .)|s|lo
tree_rm|tree|Tree: rm -rf + sync|s|lo
meta_create|meta|${META_FILES} empty files: create|s|lo
meta_drain|meta|${META_FILES} empty files: then until the store holds them|s|lo
meta_copy_plain|meta|${META_FILES} empty files: rclone copy into the same store, plain (no mount)|s|lo
meta_copy_crypt|meta|${META_FILES} empty files: rclone copy into the same store, crypt (no mount)|s|lo
meta_stat|meta|${META_FILES} empty files: stat, cold|s|lo
meta_unlink|meta|${META_FILES} empty files: unlink|s|lo
save|rename|${SAVES} atomic saves (write 4 KiB, fsync, rename over)|s|lo
sqlite|sqlite|SQLite: ${SQL_ROWS} inserts, $((SQL_ROWS / SQL_TXN_ROWS)) transactions|s|lo
rss_work|*|Daemon peak RSS during workloads (VmHWM)|MiB|lo
rss_mount|*|Peak RSS at mount: mount command (key derivation) or daemon|MiB|lo"

rec() { printf '%s\t%s\t%s\t%s\n' "$CUR_FS" "$CUR_RUN" "$1" "$2" >> "$RESULTS"; }

# timed STEP-NAME CMD... : run CMD under the step timeout, STEP_SECS = wall seconds
timed() {
    local name=$1 t0 t1; shift
    echo "--- $CUR_FS run $CUR_RUN: $name: $*" >> "$LOG"
    t0=$EPOCHREALTIME
    timeout -k 10 "$STEP_TIMEOUT" "$@" >>"$LOG" 2>&1
    STEP_RC=$?
    t1=$EPOCHREALTIME
    STEP_SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.4f", b - a}')
    [ "$STEP_RC" -eq 0 ] || echo "    -> rc=$STEP_RC after ${STEP_SECS}s" >> "$LOG"
    return "$STEP_RC"
}
# record the outcome of the last timed step: seconds, or a status word
rec_step() { # METRIC [VALUE-IF-OK]
    if [ "$STEP_RC" -eq 0 ]; then rec "$1" "${2:-$STEP_SECS}"
    elif [ "$STEP_RC" -eq 124 ] || [ "$STEP_RC" -eq 137 ]; then rec "$1" timeout; say "  $1: TIMEOUT after ${STEP_TIMEOUT}s"
    else rec "$1" fail; say "  $1: FAILED (rc=$STEP_RC, see $LOG)"; fi
}
mbps() { awk -v mib="$1" -v s="$2" 'BEGIN {printf "%.1f", mib * 1048576 / 1e6 / s}'; }

drop_caches() { sync; [ -w /proc/sys/vm/drop_caches ] && echo 3 > /proc/sys/vm/drop_caches; }

# ---- mount bookkeeping (peak RSS) ----
HWM_MOUNT=0; HWM_WORK=0
_status_kib() { [ -n "$1" ] && awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status" 2>/dev/null; }
fs_mount() {
    peer_mount "$CUR_FS" "$SD" >>"$LOG" 2>&1 || { say "  mount failed (see $SD/log, $LOG)"; return 1; }
    local h; h=$(_status_kib "$PEER_PID" VmHWM)
    [ -n "$h" ] && [ "$h" -gt "$HWM_MOUNT" ] && HWM_MOUNT=$h
    # a mount command that derives the key and then forks (sealfs): its own peak
    h=$(tail -1 "$SD/.launcher.maxrss" 2>/dev/null)
    [[ "$h" =~ ^[0-9]+$ ]] && [ "$h" -gt "$HWM_MOUNT" ] && HWM_MOUNT=$h
    [ -n "$PEER_PID" ] && echo 5 > "/proc/$PEER_PID/clear_refs" 2>/dev/null   # reset VmHWM to current RSS
    return 0
}
fs_unmount() {
    local pid h; pid=$(peer_pid "$SD")
    h=$(_status_kib "$pid" VmHWM); [ -n "$h" ] && [ "$h" -gt "$HWM_WORK" ] && HWM_WORK=$h
    peer_unmount "$CUR_FS" "$SD" >>"$LOG" 2>&1
}
fs_remount_cold() { fs_unmount; drop_caches; fs_mount; }
fs_alive() { timeout 20 ls "$MNT" >/dev/null 2>&1; }

# ---------------------------------------------------------------- workloads
# drain METRIC: for peers that upload behind the writes (sealfs, rclone), the
# time until the store holds everything written so far (peers.sh peer_drain)
drain() {
    peer_has_drain "$CUR_FS" || return 0
    timed "$1" env SEALFS_BIN="$SEALFS_BIN" bash -c '. "$1/peers.sh" && peer_drain "$2" "$3"' _ "$HERE" "$CUR_FS" "$SD"
    rec_step "$1"
}

# copy_bar PREFIX MAKE-CMD...: for peers with a copy tool (peers.sh
# peer_copy: rclone-crypt-s3), MAKE-CMD writes the workload's files into a
# local directory ($1 of MAKE-CMD, not timed), then PREFIX_plain and
# PREFIX_crypt time `rclone copy` of it into the same store: the bar for
# the drains
copy_bar() {
    local prefix=$1 src="$SD/copysrc" kind; shift
    peer_has_copy "$CUR_FS" || return 0
    rm -rf "$src"; mkdir -p "$src"
    if ! "$@" "$src" >>"$LOG" 2>&1; then rec "${prefix}_plain" fail; rec "${prefix}_crypt" fail; rm -rf "$src"; return 0; fi
    for kind in plain crypt; do
        timed "${prefix}_$kind" bash -c '. "$1/peers.sh" && peer_copy "$2" "$3" "$4" "$5"' _ "$HERE" "$CUR_FS" "$SD" "$src" "$kind"
        rec_step "${prefix}_$kind"
    done
    rm -rf "$src"
}
copy_tree_src() { tar xf "$CORPUS_TAR" -C "$1" --no-same-owner; }
copy_meta_src() { "$FSOPS" create "$1" "$META_FILES"; }

wl_seq() {
    local f="$MNT/seq.bin" t0 bytes
    timed seq_write bash -c '"$1" write "$2" "$3" && sync' _ "$FSOPS" "$f" "$SEQ_MB"
    rec_step seq_write "$(mbps "$SEQ_MB" "$STEP_SECS")"; [ "$STEP_RC" -eq 0 ] || return 1
    t0=$EPOCHREALTIME
    fs_unmount || { rec unmount_after_write fail; return 2; }
    rec unmount_after_write "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.4f", b - a}')"
    drop_caches; fs_mount || return 2
    for m in seq_read_cold seq_read_warm; do
        timed "$m" bash -c 'dd if="$1" of=/dev/null bs=1M 2>&1 | awk "/bytes/ {print \$1}" > "$2"; exit ${PIPESTATUS[0]}' _ "$f" "$SD/out"
        bytes=$(cat "$SD/out" 2>/dev/null)
        if [ "$STEP_RC" -eq 0 ] && [ "$bytes" != "$((SEQ_MB * 1048576))" ]; then rec "$m" wrong; say "  $m: read $bytes bytes, expected $((SEQ_MB * 1048576))"
        else rec_step "$m" "$(mbps "$SEQ_MB" "$STEP_SECS")"; fi
    done
    rm -f "$f"
}

wl_rand() {
    local f="$MNT/rand.bin" direct=1 m rw field
    timed rand_layout "$FSOPS" write "$f" "$RAND_MB" || { rec_step rand_read; rec rand_write fail; return 1; }
    # O_DIRECT keeps the page cache out of the measurement; filesystems that
    # refuse O_DIRECT are measured with buffered I/O and flagged in the table
    if ! dd if="$f" of=/dev/null bs=4k count=1 iflag=direct status=none 2>>"$LOG"; then
        direct=0; rec rand_mode buffered; say "  O_DIRECT refused: random I/O runs buffered (flagged)"
    fi
    for m in rand_read rand_write; do
        rw=randread; field=8; [ "$m" = rand_write ] && { rw=randwrite; field=49; }
        timed "$m" fio --name="$m" --filename="$f" --size="${RAND_MB}m" --rw="$rw" --bs=4k \
            --ioengine=psync --direct="$direct" --runtime="$RAND_SECS" --time_based --fallocate=none \
            --randrepeat=1 --norandommap --output-format=terse --terse-version=3 --output="$SD/fio.out"
        rec_step "$m" "$(awk -F';' -v f="$field" '{printf "%.0f", $f}' "$SD/fio.out" 2>/dev/null)"
    done
    rm -f "$f"
}

wl_tree() {
    local t="$MNT/tree" n
    mkdir -p "$t"
    timed tree_extract bash -c 'tar xf "$1" -C "$2" --no-same-owner && sync' _ "$CORPUS_TAR" "$t"
    rec_step tree_extract; [ "$STEP_RC" -eq 0 ] || return 1
    drain tree_drain
    copy_bar tree_copy copy_tree_src
    fs_remount_cold || return 2
    timed tree_find bash -c 'find "$1" -type f | wc -l > "$2"' _ "$t" "$SD/out"
    n=$(cat "$SD/out" 2>/dev/null)
    if [ "$STEP_RC" -eq 0 ] && [ "$n" != "$CORPUS_FILES" ]; then rec tree_find wrong; say "  tree_find: $n files, expected $CORPUS_FILES"; else rec_step tree_find; fi
    timed tree_lsR bash -c 'ls -lR "$1" > /dev/null' _ "$t"; rec_step tree_lsR
    # GNU tar skips reading file data when writing to /dev/null, hence the pipe
    timed tree_read bash -c 'tar cf - -C "$1" . | wc -c > "$2"' _ "$t" "$SD/out"
    n=$(cat "$SD/out" 2>/dev/null)
    if [ "$STEP_RC" -eq 0 ] && [ "${n:-0}" -lt "$CORPUS_BYTES" ]; then rec tree_read wrong; say "  tree_read: archive of $n bytes < $CORPUS_BYTES data bytes"; else rec_step tree_read; fi
    timed tree_rm bash -c 'rm -rf "$1" && sync' _ "$t"; rec_step tree_rm
}

wl_meta() {
    local d="$MNT/meta"
    mkdir -p "$d"
    timed meta_create "$FSOPS" create "$d" "$META_FILES"; rec_step meta_create; [ "$STEP_RC" -eq 0 ] || return 1
    drain meta_drain
    copy_bar meta_copy copy_meta_src
    fs_remount_cold || return 2
    timed meta_stat "$FSOPS" stat "$d" "$META_FILES"; rec_step meta_stat
    timed meta_unlink "$FSOPS" unlink "$d" "$META_FILES"; rec_step meta_unlink
    rm -rf "$d"
}

wl_rename() {
    local d="$MNT/save"
    mkdir -p "$d"
    timed save "$FSOPS" save "$d" "$SAVES"; rec_step save
    rm -rf "$d"
}

wl_sqlite() {
    local db="$MNT/bench.sqlite" n
    timed sqlite bash -c 'sqlite3 -bail "$1" < "$2"' _ "$db" "$SQLFILE"
    n=$(timeout 60 sqlite3 "$db" 'SELECT count(*) FROM items;' 2>>"$LOG")
    if [ "$STEP_RC" -eq 0 ] && [ "$n" != "$SQL_ROWS" ]; then rec sqlite wrong; say "  sqlite: $n rows, expected $SQL_ROWS"; else rec_step sqlite; fi
    rm -f "$db" "$db-journal"
}

# one full pass over all selected workloads on $CUR_FS
one_run() {
    SD="$BENCH_TMP/$CUR_FS"; MNT="$SD/mnt"; HWM_MOUNT=0; HWM_WORK=0
    peer_destroy "$CUR_FS" "$SD" >>"$LOG" 2>&1
    if ! peer_init "$CUR_FS" "$SD" >>"$LOG" 2>&1; then
        say "  init failed (see $LOG)"; rec init fail; peer_destroy "$CUR_FS" "$SD" >>"$LOG" 2>&1; return
    fi
    MNT="$SD/mnt"
    if ! fs_mount; then rec init fail; peer_destroy "$CUR_FS" "$SD" >>"$LOG" 2>&1; return; fi
    local g rc
    for g in seq rand tree meta rename sqlite; do
        want "$g" || continue
        say "  $(date +%H:%M:%S) $g"
        "wl_$g"; rc=$?
        if [ $rc -ne 0 ] && ! fs_alive; then rc=2; fi
        if [ $rc -eq 2 ] || { [ "$CUR_FS" != raw ] && ! mountpoint -q "$MNT"; }; then
            say "  $CUR_FS is not mounted or not responding after '$g': abandoning this run"
            rec abandoned "$g"; break
        fi
    done
    if [ "$CUR_FS" != raw ] && mountpoint -q "$MNT"; then
        fs_unmount || say "  unmount at end of run failed"
    fi
    [ "$HWM_WORK" -gt 0 ] && rec rss_work "$(awk -v k="$HWM_WORK" 'BEGIN {printf "%.0f", k / 1024}')"
    [ "$HWM_MOUNT" -gt 0 ] && rec rss_mount "$(awk -v k="$HWM_MOUNT" 'BEGIN {printf "%.0f", k / 1024}')"
    peer_destroy "$CUR_FS" "$SD" >>"$LOG" 2>&1
}

cleanup() {
    trap - EXIT INT TERM
    if [ -n "${CUR_FS:-}" ] && [ -n "${SD:-}" ]; then peer_destroy "$CUR_FS" "$SD" >/dev/null 2>&1; fi
}
trap 'cleanup; exit 130' INT TERM
trap cleanup EXIT

# ------------------------------------------------------------------ report
# median per (fs, metric); flags: * some runs failed, ~ spread > 25 %,
# † random I/O buffered (O_DIRECT refused).  Ratio columns: each sealfs*
# column against each of $RATIO_REFS that is in the run (> 1.00x: sealfs better).
RATIO_REFS="${RATIO_REFS:-gocryptfs securefs}"
make_table() {
    awk -F'\t' -v fslist="${RUNNABLE[*]}" -v metrics="$METRICS" -v runs="$RUNS" -v refs="$RATIO_REFS" '
    function fmt(v, unit) {
        if (unit == "s") return v < 10 ? sprintf("%.2f", v) : sprintf("%.1f", v)
        if (unit == "MB/s" && v < 100) return sprintf("%.1f", v)
        return sprintf("%.0f", v)
    }
    function median(arr, n,   i, j, t) {
        for (i = 2; i <= n; i++) { t = arr[i]; for (j = i - 1; j >= 1 && arr[j] > t; j--) arr[j + 1] = arr[j]; arr[j + 1] = t }
        return n % 2 ? arr[(n + 1) / 2] : (arr[n / 2] + arr[n / 2 + 1]) / 2
    }
    function med_of(fs, id,   key, b, j) {   # median of fs on metric id, "" if none
        key = fs SUBSEP id; if (!(nv[key] > 0)) return ""
        for (j = 1; j <= nv[key]; j++) b[j] = val[key, j] + 0
        return median(b, nv[key])
    }
    { key = $1 SUBSEP $3; if ($4 ~ /^[0-9.]+$/) { nv[key]++; val[key, nv[key]] = $4 } else { bad[key] = $4; nb[key]++ }
      if ($3 == "rand_mode") buffered[$1] = 1 }
    END {
        nf = split(fslist, F, " "); nm = split(metrics, M, "\n"); nref = split(refs, REF, " ")
        hdr = "| Workload | unit |"; sep = "|---|---|"
        for (i = 1; i <= nf; i++) { hdr = hdr " " F[i] " |"; sep = sep "---:|" }
        # ratio columns: every sealfs* against each reference peer in the run
        for (k = 1; k <= nref; k++) for (i = 1; i <= nf; i++) if (F[i] == REF[k]) haveref[REF[k]] = 1
        for (k = 1; k <= nref; k++) if (REF[k] in haveref) for (i = 1; i <= nf; i++) if (F[i] ~ /^sealfs/) {
            R[++nr] = F[i]; RR[nr] = REF[k]; hdr = hdr " " F[i] " vs " REF[k] " |"; sep = sep "---:|" }
        print hdr; print sep
        for (m = 1; m <= nm; m++) {
            split(M[m], p, "|"); id = p[1]; unit = p[4]; better = p[5]
            line = "| " p[3] " | " unit " " (better == "hi" ? "↑" : "↓") " |"
            for (i = 1; i <= nf; i++) {
                key = F[i] SUBSEP id; cell = "—"; med[F[i]] = ""
                if (nv[key] > 0) {
                    n = nv[key]; delete a; mn = 1e300; mx = 0
                    for (j = 1; j <= n; j++) { a[j] = val[key, j] + 0; if (a[j] < mn) mn = a[j]; if (a[j] > mx) mx = a[j] }
                    md = median(a, n); med[F[i]] = md; cell = fmt(md, unit)
                    if (n >= 3 && md > 0 && (mx - mn) / md > 0.25) cell = cell "~"
                    if (nb[key] > 0) cell = cell "*"
                    if (id ~ /^rand_/ && buffered[F[i]]) cell = cell "†"
                } else if (key in bad) cell = bad[key]
                line = line " " cell " |"
            }
            for (r = 1; r <= nr; r++) {
                s = med[R[r]]; g = med[RR[r]]; cell = "—"
                # rclone copy rows: sealfs has no copy; its drain of the same files is held against it
                if (id ~ /_copy_(plain|crypt)$/) s = med_of(R[r], substr(id, 1, index(id, "_copy_")) "drain")
                if (s != "" && g != "" && s > 0 && g > 0) cell = sprintf("%.2f×", better == "hi" ? s / g : g / s)
                line = line " " cell " |"
            }
            print line
        }
    }' "$RESULTS"
}

# ------------------------------------------------------------------- main
if [ -n "$TABLE_FROM" ]; then
    # filesystems in the order they were measured; runs = highest run number
    read -r -a RUNNABLE <<< "$(awk -F'\t' '!($1 in s) {s[$1]; printf "%s ", $1}' "$RESULTS")"
    RUNS=$(awk -F'\t' '$2 > n {n = $2} END {print n + 0}' "$RESULTS")
    make_table
    exit 0
fi
{
    echo "# Encrypted FUSE filesystem benchmark"
    echo
    machine_info
} | tee "$BENCH_OUT/machine.md" | tee -a "$LOG"

if want crypto; then
    echo "## Crypto ceiling (libsodium, one core)" > "$BENCH_OUT/cryptolimit.md"
    echo >> "$BENCH_OUT/cryptolimit.md"
    "$CRYPTOLIMIT" >> "$BENCH_OUT/cryptolimit.md" 2>>"$LOG"
    echo >> "$BENCH_OUT/cryptolimit.md"
    cat "$BENCH_OUT/cryptolimit.md"; echo
fi

RUNNABLE=(); SKIPPED=()
for fs in "${FS_LIST[@]}"; do
    if why=$(peer_check "$fs" 2>&1); then RUNNABLE+=("$fs"); else SKIPPED+=("$fs: $why"); say "skipping $fs: $why"; fi
done
[ ${#RUNNABLE[@]} -gt 0 ] || { echo "nothing to run" >&2; exit 1; }

if want tree; then prepare_corpus; say "tree corpus: $CORPUS_DESC: $CORPUS_FILES files, $CORPUS_DIRS dirs, $(awk -v b="$CORPUS_BYTES" 'BEGIN {printf "%.1f MiB", b / 1048576}') (tar sha256 $CORPUS_SHA...)"; fi

# room for the largest moment: a sequential file, its ciphertext and a cache copy
NEED_MB=$((3 * SEQ_MB + 512))
FREE_MB=$(df -Pm "$BENCH_TMP" | awk 'NR == 2 {print $4}')
if [ "${FREE_MB:-0}" -lt "$NEED_MB" ]; then
    say "only ${FREE_MB} MiB free under $BENCH_TMP, need about ${NEED_MB} MiB: free some space, or point BENCH_TMP elsewhere"; exit 1
fi
drop_caches 2>/dev/null || say "WARNING: cannot drop the page cache; 'cold' means remount only"
say "filesystems: ${RUNNABLE[*]}; $RUNS run(s) each, interleaved; results in $BENCH_OUT"
T_START=$EPOCHREALTIME
# runs are interleaved (run 1 of every fs, then run 2 ...) so that slow drift
# in the machine's speed spreads over all filesystems instead of hitting one
for ((CUR_RUN = 1; CUR_RUN <= RUNS; CUR_RUN++)); do
    for CUR_FS in "${RUNNABLE[@]}"; do
        say "== $CUR_FS, run $CUR_RUN/$RUNS ($(date +%H:%M:%S))"
        one_run
    done
done
CUR_FS=""; SD=""

{
    echo "## Results (median of $RUNS run(s); ↑ higher is better, ↓ lower is better)"
    echo
    make_table
    echo
    [ -n "$CORPUS_DESC" ] && want tree && echo "Tree: $CORPUS_DESC — $CORPUS_FILES files, $CORPUS_DIRS directories, $(awk -v b="$CORPUS_BYTES" 'BEGIN {printf "%.1f MiB", b / 1048576}') of file data."
    echo "Flags: ~ runs spread more than 25 % around the median; * some runs failed (median of the others); † O_DIRECT refused, measured buffered (page cache helps: not comparable); fail/timeout/wrong: every run failed, hit the ${STEP_TIMEOUT} s step limit, or produced wrong data; — not measured."
    grep -q sealfs <<< "${RUNNABLE[*]}" && grep -qwE "${RATIO_REFS// /|}" <<< "${RUNNABLE[*]}" && echo "sealfs vs PEER: ratio of the medians, >1.00× means sealfs is better (faster, or less memory)."
    grep -qw rclone-crypt-s3 <<< "${RUNNABLE[*]}" && want tree && echo "rclone copy rows: rclone's own upload of the same files, no mount; their ratio column holds sealfs's drain (the row \"then until the store holds it\" above them) against that copy."
    awk -F'\t' '$3 == "abandoned" {print "Run " $2 " of " $1 " was abandoned after workload group \"" $4 "\" (filesystem unmounted or unresponsive)."}' "$RESULTS"
    for s in "${SKIPPED[@]}"; do echo "Not run: $s"; done
    echo "Wall time of the benchmark: $(awk -v a="$T_START" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.0f min", (b - a) / 60}'); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
} > "$BENCH_OUT/table.md"
echo
cat "$BENCH_OUT/table.md"
cat "$BENCH_OUT/machine.md" "$BENCH_OUT/cryptolimit.md" "$BENCH_OUT/table.md" > "$BENCH_OUT/report.md" 2>/dev/null
echo
echo "(report: $BENCH_OUT/report.md; every measurement: $RESULTS; log: $LOG)"
