#!/bin/bash
# TIME_WAIT is on the side that closed first. daytime (13): the stack
# sends the time and closes first, so the stack holds TIME_WAIT (its table
# and its --trace log say so) and the kernel does not. echo (7) with the
# kernel closing first: the kernel holds TIME_WAIT (ss -tan) and the stack
# goes CLOSE_WAIT -> LAST_ACK -> gone.
# Network namespace: setup (lib.sh) creates one for this test with
# `ip netns add` and its EXIT trap deletes it; the ustack program and the
# kernel-side tools here run inside it (start_app, nsx, py, bg_ns and
# ping_once wrap `ip netns exec "$NS"`; `ip -n "$NS"` for ip itself).
. "$(dirname "$0")/lib.sh"
require_root
require_cmd ss
require_bin inetd stat
setup
start_app inetd --trace
wait_ready

py "$US" 13 >"$T/daytime.log" 2>&1 <<'PYEOF' || fail "daytime: $(tail -n 3 "$T/daytime.log")"
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
data = b""
while True:
    b = s.recv(100)
    if not b:
        break
    data += b
s.close()
assert data.endswith(b"\r\n") and len(data) > 10, data
print("port %s: %d bytes, then the server's FIN" % (sys.argv[2], len(data)))
print(data.decode().strip())
PYEOF
log "daytime said: $(tail -n 1 "$T/daytime.log")"
tw_us() { ustat conns | grep -E "^tcp +$US:13 .* TIME_WAIT"; }
wait_for 5 "TIME_WAIT on the stack for port 13" tw_us
log "stack: $(tw_us | head -n 1)"
nsx ss -tan state time-wait | grep -q "$US:13" && fail "the kernel holds TIME_WAIT for port 13 too"
grep -q "TIME_WAIT" "$T/inetd.err" || fail "--trace did not log a transition to TIME_WAIT"
log "trace: $(grep -m1 'TIME_WAIT' "$T/inetd.err")"

py "$US" >"$T/echo.log" 2>&1 <<'PYEOF' || fail "echo: $(tail -n 3 "$T/echo.log")"
import socket, sys
s = socket.create_connection((sys.argv[1], 7), timeout=5)
s.sendall(b"close me first\n")
assert s.recv(100) == b"close me first\n"
print(s.getsockname()[1])
s.close()
PYEOF
port=$(tail -n 1 "$T/echo.log")
tw_k() { nsx ss -tan state time-wait | grep -q "$KS:$port *$US:7"; }
wait_for 5 "TIME_WAIT in the kernel for $KS:$port" tw_k
log "kernel: $(nsx ss -tan state time-wait | grep "$KS:$port")"
gone_us() { ! ustat conns | grep -q "$KS:$port "; }
wait_for 5 "the stack's connection from port $port to go away" gone_us
stop_app
log "pass"
