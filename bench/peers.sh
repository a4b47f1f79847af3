# peers.sh -- set up, mount and unmount every filesystem under test.
#
# Sourced by run.sh; usable by hand too:
#   . ./peers.sh
#   peer_init  gocryptfs /tmp/bench-x/gocryptfs     # fresh, empty filesystem
#   peer_mount gocryptfs /tmp/bench-x/gocryptfs     # mounted on /tmp/bench-x/gocryptfs/mnt
#   ... use /tmp/bench-x/gocryptfs/mnt ...
#   peer_unmount gocryptfs /tmp/bench-x/gocryptfs
#   peer_destroy gocryptfs /tmp/bench-x/gocryptfs   # stops helpers, deletes the directory
#
# Every filesystem gets one scratch directory D with this layout:
#   D/store   ciphertext / backing directory (for raw: the data itself)
#   D/cache   local cache (rclone VFS cache, sealfs cache)
#   D/mnt     the mount point -- the workloads run in here
#   D/home    HOME for the daemon (cryfs keeps per-user state there)
#   D/pass    passphrase file
#   D/log     daemon logs (kept until peer_destroy; look here when a peer fails)
#
# Each peer NAME is a set of functions p_NAME_{check,init,mount,unmount}
# and, for peers that upload behind the writes, p_NAME_drain
# (dashes in NAME become underscores).  check prints why the peer cannot run
# and returns 1; mount must leave the filesystem mounted on $MNT (it may
# daemonize or stay in the foreground: _fuse_launch handles both).

############################################################################
# sealfs -- the filesystem being built.  EDIT THE COMMAND LINES HERE.
#
# Expected CLI (the contract this harness assumes):
#   sealfs init    STORE --passphrase-file F
#   sealfs mount   STORE MOUNTPOINT --cache DIR --passphrase-file F
#   sealfs unmount MOUNTPOINT
#   sealfs sync    MOUNTPOINT   (returns once the store holds every write)
# `sealfs mount` may stay in the foreground or daemonize; either way it
# must not return non-zero before the mount is up.  The variables below
# are set by the harness before each call:
#   $STORE  $CACHE  $PASSFILE  $MNT  (all absolute paths)
SEALFS_BIN="${SEALFS_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/build/fs/sealfs}"   # path, or a name on PATH
sealfs_cmd_init()    { "$SEALFS_BIN" init "$STORE" --passphrase-file "$PASSFILE"; }
sealfs_cmd_mount()   { "$SEALFS_BIN" mount "$STORE" "$MNT" --cache "$CACHE" --passphrase-file "$PASSFILE"; }
sealfs_cmd_unmount() { "$SEALFS_BIN" unmount "$MNT"; }
sealfs_cmd_sync()    { "$SEALFS_BIN" sync "$MNT"; }   # returns once the store holds everything
# sealfs-s3: same binary with an S3 store served by s3rver on loopback.
# The store is an s3:// URL; endpoint, region and credentials come from the
# standard AWS environment variables.
SEALFS_S3_STORE="${SEALFS_S3_STORE:-s3://bench-sealfs/store}"
sealfs_s3_env() {
    export AWS_ENDPOINT_URL="http://127.0.0.1:${S3_PORT}"
    export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1
    unset AWS_CA_BUNDLE
}
############################################################################

PEERS_ALL="raw gocryptfs cryfs securefs rclone-crypt rclone-crypt-s3 encfs sealfs sealfs-s3"
# what run.sh runs when no filesystem is named (unavailable ones are skipped)
PEERS_DEFAULT="raw gocryptfs securefs sealfs"

PEER_PASSPHRASE="${PEER_PASSPHRASE:-bench-passphrase-not-secret}"
MOUNT_TIMEOUT="${MOUNT_TIMEOUT:-120}"     # s to wait for a mount to appear
UNMOUNT_WAIT="${UNMOUNT_WAIT:-600}"       # s to wait for a daemon to exit after unmount
S3_PORT="${S3_PORT:-4571}"                # s3rver, bound to 127.0.0.1 only
BENCH_CACHE="${BENCH_CACHE:-/tmp/bench-cache}"   # s3rver install lives here

_peer_fn() { echo "p_${1//-/_}_$2"; }
_log() { echo "[peers] $*" >&2; }

# set STORE CACHE MNT PASSFILE LOGDIR for scratch dir $1
_peer_vars() {
    D=$(realpath -m "$1")
    STORE="$D/store"; CACHE="$D/cache"; MNT="$D/mnt"; PASSFILE="$D/pass"; LOGDIR="$D/log"
    PHOME="$D/home"
}

peer_known() { case " $PEERS_ALL " in *" $1 "*) return 0;; esac; return 1; }

peer_check() {   # NAME -> 0 if runnable, else prints reason
    peer_known "$1" || { echo "unknown filesystem '$1' (known: $PEERS_ALL)"; return 1; }
    "$(_peer_fn "$1" check)"
}

peer_init() {    # NAME DIR
    local name=$1; _peer_vars "$2"
    rm -rf "$D"; mkdir -p "$STORE" "$CACHE" "$MNT" "$PHOME" "$LOGDIR" || return 1
    printf '%s\n' "$PEER_PASSPHRASE" > "$PASSFILE"; chmod 600 "$PASSFILE"
    "$(_peer_fn "$name" init)"
}

peer_mount() {   # NAME DIR ; sets PEER_PID (daemon pid, "" for raw)
    local name=$1; _peer_vars "$2"
    PEER_PID=""
    "$(_peer_fn "$name" mount)" || return 1
    echo "${PEER_PID:-}" > "$D/.daemon.pid"
}

peer_pid() { _peer_vars "$1"; cat "$D/.daemon.pid" 2>/dev/null; }

peer_unmount() { # NAME DIR
    local name=$1; _peer_vars "$2"
    PEER_PID=$(cat "$D/.daemon.pid" 2>/dev/null)
    "$(_peer_fn "$name" unmount)"
}

# peer_drain NAME DIR: wait until the store holds everything written so far
# (sealfs sync; rclone: its upload queue is empty). Peers whose writes are in
# their store when the writes return have no drain: peer_has_drain is false.
peer_has_drain() { declare -F "$(_peer_fn "$1" drain)" >/dev/null; }
peer_drain() {
    local name=$1; _peer_vars "$2"
    peer_has_drain "$name" || return 3
    "$(_peer_fn "$name" drain)"
}

# peer_copy NAME DIR SRC KIND(plain|crypt): `rclone copy` of the local
# directory SRC into a fresh place in the peer's own store, not through the
# mount: the bar the drains are held to (issue #18). Peers without one:
# peer_has_copy is false.
peer_has_copy() { declare -F "$(_peer_fn "$1" copy)" >/dev/null; }
peer_copy() {
    local name=$1; _peer_vars "$2"
    peer_has_copy "$name" || return 3
    "$(_peer_fn "$name" copy)" "$3" "$4"
}

peer_destroy() { # NAME DIR: unmount if needed, stop helper servers, delete DIR
    local name=$1; _peer_vars "$2"
    [ -d "$D" ] || return 0
    if mountpoint -q "$MNT" 2>/dev/null; then peer_unmount "$name" "$2" || _force_unmount "$MNT"; fi
    _stop_pidfile "$D/.s3rver.pid"
    rm -rf "$D"
}

# VmHWM (peak resident set) of the daemon in KiB, empty if none
peer_hwm_kib() {
    local pid; pid=$(peer_pid "$1")
    [ -n "$pid" ] && [ -r "/proc/$pid/status" ] && awk '/^VmHWM:/ {print $2}' "/proc/$pid/status"
}

# ---------------------------------------------------------------- helpers

_fuse_holders() { find /proc/[0-9]*/fd -maxdepth 1 -lname /dev/fuse -printf '%h\n' 2>/dev/null | cut -d/ -f3 | sort -u; }

# A process is alive while its status reads and says other than zombie: a
# status that vanishes while read (the zombie reaped) counts as gone, not
# as alive (that read as alive gave "still running 600s after unmount"
# seconds after an unmount, then "kill: No such process").
_alive() {
    local state
    [ -n "$1" ] || return 1
    state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# _fuse_launch CMD... : start CMD in the background (it may daemonize or stay
# in the foreground), wait until $MNT is a mount point, set PEER_PID to the
# process that serves the mount (the one that newly holds /dev/fuse).
_fuse_launch() {
    local before after launcher i new n log
    n=$(ls "$LOGDIR" 2>/dev/null | wc -l); log="$LOGDIR/mount.$n.log"
    before=$(_fuse_holders)
    "$@" </dev/null >"$log" 2>&1 &
    launcher=$!; PEER_LAUNCHER=$launcher
    for ((i = 0; i < MOUNT_TIMEOUT * 10; i++)); do
        mountpoint -q "$MNT" && break
        if ! _alive "$launcher"; then
            wait "$launcher"; local rc=$?
            if [ "$rc" -ne 0 ]; then _log "mount command failed (rc=$rc), log: $log"; tail -5 "$log" >&2; return 1; fi
        fi
        sleep 0.1
    done
    if ! mountpoint -q "$MNT"; then
        _log "mount did not appear within ${MOUNT_TIMEOUT}s, log: $log"; tail -5 "$log" >&2
        _alive "$launcher" && kill "$launcher"; return 1
    fi
    after=$(_fuse_holders)
    new=$(comm -13 <(echo "$before") <(echo "$after") | grep -v '^$')
    if [ "$(echo "$new" | grep -c .)" -gt 1 ]; then   # several: prefer the one naming the mount point
        local p; for p in $new; do tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | grep -qF "$MNT" && { new=$p; break; }; done
        new=$(echo "$new" | head -1)
    fi
    [ -z "$new" ] && _alive "$launcher" && new=$launcher
    PEER_PID=$new
    return 0
}

# unmount $MNT with CMD (default fusermount3 -u), then wait for $PEER_PID to exit
_fuse_unmount() {
    local i
    [ $# -eq 0 ] && set -- fusermount3 -u "$MNT"
    for ((i = 0; i < 30; i++)); do
        mountpoint -q "$MNT" || break
        "$@" 2>>"$LOGDIR/unmount.log" && break
        sleep 1                                  # EBUSY: something still has a file open
    done
    if mountpoint -q "$MNT"; then _log "cannot unmount $MNT"; _force_unmount "$MNT"; return 1; fi
    # 5 ms steps: the "Unmount right after that write" row times this wait,
    # and 0.1 s steps gave every peer's daemon exit a 0.1 s floor
    for ((i = 0; i < UNMOUNT_WAIT * 200; i++)); do _alive "$PEER_PID" || break; sleep 0.005; done
    if _alive "$PEER_PID"; then
        _log "daemon $PEER_PID still running ${UNMOUNT_WAIT}s after unmount; killing it"
        kill "$PEER_PID"; sleep 2; _alive "$PEER_PID" && kill -9 "$PEER_PID"; return 1
    fi
    wait "$PEER_PID" 2>/dev/null   # reap it if it is our child
    if [ -n "${PEER_LAUNCHER:-}" ] && ! _alive "$PEER_LAUNCHER"; then wait "$PEER_LAUNCHER" 2>/dev/null; fi
    return 0
}

# last resort for a wedged FUSE mount: abort the connection, lazy unmount, kill daemon
_force_unmount() {
    local mnt=$1 dev
    dev=$(mountpoint -d "$mnt" 2>/dev/null)
    [ -n "$dev" ] && [ -w "/sys/fs/fuse/connections/${dev#*:}/abort" ] && echo 1 > "/sys/fs/fuse/connections/${dev#*:}/abort"
    fusermount3 -uz "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null
    if _alive "${PEER_PID:-}"; then kill "$PEER_PID" 2>/dev/null; sleep 1; _alive "$PEER_PID" && kill -9 "$PEER_PID"; fi
    return 0
}

_stop_pidfile() {
    local f=$1 pid i
    [ -f "$f" ] || return 0
    pid=$(cat "$f"); rm -f "$f"
    _alive "$pid" || return 0
    kill "$pid" 2>/dev/null
    for ((i = 0; i < 50; i++)); do _alive "$pid" || break; sleep 0.1; done
    _alive "$pid" && kill -9 "$pid"
    wait "$pid" 2>/dev/null
    return 0
}

_need() { local c; for c; do command -v "$c" >/dev/null 2>&1 || { echo "$c not installed"; return 1; }; done; }

# s3rver (npm package) on 127.0.0.1:$S3_PORT with bucket $1, data under $D/s3data
#
# s3rver 3.7.1 has a listing bug: with a delimiter, a key two or more levels
# below the prefix (a/b/c with prefix "") does not yield its common prefix
# ("a/"), so directories that hold only subdirectories vanish from every
# delimiter listing.  The harness patches its installed copy (one line in
# lib/stores/filesystem.js: keep walking below a common prefix instead of
# pruning there); a client that lists with delimiters needs that patch.
S3RVER_VERSION="${S3RVER_VERSION:-3.7.1}"
_s3rver_bin() { echo "$BENCH_CACHE/s3rver/node_modules/.bin/s3rver"; }
s3rver_install() {
    local js="$BENCH_CACHE/s3rver/node_modules/s3rver/lib/stores/filesystem.js"
    if [ ! -x "$(_s3rver_bin)" ]; then
        _need node npm >/dev/null || return 1
        mkdir -p "$BENCH_CACHE/s3rver" &&
            (cd "$BENCH_CACHE/s3rver" && npm install --no-audit --no-fund --loglevel=error "s3rver@$S3RVER_VERSION" >npm.log 2>&1)
        [ -x "$(_s3rver_bin)" ] || return 1
    fi
    grep -q 'bench patch' "$js" ||
        sed -i '/avoid directories occurring beneath a common prefix/{n;s#return false;#return true; // bench patch: walk on, deeper keys still yield their common prefix#}' "$js"
    grep -q 'bench patch' "$js" || { _log "could not patch s3rver's listing bug ($js)"; return 1; }
}
_s3rver_check() {
    _need node npm || return 1
    s3rver_install || { echo "cannot install s3rver@$S3RVER_VERSION with npm (see $BENCH_CACHE/s3rver/npm.log)"; return 1; }
}
_s3rver_start() { # BUCKET...
    local i args=()
    if (exec 3<>"/dev/tcp/127.0.0.1/$S3_PORT") 2>/dev/null; then _log "port $S3_PORT already in use"; return 1; fi
    for i; do args+=(--configure-bucket "$i"); done
    mkdir -p "$D/s3data"
    # s3rver 3.7.1 makes listing continuation tokens with DES, which Node 20's
    # OpenSSL 3 only has in its legacy provider.
    NODE_OPTIONS=--openssl-legacy-provider "$(_s3rver_bin)" -d "$D/s3data" -a 127.0.0.1 -p "$S3_PORT" --silent "${args[@]}" </dev/null >"$LOGDIR/s3rver.log" 2>&1 &
    echo $! > "$D/.s3rver.pid"
    for ((i = 0; i < 300; i++)); do
        (exec 3<>"/dev/tcp/127.0.0.1/$S3_PORT") 2>/dev/null && return 0
        _alive "$(cat "$D/.s3rver.pid")" || break
        sleep 0.1
    done
    _log "s3rver did not start, log: $LOGDIR/s3rver.log"; return 1
}

# ------------------------------------------------------------------ peers

# raw: a plain directory on the same disk -- the physical limit. No daemon.
p_raw_check()   { return 0; }
p_raw_init()    { rmdir "$MNT" && ln -s store "$MNT"; }
p_raw_mount()   { PEER_PID=""; return 0; }
p_raw_unmount() { return 0; }

# gocryptfs: default settings (AES-256-GCM, 4 KiB blocks), foreground daemon
p_gocryptfs_check()   { _need gocryptfs fusermount3; }
p_gocryptfs_init()    { gocryptfs -init -q -passfile "$PASSFILE" "$STORE" >"$LOGDIR/init.log" 2>&1; }
p_gocryptfs_mount()   { _fuse_launch gocryptfs -fg -q -passfile "$PASSFILE" "$STORE" "$MNT"; }
p_gocryptfs_unmount() { _fuse_unmount; }

# cryfs: default settings (xchacha20-poly1305, 16 KiB blocks), non-interactive,
# passphrase on stdin; its per-user state goes to $PHOME
_cryfs() {
    HOME="$PHOME" XDG_DATA_HOME="$PHOME/.local/share" CRYFS_FRONTEND=noninteractive \
        CRYFS_NO_UPDATE_CHECK=true cryfs "$@" < "$PASSFILE"
}
p_cryfs_check()   { _need cryfs fusermount3; }
p_cryfs_init()    {  # cryfs creates a filesystem on first mount
    _fuse_launch _cryfs -f "$STORE" "$MNT" && _fuse_unmount
}
p_cryfs_mount()   { _fuse_launch _cryfs -f "$STORE" "$MNT"; }
p_cryfs_unmount() { _fuse_unmount; }

# securefs: default format (4) and KDF, foreground daemon
p_securefs_check()   { _need securefs fusermount3; }
p_securefs_init()    { securefs create --pass "$(cat "$PASSFILE")" "$STORE" >"$LOGDIR/init.log" 2>&1; }
p_securefs_mount()   { _fuse_launch securefs mount --pass "$(cat "$PASSFILE")" "$STORE" "$MNT"; }
p_securefs_unmount() { _fuse_unmount; }

# encfs (optional, not run by default): --standard config, foreground daemon
p_encfs_check()   { _need encfs fusermount; }
p_encfs_init()    {
    _fuse_launch encfs -f --standard --extpass="cat $PASSFILE" "$STORE" "$MNT" && _fuse_unmount fusermount -u "$MNT"
}
p_encfs_mount()   { _fuse_launch encfs -f --extpass="cat $PASSFILE" "$STORE" "$MNT"; }
p_encfs_unmount() { _fuse_unmount fusermount -u "$MNT"; }

# rclone-crypt: `rclone mount` of a crypt remote over a local directory,
# --vfs-cache-mode full (other flags default; --rc only to watch uploads).
# Note: rclone acknowledges writes and fsync once they are in its local VFS
# cache, which holds PLAINTEXT; the encrypted upload to the backend happens
# later (--vfs-write-back, default 5 s after close).
_rclone() { env -u AWS_CA_BUNDLE rclone --config "$D/rclone.conf" "$@"; }
_rclone_conf() { # REMOTE-SECTION-TEXT CRYPT-TARGET
    local ob1 ob2
    ob1=$(rclone obscure "$(cat "$PASSFILE")"); ob2=$(rclone obscure "salt-$(cat "$PASSFILE")")
    { printf '%s\n' "$1"; printf '[sec]\ntype = crypt\nremote = %s\npassword = %s\npassword2 = %s\n' "$2" "$ob1" "$ob2"; } > "$D/rclone.conf"
}
# rclone.conf with [back] = plain S3 on the local s3rver, [sec] = crypt over CRYPT-TARGET
_rclone_s3_conf() { # CRYPT-TARGET
    _rclone_conf "[back]
type = s3
provider = Other
endpoint = http://127.0.0.1:$S3_PORT
access_key_id = S3RVER
secret_access_key = S3RVER
region = us-east-1
force_path_style = true" "$1"
}
RCLONE_RC_PORT="${RCLONE_RC_PORT:-4572}"   # rclone remote control, 127.0.0.1 only
_rclone_mount() {
    _fuse_launch _rclone mount sec: "$MNT" --vfs-cache-mode full --cache-dir "$CACHE" \
        --log-file "$LOGDIR/rclone.log" --log-level NOTICE \
        --rc --rc-addr "127.0.0.1:$RCLONE_RC_PORT" --rc-no-auth
}
# rclone does not upload pending writes when it is unmounted: they wait in
# the cache for the next mount (and files in directories that exist only in
# its memory, as on S3, are not visible then).  So that "unmounted" means
# "the data is in the store" for every peer, wait until its upload queue is
# empty (bounded by UNMOUNT_WAIT), then unmount.
_rclone_drain() { # 0 once rclone's upload queue is empty, 1 if not within UNMOUNT_WAIT
    local i n=-1
    for ((i = 0; i < UNMOUNT_WAIT * 5; i++)); do
        n=$(_rclone rc --url "http://127.0.0.1:$RCLONE_RC_PORT/" vfs/stats 2>/dev/null |
            grep -oE '"uploads(InProgress|Queued)": *[0-9]+' | awk -F: '{s += $2} END {print (NR ? s : -1)}')
        [ "$n" = 0 ] && return 0
        [ "$n" = -1 ] && { _log "rclone rc not answering; not waiting for uploads"; return 1; }
        sleep 0.2
    done
    _log "rclone still has $n uploads pending after ${UNMOUNT_WAIT}s"; return 1
}
_rclone_unmount() { _rclone_drain; _fuse_unmount; }
p_rclone_crypt_check()   { _need rclone fusermount3; }
p_rclone_crypt_init()    { _rclone_conf "[back]
type = local" "back:$STORE"; }
p_rclone_crypt_mount()   { _rclone_mount; }
p_rclone_crypt_unmount() { _rclone_unmount; }
p_rclone_crypt_drain()   { _rclone_drain; }

# rclone-crypt-s3: the same, with the ciphertext in an S3 bucket served by
# s3rver on 127.0.0.1:$S3_PORT (started at init, stopped by peer_destroy)
p_rclone_crypt_s3_check() { _need rclone fusermount3 || return 1; _s3rver_check; }
p_rclone_crypt_s3_init()  {
    _s3rver_start bench || return 1
    _rclone_s3_conf "back:bench/store"
}
# copy: plain into back:bench/copy-plain-N, crypt into [copy] = a crypt
# remote (the mount's passwords) over back:bench/copy-crypt, so that the
# mount never sees the copies
p_rclone_crypt_s3_copy()    { # SRC plain|crypt
    local n dst
    n=$(cat "$D/.copies" 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" > "$D/.copies"
    grep -q '^\[copy\]' "$D/rclone.conf" ||
        sed -n '/^\[sec\]/,$p' "$D/rclone.conf" | sed 's/^\[sec\]/[copy]/; s#^remote = .*#remote = back:bench/copy-crypt#' >> "$D/rclone.conf"
    dst="back:bench/copy-plain-$n"; [ "$2" = crypt ] && dst="copy:$n"
    _rclone copy "$1" "$dst"
}
p_rclone_crypt_s3_mount()   { _rclone_mount; }
p_rclone_crypt_s3_unmount() { _rclone_unmount; }
p_rclone_crypt_s3_drain()   { _rclone_drain; }

# sealfs: the command lines are at the top of this file
_sealfs_check() {
    if [[ "$SEALFS_BIN" == */* ]]; then [ -x "$SEALFS_BIN" ] || { echo "SEALFS_BIN=$SEALFS_BIN is not an executable"; return 1; }
    else command -v "$SEALFS_BIN" >/dev/null || { echo "sealfs binary not found (set SEALFS_BIN=/path/to/sealfs)"; return 1; }; fi
    _need fusermount3
}
p_sealfs_check()   { _sealfs_check; }
p_sealfs_init()    { sealfs_cmd_init >"$LOGDIR/init.log" 2>&1; }
# `sealfs mount` derives the key (Argon2id) in the process the user starts,
# then forks the daemon: the daemon's VmHWM does not include the KDF.  So
# the mount command runs under /usr/bin/time, which leaves its peak RSS (KiB)
# in $D/.launcher.maxrss; run.sh counts it in "peak RSS at mount".
_launcher_rss() { # ENTRY-FUNCTION [OTHER-FUNCTIONS-IT-CALLS...]
    rm -f "$D/.launcher.maxrss"
    [ -x /usr/bin/time ] || { "$1"; return; }
    SEALFS_BIN=$SEALFS_BIN STORE=$STORE MNT=$MNT CACHE=$CACHE PASSFILE=$PASSFILE \
        SEALFS_S3_STORE=$SEALFS_S3_STORE S3_PORT=$S3_PORT \
        /usr/bin/time -f %M -o "$D/.launcher.maxrss" bash -c "$(declare -f "$@"); $1"
}
_launcher_wait() { # the mount command returns once the mount is up; give it 10 s
    local i
    for ((i = 0; i < 100; i++)); do _alive "${PEER_LAUNCHER:-}" || break; sleep 0.1; done
    _alive "${PEER_LAUNCHER:-}" || wait "$PEER_LAUNCHER" 2>/dev/null
    return 0
}
p_sealfs_mount()   { _fuse_launch _launcher_rss sealfs_cmd_mount && _launcher_wait; }
p_sealfs_unmount() { _fuse_unmount sealfs_cmd_unmount; }
p_sealfs_drain()   { sealfs_cmd_sync; }

p_sealfs_s3_check()   { _sealfs_check || return 1; _s3rver_check; }
p_sealfs_s3_init()    {
    _s3rver_start bench-sealfs || return 1
    ( sealfs_s3_env; STORE=$SEALFS_S3_STORE; sealfs_cmd_init ) >"$LOGDIR/init.log" 2>&1
}
_sealfs_s3_mount()    { ( sealfs_s3_env; STORE=$SEALFS_S3_STORE; sealfs_cmd_mount ); }
p_sealfs_s3_mount()   { _fuse_launch _launcher_rss _sealfs_s3_mount sealfs_s3_env sealfs_cmd_mount && _launcher_wait; }
p_sealfs_s3_unmount() { _fuse_unmount sealfs_cmd_unmount; }
p_sealfs_s3_drain()   { sealfs_cmd_sync; }
