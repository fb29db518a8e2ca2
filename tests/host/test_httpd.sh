#!/bin/bash
# ustack-httpd (one event loop) with curl: the pages, /bytes?n=N
# throughput checked byte for byte, keep-alive, HEAD, 404, 405, 431, two
# pipelined requests followed by the client's FIN (both answered),
# /api/fsm against the library's transition table, 50 clients at once,
# and a clean stop on SIGTERM with a client still connected.
# Network namespace: setup (lib.sh) creates one for this test with
# `ip netns add` and its EXIT trap deletes it; the ustack program and the
# kernel-side tools here run inside it (start_app, nsx, py, bg_ns and
# ping_once wrap `ip netns exec "$NS"`; `ip -n "$NS"` for ip itself).
. "$(dirname "$0")/lib.sh"
require_root
require_cmd curl nc
require_bin httpd stat
setup
start_app httpd --port 80
wait_ready
URL=http://$US

c() { nsx curl -s -m 10 "$@"; }
c "$URL/" | grep -q "<h1>ustack-httpd</h1>" || fail "GET / has no title"
c "$URL/stats" | grep -qE "^tcp.passive_opens +[1-9]" || fail "/stats: no passive opens counted"
c "$URL/conns" | grep -qE "^tcp +$US:80 +$KS:[0-9]+ +ESTABLISHED" || fail "/conns does not show its own connection"
c "$URL/arp" | grep -q "^$KS " || fail "/arp"
ustat conns | grep -qE "^tcp +0\.0\.0\.0:80 .* LISTEN" || fail "control socket (served by a thread): no listener"
code=$(c -o /dev/null -w '%{http_code}' "$URL/nope")
[ "$code" = 404 ] || fail "/nope gave $code"
code=$(c -o /dev/null -w '%{http_code}' -X POST -d x=1 "$URL/")
[ "$code" = 405 ] || fail "POST gave $code"
len=$(c -I "$URL/bytes?n=12345" | tr -d '\r' | awk 'tolower($1) == "content-length:" { print $2 }')
[ "$len" = 12345 ] || fail "HEAD /bytes?n=12345: Content-Length $len"

# Too large a header: 431, and the connection closed.
big=$(head -c 9000 /dev/zero | tr '\0' a)
code=$(c -o /dev/null -w '%{http_code}' -H "X-Big: $big" "$URL/")
[ "$code" = 431 ] || fail "a 9000-byte header gave $code"

# Two pipelined requests, then the client's FIN: both are answered.
printf 'GET /iface HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n' |
	nsx timeout 10 nc -N "$US" 80 >"$T/pipe.out" || fail "nc with two pipelined requests"
[ "$(grep -c '^HTTP/1.1 ' "$T/pipe.out")" = 2 ] || fail "pipelined + FIN: $(grep -c '^HTTP/1.1 ' "$T/pipe.out") answers"
grep -q '^HTTP/1.1 404' "$T/pipe.out" || fail "pipelined: no 404 for the second request"

# /api/fsm serves the library's transition table (ustack_tcp_transition):
# the same edges as stack/proto/tcp_fsm.c's transitions[].
grep -oE '\{S\([A-Z_0-9]+\), S\([A-Z_0-9]+\),' "$ROOT/stack/proto/tcp_fsm.c" |
	sed -E 's/\{S\(([A-Z_0-9]+)\), S\(([A-Z_0-9]+)\),/\1 \2/' | sort >"$T/fsm.src"
c "$URL/api/fsm" | "$PY" -c '
import json, sys
for t in json.load(sys.stdin)["transitions"]:
    print(t["from"], t["to"])' | sort >"$T/fsm.api"
[ -s "$T/fsm.src" ] || fail "no transitions found in stack/proto/tcp_fsm.c"
diff "$T/fsm.src" "$T/fsm.api" >"$T/fsm.diff" || fail "/api/fsm differs from tcp_fsm.c: $(cat "$T/fsm.diff")"

# Keep-alive: two requests, one connection.
nsx curl -sv -m 10 -o /dev/null -o /dev/null "$URL/stats" "$URL/conns" 2>"$T/keep.log" || fail "keep-alive curl"
grep -qi "re-using existing connection" "$T/keep.log" || fail "curl did not reuse the connection"

# /bytes: the size and the pattern, and the speed.
n=50000000
out=$(c -o "$T/bytes.bin" -w '%{size_download} %{speed_download}' "$URL/bytes?n=$n") || fail "/bytes download"
read -r size speed <<<"$out"
[ "$size" = "$n" ] || fail "/bytes?n=$n: got $size bytes"
head -c 64 "$T/bytes.bin" | grep -q "^0123456789abcdef" || fail "/bytes: unexpected content"
[ "$(sort -u <"$T/bytes.bin" | wc -l)" = 1 ] || fail "/bytes lines differ"
log "/bytes: $size bytes at $((${speed%.*} / 1000000)) MB/s"

# 50 clients at once, each a new connection (and thread).
pids=""
for i in $(seq 50); do
	nsx curl -s -m 20 -o "$T/par.$i" "$URL/bytes?n=100000" &
	pids="$pids $!"
done
for p in $pids; do wait "$p" || fail "a parallel curl failed"; done
for i in $(seq 50); do
	[ "$(stat -c %s "$T/par.$i")" = 100000 ] || fail "parallel client $i got $(stat -c %s "$T/par.$i") bytes"
done
log "50 parallel clients served"

# SIGTERM with an idle keep-alive client connected: stops cleanly.
cat >"$T/idle.py" <<'PYEOF'
import socket, sys, time
s = socket.create_connection((sys.argv[1], 80), timeout=10)
s.sendall(b"GET /stats HTTP/1.1\r\nHost: x\r\n\r\n")
s.recv(65536)
print("connected", flush=True)
time.sleep(8)
PYEOF
bg_ns "$PY" "$T/idle.py" "$US" >"$T/idle.log" 2>&1
idle_connected() { grep -q connected "$T/idle.log"; }
wait_for 5 "the idle client" idle_connected
stop_app
log "pass"
