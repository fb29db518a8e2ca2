#!/bin/bash
# ARP both ways: the kernel learns the stack's MAC (ip neigh), and the
# stack's cache (read over the control socket) holds the kernel side's MAC.
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

neigh=$(ip -n "$NS" neigh show "$US" dev tap0)
log "kernel: $neigh"
echo "$neigh" | grep -qi "lladdr $US_MAC" || fail "kernel has no ARP entry for $US with $US_MAC: '$neigh'"
echo "$neigh" | grep -qE "REACHABLE|STALE|DELAY|PROBE" || fail "kernel entry not resolved: '$neigh'"

kmac=$(ip -n "$NS" -o link show tap0 | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)
arp=$(ustat arp)
log "stack: $(echo "$arp" | grep "$KS")"
echo "$arp" | grep "^$KS " | grep -qi "$kmac" || fail "stack's ARP cache lacks $KS at $kmac: $arp"
assert_stat_rose arp.tx_reply 0
assert_stat_rose arp.tx_gratuitous 0

# Flush the kernel's entry: the next ping makes it ask again, the stack answers.
ip -n "$NS" neigh flush dev tap0
before=$(stat_get arp.tx_reply)
ping_once || fail "no ping reply after flushing the kernel's ARP cache"
assert_stat_rose arp.tx_reply "$before"
stop_app
log "pass"
