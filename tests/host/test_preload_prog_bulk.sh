#!/bin/bash
# Long run (make check-programs): curl and wget on ustack download 100 MiB
# from python3 -m http.server on the kernel side, and curl uploads 100 MiB
# (PUT) to tests/preload/upload.py; sha256 checked each time.
# Network namespace: setup (lib.sh) creates one with `ip netns add` and
# its EXIT trap deletes it; every program runs inside it (nsx, bg_ns).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../preload/long.sh"
require_root
require_cmd curl wget ss
require_bin run stat
setup
. "$ROOT/tests/preload/lib.sh"

mkdir "$T/srv"
make_blob "$T/srv/blob" 100
want=$(sha "$T/srv/blob")
(cd "$T/srv" && exec ip netns exec "$NS" "$PY" -m http.server 8000 --bind 0.0.0.0 \
	>"$T/httpserver.log" 2>&1) &
PIDS="$PIDS $!"
bg_ns "$PY" "$HELP/upload.py" 8001
k_listen_wait 8000
k_listen_wait 8001

t0=$(now_ms)
us_run curl -sS -m 120 -o "$T/curl.bin" "http://$KS:8000/blob" || fail "curl exited $?"
[ "$(sha "$T/curl.bin")" = "$want" ] || fail "curl download: sha256 differs"
log "curl: 100 MiB downloaded in $(($(now_ms) - t0)) ms, sha256 matches"
rm -f "$T/curl.bin"

t0=$(now_ms)
us_run wget -q -T 60 -O "$T/wget.bin" "http://$KS:8000/blob" || fail "wget exited $?"
[ "$(sha "$T/wget.bin")" = "$want" ] || fail "wget download: sha256 differs"
log "wget: 100 MiB downloaded in $(($(now_ms) - t0)) ms, sha256 matches"
rm -f "$T/wget.bin"

t0=$(now_ms)
out=$(us_run curl -sS -m 120 -T "$T/srv/blob" "http://$KS:8001/put") || fail "curl PUT exited $?"
[ "$out" = "104857600 $want" ] || fail "PUT: server saw '$out'"
log "curl: 100 MiB uploaded in $(($(now_ms) - t0)) ms, the server's sha256 matches"
