#!/bin/bash
# rr.sh BUILD - the HTTP keep-alive request/response rows of `make bench`
# (run.sh calls it; it also runs alone). Root only.
#
# The same small server, tests/bench/bench_rr.c, on both sides: on ustack
# (its own TAP in namespace R, stack 10.0.0.2, kernel side 10.0.0.1) and on
# kernel sockets (namespace T, 10.9.0.2, over a veth pair from S). wrk runs
# on the kernel side of each: -t1 -c1 (one request in flight: the round
# trip) and -t1 -c50 (50 keep-alive connections), RR_SECS seconds each
# (default 5), a RR_BODY-byte body (default 100) in one gather send.
#
# Prints one line per wrk setting: "c1|c50 USTACK_REQS KERNEL_REQS"
# (requests/s; "fail" when wrk reported nothing).
# Everything runs in namespaces this script makes and removes.
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${1:-build}
RR=$BUILD/tests/bench_rr
SECS=${RR_SECS:-5}
BODY=${RR_BODY:-100}

[ "$(id -u)" = 0 ] || { echo "rr: needs root" >&2; exit 1; }
[ -x "$RR" ] || { echo "rr: $RR missing (make all)" >&2; exit 1; }
command -v wrk >/dev/null || { echo "rr: wrk not installed" >&2; exit 1; }

R=urr-r-$$ S=urr-s-$$ T=urr-t-$$
DIR=$(mktemp -d /tmp/ustack-rr.XXXXXX)
PIDS=""
BENCH_NAME=rr NSS="$R $S $T"
. tests/bench/lib.sh
bench_traps

for n in $R $S $T; do
	ip netns add "$n" || exit 1
	ip -n "$n" link set lo up
done
ip link add urv0-$$ netns "$S" type veth peer name urv1-$$ netns "$T" || exit 1
ip -n "$S" addr add 10.9.0.1/24 dev urv0-$$
ip -n "$T" addr add 10.9.0.2/24 dev urv1-$$
ip -n "$S" link set urv0-$$ up
ip -n "$T" link set urv1-$$ up
wait_until 5 "veth" ip netns exec "$S" ping -c 1 -W 1 10.9.0.2

ip netns exec "$R" "$RR" -b "$BODY" 8080 >"$DIR/ustack.log" 2>&1 &
PIDS="$PIDS $!"
ip netns exec "$T" "$RR" -k -b "$BODY" 8080 >"$DIR/kernel.log" 2>&1 &
PIDS="$PIDS $!"
wait_until 10 "bench_rr on ustack" ip netns exec "$R" ping -c 1 -W 1 10.0.0.2
wait_until 5 "bench_rr on the kernel" ip netns exec "$T" ss -ltn 'sport = :8080' -H

# rps NS HOST CONNS: wrk's "Requests/sec: N" -> N
rps() {
	timeout $((SECS + 10)) ip netns exec "$1" wrk -t1 -c"$3" -d"${SECS}s" \
		"http://$2:8080/" 2>/dev/null | awk '/^Requests\/sec/ { print $2 }'
}
for c in 1 50; do
	u=$(rps "$R" 10.0.0.2 "$c")
	k=$(rps "$S" 10.9.0.2 "$c")
	echo "c$c ${u:-fail} ${k:-fail}"
done
