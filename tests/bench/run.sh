#!/bin/bash
# run.sh - `make bench`: ustack against the Linux kernel, measured in the
# same run on the same machine, printed as a table with ratios.
#
#   ustack: the kernel talks to ustack-inetd / ustack-nc over a TAP device
#           in namespace A (kernel side 10.0.0.1, stack 10.0.0.2)
#   kernel: the kernel talks to the kernel over a veth pair between
#           namespaces B (10.9.0.1) and C (10.9.0.2)
#
# Measures ping RTT (200 pings 10 ms apart: every echo finds both sides
# asleep; and 2000 with -i 0.0002, which ping sends in bursts, mostly the
# next echo right after the last reply: the hot path) and, when the stack
# has TCP, bulk throughput (BENCH_MB MiB, default 400) kernel->peer with
# `head | nc` and with 1 MiB writes (bench_peer -w), peer->kernel with
# ustack-nc vs nc, connections per second (BENCH_CONNS sequential
# connect/read/close from bench_peer -c, default 3000) and HTTP keep-alive
# requests per second (tests/bench/rr.sh: wrk -c1 and -c50 against one
# small server built for both, RR_SECS s each). Each TCP figure is the median of
# BENCH_REPS runs (default 3): single runs of a fraction of a second
# wobble by 20% on a small machine. BENCH_OFFLOAD=auto|on|off is passed to
# the ustack programs (--offload; auto: TSO/GRO on the TAP they create;
# empty: no option, for builds from before it existed).
# Everything runs in namespaces this script makes and removes. Root only.
#
# Usage: tests/bench/run.sh [BUILD]
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${1:-build}
BIN=$BUILD/bin
MB=${BENCH_MB:-400}
CONNS=${BENCH_CONNS:-3000}
REPS=${BENCH_REPS:-3}
PEER=$BUILD/tests/bench_peer
OFFLOAD=${BENCH_OFFLOAD-auto}
OFFLOAD_OPT=${OFFLOAD:+--offload $OFFLOAD}
PY=/usr/bin/python3

[ "$(id -u)" = 0 ] || { echo "bench: needs root (sudo make bench)" >&2; exit 1; }
[ -c /dev/net/tun ] || { echo "bench: no /dev/net/tun" >&2; exit 1; }
for b in inetd nc stat; do
	[ -x "$BIN/ustack-$b" ] || { echo "bench: $BIN/ustack-$b missing (make)" >&2; exit 1; }
done
[ -x "$PEER" ] || { echo "bench: $PEER missing (make tests)" >&2; exit 1; }

A=ubench-a-$$ B=ubench-b-$$ C=ubench-c-$$
DIR=$(mktemp -d /tmp/ustack-bench.XXXXXX)
CTL=$DIR/ctl
PIDS=""

BENCH_NAME=bench NSS="$A $B $C"
. tests/bench/lib.sh
bench_traps

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
	ip netns exec "$A" "$BIN/ustack-inetd" --dev tap0 $OFFLOAD_OPT --ctl "$CTL" \
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
# ping_rtt NS HOST COUNT INTERVAL:
# "rtt min/avg/max/mdev = a/b/c/d ms" -> "b d"
ping_rtt() {
	ip netns exec "$1" ping -q -c "$3" -i "$4" "$2" 2>/dev/null |
		awk -F'[ /]' '/^rtt/ { print $8, $10 }'
}
read -r u_avg u_mdev <<<"$(ping_rtt "$A" 10.0.0.2 200 0.01)"
read -r k_avg k_mdev <<<"$(ping_rtt "$B" 10.9.0.2 200 0.01)"
read -r u_bavg _ <<<"$(ping_rtt "$A" 10.0.0.2 2000 0.0002)"
read -r k_bavg _ <<<"$(ping_rtt "$B" 10.9.0.2 2000 0.0002)"

ROWS=()
row() { ROWS+=("$(printf '%-34s %12s %14s %8s' "$@")"); }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }
row "ping RTT avg, ms (lower better)" "${u_avg:-?}" "${k_avg:-?}" "$(ratio "${u_avg:-0}" "${k_avg:-0}")"
row "ping RTT mdev, ms" "${u_mdev:-?}" "${k_mdev:-?}" "$(ratio "${u_mdev:-0}" "${k_mdev:-0}")"
row "ping RTT avg -i 0.0002, ms" "${u_bavg:-?}" "${k_bavg:-?}" "$(ratio "${u_bavg:-0}" "${k_bavg:-0}")"

# ---- TCP --------------------------------------------------------------------
has_tcp() { "$BIN/ustack-stat" "$CTL" conns | grep -q '^tcp .*LISTEN'; }
mbps() { awk -v mb="$MB" -v ms="$1" 'BEGIN { printf "%.1f", mb * 1000 / (ms > 0 ? ms : 1) }'; }
# The median of the numbers on stdin (the middle one of REPS runs).
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }
# rep CMD...: run CMD REPS times, print the median of what it prints.
rep() {
	local i v all=""
	for i in $(seq "$REPS"); do
		v=$("$@") || return 1
		all="$all$v
"
	done
	printf '%s' "$all" | median
}

# nc_send NS HOST PORT: MB/s pushing $MB MiB with `head | nc -N` (8 KiB
# writes through a pipe, as people do it), FIN and the peer's close included.
nc_send() {
	local t0 t1
	t0=$(now_ms)
	head -c "$((MB << 20))" /dev/zero |
		timeout 120 ip netns exec "$1" nc -N "$2" "$3" >/dev/null 2>&1 || return 1
	t1=$(now_ms)
	mbps "$((t1 - t0))"
}
# big_send NS HOST PORT: the same with 1 MiB writes straight from memory.
big_send() {
	timeout 120 ip netns exec "$1" "$PEER" -w "$2" "$3" "$MB" 2>/dev/null
}
# unc_send PORT: MB/s of ustack-nc (its own TAP in namespace A) pushing
# $MB MiB to a kernel listener in A. --linger-exit 0: nc exits once the
# listener's FIN came back (all data acknowledged), as the kernel's nc does;
# the default would add up to 1 s of answering in TIME_WAIT at exit, which
# the kernel does after its process is gone.
unc_send() {
	local t0 t1
	t0=$(now_ms)
	if ! head -c "$((MB << 20))" /dev/zero | timeout 120 ip netns exec "$A" \
		"$BIN/ustack-nc" --dev tap0 --linger-exit 0 $OFFLOAD_OPT 10.0.0.1 "$1" \
		>/dev/null 2>"$DIR/unc.err"; then
		echo "bench: ustack-nc failed:" >&2
		sed 's/^/  /' "$DIR/unc.err" >&2
		return 1
	fi
	t1=$(now_ms)
	mbps "$((t1 - t0))"
}
# A kernel `nc -lk` on NS:PORT, to /dev/null, running until the end.
kernel_sink() {
	ip netns exec "$1" timeout 600 nc -lk "$2" >/dev/null </dev/null &
	PIDS="$PIDS $!"
	wait_until 5 "kernel listener" ip netns exec "$1" ss -ltn "sport = :$2" -H
}
# cps NS HOST PORT: connections per second, sequential connect/read/close
# (bench_peer, C: a Python client measured itself).
cps() {
	timeout 120 ip netns exec "$1" "$PEER" -c "$2" "$3" "$CONNS" 2>/dev/null
}

if has_tcp; then
	# kernel -> peer: ustack's discard (9) vs a kernel nc -lk
	kernel_sink "$C" 5009
	u_in=$(rep nc_send "$A" 10.0.0.2 9)
	k_in=$(rep nc_send "$B" 10.9.0.2 5009)
	row "TCP kernel->peer (nc), MB/s" "${u_in:-fail}" "${k_in:-fail}" "$(ratio "${u_in:-0}" "${k_in:-0}")"
	u_in=$(rep big_send "$A" 10.0.0.2 9)
	k_in=$(rep big_send "$B" 10.9.0.2 5009)
	row "TCP kernel->peer (1 MiB writes)" "${u_in:-fail}" "${k_in:-fail}" "$(ratio "${u_in:-0}" "${k_in:-0}")"

	# connections per second, against daytime (13)
	ip netns exec "$C" "$PEER" -s 13 &
	PIDS="$PIDS $!"
	wait_until 5 "kernel daytime" ip netns exec "$C" ss -ltn 'sport = :13' -H
	u_cps=$(rep cps "$A" 10.0.0.2 13)
	k_cps=$(rep cps "$B" 10.9.0.2 13)
	row "TCP connections/s (sequential)" "${u_cps:-fail}" "${k_cps:-fail}" "$(ratio "${u_cps:-0}" "${k_cps:-0}")"

	# peer -> kernel: ustack-nc sending to a kernel nc -lk, vs kernel nc
	stop_pid "$INETD"
	kernel_sink "$A" 5001
	kernel_sink "$B" 5001
	u_out=$(rep unc_send 5001)
	k_out=$(rep nc_send "$C" 10.9.0.1 5001)
	row "TCP peer->kernel (nc), MB/s" "${u_out:-fail}" "${k_out:-fail}" "$(ratio "${u_out:-0}" "${k_out:-0}")"

	# memory per idle connection end: ustack's malloc'd bytes (bench_tcp,
	# two stacks in one process) vs the kernel's slab bytes (bench_peer)
	if [ -x "$BUILD/tests/bench_tcp" ]; then
		u_mem=$("$BUILD/tests/bench_tcp" -p mem -n 2000 |
			sed -n 's/.*used_per_end=\([0-9]*\).*/\1/p')
		u_stack=$("$BUILD/tests/bench_tcp" -p mem -n 10 |
			sed -n 's/.*stack=\([0-9]*\).*/\1/p')
	fi
	k_mem=$(rep ip netns exec "$B" "$PEER" -m 2000)
	row "memory/idle conn end, B (lower)" "${u_mem:-?}" "${k_mem:-?}" "$(ratio "${u_mem:-0}" "${k_mem:-0}")"

	# HTTP keep-alive request/response: the same server (bench_rr) on
	# both, wrk -c1 and -c50 (tests/bench/rr.sh: its own namespaces)
	if [ -x "$BUILD/tests/bench_rr" ] && command -v wrk >/dev/null; then
		rr=$(tests/bench/rr.sh "$BUILD")
		read -r _ u_rr1 k_rr1 <<<"$(grep '^c1 ' <<<"$rr")"
		read -r _ u_rr50 k_rr50 <<<"$(grep '^c50 ' <<<"$rr")"
		row "HTTP keep-alive wrk -c1, req/s" "${u_rr1:-fail}" "${k_rr1:-fail}" "$(ratio "${u_rr1:-0}" "${k_rr1:-0}")"
		row "HTTP keep-alive wrk -c50, req/s" "${u_rr50:-fail}" "${k_rr50:-fail}" "$(ratio "${u_rr50:-0}" "${k_rr50:-0}")"
	fi

	# a legitimate client's connects during a random-source SYN flood
	# (tests/bench/synflood.sh: its own namespaces, flood rate = the most
	# the flooder reaches into a veth, the same for both sides)
	if [ -x "$BUILD/tests/bench_synflood" ]; then
		fl=$(tests/bench/synflood.sh "$BUILD")
		read -r _ u_pps u_p50 u_p95 _ u_fail <<<"$(grep '^ustack ' <<<"$fl")"
		read -r _ k_pps k_p50 k_p95 _ k_fail <<<"$(grep '^kernel ' <<<"$fl")"
		row "connect p50 in SYN flood, ms" "${u_p50:-fail}" "${k_p50:-fail}" "$(ratio "${u_p50:-0}" "${k_p50:-0}")"
		row "connect p95 in SYN flood, ms" "${u_p95:-fail}" "${k_p95:-fail}" "$(ratio "${u_p95:-0}" "${k_p95:-0}")"
		row "  flood sent, SYN/s (failed conn.)" "${u_pps:-?} (${u_fail:-?})" "${k_pps:-?} (${k_fail:-?})" ""
	fi
else
	ROWS+=("(no TCP in this build: throughput and connections/s skipped)")
fi

echo
echo "ustack vs the Linux kernel, $(date -u +%Y-%m-%d), $(nproc) CPUs, $(uname -r)"
printf '%-34s %12s %14s %8s\n' "" "ustack (TAP)" "kernel (veth)" "ratio"
printf '%s\n' "${ROWS[@]}"
echo "(each TCP figure the median of $REPS runs; throughput: $MB MiB, FIN and the"
echo " receiver's close included; nc: head | nc -N, 8 KiB writes; peer->kernel on"
echo " ustack's side: ustack-nc; connections/s: $CONNS sequential connect, read a"
echo " daytime line, close, from a C client; ustack's TAP with offloads: ${OFFLOAD:-default};"
echo " memory: an established connection's socket and TCB after 1 KiB each way, vs"
echo " the kernel's slab objects per socket (tcp_sock, inode, file, ...); a whole"
echo " stack with the default configuration: ${u_stack:-?} bytes; SYN flood: random"
echo " sources from bench_synflood -f, ustack-inetd with --gateway, the kernel with"
echo " tcp_syncookies=1; ${FLOOD_CONNS:-100} connects to daytime one every 20 ms, a failed one"
echo " (no answer in 5 s) counted as 5000 ms; ping -i 0.0002: 2000 echoes in"
echo " bursts; HTTP: tests/bench/bench_rr.c on both sides,"
echo " ${RR_BODY:-100}-byte body in one gather send, wrk -t1 for ${RR_SECS:-5} s)"

# 100,000 idle connections in one stack vs the kernel (its own namespaces;
# BENCH_CONNS100K=0 skips it, CONNS_N/CONNS_M size it).
if [ "${BENCH_CONNS100K:-1}" != 0 ] && [ -x "$BUILD/tests/bench_conns" ]; then
	tests/bench/conns100k.sh "$BUILD"
fi

# Loss recovery (issue 10): 50 MB at 1/5/10% through the fault driver on
# ustack's TAP, ustack sending vs the kernel sending; short 100 KiB flows
# (its own namespace; BENCH_LOSS=0 skips it, LOSS_* size it).
if [ "${BENCH_LOSS:-1}" != 0 ] && [ -x "$BUILD/bin/ustack-nc" ]; then
	tests/bench/loss.sh "$BUILD"
fi
