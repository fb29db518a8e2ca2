#!/bin/bash
# bench.sh - `make bench-preload`: unmodified programs on ustack (ustack-run)
# against the same programs on the kernel, in the same run, as ratios.
#
#   ustack: the server on ustack in namespace A (10.0.0.2 on a TAP), the
#           client on the kernel side of the TAP (10.0.0.1)
#   kernel: server in namespace C, client in B, a veth pair between
#           (10.9.0.2 and 10.9.0.1)
#
# redis-benchmark -c 50 SET and GET (requests/s), nginx (sendfile on,
# master_process off) under wrk -c 50 (requests/s), iperf3 -s with the
# client uploading and downloading (-R) (Gbit/s). BENCH_SECS (default 5)
# per wrk/iperf3 run, BENCH_REQS (default 100000) per redis test. Root only;
# everything in namespaces made and removed here.
#
# Usage: tests/preload/bench.sh [BUILD]
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${1:-build}
BIN=$BUILD/bin
SECS=${BENCH_SECS:-5}
REQS=${BENCH_REQS:-100000}
[ "$(id -u)" = 0 ] || { echo "bench-preload: needs root" >&2; exit 1; }
[ -x "$BIN/ustack-run" ] || { echo "bench-preload: $BIN/ustack-run missing (make)" >&2; exit 1; }

A=upb-a-$$ B=upb-b-$$ C=upb-c-$$
DIR=$(mktemp -d /tmp/ustack-pbench.XXXXXX)
PIDS=""
BENCH_NAME=bench-preload NSS="$A $B $C"
. tests/bench/lib.sh
. tests/preload/nginx.sh
bench_traps
for n in $A $B $C; do ip netns add "$n" && ip -n "$n" link set lo up || exit 1; done
ip link add upv0-$$ netns "$B" type veth peer name upv1-$$ netns "$C" || exit 1
ip -n "$B" addr add 10.9.0.1/24 dev upv0-$$ && ip -n "$B" link set upv0-$$ up
ip -n "$C" addr add 10.9.0.2/24 dev upv1-$$ && ip -n "$C" link set upv1-$$ up

# wait_port NS HOST PORT: until a TCP connect from NS succeeds (10 s).
wait_port() {
	local end=$(($(now_ms) + 10000))
	until ip netns exec "$1" bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null; do
		[ "$(now_ms)" -lt "$end" ] || { echo "bench-preload: nothing on $2:$3" >&2; exit 1; }
		sleep 0.05
	done
}
# server SIDE ARGS...: start a server on ustack (us) or the kernel (k).
server() {
	local side=$1
	shift
	if [ "$side" = us ]; then
		ip netns exec "$A" "$BIN/ustack-run" --dev tap0 -- "$@" >"$DIR/srv.log" 2>&1 &
	else
		ip netns exec "$C" "$@" >"$DIR/srv.log" 2>&1 &
	fi
	SRV=$!
	PIDS="$PIDS $SRV"
}
stop_server() {
	kill -TERM "$SRV" 2>/dev/null
	local end=$(($(now_ms) + 3000))
	while kill -0 "$SRV" 2>/dev/null && [ "$(now_ms)" -lt "$end" ]; do sleep 0.05; done
	kill -KILL "$SRV" 2>/dev/null
	wait "$SRV" 2>/dev/null
}
# client SIDE ARGS...: run the client where it reaches that side's server.
client() {
	local side=$1
	shift
	if [ "$side" = us ]; then ip netns exec "$A" "$@"; else ip netns exec "$B" "$@"; fi
}
addr() { [ "$1" = us ] && echo 10.0.0.2 || echo 10.9.0.2; }

declare -A R
redis() {
	local side=$1 h
	h=$(addr "$side")
	server "$side" redis-server --save '' --appendonly no --protected-mode no --dir "$DIR"
	wait_port "$([ "$side" = us ] && echo "$A" || echo "$B")" "$h" 6379
	client "$side" redis-benchmark -h "$h" -q -n "$REQS" -c 50 -t set,get 2>/dev/null |
		tr '\r' '\n' | grep "requests per second" >"$DIR/redis.$side"
	R[redis_set_$side]=$(awk '/^SET:/ { print $2 }' "$DIR/redis.$side")
	R[redis_get_$side]=$(awk '/^GET:/ { print $2 }' "$DIR/redis.$side")
	stop_server
}
nginx_run() {
	local side=$1 h
	h=$(addr "$side")
	nginx_conf "$DIR"
	echo "hello" >"$DIR/www/index.html"
	server "$side" nginx -c "$DIR/nginx.conf" -p "$DIR/ngx"
	wait_port "$([ "$side" = us ] && echo "$A" || echo "$B")" "$h" 8080
	R[nginx_$side]=$(client "$side" wrk -c 50 -t 2 -d "$SECS" "http://$h:8080/" 2>/dev/null |
		awk '/^Requests\/sec/ { print $2 }')
	stop_server
}
iperf() {
	local side=$1 h
	h=$(addr "$side")
	server "$side" iperf3 -s -4
	wait_port "$([ "$side" = us ] && echo "$A" || echo "$B")" "$h" 5201
	R[iperf_up_$side]=$(client "$side" iperf3 -c "$h" -t "$SECS" -f g 2>/dev/null |
		awk '/receiver$/ { print $7 }')
	R[iperf_down_$side]=$(client "$side" iperf3 -c "$h" -t "$SECS" -f g -R 2>/dev/null |
		awk '/receiver$/ { print $7 }')
	stop_server
}

for side in us k; do
	command -v redis-server >/dev/null && redis "$side"
	command -v nginx >/dev/null && command -v wrk >/dev/null && nginx_run "$side"
	command -v iperf3 >/dev/null && iperf "$side"
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "-" }'; }
printf '%-34s %14s %14s %7s\n' "" "ustack (TAP)" "kernel (veth)" "ratio"
row() { printf '%-34s %14s %14s %7s\n' "$1" "${R[${2}_us]:--}" "${R[${2}_k]:--}" "$(ratio "${R[${2}_us]:-0}" "${R[${2}_k]:-0}")"; }
row "redis-benchmark -c 50 SET (req/s)" redis_set
row "redis-benchmark -c 50 GET (req/s)" redis_get
row "nginx, wrk -c 50 (req/s)" nginx
row "iperf3 client uploads (Gbit/s)" iperf_up
row "iperf3 client downloads -R (Gbit/s)" iperf_down
