#!/bin/bash
# 100 MB through ustack-inetd's TCP echo (port 7): a kernel client sends
# while it reads the echo back, half-closes, and reads until the server
# closes; sha256 of what went out and what came back agree.
# Network namespace: setup (lib.sh) creates one for this test with
# `ip netns add` and its EXIT trap deletes it; the ustack program and the
# kernel-side tools here run inside it (start_app, nsx, py, bg_ns and
# ping_once wrap `ip netns exec "$NS"`; `ip -n "$NS"` for ip itself).
. "$(dirname "$0")/lib.sh"
require_root
require_bin inetd stat
MB=${BULK_MB:-100}
setup
start_app inetd
wait_ready

py "$US" "$MB" >"$T/echo.log" 2>&1 <<'PYEOF' || fail "echo bulk: $(tail -n 5 "$T/echo.log")"
import hashlib, os, socket, sys, threading, time
host, mb = sys.argv[1], int(sys.argv[2])
total = mb << 20
s = socket.create_connection((host, 7), timeout=30)
s.settimeout(60)
sent_hash, recv_hash = hashlib.sha256(), hashlib.sha256()
err = []
def sender():
    try:
        chunk = 1 << 20
        left = total
        while left:
            b = os.urandom(min(chunk, left))
            sent_hash.update(b)
            s.sendall(b)
            left -= len(b)
        s.shutdown(socket.SHUT_WR)
    except Exception as e:
        err.append("send: %r" % e)
t0 = time.time()
th = threading.Thread(target=sender)
th.start()
got = 0
while True:
    b = s.recv(1 << 20)
    if not b:
        break
    recv_hash.update(b)
    got += len(b)
th.join()
dt = time.time() - t0
if err:
    sys.exit(err[0])
if got != total:
    sys.exit("echoed %d of %d bytes" % (got, total))
if sent_hash.digest() != recv_hash.digest():
    sys.exit("sha256 of the echo differs from what was sent")
print("%d MB echoed in %.2f s (%.1f MB/s each way), sha256 %s" % (mb, dt, mb / dt, sent_hash.hexdigest()[:16]))
PYEOF
log "$(cat "$T/echo.log")"
stop_app
log "pass"
