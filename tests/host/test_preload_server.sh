#!/bin/bash
# Servers on ustack (ustack-run) fetched from the kernel side: python3 -m
# http.server (poll) serving 20 MiB to curl, sha256 checked, with
# ustack-stat showing its listener over --ctl; then an asyncio echo server
# (epoll, non-blocking sockets) with 20 kernel clients at once, each
# echoed byte for byte.
# Network namespace: setup (lib.sh) creates one with `ip netns add` and
# its EXIT trap deletes it; every program runs inside it (nsx, bg_ns).
. "$(dirname "$0")/lib.sh"
require_root
require_cmd curl ss
require_bin run stat
setup
. "$ROOT/tests/preload/lib.sh"

mkdir "$T/srv"
make_blob "$T/srv/blob" 20
want=$(sha "$T/srv/blob")

cd "$T/srv" || fail "cd"
us_start "$PY" -m http.server 8000
cd "$ROOT" || fail "cd"
us_listen_wait 8000
nsx curl -sS -m 30 -o "$T/got" "http://$US:8000/blob" || fail "curl from the kernel side exited $?"
[ "$(sha "$T/got")" = "$want" ] || fail "http.server: sha256 differs ($(stat -c %s "$T/got") bytes)"
for i in 1 2 3 4 5; do
	nsx curl -sS -m 10 -o /dev/null "http://$US:8000/blob" || fail "request $i"
done
ustat conns | grep -qE "^tcp +0\.0\.0\.0:8000 .*LISTEN" || fail "ustack-stat: no listener"
ustat conns | grep -qE "^tcp +$US:8000 +$KS:[0-9]+ +TIME_WAIT" || fail "ustack-stat: no finished connection"
log "python3 -m http.server on ustack: 20 MiB fetched by the kernel's curl, sha256 matches"
stop_pid "$APP_PID" 5 || fail "http.server did not stop on SIGTERM"
PIDS=$(echo " $PIDS " | sed "s/ $APP_PID / /")
APP_PID=""

us_start "$PY" "$HELP/echo_asyncio.py" 7007
us_listen_wait 7007
nsx "$PY" "$HELP/echo_client.py" "$US" 7007 20 300000 >"$T/echo.out" 2>&1 ||
	fail "echo clients: $(head -5 "$T/echo.out")"
log "asyncio echo on ustack: $(cat "$T/echo.out")"
