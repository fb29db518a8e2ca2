#!/bin/bash
# 1000 concurrent TCP connections to ustack-inetd's echo: all open at once
# (the stack's table shows them ESTABLISHED), each echoes its own message,
# then all close.
# Network namespace: setup (lib.sh) creates one for this test with
# `ip netns add` and its EXIT trap deletes it; the ustack program and the
# kernel-side tools here run inside it (start_app, nsx, py, bg_ns and
# ping_once wrap `ip netns exec "$NS"`; `ip -n "$NS"` for ip itself).
. "$(dirname "$0")/lib.sh"
require_root
require_bin inetd stat
N=${CONNS:-1000}
setup
start_app inetd --max-conns 2000
wait_ready

py "$US" "$N" "$BIN/ustack-stat" "$CTL" >"$T/many.log" 2>&1 <<'PYEOF' || fail "$(tail -n 5 "$T/many.log")"
import resource, selectors, socket, subprocess, sys, time
host, n, stat, ctl = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
resource.setrlimit(resource.RLIMIT_NOFILE, (n + 256, n + 256))
deadline = time.time() + 90
sel = selectors.DefaultSelector()
socks = []
for i in range(n):
    s = socket.socket()
    s.setblocking(False)
    s.connect_ex((host, 7))
    socks.append(s)
    sel.register(s, selectors.EVENT_WRITE, i)
# Wait for every connect; send each its message once connected.
msg = lambda i: b"connection %05d says hello\n" % i
pending = set(range(n))
while pending:
    if time.time() > deadline:
        sys.exit("only %d of %d connected" % (n - len(pending), n))
    for key, ev in sel.select(1):
        i = key.data
        if i not in pending:
            continue  # already sent: now selected for its echo (read)
        s = socks[i]
        e = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if e:
            sys.exit("connection %d failed: errno %d" % (i, e))
        s.send(msg(i))
        sel.modify(s, selectors.EVENT_READ, i)
        pending.discard(i)
# Read every echo back.
got = {i: b"" for i in range(n)}
left = set(range(n))
while left:
    if time.time() > deadline:
        sys.exit("only %d of %d echoes complete" % (n - len(left), n))
    for key, ev in sel.select(1):
        i = key.data
        b = socks[i].recv(4096)
        if not b:
            sys.exit("connection %d closed early" % i)
        got[i] += b
        if len(got[i]) >= len(msg(i)):
            if got[i] != msg(i):
                sys.exit("connection %d: wrong echo %r" % (i, got[i]))
            sel.unregister(socks[i])
            left.discard(i)
# All still open: the stack's table must show them.
out = subprocess.run([stat, ctl, "conns"], capture_output=True, text=True).stdout
est = sum(1 for l in out.splitlines() if l.startswith("tcp") and ":7 " in l and "ESTABLISHED" in l)
if est < n:
    sys.exit("stack shows %d ESTABLISHED echo connections, expected %d" % (est, n))
for s in socks:
    s.close()
print("%d connections open at once, %d ESTABLISHED in the stack's table, all echoed" % (n, est))
PYEOF
log "$(cat "$T/many.log")"
# Every connection goes away (the server closes after the client's FIN).
gone() { [ "$(ustat conns | grep -c 'ESTABLISHED\|CLOSE_WAIT\|LAST_ACK')" = 0 ]; }
wait_for 30 "all echo connections closed in the stack" gone
stop_app
log "pass"
