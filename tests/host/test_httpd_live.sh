#!/bin/bash
# ustack-httpd's /live page in a real browser: headless Chromium (Debian's
# chromium) driven by playwright-core (tests/browser/live_test.js), both
# inside the test's namespace, the page served by the stack. A Python
# client holds an HTTP keep-alive connection open; the page must show it
# ESTABLISHED (table and state diagram), then, once the client closes it,
# drop the row and show the close in the ladder. Also checks the JSON
# endpoints directly. Screenshots stay in $T (KEEP=1 keeps them).
# Skips with a message when Chromium or node cannot run, or playwright-core
# cannot be installed from npm (it is installed at test time into
# $BUILD/browser from tests/browser/package.json).
# Network namespace: setup (lib.sh) creates one for this test with
# `ip netns add` and its EXIT trap deletes it; the ustack program, the
# client and the browser run inside it (start_app, nsx, bg_ns wrap
# `ip netns exec "$NS"`).
. "$(dirname "$0")/lib.sh"
require_root
require_cmd curl node npm
require_bin httpd stat
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || skip "needs Chromium at $CHROMIUM (Debian package chromium)"
"$CHROMIUM" --headless --no-sandbox --disable-gpu --version >/dev/null 2>&1 ||
	skip "$CHROMIUM does not run here"

# playwright-core, once per build directory.
PW=$BUILD/browser
if [ ! -f "$PW/node_modules/playwright-core/package.json" ] ||
	! cmp -s "$ROOT/tests/browser/package.json" "$PW/package.json"; then
	mkdir -p "$PW" && cp "$ROOT/tests/browser/package.json" "$PW/" || fail "cannot write $PW"
	(cd "$PW" && timeout 180 npm install --no-audit --no-fund --loglevel=error) >"$PW/npm.log" 2>&1 ||
		skip "cannot install playwright-core from npm (see $PW/npm.log)"
fi

setup
start_app httpd --port 80
wait_ready
URL=http://$US

# The JSON API by itself.
jget() { nsx curl -s -m 10 "$URL/api/$1"; }
jget fsm | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
assert len(d["states"]) == 11 and "TIME_WAIT" in d["states"], d["states"]
assert {"from": "ESTABLISHED", "to": "CLOSE_WAIT"} in [{"from": t["from"], "to": t["to"]} for t in d["transitions"]]
' || fail "/api/fsm"
jget conns | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
assert any(c["state"] == "LISTEN" and c["local"].endswith(":80") for c in d["conns"]), d
assert d["states"]["LISTEN"] >= 1
' || fail "/api/conns: no listener"
jget arp | grep -q "\"addr\":\"$KS\"" || fail "/api/arp: no $KS"
jget stats | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
assert d["stack"]["tcp.passive_opens"] >= 1 and d["httpd"]["requests"] >= 1, d
' || fail "/api/stats"
jget trace | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
assert d["next"] >= 1 and any(t["to"] == "ESTABLISHED" for t in d["trace"]), d
' || fail "/api/trace: no transition to ESTABLISHED"
code=$(nsx curl -s -m 10 -o "$T/live.html" -w '%{http_code}' "$URL/live")
[ "$code" = 200 ] && grep -q "<title>ustack live</title>" "$T/live.html" || fail "GET /live: $code"

# A keep-alive connection held open until the browser has seen it.
cat >"$T/hold.py" <<'PYEOF'
import os, socket, sys, time
s = socket.create_connection((sys.argv[1], 80), timeout=10)
s.sendall(b"GET /stats HTTP/1.1\r\nHost: hold\r\n\r\n")
# Read the whole answer: closing with unread data would send RST (and the
# page would rightly show ESTABLISHED -> CLOSED (RST), not an orderly close).
def more(b):
    d = s.recv(65536)
    if not d:
        sys.exit("closed early")
    return b + d
buf = b""
while b"\r\n\r\n" not in buf:
    buf = more(buf)
head, body = buf.split(b"\r\n\r\n", 1)
n = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0])
while len(body) < n:
    body = more(body)
print("port %d" % s.getsockname()[1], flush=True)
end = time.monotonic() + 90
while not os.path.exists(sys.argv[2]) and time.monotonic() < end:
    time.sleep(0.05)
s.close()
print("closed", flush=True)
PYEOF
bg_ns "$PY" "$T/hold.py" "$US" "$T/release" >"$T/hold.log" 2>&1
held() { grep -q "^port " "$T/hold.log"; }
wait_for 10 "the held connection" held
port=$(awk '/^port/ { print $2 }' "$T/hold.log")
log "holding $KS:$port -> $US:80 open"

mkdir -p "$T/shots"
nsx env HOME="$T" NODE_PATH="$PW/node_modules" CHROMIUM="$CHROMIUM" \
	timeout 120 node "$ROOT/tests/browser/live_test.js" "$URL" "$US:80" "$KS:$port" \
	"$T/release" "$T/shots" >"$T/browser.log" 2>&1
rc=$?
cat "$T/browser.log"
[ "$rc" = 0 ] || fail "the browser test failed (exit $rc)"
[ -s "$T/shots/live-1.png" ] && [ -s "$T/shots/live-2.png" ] || fail "no screenshots"
if [ -n "${SHOTS_DIR:-}" ]; then
	mkdir -p "$SHOTS_DIR" && cp "$T/shots/"*.png "$SHOTS_DIR/"
fi
stop_app
log "pass"
