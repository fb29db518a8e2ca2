#!/bin/bash
# synflood.sh BUILD - the SYN-flood row of `make bench` (run.sh calls it;
# it also runs alone). Root only.
#
# A legitimate client's connect time while a SYN flood from random
# sources hits the same port, ustack and the kernel side by side:
#   ustack: ustack-inetd on a TAP in namespace F (stack 10.0.0.2, route
#           via the kernel side 10.0.0.1, where the SYN-ACKs to the random
#           sources die); flooder and client in F, on the kernel side.
#   kernel: a kernel listener (bench_peer -s) in namespace H (10.9.0.2,
#           tcp_syncookies=1, default route via G); flooder and client in
#           G, over a veth pair.
# The flood rate is the highest bench_synflood -f reaches into the veth
# (measured first, FLOOD_CAL_S seconds); both sides then get that rate.
# During the flood the client makes FLOOD_CONNS connections, one every
# 20 ms, to daytime (13), and the flooder's real rate is measured.
#
# Prints one line per side: "ustack|kernel PPS P50_MS P95_MS MAX_MS FAILED"
# (a failed connect, 5 s without an answer, counts as 5000 ms).
# Everything runs in namespaces this script makes and removes.
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${1:-build}
BIN=$BUILD/bin
FL=$BUILD/tests/bench_synflood
PEER=$BUILD/tests/bench_peer
N=${FLOOD_CONNS:-100}
CAL=${FLOOD_CAL_S:-2}
DUR=$((N / 50 + 4))

[ "$(id -u)" = 0 ] || { echo "synflood: needs root" >&2; exit 1; }
for f in "$BIN/ustack-inetd" "$FL" "$PEER"; do
	[ -x "$f" ] || { echo "synflood: $f missing (make all)" >&2; exit 1; }
done

F=ufl-f-$$ G=ufl-g-$$ H=ufl-h-$$
DIR=$(mktemp -d /tmp/ustack-synflood.XXXXXX)
PIDS=""
BENCH_NAME=synflood NSS="$F $G $H"
. tests/bench/lib.sh
bench_traps

for n in $F $G $H; do
	ip netns add "$n" || exit 1
	ip -n "$n" link set lo up
done
ip link add ufv0-$$ netns "$G" type veth peer name ufv1-$$ netns "$H" || exit 1
ip -n "$G" addr add 10.9.0.1/24 dev ufv0-$$
ip -n "$H" addr add 10.9.0.2/24 dev ufv1-$$
ip -n "$G" link set ufv0-$$ up
ip -n "$H" link set ufv1-$$ up
ip -n "$H" route add default via 10.9.0.1
ip netns exec "$H" sysctl -qw net.ipv4.tcp_syncookies=1
wait_until 5 "veth" ip netns exec "$G" ping -c 1 -W 1 10.9.0.2

ip netns exec "$H" "$PEER" -s 13 &
PIDS="$PIDS $!"
ip netns exec "$F" "$BIN/ustack-inetd" --dev tap0 --gateway 10.0.0.1 \
	--max-conns 2000 >"$DIR/inetd.log" 2>&1 &
INETD=$!
PIDS="$PIDS $INETD"
wait_until 5 "kernel daytime" ip netns exec "$H" ss -ltn 'sport = :13' -H
wait_until 10 "ustack-inetd" ip netns exec "$F" ping -c 1 -W 1 10.0.0.2

# The rate the flooder reaches into the veth, unthrottled.
RATE=$(ip netns exec "$G" "$FL" -f 10.9.0.2 13 "$CAL")
[ -n "$RATE" ] || { echo "synflood: the flooder failed" >&2; exit 1; }

# side NS DST NAME: flood DST:13 at RATE for DUR s, time N connects.
side() {
	local ns=$1 dst=$2 name=$3 fpid pps res
	ip netns exec "$ns" "$FL" -f "$dst" 13 "$DUR" "$RATE" >"$DIR/$name.pps" &
	fpid=$!
	PIDS="$PIDS $fpid"
	sleep 1
	res=$(ip netns exec "$ns" "$FL" -l "$dst" 13 "$N" 20)
	wait "$fpid"
	PIDS=$(echo " $PIDS " | sed "s/ $fpid / /")
	pps=$(cat "$DIR/$name.pps")
	echo "$name ${pps:-?} ${res:-? ? ? ?}"
}
side "$F" 10.0.0.2 ustack
kill -0 "$INETD" 2>/dev/null || { echo "synflood: ustack-inetd died:" >&2; cat "$DIR/inetd.log" >&2; exit 1; }
side "$G" 10.9.0.2 kernel
