#!/bin/bash
# ustack-hello, the smallest program on the API, inside the network
# namespace that setup (lib.sh) creates with `ip netns add`: a kernel client
# gets the greeting and its lines back upper-cased, over blocking calls on
# the event-loop runtime.
. "$(dirname "$0")/lib.sh"
require_root
require_bin hello
setup
ip netns exec "$NS" "$BIN/ustack-hello" tap0 >"$T/hello.out" 2>"$T/hello.err" &
APP_PID=$!
PIDS="$PIDS $APP_PID"
wait_for 10 "tap0 up in $NS" tap_up
wait_for 10 "a first ping answered" ping_once

py "$US" >"$T/client.log" 2>&1 <<'PYEOF' || fail "$(tail -n 3 "$T/client.log")"
import socket, sys
s = socket.create_connection((sys.argv[1], 7777), timeout=5)
f = s.makefile("rwb")
greeting = f.readline()
if not greeting.startswith(b"hello from ustack"):
    sys.exit("greeting: %r" % greeting)
for line in (b"abc\n", b"Hello, World 42\n"):
    f.write(line); f.flush()
    back = f.readline()
    if back != line.upper():
        sys.exit("sent %r, got %r" % (line, back))
print("greeting and two upper-cased lines")
PYEOF
log "$(cat "$T/client.log")"
grep -q "listening on 10.0.0.2:7777" "$T/hello.out" || fail "no listening line: $(cat "$T/hello.out")"
log "pass"
