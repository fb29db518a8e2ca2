#!/bin/bash
# ustack-lb: three kernel-side backends (Python servers that read a request
# until the client half-closes, then answer their own name; each logs the
# requests it served) behind ustack-lb on port 80.
#  1. rr: 9 connections go 3/3/3 (each backend's own log and the answers);
#     the request is answered only after the half-close went through.
#  2. leastconn: 3 held connections (one per backend), close b2's, the next
#     client goes to b2 (the only one with none open).
#  3. b2 killed by its pid: 6 connections all answered (b1/b3), no client
#     error; restarted, the health probe brings it back and it is used.
# Network namespace: setup (lib.sh) creates one for this test with
# `ip netns add` and its EXIT trap deletes it; the backends, ustack-lb and
# the clients all run inside it (start_app, bg_ns, py).
. "$(dirname "$0")/lib.sh"
require_root
require_bin lb stat
"$BIN/ustack-lb" --help | grep -q -- "--policy rr|leastconn" || fail "ustack-lb --help lacks --policy"
"$BIN/ustack-lb" --port 80 >/dev/null 2>&1; [ $? = 2 ] || fail "ustack-lb without --backend: not a usage error"
"$BIN/ustack-lb" --port 80 --backend 10.0.0.1 >/dev/null 2>&1; [ $? = 2 ] || fail "ustack-lb --backend without a port: not a usage error"
setup

cat >"$T/backend.py" <<'PYEOF'
import socket, sys, threading
name, port, logf = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("0.0.0.0", port))
ls.listen(64)
lock = threading.Lock()
def serve(c):
    data = b""
    c.settimeout(20)
    try:
        while True:
            b = c.recv(4096)
            if not b:
                break
            data += b
        if data:   # a health probe sends nothing: not logged, no answer
            with lock, open(logf, "a") as f:
                f.write("served %s\n" % data.decode(errors="replace").strip())
            c.sendall(("%s\n" % name).encode())
    except OSError:
        pass
    c.close()
while True:
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PYEOF

declare -A BPID
start_backend() {  # start_backend N
	bg_ns "$PY" "$T/backend.py" "b$1" "800$1" "$T/b$1.log"
	BPID[$1]=$BG_PID
}
backend_up() { nsx ss -ltn | grep -q ":$1 "; }

# The backends first (on every address of the namespace), so ustack-lb
# never sees them down before the test begins.
for i in 1 2 3; do start_backend $i; done
for i in 1 2 3; do wait_for 10 "backend b$i" backend_up 800$i; done
start_app lb --port 80 --backend 10.0.0.1:8001 --backend 10.0.0.1:8002 \
	--backend 10.0.0.1:8003 --health-interval 0.3 --connect-timeout 1
wait_ready
count() { grep -c "^served" "$T/b$1.log" 2>/dev/null || echo 0; }

# The client: N sequential requests, each "GET i" then shutdown(SHUT_WR),
# prints the answering backend's name per line.
cat >"$T/client.py" <<'PYEOF'
import socket, sys
n, tag = int(sys.argv[1]), sys.argv[2]
for i in range(n):
    s = socket.create_connection(("10.0.0.2", 80), timeout=5)
    s.sendall(("%s %d\n" % (tag, i)).encode())
    s.shutdown(socket.SHUT_WR)
    ans = b""
    while True:
        b = s.recv(100)
        if not b:
            break
        ans += b
    s.close()
    if not ans:
        sys.exit("request %s %d: empty answer (connection closed)" % (tag, i))
    print(ans.decode().strip())
PYEOF

# 1. round robin
nsx "$PY" "$T/client.py" 9 rr >"$T/rr.out" 2>&1 || fail "rr clients: $(tail -n 3 "$T/rr.out")"
for i in 1 2 3; do
	n=$(grep -c "^b$i$" "$T/rr.out")
	[ "$n" = 3 ] || fail "round robin: b$i answered $n of 9 ($(tr '\n' ' ' <"$T/rr.out"))"
	[ "$(count $i)" = 3 ] || fail "round robin: b$i's log has $(count $i) requests"
done
log "round robin: 9 connections, 3 per backend: $(tr '\n' ' ' <"$T/rr.out")"
stop_app

# 2. least connections
rm -f "$T"/b?.log
start_app lb --port 80 --backend 10.0.0.1:8001 --backend 10.0.0.1:8002 \
	--backend 10.0.0.1:8003 --policy leastconn --health-interval 0.3 \
	--connect-timeout 1
wait_ready
py >"$T/lc.out" 2>&1 <<'PYEOF' || fail "leastconn: $(tail -n 3 "$T/lc.out")"
import socket, sys, time
def answer(s):
    s.shutdown(socket.SHUT_WR)
    ans = b""
    while True:
        b = s.recv(100)
        if not b:
            break
        ans += b
    s.close()
    return ans.decode().strip()
held = []
for i in range(3):
    s = socket.create_connection(("10.0.0.2", 80), timeout=5)
    s.sendall(b"hold %d\n" % i)
    held.append(s)
    time.sleep(0.1)   # let the lb connect it before the next one
# close the second one: that backend now has none open
second = answer(held[1])
print("closed", second)
s = socket.create_connection(("10.0.0.2", 80), timeout=5)
s.sendall(b"next\n")
nxt = answer(s)
print("next", nxt)
rest = [answer(held[0]), answer(held[2])]
print("held", " ".join(rest))
if nxt != second:
    sys.exit("leastconn sent the new client to %s, not to %s (the only "
             "backend with no connection open)" % (nxt, second))
if sorted(rest + [second]) != ["b1", "b2", "b3"]:
    sys.exit("the 3 held connections did not go one per backend: %s" % (rest + [second]))
PYEOF
log "leastconn: $(tr '\n' ' ' <"$T/lc.out")"
stop_app

# 3. a backend goes away and comes back
rm -f "$T"/b?.log
start_app lb --port 80 --backend 10.0.0.1:8001 --backend 10.0.0.1:8002 \
	--backend 10.0.0.1:8003 --health-interval 0.3 --connect-timeout 1
wait_ready
kill "${BPID[2]}"
wait "${BPID[2]}" 2>/dev/null
PIDS=$(echo " $PIDS " | sed "s/ ${BPID[2]} / /")
nsx "$PY" "$T/client.py" 6 down >"$T/down.out" 2>&1 || fail "clients with b2 down failed: $(tail -n 3 "$T/down.out")"
grep -q "^b2$" "$T/down.out" && fail "b2 answered while killed"
[ "$(wc -l <"$T/down.out")" = 6 ] || fail "not 6 answers with b2 down"
grep -q "10.0.0.1:8002 is down: Connection refused" "$T/lb.err" || fail "lb did not report b2 down"
for i in 1 3; do grep -q "800$i is down" "$T/lb.err" && fail "b$i reported down: $(grep down "$T/lb.err")"; done
log "b2 killed: 6 connections answered by $(sort "$T/down.out" | uniq -c | tr '\n' ' ')"
start_backend 2
wait_for 10 "backend b2 restarted" backend_up 8002
wait_for 10 "lb sees b2 up again" grep -q "10.0.0.1:8002 is up again" "$T/lb.err"
nsx "$PY" "$T/client.py" 6 back >"$T/back.out" 2>&1 || fail "clients after restart: $(tail -n 3 "$T/back.out")"
n=$(grep -c "^b2$" "$T/back.out")
[ "$n" = 2 ] || fail "b2 answered $n of 6 after coming back (expected 2)"
log "b2 back: $(sort "$T/back.out" | uniq -c | tr '\n' ' ')"
stop_app
grep -q "backend 10.0.0.1:8002 up: 2 connections" "$T/lb.err" || fail "exit counters: $(grep backend "$T/lb.err" | tail -n 3)"
grep "ustack-lb: backend" "$T/lb.err"
log "pass"
