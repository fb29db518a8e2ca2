#!/bin/bash
# Long run (make check-programs): nginx (daemon off, master_process off,
# sendfile on) on ustack; the kernel's curl fetches a 10 MiB file through
# sendfile (sha256 checked), then wrk -c 50 for 10 s must see no socket
# errors and no non-2xx answers.
# Network namespace: setup (lib.sh) creates one with `ip netns add` and
# its EXIT trap deletes it; every program runs inside it (nsx, bg_ns).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../preload/long.sh"
require_root
require_cmd nginx wrk curl ss
require_bin run stat
setup
. "$ROOT/tests/preload/lib.sh"

. "$ROOT/tests/preload/nginx.sh"
nginx_conf "$T"
make_blob "$T/www/big" 10
echo "hello from nginx on ustack" >"$T/www/index.html"
us_start nginx -c "$T/nginx.conf" -p "$T/ngx"
us_listen_wait 8080
nsx curl -sS -m 30 -o "$T/big.bin" "http://$US:8080/big" || fail "curl exited $?"
[ "$(sha "$T/big.bin")" = "$(sha "$T/www/big")" ] || fail "sendfile: sha256 differs"
log "10 MiB through nginx's sendfile: sha256 matches"
nsx timeout 60 wrk -c 50 -t 2 -d 10 "http://$US:8080/" >"$T/wrk.log" 2>&1 || fail "wrk exited $?"
sed 's/^/  /' "$T/wrk.log"
grep -q "Socket errors" "$T/wrk.log" && fail "wrk saw socket errors"
grep -q "Non-2xx" "$T/wrk.log" && fail "wrk saw non-2xx answers"
grep -q "^Requests/sec" "$T/wrk.log" || fail "wrk gave no result"
log "wrk -c 50 -d 10: no socket errors"
