#!/bin/bash
# ustack-ping: the stack pings the kernel side through an ICMP echo socket.
# Ping-like lines and summary, fragmented sizes, exit 0 with replies, 1
# with none (an address nobody has), 2 on a usage error.
# Network namespace: setup (lib.sh) creates one for this test with
# `ip netns add` and its EXIT trap deletes it; the ustack program and the
# kernel-side tools here run inside it (start_app, nsx, py, bg_ns and
# ping_once wrap `ip netns exec "$NS"`; `ip -n "$NS"` for ip itself).
. "$(dirname "$0")/lib.sh"
require_root
require_bin ping
setup

uping() { nsx timeout 30 "$BIN/ustack-ping" --dev tap0 "$@"; }

out=$(uping -c 3 -i 0.2 "$KS" 2>"$T/ping.err")
rc=$?
echo "$out" >"$T/ping.out"
[ $rc = 0 ] || fail "ustack-ping -c 3 $KS exited $rc: $(tail -n 3 "$T/ping.err")"
echo "$out" | grep -q "^PING $KS ($KS) 56(84) bytes of data" || fail "no PING header line"
for seq in 1 2 3; do
	echo "$out" | grep -qE "^64 bytes from $KS: icmp_seq=$seq ttl=64 time=[0-9.]+ ms" ||
		fail "no reply line for icmp_seq=$seq: $out"
done
echo "$out" | grep -q "3 packets transmitted, 3 received, 0% packet loss" || fail "summary: $out"
echo "$out" | grep -qE "^rtt min/avg/max/mdev = [0-9.]+/[0-9.]+/[0-9.]+/[0-9.]+ ms" || fail "no rtt line"
log "$(echo "$out" | tail -n 2 | tr '\n' ' ')"

out=$(uping -c 2 -i 0.2 -s 4000 "$KS" 2>>"$T/ping.err")
[ $? = 0 ] || fail "ustack-ping -s 4000 failed: $out"
[ "$(echo "$out" | grep -c "^4008 bytes from $KS")" = 2 ] || fail "-s 4000: expected 2 replies of 4008 bytes: $out"

# A fresh program's first request is sent before ARP has resolved: its
# 21 fragments wait in the pending queue (16 frames used to be the limit,
# and the first request failed with ENOBUFS).
out=$(uping -c 1 -W 2 -s 30000 "$KS" 2>>"$T/ping.err")
[ $? = 0 ] || fail "ustack-ping -c 1 -s 30000 failed: $out"
echo "$out" | grep -qE "^30008 bytes from $KS: icmp_seq=1 ttl=64 " ||
	fail "-s 30000: no reply to the first request: $out"

out=$(uping -c 2 -i 0.2 -W 1 10.0.0.99 2>>"$T/ping.err")
rc=$?
[ $rc = 1 ] || fail "ping to an absent host exited $rc, expected 1: $out"
echo "$out" | grep -q "2 packets transmitted, 0 received" || fail "absent host summary: $out"

"$BIN/ustack-ping" >/dev/null 2>&1
[ $? = 2 ] || fail "no HOST: expected exit 2"
"$BIN/ustack-ping" -c nope "$KS" >/dev/null 2>&1
[ $? = 2 ] || fail "-c nope: expected exit 2"
log "pass"
