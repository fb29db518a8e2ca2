#!/bin/bash
# 100 MB each way through ustack-nc with the kernel's nc (netcat-openbsd)
# as the peer, checked with sha256: kernel -> ustack (ustack-nc -l), then
# ustack -> kernel (ustack-nc connects). Both ends finish by themselves:
# half-close on end of input, exit when the peer has closed.
# Network namespace: setup (lib.sh) creates one for this test with
# `ip netns add` and its EXIT trap deletes it; the ustack program and the
# kernel-side tools here run inside it (start_app, nsx, py, bg_ns and
# ping_once wrap `ip netns exec "$NS"`; `ip -n "$NS"` for ip itself).
. "$(dirname "$0")/lib.sh"
require_root
require_cmd nc sha256sum
require_bin nc stat
MB=${BULK_MB:-100}
setup
make_blob "$T/blob" "$MB"
want=$(sha "$T/blob")

# kernel -> ustack
start_app nc -l 5000
nc_pid=$APP_PID
wait_ready
t0=$(now_ms)
nsx timeout 120 nc -N "$US" 5000 <"$T/blob" >/dev/null 2>"$T/knc.err" ||
	fail "kernel nc -> ustack-nc failed: $(cat "$T/knc.err")"
wait_exit "$nc_pid" 60 "ustack-nc -l"
ms=$(($(now_ms) - t0))
[ "$EXIT_RC" = 0 ] || fail "ustack-nc -l exited $EXIT_RC: $(tail -n 3 "$T/nc.err")"
got=$(sha "$T/nc.out")
[ "$got" = "$want" ] || fail "kernel -> ustack: sha256 differs ($(stat -c %s "$T/nc.out") of $((MB << 20)) bytes)"
log "kernel -> ustack: $MB MB in ${ms} ms ($((MB * 1000 / (ms + 1))) MB/s), sha256 ok"

# ustack -> kernel
bg_ns timeout 120 nc -l 5001 >"$T/krecv.bin" </dev/null 2>"$T/knc2.err"
knc=$BG_PID
APP_STDIN=$T/blob start_app nc "$KS" 5001
nc_pid=$APP_PID
t0=$(now_ms)
wait_exit "$nc_pid" 120 "ustack-nc $KS 5001"
ms=$(($(now_ms) - t0))
[ "$EXIT_RC" = 0 ] || fail "ustack-nc -> kernel exited $EXIT_RC: $(tail -n 3 "$T/nc.err")"
wait_exit "$knc" 20 "kernel nc -l"
got=$(sha "$T/krecv.bin")
[ "$got" = "$want" ] || fail "ustack -> kernel: sha256 differs ($(stat -c %s "$T/krecv.bin") of $((MB << 20)) bytes)"
log "ustack -> kernel: $MB MB in ${ms} ms ($((MB * 1000 / (ms + 1))) MB/s), sha256 ok"
log "pass"
