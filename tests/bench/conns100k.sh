#!/bin/bash
# conns100k.sh - many idle connections in one stack (issue 10 item 4),
# beside the kernel in the same run. Run by tests/bench/run.sh (make bench).
#
#   ustack: bench_conns -u on a TAP in namespace A (10.0.0.2); the kernel
#           client in A connects from 10.0.0.1, .3, .4 and .5
#   kernel: bench_conns -k in namespace C (10.9.0.2) over a veth pair; the
#           client in B connects from 10.9.0.1, .3, .4 and .5
#
# The client opens CONNS_M connections timed from none open (rate0), then
# up to CONNS_N open, then CONNS_M more timed with CONNS_N open (rateN).
# Reported: setup rate with none and with N open (and their ratio, target
# >= 0.8), server memory per idle connection as RSS delta / count, as the
# heap in use (mallinfo2) / count, and by the stack's own count
# (tcp_conn_mem + socket; target <= 1 KiB); the kernel's slab bytes per
# idle connection end from bench_peer -m for comparison.
# Then the ustack server closes every connection first and the client's
# processes end: N + M TIME_WAITs, each a compact record (tcp_tw.c);
# reported as the heap in use per record (not RSS: it keeps the
# high-water mark of the connections before).
# Everything runs in namespaces this script makes and removes. Root only.
#
# Usage: tests/bench/conns100k.sh [BUILD]   (CONNS_N=100000 CONNS_M=5000)
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${1:-build}
B_CONNS=$BUILD/tests/bench_conns
PEER=$BUILD/tests/bench_peer
N=${CONNS_N:-100000}
M=${CONNS_M:-5000}
MAX=$((N + M))

[ "$(id -u)" = 0 ] || { echo "conns100k: needs root" >&2; exit 1; }
[ -c /dev/net/tun ] || { echo "conns100k: no /dev/net/tun" >&2; exit 1; }
[ -x "$B_CONNS" ] || { echo "conns100k: $B_CONNS missing (make tests)" >&2; exit 1; }

A=uconn-a-$$ B=uconn-b-$$ C=uconn-c-$$
DIR=$(mktemp -d /tmp/ustack-conns.XXXXXX)
PIDS=""

BENCH_NAME=conns100k NSS="$A $B $C"
. tests/bench/lib.sh
bench_traps

# wait_for SECONDS FILE PATTERN PID: until FILE has a line matching
# PATTERN; fails at the deadline or when PID has ended.
wait_for() {
	local end=$(($(now_ms) + $1 * 1000))
	while ! grep -q "$3" "$2" 2>/dev/null; do
		[ "$(now_ms)" -lt "$end" ] || { echo "conns100k: timed out waiting for '$3' in $(basename "$2")" >&2; return 1; }
		kill -0 "$4" 2>/dev/null || { echo "conns100k: $(basename "$2") ended early" >&2; return 1; }
		sleep 0.1
	done
}

for n in $A $B $C; do
	ip netns add "$n" || exit 1
	ip -n "$n" link set lo up
	# more than the default 28k ephemeral ports per source address
	ip netns exec "$n" sysctl -qw net.ipv4.ip_local_port_range="1024 65000"
done
ip link add ucv0-$$ netns "$B" type veth peer name ucv1-$$ netns "$C" || exit 1
for h in 1 3 4 5; do ip -n "$B" addr add 10.9.0.$h/24 dev ucv0-$$; done
ip -n "$C" addr add 10.9.0.2/24 dev ucv1-$$
ip -n "$B" link set ucv0-$$ up
ip -n "$C" link set ucv1-$$ up

# run_side NAME SERVER_NS SERVER_CMD CLIENT_NS HOST PREFIX: one measurement;
# leaves "held ..." (server) and "rate0 ..." (client) lines in $DIR/NAME.*
run_side() {
	local name=$1 sns=$2 scmd=$3 cns=$4 host=$5 pre=$6 spid cpid
	ip netns exec "$sns" timeout 600 $scmd >"$DIR/$name.srv" 2>&1 &
	spid=$!
	PIDS="$PIDS $spid"
	wait_for 10 "$DIR/$name.srv" '^held 0 ' "$spid" || return 1
	if [ "$name" = ustack ]; then
		for h in 3 4 5; do ip -n "$A" addr add 10.0.0.$h/24 dev tap0; done
	fi
	ip netns exec "$cns" timeout 600 "$B_CONNS" -c "$host" 9 "$N" "$M" \
		"${pre}1" "${pre}3" "${pre}4" "${pre}5" >"$DIR/$name.cli" 2>&1 &
	cpid=$!
	PIDS="$PIDS $cpid"
	wait_for 300 "$DIR/$name.cli" '^rate0 ' "$cpid" || { cat "$DIR/$name.cli" "$DIR/$name.srv" >&2; return 1; }
	wait_for 60 "$DIR/$name.srv" "^held $MAX " "$spid" || { cat "$DIR/$name.cli" "$DIR/$name.srv" >&2; return 1; }
	if [ "$name" = ustack ]; then
		# the server closed first: the client's FINs (its processes
		# end) make $MAX TIME_WAIT records
		wait_for 60 "$DIR/$name.srv" '^closed ' "$spid" || return 1
		kill -TERM "$cpid" 2>/dev/null
		wait "$cpid" 2>/dev/null
		wait_for 120 "$DIR/$name.srv" '^tw ' "$spid" || { cat "$DIR/$name.srv" >&2; return 1; }
	fi
	kill -TERM "$cpid" "$spid" 2>/dev/null
	wait "$cpid" "$spid" 2>/dev/null
	PIDS=""
}

# the kernel's slab bytes per idle connection end, before the big runs
k_mem=""
[ -x "$PEER" ] && k_mem=$(ip netns exec "$B" timeout 120 "$PEER" -m 2000 2>/dev/null)

run_side ustack "$A" "$B_CONNS -u tap0 9 $MAX" "$A" 10.0.0.2 10.0.0. || exit 1
run_side kernel "$C" "$B_CONNS -k 9 $MAX" "$B" 10.9.0.2 10.9.0. || exit 1

field() { awk -v k="$2" '{ for (i = 1; i < NF; i++) if ($i == k) v = $(i + 1) } END { print v }' "$1"; }
per() { awk -v a="$1" -v b="$2" -v n="$3" -v s="$4" 'BEGIN { printf "%.0f", (b - a) * s / n }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }

u0=$(field "$DIR/ustack.cli" rate0) uN=$(field "$DIR/ustack.cli" rateN)
k0=$(field "$DIR/kernel.cli" rate0) kN=$(field "$DIR/kernel.cli" rateN)
first() { grep '^held 0 ' "$1"; }
last() { grep "^held $MAX " "$1"; }
rss0=$(first "$DIR/ustack.srv" | awk '{ print $4 }') rss1=$(last "$DIR/ustack.srv" | awk '{ print $4 }')
heap0=$(first "$DIR/ustack.srv" | awk '{ print $6 }') heap1=$(last "$DIR/ustack.srv" | awk '{ print $6 }')
stk1=$(last "$DIR/ustack.srv" | awk '{ print $8 }')
tw=$(grep '^tw ' "$DIR/ustack.srv")
twn=$(echo "$tw" | awk '{ print $2 }') twheap=$(echo "$tw" | awk '{ print $6 }')
twtcb=$(echo "$tw" | awk '{ print $10 }')   # bytes of TCBs not yet records

echo
echo "$MAX idle connections in one stack ($N open, then $M more), from 4 source addresses"
printf '%-40s %12s %14s %8s\n' "" "ustack (TAP)" "kernel (veth)" "ratio"
printf '%-40s %12s %14s %8s\n' "connects/s, none open" "$u0" "$k0" "$(ratio "$u0" "$k0")"
printf '%-40s %12s %14s %8s\n' "connects/s, $N open" "$uN" "$kN" "$(ratio "$uN" "$kN")"
printf '%-40s %12s %14s\n' "  with $N open / none open" "$(ratio "$uN" "$u0")" "$(ratio "$kN" "$k0")"
printf '%-40s %12s %14s\n' "B/idle conn, RSS delta / count" "$(per "$rss0" "$rss1" "$MAX" 1024)" "-"
printf '%-40s %12s %14s\n' "B/idle conn, heap in use / count" "$(per "$heap0" "$heap1" "$MAX" 1)" "-"
printf '%-40s %12s %14s\n' "B/idle conn, stack's own count" "$(per 0 "$stk1" "$MAX" 1)" "-"
printf '%-40s %12s %14s\n' "B/idle conn end, kernel slab (bench_peer)" "" "${k_mem:-?}"
printf '%-40s %12s %14s\n' "TIME_WAIT records held (server closed first)" "${twn:-?}" "-"
printf '%-40s %12s %14s\n' "  connections still closing then" "$(echo "$tw" | awk '{ print $8 - 1 }')" "-"
printf '%-40s %12s %14s\n' "B/TIME_WAIT, heap in use / count" "$(per "$heap0" "$((${twheap:-0} - ${twtcb:-0}))" "${twn:-1}" 1)" "-"
