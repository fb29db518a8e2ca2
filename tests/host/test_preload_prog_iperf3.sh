#!/bin/bash
# Long run (make check-programs): iperf3 -s on ustack with the kernel's
# iperf3 -c both directions (-R), and iperf3 -c on ustack against a kernel
# server both directions; 10 s each, each must end with its summary.
# Network namespace: setup (lib.sh) creates one with `ip netns add` and
# its EXIT trap deletes it; every program runs inside it (nsx, bg_ns).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../preload/long.sh"
require_root
require_cmd iperf3 ss
require_bin run stat
setup
. "$ROOT/tests/preload/lib.sh"
SECS=${IPERF_SECS:-10}

# -4: iperf3 otherwise listens on an IPv6 socket (the kernel's).
us_start iperf3 -s -4
us_listen_wait 5201
for dir in "" -R; do
	nsx timeout $((SECS + 30)) iperf3 -c "$US" -t "$SECS" $dir >"$T/k$dir.log" 2>&1 ||
		fail "kernel iperf3 -c $dir against ustack exited $?"
	grep -E "receiver$" "$T/k$dir.log" | sed 's/^/  /'
	log "iperf3 -s on ustack, kernel client ${dir:-(upload)}: done"
done
stop_pid "$APP_PID" 5 || fail "iperf3 -s did not stop"
PIDS=$(echo " $PIDS " | sed "s/ $APP_PID / /")
APP_PID=""

bg_ns iperf3 -s
k_listen_wait 5201
for dir in "" -R; do
	us_run iperf3 -c "$KS" -t "$SECS" $dir >"$T/u$dir.log" 2>&1 ||
		fail "iperf3 -c $dir on ustack exited $?"
	grep -E "receiver$" "$T/u$dir.log" | sed 's/^/  /'
	log "iperf3 -c on ustack ${dir:-(upload)} against the kernel: done"
done
