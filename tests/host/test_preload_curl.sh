#!/bin/bash
# curl on ustack (ustack-run, libustack-preload.so) against kernel-side
# servers in the namespace: a 20 MiB download from python3 -m http.server
# and 20 MiB uploads (PUT and POST) to tests/preload/upload.py, each
# checked by sha256; a connection refused by the kernel side is curl's
# exit 7; the --pcap capture is whole and shows our FIN. (100 MiB runs:
# test_preload_prog_bulk.sh, make check-programs.)
# Network namespace: setup (lib.sh) creates one with `ip netns add` and
# its EXIT trap deletes it; every program runs inside it (nsx, bg_ns).
. "$(dirname "$0")/lib.sh"
require_root
require_cmd curl ss
require_bin run stat
setup
. "$ROOT/tests/preload/lib.sh"

MB=${PRELOAD_MB:-20}
mkdir "$T/srv"
make_blob "$T/srv/blob" "$MB"
want=$(sha "$T/srv/blob")

(cd "$T/srv" && exec ip netns exec "$NS" "$PY" -m http.server 8000 --bind 0.0.0.0 \
	>"$T/httpserver.log" 2>&1) &
PIDS="$PIDS $!"
bg_ns "$PY" "$HELP/upload.py" 8001
k_listen_wait 8000
k_listen_wait 8001

# Download, with a capture: the exit path must leave a whole pcap that
# ends with the connection's FIN exchange.
nsx timeout -k 2 60 "$RUN" --dev tap0 --pcap "$T/dl.pcap" -- \
	curl -sS -m 60 -o "$T/got" "http://$KS:8000/blob" 2>"$T/curl.err" ||
	fail "curl download exited $?"
[ "$(sha "$T/got")" = "$want" ] || fail "download: sha256 differs ($(stat -c %s "$T/got") bytes)"
if command -v tcpdump >/dev/null 2>&1; then
	tcpdump -nr "$T/dl.pcap" 2>"$T/tcpdump.log" >"$T/dl.txt" || fail "tcpdump -r: $(head -2 "$T/tcpdump.log")"
	grep -qi "truncated" "$T/tcpdump.log" && fail "the pcap is truncated"
	grep -qE "$US\.[0-9]+ > $KS\.8000: Flags \[F" "$T/dl.txt" ||
		fail "the capture does not show our FIN"
	log "pcap of the download: $(wc -l <"$T/dl.txt") frames, our FIN included"
fi
log "download of $MB MiB: sha256 matches"

# Upload, PUT then POST.
out=$(us_run curl -sS -m 60 -T "$T/srv/blob" "http://$KS:8001/put" 2>>"$T/curl.err") ||
	fail "curl PUT exited $?"
[ "$out" = "$((MB * 1048576)) $want" ] || fail "PUT: server saw '$out'"
out=$(us_run curl -sS -m 60 --data-binary "@$T/srv/blob" "http://$KS:8001/post" 2>>"$T/curl.err") ||
	fail "curl POST exited $?"
[ "$out" = "$((MB * 1048576)) $want" ] || fail "POST: server saw '$out'"
log "PUT and POST of $MB MiB: the server's sha256 matches"

# A closed port: the kernel answers RST, curl reports "couldn't connect".
us_run curl -sS -m 10 -o /dev/null "http://$KS:8009/" 2>"$T/refused.err"
rc=$?
[ $rc = 7 ] || fail "connect to a closed port: curl exit $rc, expected 7"
log "closed port: curl exit 7"
