#!/bin/bash
# RST for a closed port (RFC 9293 3.10.7.1): a kernel connect() to a port
# nobody listens on gets ECONNREFUSED at once; and ustack-nc connecting to
# a closed kernel port reports "Connection refused" and exits 1.
# Network namespace: setup (lib.sh) creates one for this test with
# `ip netns add` and its EXIT trap deletes it; the ustack program and the
# kernel-side tools here run inside it (start_app, nsx, py, bg_ns and
# ping_once wrap `ip netns exec "$NS"`; `ip -n "$NS"` for ip itself).
. "$(dirname "$0")/lib.sh"
require_root
require_bin inetd nc stat
setup
start_app inetd
wait_ready

before=$(stat_get tcp.rst_tx)
py "$US" >"$T/refused.log" 2>&1 <<'PYEOF' || fail "$(tail -n 3 "$T/refused.log")"
import socket, sys, time
t0 = time.time()
try:
    socket.create_connection((sys.argv[1], 4444), timeout=5)
    sys.exit("connected to a closed port")
except ConnectionRefusedError:
    print("ECONNREFUSED after %.1f ms" % ((time.time() - t0) * 1000))
except socket.timeout:
    sys.exit("no RST within 5 s")
PYEOF
log "$(cat "$T/refused.log")"
assert_stat_rose tcp.rst_tx "$before"
stop_app

start_app nc -w 5 "$KS" 4445
wait_exit "$APP_PID" 20 "ustack-nc to a closed port"
[ "$EXIT_RC" = 1 ] || fail "ustack-nc to a closed port exited $EXIT_RC, expected 1"
grep -qi "connection refused" "$T/nc.err" || fail "ustack-nc did not say 'Connection refused': $(cat "$T/nc.err")"
log "ustack-nc: $(cat "$T/nc.err")"
log "pass"
