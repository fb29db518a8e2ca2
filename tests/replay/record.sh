#!/bin/sh
# record.sh BUILD [SCENARIO...] - re-record the live replay cases
# (`make replay-record`; root).
#
# Each scenario runs in a network namespace created here and deleted at the
# end (also on errors and ^C): the stack program (ustack-inetd or ustack-nc
# from BUILD/bin, --seed 1, --pcap) on one TAP device, the Linux kernel as
# the peer on another, and tests/replay/record.py relaying between them
# (dropping chosen frames for the loss cases). The capture becomes
# tests/replay/cases/SCENARIO/ (in.pcap, live.pcap, case.conf, case.txt),
# out.pcap is written by `ustack-replay --update`, and crosscheck.py says
# how faithfully the replay reproduces the live session.
#
# Crafted cases (tests/replay/craft.py) are not touched. With no SCENARIO,
# every live scenario is recorded (about two minutes).
set -u

BUILD=${1:-build}
[ $# -gt 0 ] && shift
TOP=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3
SCENARIOS=${*:-arp ping ping-frag udp-echo udp-unreach tcp-handshake tcp-data \
tcp-close-passive tcp-close-active tcp-rst-closed tcp-retransmit tcp-retransmit-rto \
tcp-ooo-kernel tcp-timewait-reack tcp-zero-window tcp-syn-retransmit}

if [ "$(id -u)" -ne 0 ]; then
	echo "record.sh: needs root (network namespaces, TAP devices)" >&2
	exit 2
fi
for b in ustack-inetd ustack-nc ustack-replay; do
	if [ ! -x "$BUILD/bin/$b" ]; then
		echo "record.sh: $BUILD/bin/$b not built (make apps)" >&2
		exit 2
	fi
done
$PY -c 'import socket; socket.AF_PACKET' || exit 2

NS=""
cleanup() {
	[ -n "$NS" ] && ip netns del "$NS" 2>/dev/null
	NS=""
}
trap 'cleanup; exit 130' INT TERM
trap cleanup EXIT

fail=0
for s in $SCENARIOS; do
	NS=ustack-rec-$$-$s
	ip netns add "$NS" || exit 2
	echo "== $s"
	if timeout 120 ip netns exec "$NS" $PY "$TOP/tests/replay/record.py" \
		"$BUILD" "$s" "$TOP/tests/replay/cases"; then
		rm -rf /tmp/ustack-record-"$s"-*
	else
		echo "record.sh: $s FAILED (capture kept in /tmp/ustack-record-$s-*)"
		fail=$((fail + 1))
	fi
	cleanup
done
echo "record.sh: $(echo $SCENARIOS | wc -w) scenarios, $fail failed"
[ "$fail" -eq 0 ]
