#!/bin/bash
# The control socket and ustack-stat: each report answers, a prefix filters
# the counters, an unknown command is an error (exit 1), many clients at
# once all get answers, a client that never sends its line does not stall
# the stack, and a socket file left by a killed program is taken over.
# Network namespace: setup (lib.sh) creates one for this test with
# `ip netns add` and its EXIT trap deletes it; the ustack program and the
# kernel-side tools here run inside it (start_app, nsx, py, bg_ns and
# ping_once wrap `ip netns exec "$NS"`; `ip -n "$NS"` for ip itself).
. "$(dirname "$0")/lib.sh"
require_root
require_bin inetd stat
setup
start_app inetd
wait_ready

ustat iface | grep -q "inet $US/24" || fail "iface: $(ustat iface)"
ustat iface | grep -q "kernel side $KS/24" || fail "iface lacks the kernel side"
ustat conns | head -n 1 | grep -qE "^Proto +Local Address +Foreign Address +State +Send-Q +Recv-Q" ||
	fail "conns header: $(ustat conns | head -n 1)"
ustat conns | grep -qE "^udp +0\.0\.0\.0:7 " || fail "conns lacks the UDP echo socket"
ustat stats ip4. | grep -qv "^ip4\." && fail "stats ip4. shows other counters"
[ "$(ustat stats ip4. | wc -l)" -ge 10 ] || fail "stats ip4. too short"
ustat all | grep -q "^eth.rx " || fail "all lacks the counters"
ustat -z stats | awk '$2 == 0 { exit 1 }' || fail "-z shows zero counters"
ustat bogus >/dev/null 2>&1 && fail "an unknown command did not fail"
ustat bogus 2>/dev/null | grep -q "^error: unknown command" || fail "no error line for an unknown command"

# A client that connects and says nothing: the stack keeps answering.
nsx "$PY" -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); time.sleep(3)' "$CTL" &
idle=$!
PIDS="$PIDS $idle"
for i in 1 2 3; do ping_once || fail "ping $i failed while a control client hangs"; done
# Sixteen clients at once (more than the 8 served together: some may be
# turned away, every one that is served gets a whole answer).
ok=0
par=""
for i in $(seq 16); do
	ustat stats >"$T/par.$i" 2>/dev/null &
	par="$par $!"
done
for p in $par; do wait "$p"; done
for i in $(seq 16); do
	[ "$(grep -c . "$T/par.$i")" -gt 50 ] && ok=$((ok + 1))
done
[ $ok -ge 8 ] || fail "only $ok of 16 parallel clients got a whole answer"
log "$ok of 16 parallel clients answered"

# kill -9 leaves the socket file; a new program takes it over.
kill -KILL "$APP_PID"
wait "$APP_PID" 2>/dev/null
PIDS=$(echo " $PIDS " | sed "s/ $APP_PID / /")
APP_PID=""
[ -S "$CTL" ] || fail "expected a stale socket file after kill -9"
start_app inetd
wait_ready
ustat iface >/dev/null || fail "the new program did not take over the stale control socket"
stop_app
[ -e "$CTL" ] && fail "the control socket file was not removed at exit"
log "pass"
