#!/bin/bash
# --pcap writes every frame in and out; after SIGTERM the file is complete
# and tcpdump (and tshark, if installed) read the expected frames: the
# gratuitous ARP, ARP request/reply, ICMP echo request/reply pairs, UDP
# both ways.
# Network namespace: setup (lib.sh) creates one for this test with
# `ip netns add` and its EXIT trap deletes it; the ustack program and the
# kernel-side tools here run inside it (start_app, nsx, py, bg_ns and
# ping_once wrap `ip netns exec "$NS"`; `ip -n "$NS"` for ip itself).
. "$(dirname "$0")/lib.sh"
require_root
require_cmd tcpdump ping
require_bin inetd stat
setup
start_app inetd --pcap "$T/cap.pcap"
wait_ready
nsx ping -c 3 -i 0.2 "$US" >/dev/null || fail "ping"
py "$US" <<'PYEOF' || fail "udp echo"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.connect((sys.argv[1], 7))
s.send(b"pcap me")
assert s.recv(100) == b"pcap me"
PYEOF
stop_app
[ -s "$T/cap.pcap" ] || fail "no capture written"

td() { tcpdump -n -r "$T/cap.pcap" "$@" 2>/dev/null; }
td >"$T/tcpdump.log"
n_req=$(td "icmp[icmptype] == icmp-echo and dst host $US" | wc -l)
n_rep=$(td "icmp[icmptype] == icmp-echoreply and src host $US" | wc -l)
[ "$n_req" -ge 4 ] || fail "expected >= 4 echo requests in the capture, got $n_req"
[ "$n_rep" = "$n_req" ] || fail "echo requests $n_req but replies $n_rep"
td "arp and src host $US" | grep -q . || fail "no ARP from the stack in the capture"
[ "$(td "udp port 7" | wc -l)" -ge 2 ] || fail "UDP echo not both ways in the capture"
td "ether src $US_MAC" | grep -q . || fail "no frame from the stack's MAC"
log "tcpdump: $(wc -l <"$T/tcpdump.log") frames, $n_req echo requests, $n_rep replies"

if command -v tshark >/dev/null 2>&1; then
	n=$(tshark -r "$T/cap.pcap" -Y "icmp.type == 0" 2>/dev/null | wc -l)
	[ "$n" = "$n_rep" ] || fail "tshark sees $n echo replies, tcpdump $n_rep"
	log "tshark agrees: $n echo replies"
fi
log "pass"
