#!/bin/bash
# A burst of 1000 pings (ping -f: the next request as soon as a reply
# comes, at least every 10 ms) loses nothing.
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

before=$(stat_get icmp.tx_echo_reply)
out=$(nsx timeout 60 ping -f -c 1000 -W 2 "$US" 2>&1)
echo "$out" >"$T/flood.log"
echo "$out" | grep -q "1000 packets transmitted, 1000 received" ||
	fail "flood ping lost replies: $(echo "$out" | grep transmitted)"
after=$(stat_get icmp.tx_echo_reply)
[ $((after - before)) -ge 1000 ] || fail "icmp.tx_echo_reply rose by $((after - before)), expected 1000"
log "$(echo "$out" | grep -E 'transmitted|rtt')"
stop_app
log "pass"
