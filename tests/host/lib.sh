# shellcheck shell=bash disable=SC2034
# lib.sh - helpers for the host tests (sourced by tests/host/test_*.sh).
#
# Each test runs the stack as a real program on a TAP device inside a
# network namespace of its own, with the Linux kernel on the other side of
# the TAP as the peer. This file makes the namespace (unique name with $$),
# starts ustack programs in it, waits for readiness by polling with a
# deadline, reads counters over the control socket, and tears everything
# down from an EXIT trap: processes it started (by pid), the namespace, the
# temporary directory. Nothing touches the host's own network.
#
# Conventions: exit 0 pass, 1 fail, 77 skip (no root, no /dev/net/tun, a
# tool missing). BUILD is the build directory (default build).

set -u

HOST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HOST_DIR/../.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
BIN=$BUILD/bin
PY=/usr/bin/python3          # Debian's python, the one with scapy
US=10.0.0.2                  # the stack
KS=10.0.0.1                  # the kernel side of the TAP
US_MAC=02:00:00:00:00:02
TEST=$(basename "$0" .sh)
NS=""
T=""
CTL=""
PIDS=""
APP_PID=""

log() { echo "[$TEST] $*"; }
skip() { echo "SKIP: $*"; exit 77; }

fail() {
	echo "FAIL: $TEST: $*"
	show_logs
	exit 1
}

# The last lines of every log in $T, to see why something failed.
show_logs() {
	[ -n "$T" ] && [ -d "$T" ] || return 0
	for f in "$T"/*.err "$T"/*.out "$T"/*.log; do
		[ -s "$f" ] || continue
		echo "--- $(basename "$f") (last 15 lines)"
		tail -n 15 "$f"
	done
}

require_root() {
	[ "$(id -u)" = 0 ] || skip "needs root (network namespaces and a TAP device)"
	[ -c /dev/net/tun ] || skip "no /dev/net/tun (modprobe tun)"
	command -v ip >/dev/null 2>&1 || skip "needs ip(8) (iproute2)"
	ip netns add "ustk-probe-$$" 2>/dev/null || skip "cannot create network namespaces"
	ip netns del "ustk-probe-$$"
}

require_cmd() {
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip "needs $c"
	done
}

require_scapy() {
	$PY -c 'import scapy.all' 2>/dev/null || skip "needs python3-scapy"
}

require_bin() {
	for b in "$@"; do
		[ -x "$BIN/ustack-$b" ] || fail "missing $BIN/ustack-$b (run make first)"
	done
}

# A namespace and a temporary directory for this test; cleanup on exit.
setup() {
	T=$(mktemp -d /tmp/ustack-host.XXXXXX) || fail "mktemp"
	CTL=$T/ctl
	NS="ustk-${TEST#test_}-$$"
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	ip netns add "$NS" || fail "ip netns add $NS"
	ip -n "$NS" link set lo up
}

cleanup() {
	local rc=$?
	trap - EXIT
	stop_all
	# A sanitizer build reports on stderr; any report fails the test.
	if [ -n "$T" ] && [ "$rc" = 0 ] &&
		grep -lE "(ERROR|WARNING): (Address|Leak|Thread)Sanitizer|runtime error:" "$T"/*.err >/dev/null 2>&1; then
		echo "FAIL: $TEST: sanitizer report:"
		grep -hE -A5 "(ERROR|WARNING): (Address|Leak|Thread)Sanitizer|runtime error:" "$T"/*.err | head -n 30
		rc=1
	fi
	[ -n "$NS" ] && ip netns del "$NS" 2>/dev/null
	[ -n "$T" ] && [ -z "${KEEP:-}" ] && rm -rf "$T"
	exit $rc
}

# Run a command inside the namespace.
nsx() { ip netns exec "$NS" "$@"; }

# Now in milliseconds (bash 5's EPOCHREALTIME).
now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }

# wait_for SECONDS WHAT CMD...: poll CMD every 20 ms until it succeeds;
# fail the test after SECONDS (and if the ustack program died meanwhile).
wait_for() {
	local secs=$1 what=$2 end
	shift 2
	end=$(($(now_ms) + secs * 1000))
	while ! "$@" >/dev/null 2>&1; do
		if [ -n "$APP_PID" ] && ! kill -0 "$APP_PID" 2>/dev/null; then
			fail "the ustack program exited while waiting for: $what"
		fi
		[ "$(now_ms)" -lt "$end" ] || fail "timed out after ${secs}s waiting for: $what"
		sleep 0.02
	done
}

# start_app NAME ARGS...: run build/bin/ustack-NAME on tap0 in the
# namespace, with the control socket at $CTL; stdout/stderr in $T, stdin
# from $APP_STDIN (default /dev/null).
start_app() {
	local name=$1
	shift
	rm -f "$CTL"
	ip netns exec "$NS" "$BIN/ustack-$name" --dev tap0 --ctl "$CTL" "$@" \
		<"${APP_STDIN:-/dev/null}" >"$T/$name.out" 2>"$T/$name.err" &
	APP_PID=$!
	PIDS="$PIDS $APP_PID"
}

tap_up() { ip -n "$NS" link show tap0 2>/dev/null | grep -q "UP"; }
ping_once() { nsx ping -c 1 -W 1 "$US" >/dev/null 2>&1; }

# Wait until the stack answers: tap0 up in the namespace, the control
# socket there, and a first ping answered.
wait_ready() {
	wait_for 10 "tap0 up in $NS" tap_up
	wait_for 10 "control socket $CTL" test -S "$CTL"
	wait_for 10 "a first ping answered" ping_once
}

# stop_pid PID [SECONDS]: SIGTERM, wait for it to exit (polling), then
# SIGKILL. Sets STOP_RC to its exit status.
stop_pid() {
	local pid=$1 secs=${2:-5} end
	STOP_RC=""
	kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; STOP_RC=$?; return 0; }
	kill -TERM "$pid" 2>/dev/null
	end=$(($(now_ms) + secs * 1000))
	while kill -0 "$pid" 2>/dev/null && [ "$(now_ms)" -lt "$end" ]; do
		sleep 0.02
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		STOP_RC=killed
		return 1
	fi
	wait "$pid" 2>/dev/null
	STOP_RC=$?
	return 0
}

stop_all() {
	for p in $PIDS; do
		stop_pid "$p" 3 || true
	done
	PIDS=""
}

# wait_exit PID SECONDS WHAT: wait for a process to end by itself; sets
# EXIT_RC. Fails the test if it is still running after SECONDS.
wait_exit() {
	local pid=$1 end
	end=$(($(now_ms) + $2 * 1000))
	while kill -0 "$pid" 2>/dev/null; do
		[ "$(now_ms)" -lt "$end" ] || fail "$3 still running after $2 s"
		sleep 0.05
	done
	wait "$pid" 2>/dev/null
	EXIT_RC=$?
	PIDS=$(echo " $PIDS " | sed "s/ $pid / /")
	[ "$pid" = "$APP_PID" ] && APP_PID=""
	return 0
}

# Start a command in the namespace in the background (killed at cleanup).
bg_ns() {
	ip netns exec "$NS" "$@" &
	BG_PID=$!
	PIDS="$PIDS $BG_PID"
}

# Stop the ustack program and check it ended cleanly (exit 0).
stop_app() {
	local pid=$APP_PID
	APP_PID=""
	stop_pid "$pid" 5 || fail "ustack program did not stop on SIGTERM"
	[ "$STOP_RC" = 0 ] || fail "ustack program exited with $STOP_RC on SIGTERM"
	PIDS=$(echo " $PIDS " | sed "s/ $pid / /")
}

# Counters over the control socket.
ustat() { "$BIN/ustack-stat" "$CTL" "$@"; }
stat_get() {
	ustat stats "$1" | awk -v n="$1" '$1 == n { print $2; f = 1 } END { if (!f) print "?" }'
}

# assert_stat_rose NAME BEFORE: the counter NAME is now above BEFORE.
assert_stat_rose() {
	local now
	now=$(stat_get "$1")
	[ "$now" != "?" ] || fail "no counter named $1"
	[ "$now" -gt "$2" ] || fail "counter $1 did not rise (was $2, now $now)"
	log "$1: $2 -> $now"
}

assert_stat_eq() {
	local now
	now=$(stat_get "$1")
	[ "$now" = "$2" ] || fail "counter $1 is $now, expected $2"
}

# Run Python (Debian's, with scapy) in the namespace: py ARGS... <<'EOF'
py() { ip netns exec "$NS" "$PY" - "$@"; }

# A file of N MiB of random data and its sha256.
make_blob() {
	head -c "$(($2 * 1024 * 1024))" /dev/urandom >"$1" || fail "make_blob"
}
sha() { sha256sum "$1" | cut -d' ' -f1; }
