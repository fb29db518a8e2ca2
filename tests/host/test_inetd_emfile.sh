#!/bin/bash
# ustack-inetd at its socket limit: -m 10 with --max-sockets 16 (6 for the
# services) fills the table with 10 connections, so accepting an 11th (to
# close it at once, as beyond -m) fails with EMFILE. The listener stays
# readable; inetd must not spin on it: it logs once, rests the listeners
# 100 ms at a time (its CPU time over a second stays small), keeps serving
# the open connections, and accepts again once they are gone.
# Network namespace: setup (lib.sh) creates one for this test with
# `ip netns add` and its EXIT trap deletes it; inetd and the Python
# clients run inside it (start_app, py wrap `ip netns exec "$NS"`).
. "$(dirname "$0")/lib.sh"
require_root
require_bin inetd stat
setup
start_app inetd -m 10 --max-sockets 16
wait_ready

# 14 clients on discard (9): 10 served, 4 wait in the backlog. They hold
# their connections until $T/release exists (bounded at 20 s).
py "$US" "$T" >"$T/clients.log" 2>&1 <<'PYEOF' &
import os, socket, sys, time
us, t = sys.argv[1], sys.argv[2]
socks = []
for i in range(14):
    s = socket.socket()
    s.settimeout(5)
    s.connect((us, 9))
    socks.append(s)
print("connected", len(socks), flush=True)
end = time.time() + 20
while not os.path.exists(t + "/release") and time.time() < end:
    time.sleep(0.05)
# the served ones still work: discard takes bytes
socks[0].sendall(b"still served\n")
for s in socks:
    s.close()
print("closed", flush=True)
PYEOF
CPID=$!
PIDS="$PIDS $CPID"
wait_for 10 "14 clients connected" grep -q "connected 14" "$T/clients.log"
wait_for 10 "the EMFILE line" grep -q "accept: .*logged once" "$T/inetd.err"
log "inetd: $(grep -m1 'accept:' "$T/inetd.err")"

# CPU time of inetd over one second at the limit (clock ticks, 100/s):
# spinning on the readable listener took ~95% of a core
ticks() { awk '{ print $14 + $15 }' "/proc/$APP_PID/stat"; }
t0=$(ticks)
sleep 1
t1=$(ticks)
log "inetd used $((t1 - t0)) ticks of CPU in 1 s at the limit"
[ $((t1 - t0)) -lt 20 ] || fail "inetd busy at the socket limit: $((t1 - t0)) ticks in 1 s"
[ "$(grep -c 'accept:' "$T/inetd.err")" = 1 ] || fail "the EMFILE line is not logged once"

touch "$T/release"
wait_exit "$CPID" 10 "the clients"
grep -q closed "$T/clients.log" || fail "clients: $(cat "$T/clients.log")"
# free again: a new connection is served
py "$US" >"$T/daytime.log" 2>&1 <<'PYEOF' || fail "daytime after the limit: $(cat "$T/daytime.log")"
import socket, sys
s = socket.create_connection((sys.argv[1], 13), timeout=5)
data = b""
while True:
    b = s.recv(100)
    if not b:
        break
    data += b
assert data.endswith(b"\r\n"), data
print(data.decode().strip())
PYEOF
log "daytime after: $(cat "$T/daytime.log")"
stop_app
log "pass"
