#!/bin/bash
# A datagram to a closed UDP port: the stack answers ICMP port unreachable,
# and a connected kernel UDP socket sees ECONNREFUSED.
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

before=$(stat_get icmp.tx_dest_unreach)
py "$US" >"$T/unreach.log" 2>&1 <<'PYEOF' || fail "$(tail -n 3 "$T/unreach.log")"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.connect((sys.argv[1], 5555))
s.send(b"anyone there?")
try:
    s.recv(100)
    sys.exit("got an answer from a closed port")
except ConnectionRefusedError:
    print("ECONNREFUSED")
except socket.timeout:
    sys.exit("no ICMP port unreachable within 3 s")
PYEOF
grep -q ECONNREFUSED "$T/unreach.log" || fail "kernel socket did not see ECONNREFUSED"
assert_stat_rose icmp.tx_dest_unreach "$before"
assert_stat_rose udp.drop_no_port 0
stop_app
log "pass"
