#!/bin/bash
# CLOSE_WAIT is held while the application has not closed, and data still
# flows the other way: the kernel client sends "hello" and half-closes;
# ustack-nc -K (stdin a FIFO we hold open) sits in CLOSE_WAIT; once we
# write "bye" and close the FIFO, ustack-nc sends it, closes, and the client
# reads "bye" and the end of the stream.
# Network namespace: setup (lib.sh) creates one for this test with
# `ip netns add` and its EXIT trap deletes it; the ustack program and the
# kernel-side tools here run inside it (start_app, nsx, py, bg_ns and
# ping_once wrap `ip netns exec "$NS"`; `ip -n "$NS"` for ip itself).
. "$(dirname "$0")/lib.sh"
require_root
require_cmd ss
require_bin nc stat
setup
mkfifo "$T/fifo"
APP_STDIN=$T/fifo start_app nc -K -l 5000
nc_pid=$APP_PID
exec 3>"$T/fifo"
wait_ready

cat >"$T/client.py" <<'PYEOF'
import socket, sys
s = socket.create_connection((sys.argv[1], 5000), timeout=20)
s.sendall(b"hello\n")
s.shutdown(socket.SHUT_WR)
print("half-closed", flush=True)
data = b""
while True:
    b = s.recv(100)
    if not b:
        break
    data += b
print("received %r" % data, flush=True)
sys.exit(0 if data == b"bye\n" else 1)
PYEOF
bg_ns "$PY" "$T/client.py" "$US" >"$T/client.log" 2>&1 3>&- # not the FIFO
client=$BG_PID
cw() { ustat conns | grep -E "^tcp +$US:5000 .* CLOSE_WAIT"; }
wait_for 10 "CLOSE_WAIT on the stack" cw
sleep 1 # held: still CLOSE_WAIT a second later, the application has not closed
cw >/dev/null || fail "CLOSE_WAIT not held while ustack-nc still has its input open"
log "stack: $(cw)"
nsx ss -tan | grep -q "FIN-WAIT-2 .*$US:5000" || fail "kernel side not in FIN-WAIT-2: $(nsx ss -tan)"
[ "$(cat "$T/nc.out")" = "hello" ] || fail "ustack-nc did not write 'hello' (got '$(cat "$T/nc.out")')"

echo bye >&3
exec 3>&-
wait_exit "$client" 15 "kernel client"
[ "$EXIT_RC" = 0 ] || fail "client: $(cat "$T/client.log")"
wait_exit "$nc_pid" 10 "ustack-nc -K"
[ "$EXIT_RC" = 0 ] || fail "ustack-nc exited $EXIT_RC: $(tail -n 3 "$T/nc.err")"
log "client: $(tail -n 1 "$T/client.log")"
log "pass"
