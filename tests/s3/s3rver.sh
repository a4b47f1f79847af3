#!/bin/bash
# s3rver.sh - a throwaway local S3 server (the npm package s3rver, pinned at
# 3.7.1, patched by patch-s3rver.js) for the 's3' test suite. Only ever binds
# 127.0.0.1; needs node and npm (the npm registry is used once, to install).
#
#   s3rver.sh install            install + patch into tests/s3/node_modules
#   s3rver.sh start STATE_DIR    start on a free port with data in STATE_DIR,
#                                bucket sealfs-test; prints the port; writes
#                                STATE_DIR/port and STATE_DIR/pid
#   s3rver.sh stop STATE_DIR     stop that server (by its pid) and remove STATE_DIR
#   s3rver.sh run CMD [ARG...]   start a server in a new temporary directory,
#                                run CMD with AWS_* pointing at it (and
#                                S3RVER_PORT, S3RVER_STATE), stop the server
#                                however CMD ends, exit with CMD's status
set -u

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VERSION=3.7.1
BUCKET=sealfs-test
MODULE="$HERE/node_modules/s3rver"

die() {
	echo "s3rver.sh: $*" >&2
	exit 1
}

install_s3rver() {
	command -v node >/dev/null || die "node is not installed (apt-get install nodejs npm)"
	mkdir -p "$HERE/node_modules" || die "cannot create $HERE/node_modules"
	(
		flock 9 || exit 1
		if ! grep -q "\"version\": \"$VERSION\"" "$MODULE/package.json" 2>/dev/null; then
			command -v npm >/dev/null || die "npm is not installed (apt-get install npm)"
			npm install --no-save --no-audit --no-fund --prefix "$HERE" "s3rver@$VERSION" \
				>"$HERE/node_modules/.npm-install.log" 2>&1 ||
				die "npm install s3rver@$VERSION failed: see $HERE/node_modules/.npm-install.log"
		fi
		node "$HERE/patch-s3rver.js" "$HERE"
		rc=$?
		if [ $rc -eq 3 ]; then # patched by an older patch-s3rver.js: start afresh
			rm -rf "$MODULE"
			npm install --no-save --no-audit --no-fund --prefix "$HERE" "s3rver@$VERSION" \
				>"$HERE/node_modules/.npm-install.log" 2>&1 || die "npm install failed"
			node "$HERE/patch-s3rver.js" "$HERE"
			rc=$?
		fi
		exit $rc
	) 9>"$HERE/node_modules/.sealfs-install.lock" || die "install failed"
}

start_s3rver() {
	local state="$1" i port=""
	mkdir -p "$state/data" || die "cannot create $state"
	# -p 0: the kernel picks a free port; s3rver prints it. timeout bounds
	# its life should every cleanup below be skipped (a SIGKILL).
	# FORCE_COLOR: s3rver cuts the first 16 characters of koa-logger's line,
	# its colour codes; without colour it cut the method and the path's start.
	FORCE_COLOR=1 timeout "${S3RVER_MAX_SECONDS:-1800}" node "$MODULE/bin/s3rver.js" -d "$state/data" \
		-a 127.0.0.1 -p 0 --no-vhost-buckets --configure-bucket "$BUCKET" >"$state/log" 2>&1 </dev/null &
	echo $! >"$state/pid"
	for i in $(seq 1 200); do
		port=$(sed -n 's/.*S3rver listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$state/log")
		[ -n "$port" ] && break
		kill -0 "$(cat "$state/pid")" 2>/dev/null || break
		sleep 0.1
	done
	if [ -z "$port" ]; then
		cat "$state/log" >&2
		stop_s3rver "$state"
		die "s3rver did not start"
	fi
	echo "$port" >"$state/port"
	echo "$port"
}

stop_s3rver() {
	local state="$1" pid i
	if [ -f "$state/pid" ]; then
		pid="$(cat "$state/pid")"
		kill "$pid" 2>/dev/null
		for i in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null
	fi
	case "$state" in
	/tmp/sealfs-s3rver.*) rm -rf "$state" ;;
	*) rm -rf "$state/data" "$state/pid" "$state/port" ;;
	esac
}

run_with_s3rver() {
	install_s3rver
	local state rc
	state="$(mktemp -d /tmp/sealfs-s3rver.XXXXXX)" || die "mktemp failed"
	trap 'stop_s3rver "$state"' EXIT
	trap 'exit 143' INT TERM
	S3RVER_PORT="$(start_s3rver "$state")" || exit 1
	export S3RVER_PORT S3RVER_STATE="$state"
	export AWS_ENDPOINT_URL_S3="http://127.0.0.1:$S3RVER_PORT"
	export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1
	# keep the developer's own ~/.aws and variables out of the tests
	export AWS_CONFIG_FILE="$state/no-config" AWS_SHARED_CREDENTIALS_FILE="$state/no-credentials"
	unset AWS_ENDPOINT_URL AWS_PROFILE AWS_SESSION_TOKEN AWS_DEFAULT_REGION AWS_CA_BUNDLE \
		AWS_S3_ADDRESSING_STYLE AWS_WEB_IDENTITY_TOKEN_FILE AWS_ROLE_ARN AWS_ENDPOINT_URL_STS \
		AWS_CONTAINER_CREDENTIALS_RELATIVE_URI AWS_CONTAINER_CREDENTIALS_FULL_URI
	export AWS_EC2_METADATA_DISABLED=true # never ask 169.254.169.254 from a test
	# in the background, so a TERM from the test runner is handled at once
	"$@" &
	child=$!
	trap 'kill "$child" 2>/dev/null; exit 143' INT TERM
	wait "$child"
	rc=$?
	if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
		echo "--- s3rver log (last 40 lines) ---" >&2
		tail -n 40 "$state/log" | sed 's/\x1b\[[0-9;]*m//g' >&2
	fi
	exit $rc
}

case "${1:-}" in
install) install_s3rver ;;
start) [ $# -eq 2 ] || die "usage: s3rver.sh start STATE_DIR"; install_s3rver; start_s3rver "$2" ;;
stop) [ $# -eq 2 ] || die "usage: s3rver.sh stop STATE_DIR"; stop_s3rver "$2" ;;
run) shift; [ $# -ge 1 ] || die "usage: s3rver.sh run CMD [ARG...]"; run_with_s3rver "$@" ;;
*) die "usage: s3rver.sh install | start DIR | stop DIR | run CMD [ARG...]" ;;
esac
