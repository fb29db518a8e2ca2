#!/bin/bash
# ustack-httpd under slowloris: 2,000 connections from the kernel side that
# send their request header one byte a second. While they are all open,
# curl still gets its pages (200); each slow connection is closed once its
# header deadline (--header-timeout) has passed, counted in
# httpd.header_timeouts and gone from the connection table. Then with a
# small -m, more slow clients than slots: new clients are still served,
# because the slowest header senders are evicted to make room. Last, the
# idle limit for a silent keep-alive client and for one that reads nothing.
# Network namespace: setup (lib.sh) creates one for this test with
# `ip netns add` and its EXIT trap deletes it; the ustack program and the
# kernel-side tools here run inside it (start_app, nsx, bg_ns wrap
# `ip netns exec "$NS"`).
. "$(dirname "$0")/lib.sh"
require_root
require_cmd curl
require_bin httpd stat
setup
URL=http://$US
SLOW=${SLOW_CONNS:-2000}
HDR_TIMEOUT=6

# slow.py HOST N SECONDS: open N connections, then send one byte of a
# request header on each every second. Prints "connected N" once they are
# all up, and at the end "closed K of N" (closed by the server: EOF or RST)
# and how many got a 408. Bounded by SECONDS.
cat >"$T/slow.py" <<'PYEOF'
import resource, select, socket, sys, time
host, n, dur = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
resource.setrlimit(resource.RLIMIT_NOFILE, (n + 256, n + 256))
req = b"GET / HTTP/1.1\r\nHost: slow\r\nX-Slow: " + b"a" * 100 + b"\r\n\r\n"
end = time.monotonic() + dur
socks, pos, fdmap = {}, {}, {}
for i in range(n):
    s = socket.socket()
    s.setblocking(False)
    try:
        s.connect((host, 80))
    except BlockingIOError:
        pass
    socks[s.fileno()] = s
p = select.poll()
for fd in socks:
    p.register(fd, select.POLLOUT)
up = set()
while len(up) < n and time.monotonic() < end:
    for fd, ev in p.poll(200):
        if fd not in up and ev & select.POLLOUT:
            up.add(fd)
            p.modify(fd, select.POLLIN)
print("connected %d" % len(up), flush=True)
if len(up) < n:
    sys.exit(1)
closed, got408, nxt = set(), 0, time.monotonic()
while len(closed) < n and time.monotonic() < end:
    if time.monotonic() >= nxt:
        nxt += 1.0
        for fd, s in socks.items():
            if fd in closed:
                continue
            k = pos.get(fd, 0)
            try:
                s.send(req[k:k + 1])
                pos[fd] = k + 1
            except OSError:
                pass
    for fd, ev in p.poll(100):
        if fd in closed:
            continue
        try:
            data = socks[fd].recv(4096)
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        except BlockingIOError:
            continue
        if data.startswith(b"HTTP/1.1 408"):
            got408 += 1
        if not data or data.startswith(b"HTTP/1.1 408"):
            closed.add(fd)
            p.unregister(fd)
print("closed %d of %d, 408 %d" % (len(closed), n, got408), flush=True)
for s in socks.values():
    s.close()
PYEOF

api_stat() { # api_stat NAME: httpd's own counter from /api/stats
	nsx curl -s -m 10 "$URL/api/stats" |
		"$PY" -c "import json,sys; print(json.load(sys.stdin)['httpd']['$1'])"
}
slow_connected() { grep -q "^connected $1\$" "$T/slow.log"; }
slow_done() { grep -q "^closed" "$T/slow.log"; }

start_app httpd --port 80 --header-timeout "$HDR_TIMEOUT"
wait_ready
code=$(nsx curl -s -m 10 -o /dev/null -w '%{http_code}' "$URL/")
[ "$code" = 200 ] || fail "GET / before the attack: $code"

bg_ns "$PY" "$T/slow.py" "$US" "$SLOW" 60 >"$T/slow.log" 2>&1
slow_pid=$BG_PID
wait_for 40 "$SLOW slow connections up" slow_connected "$SLOW"
open=$(api_stat conns_open)
log "$SLOW slow connections up; httpd holds $open"
[ "$open" -ge "$SLOW" ] || fail "httpd holds $open connections, expected >= $SLOW"

# While they dribble: new clients are served at once (a generous limit
# per request; the assertion is success, not speed).
for i in 1 2 3 4 5; do
	out=$(nsx curl -s -m 10 -o "$T/page.$i" -w '%{http_code}' "$URL/stats") || fail "curl $i during the attack failed"
	[ "$out" = 200 ] || fail "curl $i during the attack got $out"
done
grep -q "^tcp.passive_opens" "$T/page.5" || fail "/stats during the attack: no counters"
code=$(nsx curl -s -m 10 -o /dev/null -w '%{http_code}' "$URL/bytes?n=1000000")
[ "$code" = 200 ] || fail "/bytes during the attack got $code"
log "5 pages and 1 MB served while $SLOW slow clients were connected"

# Each slow one is closed after its header deadline.
wait_for 50 "the slow client to finish" slow_done
grep -q "^closed $SLOW of $SLOW" "$T/slow.log" || fail "not every slow connection was closed: $(cat "$T/slow.log")"
wait_exit "$slow_pid" 10 "slow.py"
[ "$EXIT_RC" = 0 ] || fail "slow.py exited with $EXIT_RC"
hto=$(api_stat header_timeouts)
[ "$hto" -ge "$SLOW" ] || fail "httpd.header_timeouts is $hto, expected >= $SLOW"
est=$(ustat conns | grep -cE "^tcp +$US:80 +$KS:[0-9]+ +(ESTABLISHED|CLOSE_WAIT)")
[ "$est" -lt 10 ] || fail "$est connections still open on port 80 after the deadline"
log "$(tail -n 1 "$T/slow.log"); header_timeouts $hto; $est left open"
stop_app

# A table smaller than the attack: -m 50 and 200 slow clients. New clients
# still get in: the oldest header sender makes room.
start_app httpd --port 80 --max-conns 50 --header-timeout 30
wait_ready
bg_ns "$PY" "$T/slow.py" "$US" 200 20 >"$T/slow.log" 2>&1
wait_for 30 "200 slow connections up" slow_connected 200
for i in 1 2 3; do
	out=$(nsx curl -s -m 10 -o /dev/null -w '%{http_code}' "$URL/conns") || fail "curl $i with a full table failed"
	[ "$out" = 200 ] || fail "curl $i with a full table got $out"
done
ev=$(api_stat evicted)
[ "$ev" -ge 150 ] || fail "httpd.evicted is $ev, expected >= 150"
log "-m 50 with 200 slow clients: curl served, $ev evicted"
stop_app

# The idle limit: a keep-alive client that says nothing more, and one that
# asks for 100 MB and reads none of it, are both closed (the second reset)
# once --idle-timeout passes without progress.
start_app httpd --port 80 --idle-timeout 1
wait_ready
py "$US" >"$T/idle.log" 2>&1 <<'PYEOF' || fail "idle clients: $(cat "$T/idle.log")"
import socket, sys, time
host = sys.argv[1]
idle = socket.create_connection((host, 80), timeout=10)
idle.sendall(b"GET /iface HTTP/1.1\r\nHost: x\r\n\r\n")
time.sleep(0.2)
idle.recv(65536)
sink = socket.socket()
sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
sink.connect((host, 80))
sink.sendall(b"GET /bytes?n=100000000 HTTP/1.1\r\nHost: x\r\n\r\n")
idle.settimeout(10)
t0 = time.monotonic()
if idle.recv(1) != b"":
    sys.exit("the idle connection got data instead of a close")
print("idle closed after %.1f s" % (time.monotonic() - t0))
time.sleep(3)  # the sink never reads; by now the server gave up on it
sink.settimeout(10)
try:
    while sink.recv(1 << 20):
        pass
    print("sink closed")
except ConnectionResetError:
    print("sink reset")
PYEOF
ito=$(api_stat idle_timeouts)
sto=$(api_stat send_timeouts)
[ "$ito" -ge 1 ] || fail "httpd.idle_timeouts is $ito"
[ "$sto" -ge 1 ] || fail "httpd.send_timeouts is $sto"
log "$(tr '\n' ' ' <"$T/idle.log"); idle_timeouts $ito, send_timeouts $sto"
stop_app
log "pass"
