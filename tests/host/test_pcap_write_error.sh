#!/bin/bash
# A capture that cannot be written is an error the user sees: with
# --pcap /dev/full, ustack-ping still pings, says on stderr that the
# capture failed (once, with the reason) and exits 1; ustack-inetd warns
# while it runs and exits 1 on SIGTERM. With a writable file both exit 0.
# Network namespace: setup (lib.sh) creates one for this test with
# `ip netns add` and its EXIT trap deletes it; the ustack programs run
# inside it (start_app and nsx wrap `ip netns exec "$NS"`).
. "$(dirname "$0")/lib.sh"
require_root
require_bin ping inetd
setup
[ -w /dev/full ] || skip "no /dev/full"

uping() { nsx timeout 30 "$BIN/ustack-ping" --dev tap0 "$@"; }

out=$(uping -c 2 -i 0.2 --pcap /dev/full "$KS" 2>"$T/ping.err")
rc=$?
[ $rc = 1 ] || fail "ustack-ping --pcap /dev/full exited $rc, expected 1"
echo "$out" | grep -q "2 packets transmitted, 2 received" ||
	fail "the pings themselves should still work: $out"
grep -q "cannot write the capture: No space left on device" "$T/ping.err" ||
	fail "no warning naming the reason: $(cat "$T/ping.err")"
[ "$(grep -c "cannot write the capture" "$T/ping.err")" = 1 ] ||
	fail "the warning is not given once"
grep -q "capture incomplete" "$T/ping.err" || fail "no summary at exit"
log "ping: $(grep -m1 'capture incomplete' "$T/ping.err")"

out=$(uping -c 1 --pcap "$T/ok.pcap" "$KS" 2>>"$T/ping.err")
[ $? = 0 ] || fail "ustack-ping with a writable --pcap failed: $out"

start_app inetd --pcap /dev/full
wait_ready
wait_for 5 "the warning while running" grep -q "cannot write the capture" "$T/inetd.err"
pid=$APP_PID
APP_PID=""
stop_pid "$pid" 5 || fail "inetd did not stop"
[ "$STOP_RC" = 1 ] || fail "inetd with --pcap /dev/full exited $STOP_RC, expected 1"
PIDS=$(echo " $PIDS " | sed "s/ $pid / /")
log "inetd: $(grep -m1 'capture incomplete' "$T/inetd.err")"
log "pass"
