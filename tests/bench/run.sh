#!/bin/bash
# run.sh - `make bench`: ustack against the Linux kernel, measured in the
# same run on the same machine, printed as a table with ratios.
#
#   ustack: the kernel talks to ustack-inetd / ustack-nc over a TAP device
#           in namespace A (kernel side 10.0.0.1, stack 10.0.0.2)
#   kernel: the kernel talks to the kernel over a veth pair between
#           namespaces B (10.9.0.1) and C (10.9.0.2)
#
# Measures ping RTT (200 pings, 10 ms apart) and, when the stack has TCP,
# bulk throughput both ways with nc (BENCH_MB, default 100) and connections
# per second (BENCH_CONNS sequential connect/read/close, default 1000).
# Everything runs in namespaces this script makes and removes. Root only.
#
# Usage: tests/bench/run.sh [BUILD]
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${1:-build}
BIN=$BUILD/bin
MB=${BENCH_MB:-100}
CONNS=${BENCH_CONNS:-3000}
PY=/usr/bin/python3

[ "$(id -u)" = 0 ] || { echo "bench: needs root (sudo make bench)" >&2; exit 1; }
[ -c /dev/net/tun ] || { echo "bench: no /dev/net/tun" >&2; exit 1; }
for b in inetd nc stat; do
	[ -x "$BIN/ustack-$b" ] || { echo "bench: $BIN/ustack-$b missing (make)" >&2; exit 1; }
done

A=ubench-a-$$ B=ubench-b-$$ C=ubench-c-$$
DIR=$(mktemp -d /tmp/ustack-bench.XXXXXX)
CTL=$DIR/ctl
PIDS=""
now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }

cleanup() {
	trap - EXIT
	for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done
	for p in $PIDS; do
		local end=$(($(now_ms) + 3000))
		while kill -0 "$p" 2>/dev/null && [ "$(now_ms)" -lt "$end" ]; do sleep 0.05; done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	for n in $A $B $C; do ip netns del "$n" 2>/dev/null; done
	rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_until() {
	local end=$(($(now_ms) + $1 * 1000)) what=$2
	shift 2
	while ! "$@" >/dev/null 2>&1; do
		[ "$(now_ms)" -lt "$end" ] || { echo "bench: timed out waiting for $what" >&2; exit 1; }
		sleep 0.02
	done
}

# ---- set-up ---------------------------------------------------------------
for n in $A $B $C; do
	ip netns add "$n" || exit 1
	ip -n "$n" link set lo up
done
ip link add ubv0-$$ netns "$B" type veth peer name ubv1-$$ netns "$C" || exit 1
ip -n "$B" addr add 10.9.0.1/24 dev ubv0-$$
ip -n "$C" addr add 10.9.0.2/24 dev ubv1-$$
ip -n "$B" link set ubv0-$$ up
ip -n "$C" link set ubv1-$$ up

start_inetd() {
	rm -f "$CTL"
	ip netns exec "$A" "$BIN/ustack-inetd" --dev tap0 --ctl "$CTL" \
		--max-conns 2000 >"$DIR/inetd.log" 2>&1 &
	INETD=$!
	PIDS="$PIDS $INETD"
	wait_until 10 "ustack-inetd" ip netns exec "$A" ping -c 1 -W 1 10.0.0.2
}
stop_pid() {
	kill -TERM "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	PIDS=$(echo " $PIDS " | sed "s/ $1 / /")
}
wait_until 5 "veth" ip netns exec "$B" ping -c 1 -W 1 10.9.0.2
start_inetd

# ---- ping RTT -------------------------------------------------------------
# "rtt min/avg/max/mdev = a/b/c/d ms" -> "b d"
ping_rtt() {
	ip netns exec "$1" ping -q -c 200 -i 0.01 "$2" 2>/dev/null |
		awk -F'[ /]' '/^rtt/ { print $8, $10 }'
}
read -r u_avg u_mdev <<<"$(ping_rtt "$A" 10.0.0.2)"
read -r k_avg k_mdev <<<"$(ping_rtt "$B" 10.9.0.2)"

ROWS=()
row() { ROWS+=("$(printf '%-34s %12s %14s %8s' "$@")"); }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }
row "ping RTT avg, ms (lower better)" "${u_avg:-?}" "${k_avg:-?}" "$(ratio "${u_avg:-0}" "${k_avg:-0}")"
row "ping RTT mdev, ms" "${u_mdev:-?}" "${k_mdev:-?}" "$(ratio "${u_mdev:-0}" "${k_mdev:-0}")"

# ---- TCP --------------------------------------------------------------------
has_tcp() { "$BIN/ustack-stat" "$CTL" conns | grep -q '^tcp .*LISTEN'; }

# bulk NS HOST PORT: seconds to push $MB MiB with nc, FIN to the end.
bulk() {
	local t0 t1
	t0=$(now_ms)
	head -c "$((MB << 20))" /dev/zero |
		timeout 120 ip netns exec "$1" nc -N "$2" "$3" >/dev/null 2>&1 || return 1
	t1=$(now_ms)
	awk -v mb="$MB" -v ms="$((t1 - t0))" 'BEGIN { printf "%.1f", mb * 1000 / (ms > 0 ? ms : 1) }'
}

# cps NS HOST PORT: connections per second, sequential connect/read/close.
cps() {
	ip netns exec "$1" "$PY" - "$2" "$3" "$CONNS" <<'EOF'
import socket, sys, time
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
t0 = time.time()
for i in range(n):
    s = socket.create_connection((host, port), timeout=5)
    while s.recv(4096):
        pass
    s.close()
print("%.0f" % (n / (time.time() - t0)))
EOF
}

# A kernel "daytime" server (accept, send a line, close) for cps.
kernel_daytime() {
	ip netns exec "$C" "$PY" - <<'EOF' &
import socket
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("0.0.0.0", 13))
l.listen(1024)
while True:
    c, _ = l.accept()
    c.sendall(b"Thursday, November 26, 2026 12:00:00-UTC\r\n")
    c.close()
EOF
	PIDS="$PIDS $!"
}

if has_tcp; then
	# kernel -> peer: ustack's discard (9) vs a kernel nc -l
	u_in=$(bulk "$A" 10.0.0.2 9)
	ip netns exec "$C" timeout 120 nc -l 5009 >/dev/null </dev/null &
	PIDS="$PIDS $!"
	wait_until 5 "kernel listener" ip netns exec "$C" ss -ltn 'sport = :5009' -H
	k_in=$(bulk "$B" 10.9.0.2 5009)
	row "TCP kernel->peer, MB/s" "${u_in:-fail}" "${k_in:-fail}" "$(ratio "${u_in:-0}" "${k_in:-0}")"

	# connections per second
	kernel_daytime
	wait_until 5 "kernel daytime" ip netns exec "$C" ss -ltn 'sport = :13' -H
	u_cps=$(cps "$A" 10.0.0.2 13)
	k_cps=$(cps "$B" 10.9.0.2 13)
	row "TCP connections/s (sequential)" "${u_cps:-fail}" "${k_cps:-fail}" "$(ratio "${u_cps:-0}" "${k_cps:-0}")"

	# peer -> kernel: ustack-nc sending to a kernel nc -l, vs kernel nc
	stop_pid "$INETD"
	ip netns exec "$A" timeout 120 nc -l 5001 >/dev/null </dev/null &
	PIDS="$PIDS $!"
	t0=$(now_ms)
	if head -c "$((MB << 20))" /dev/zero | timeout 120 ip netns exec "$A" \
		"$BIN/ustack-nc" --dev tap0 10.0.0.1 5001 >/dev/null 2>"$DIR/unc.err"; then
		t1=$(now_ms)
		u_out=$(awk -v mb="$MB" -v ms="$((t1 - t0))" 'BEGIN { printf "%.1f", mb * 1000 / (ms > 0 ? ms : 1) }')
	else
		echo "bench: ustack-nc failed:" >&2
		sed 's/^/  /' "$DIR/unc.err" >&2
	fi
	ip netns exec "$B" timeout 120 nc -l 5001 >/dev/null </dev/null &
	PIDS="$PIDS $!"
	wait_until 5 "kernel listener" ip netns exec "$B" ss -ltn 'sport = :5001' -H
	k_out=$(bulk "$C" 10.9.0.1 5001)
	row "TCP peer->kernel, MB/s" "${u_out:-fail}" "${k_out:-fail}" "$(ratio "${u_out:-0}" "${k_out:-0}")"
else
	ROWS+=("(no TCP in this build: throughput and connections/s skipped)")
fi

echo
echo "ustack vs the Linux kernel, $(date -u +%Y-%m-%d), $(nproc) CPUs, $(uname -r)"
printf '%-34s %12s %14s %8s\n' "" "ustack (TAP)" "kernel (veth)" "ratio"
printf '%s\n' "${ROWS[@]}"
echo "(throughput: $MB MiB with nc -N, FIN included; connections/s: $CONNS"
echo " sequential connect/read-a-line/close from one Python client against daytime:"
echo " the client dominates, so this ratio says little until a C client replaces it)"
