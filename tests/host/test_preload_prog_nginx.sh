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

mkdir -p "$T/www" "$T/ngx"
make_blob "$T/www/big" 10
echo "hello from nginx on ustack" >"$T/www/index.html"
cat >"$T/nginx.conf" <<NGX
daemon off;
master_process off;
worker_processes 1;
error_log $T/ngx/error.log warn;
pid $T/ngx/nginx.pid;
events { worker_connections 1024; }
http {
	access_log off;
	sendfile on;
	keepalive_requests 100000;
	client_body_temp_path $T/ngx/body;
	proxy_temp_path $T/ngx/proxy;
	fastcgi_temp_path $T/ngx/fcgi;
	uwsgi_temp_path $T/ngx/uwsgi;
	scgi_temp_path $T/ngx/scgi;
	server { listen 8080; root $T/www; }
}
NGX
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
