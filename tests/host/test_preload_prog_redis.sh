#!/bin/bash
# Long run (make check-programs): redis-server on ustack, the kernel's
# redis-benchmark with 50 clients, 100,000 requests each of SET, GET,
# LPUSH and LRANGE_100; every test must finish with its requests/s line
# and redis must still answer PING with the right DBSIZE afterwards.
# Network namespace: setup (lib.sh) creates one with `ip netns add` and
# its EXIT trap deletes it; every program runs inside it (nsx, bg_ns).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../preload/long.sh"
require_root
require_cmd redis-server redis-benchmark redis-cli ss
require_bin run stat
setup
. "$ROOT/tests/preload/lib.sh"

us_start redis-server --save '' --appendonly no --protected-mode no --port 6379 \
	--dir "$T"
us_listen_wait 6379
nsx timeout 300 redis-benchmark -h "$US" -q -n 100000 -c 50 \
	-t set,get,lpush,lrange_100 >"$T/bench.log" 2>&1 || fail "redis-benchmark exited $?"
tr '\r' '\n' <"$T/bench.log" | grep "requests per second" >"$T/rps.log"
for t in SET GET LPUSH LRANGE_100; do
	grep -q "^$t.*requests per second" "$T/rps.log" || fail "redis-benchmark: no result for $t"
done
grep -qi "error" "$T/bench.log" && fail "redis-benchmark reported errors"
sed 's/^/  /' "$T/rps.log"
[ "$(nsx redis-cli -h "$US" ping)" = PONG ] || fail "no PONG after the benchmark"
ustat conns | grep -qE "^tcp +0\.0\.0\.0:6379 .*LISTEN" || fail "ustack-stat shows no listener"
log "redis-benchmark -c 50 -n 100000 set,get,lpush,lrange_100: no errors"
