#!/bin/bash
# rr_loss.sh - two measurements of issue 10 beside the kernel, in
# namespaces this script makes and removes (root only):
#
#  rr:   wrk -t1 -c1 keep-alive against bench_rr (a tiny HTTP server, one
#        gather send per response; -2: header and body as two sends) on
#        ustack's TAP (namespace A, 10.0.0.2) vs the same program on kernel
#        sockets over veth (B -> C, 10.9.0.2).
#  loss: LOSS_MB MiB (default 20) through ustack's TAP with the fault
#        driver on ustack's side (--fault loss=N%,seed=3,rx=1: both
#        directions), once ustack-nc sending to a kernel nc -lk, once the
#        kernel's nc sending to ustack-inetd's discard port: the same lossy
#        link for both senders. Seconds to complete (lower is better).
#
# Usage: tests/bench/rr_loss.sh [BUILD] ; RR_SECS (5), LOSS_RATES ("1 5"),
# LOSS_MB (20), SKIP_RR=1 (loss only), LOSS_OPT (more ustack options).
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${1:-build}
BIN=$BUILD/bin
RR=$BUILD/tests/bench_rr
SECS=${RR_SECS:-5}
MB=${LOSS_MB:-20}
RATES=${LOSS_RATES:-1 5}
[ "$(id -u)" = 0 ] || { echo "rr_loss: needs root" >&2; exit 1; }
A=urrl-a-$$ B=urrl-b-$$ C=urrl-c-$$
PIDS=""
now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }
cleanup() {
	trap - EXIT
	for p in $PIDS; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	for n in $A $B $C; do ip netns del "$n" 2>/dev/null; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM
wait_until() {
	local end=$(($(now_ms) + $1 * 1000)) what=$2
	shift 2
	while ! "$@" >/dev/null 2>&1; do
		[ "$(now_ms)" -lt "$end" ] || { echo "rr_loss: timed out: $what" >&2; return 1; }
		sleep 0.02
	done
}
stop() { kill -TERM "$1" 2>/dev/null; wait "$1" 2>/dev/null; PIDS=$(echo " $PIDS " | sed "s/ $1 / /"); }
for n in $A $B $C; do ip netns add "$n" || exit 1; ip -n "$n" link set lo up; done
ip link add urv0-$$ netns "$B" type veth peer name urv1-$$ netns "$C" || exit 1
ip -n "$B" addr add 10.9.0.1/24 dev urv0-$$
ip -n "$C" addr add 10.9.0.2/24 dev urv1-$$
ip -n "$B" link set urv0-$$ up
ip -n "$C" link set urv1-$$ up
wait_until 5 veth ip netns exec "$B" ping -c 1 -W 1 10.9.0.2
# wrk's "Requests/sec: N" -> N
rps() { ip netns exec "$1" wrk -t1 -c1 -d"${SECS}s" "http://$2:8080/" 2>/dev/null | awk '/^Requests\/sec/ { print $2 }'; }

if [ -x "$RR" ] && [ -z "${SKIP_RR:-}" ]; then
	for mode in "" "-2"; do
		ip netns exec "$A" "$RR" $mode 8080 >/dev/null 2>&1 &
		u=$!; PIDS="$PIDS $u"
		wait_until 10 bench_rr ip netns exec "$A" ping -c 1 -W 1 10.0.0.2
		ip netns exec "$C" "$RR" -k $mode 8080 >/dev/null 2>&1 &
		k=$!; PIDS="$PIDS $k"
		wait_until 5 "kernel bench_rr" ip netns exec "$C" ss -ltn 'sport = :8080' -H
		ur=$(rps "$A" 10.0.0.2); kr=$(rps "$B" 10.9.0.2)
		echo "rr ${mode:-writev} wrk -c1 req/s: ustack ${ur:-fail} kernel ${kr:-fail}"
		stop "$u"; stop "$k"
		ip -n "$A" link del tap0 2>/dev/null
	done
fi

for r in $RATES; do
	# ustack sends
	ip netns exec "$A" timeout 300 nc -lk 5001 >/dev/null </dev/null &
	s=$!; PIDS="$PIDS $s"
	wait_until 5 "kernel listener" ip netns exec "$A" ss -ltn 'sport = :5001' -H
	t0=$(now_ms)
	head -c "$((MB << 20))" /dev/zero | timeout 300 ip netns exec "$A" \
		"$BIN/ustack-nc" --dev tap0 --fault "loss=$r%,seed=3,rx=1" ${LOSS_OPT:-} 10.0.0.1 5001 \
		>/dev/null 2>/dev/null && us=$(($(now_ms) - t0)) || us=fail
	stop "$s"
	ip -n "$A" link del tap0 2>/dev/null
	# the kernel sends to ustack-inetd's discard port
	ip netns exec "$A" "$BIN/ustack-inetd" --dev tap0 --fault "loss=$r%,seed=3,rx=1" ${LOSS_OPT:-} >/dev/null 2>&1 &
	i=$!; PIDS="$PIDS $i"
	wait_until 10 inetd ip netns exec "$A" ping -c 1 -W 1 10.0.0.2
	t0=$(now_ms)
	head -c "$((MB << 20))" /dev/zero | timeout 300 ip netns exec "$A" nc -N 10.0.0.2 9 \
		>/dev/null 2>&1 && ks=$(($(now_ms) - t0)) || ks=fail
	stop "$i"
	ip -n "$A" link del tap0 2>/dev/null
	echo "loss $r% $MB MiB seconds: ustack->kernel $(awk -v m="$us" 'BEGIN{printf "%.2f", m/1000}') kernel->ustack $(awk -v m="$ks" 'BEGIN{printf "%.2f", m/1000}')"
done
