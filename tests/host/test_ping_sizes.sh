#!/bin/bash
# Kernel pings the stack with small, 1472-byte (largest unfragmented at MTU
# 1500), 4000 and 20000-byte payloads (fragmented both ways): every reply
# comes back whole, and the stack counted reassemblies and fragments sent.
# Network namespace: setup (lib.sh) creates one for this test with
# `ip netns add` and its EXIT trap deletes it; the ustack program and the
# kernel-side tools here run inside it (start_app, nsx, py, bg_ns and
# ping_once wrap `ip netns exec "$NS"`; `ip -n "$NS"` for ip itself).
. "$(dirname "$0")/lib.sh"
require_root
require_cmd ping
require_bin inetd stat
setup
start_app inetd
wait_ready

for size in 56 1472 4000 20000; do
	out=$(nsx ping -c 3 -i 0.2 -W 2 -s "$size" "$US" 2>&1)
	echo "$out" >"$T/ping-$size.log"
	echo "$out" | grep -q "3 packets transmitted, 3 received" ||
		fail "ping -s $size: not every reply came back: $(echo "$out" | tail -n 2)"
	n=$(echo "$out" | grep -c "^$((size + 8)) bytes from $US: icmp_seq=")
	[ "$n" = 3 ] || fail "ping -s $size: expected 3 replies of $((size + 8)) bytes, got $n"
	log "ping -s $size: 3/3 replies, $(echo "$out" | grep rtt)"
done
assert_stat_rose ip4.reasm_ok 0
assert_stat_rose ip4.frag_tx 0
stop_app
log "pass"
