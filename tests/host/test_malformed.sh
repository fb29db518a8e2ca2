#!/bin/bash
# Malformed and hostile frames, sent raw from the kernel side (scapy over
# AF_PACKET on tap0): each is a counted drop answered by nothing, and the
# stack stays alive (the next ping answers). Then 3000 random frames.
# Network namespace: setup (lib.sh) creates one for this test with
# `ip netns add` and its EXIT trap deletes it; the ustack program and the
# kernel-side tools here run inside it (start_app, nsx, py, bg_ns and
# ping_once wrap `ip netns exec "$NS"`; `ip -n "$NS"` for ip itself).
. "$(dirname "$0")/lib.sh"
require_root
require_scapy
require_bin inetd stat
setup
start_app inetd
wait_ready

counters="ip4.drop_bad_checksum ip4.drop_short ip4.drop_bad_version ip4.drop_bad_ihl
ip4.drop_bad_length ip4.reasm_drop_overlap udp.drop_bad_checksum udp.drop_bad_length
icmp.drop_bad_checksum eth.drop_ipv6 eth.drop_other_type arp.drop_bad"
declare -A before
for c in $counters; do before[$c]=$(stat_get "$c"); done
tx_before=$(stat_get ip4.tx)

py "$US" "$US_MAC" "$KS" >"$T/scapy.log" 2>&1 <<'PYEOF' || fail "scapy: $(tail -n 5 "$T/scapy.log")"
import sys
from scapy.all import ARP, ICMP, IP, IPv6, UDP, Ether, Raw, get_if_hwaddr, sendp, conf
conf.verb = 0
us, us_mac, ks = sys.argv[1:4]
eth = Ether(src=get_if_hwaddr("tap0"), dst=us_mac)
frames = []
# IPv4 header checksum wrong (an echo request that must not be answered)
frames.append(eth / IP(src=ks, dst=us, chksum=0x1234) / ICMP(id=7, seq=1) / Raw(b"x" * 32))
# truncated header: 10 bytes of IPv4
frames.append(eth / Raw(bytes(IP(src=ks, dst=us) / ICMP())[:10]))
frames[-1].type = 0x0800
# version 6 in an IPv4 ethertype
frames.append(eth / IP(src=ks, dst=us, version=6) / ICMP())
# IHL 3 (shorter than the fixed header)
frames.append(eth / IP(src=ks, dst=us, ihl=3) / ICMP())
# total length larger than the frame
frames.append(eth / IP(src=ks, dst=us, len=1400) / ICMP() / Raw(b"y" * 20))
# overlapping fragments (teardrop): [0, 48) then [24, 88)
frames.append(eth / IP(src=ks, dst=us, id=4242, flags="MF", frag=0, proto=17) / Raw(b"a" * 48))
frames.append(eth / IP(src=ks, dst=us, id=4242, flags=0, frag=3, proto=17) / Raw(b"b" * 64))
# UDP checksum wrong, to the echo port (must not be echoed)
frames.append(eth / IP(src=ks, dst=us) / UDP(sport=4000, dport=7, chksum=0xbeef) / Raw(b"bad sum"))
# UDP length field longer than the datagram
frames.append(eth / IP(src=ks, dst=us) / UDP(sport=4000, dport=7, len=500) / Raw(b"short"))
# ICMP checksum wrong
frames.append(eth / IP(src=ks, dst=us) / ICMP(chksum=0x4321) / Raw(b"z" * 16))
# IPv6 and an unknown ethertype
frames.append(eth / IPv6(dst="fe80::2") / UDP(dport=7))
frames.append(Ether(src=eth.src, dst=us_mac, type=0x88b5) / Raw(b"\x00" * 46))
# ARP with a wrong hardware length
frames.append(Ether(src=eth.src, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwlen=8, psrc=ks, pdst=us))
sendp(frames, iface="tap0")
print("sent %d malformed frames" % len(frames))
PYEOF
log "$(cat "$T/scapy.log")"
ping_once || fail "the stack stopped answering after malformed frames"

for c in $counters; do
	assert_stat_rose "$c" "${before[$c]}"
done
tx_after=$(stat_get ip4.tx)
# The ping above is the only IPv4 the stack may have sent (one reply).
[ $((tx_after - tx_before)) -le 1 ] ||
	fail "the stack sent $((tx_after - tx_before)) IPv4 packets in answer to malformed frames"

# Random garbage: valid Ethernet header to us, random bytes after it.
py "$US_MAC" >"$T/fuzz.log" 2>&1 <<'PYEOF' || fail "scapy fuzz: $(tail -n 3 "$T/fuzz.log")"
import os, random, sys
from scapy.all import Ether, Raw, get_if_hwaddr, sendp, conf
conf.verb = 0
random.seed(1)
src = get_if_hwaddr("tap0")
frames = []
for i in range(3000):
    t = random.choice([0x0800, 0x0800, 0x0800, 0x0806, 0x86dd])
    body = bytearray(os.urandom(random.randint(0, 1400)))
    if t == 0x0800 and len(body) >= 20 and random.random() < 0.7:
        body[0] = 0x45   # mostly plausible IPv4, to get past the first check
    frames.append(Ether(src=src, dst=sys.argv[1], type=t) / Raw(bytes(body)))
sendp(frames, iface="tap0")
print("sent %d random frames" % len(frames))
PYEOF
log "$(cat "$T/fuzz.log")"
ping_once || fail "the stack stopped answering after random frames"
kill -0 "$APP_PID" || fail "ustack-inetd died"
stop_app
log "pass"
