#!/bin/bash
# UDP echo (port 7) keeps datagram boundaries: back-to-back datagrams come
# back one per recv with their own sizes and bytes, from 0 bytes up to
# 65507 (fragmented both ways). Discard (port 9) answers nothing.
# Network namespace: setup (lib.sh) creates one for this test with
# `ip netns add` and its EXIT trap deletes it; the ustack program and the
# kernel-side tools here run inside it (start_app, nsx, py, bg_ns and
# ping_once wrap `ip netns exec "$NS"`; `ip -n "$NS"` for ip itself).
. "$(dirname "$0")/lib.sh"
require_root
require_bin inetd stat
setup
start_app inetd
wait_ready

py "$US" >"$T/udp.log" 2>&1 <<'PYEOF' || fail "UDP echo: $(tail -n 3 "$T/udp.log")"
import os, socket, sys
host = sys.argv[1]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.connect((host, 7))
# Three at once, then read: one datagram per recv, boundaries kept.
batch = [os.urandom(n) for n in (100, 1, 333)]
for m in batch:
    s.send(m)
got = [s.recv(70000) for _ in batch]
assert got == batch, "batch: sizes sent %s, got %s" % ([len(m) for m in batch], [len(g) for g in got])
# Sizes around the MTU and far above it, one at a time.
for n in (0, 1472, 1473, 4000, 8192, 30000, 65507):
    m = os.urandom(n)
    s.send(m)
    g = s.recv(70000)
    assert g == m, "size %d: got %d bytes back%s" % (n, len(g), "" if len(g) != n else " (different bytes)")
print("echo ok")
# Discard: nothing comes back.
d = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
d.settimeout(0.5)
d.connect((host, 9))
d.send(b"into the void")
try:
    d.recv(100)
    sys.exit("discard answered")
except socket.timeout:
    pass
print("discard ok")
PYEOF
log "$(tr '\n' ' ' <"$T/udp.log")"
assert_stat_rose udp.rx 10
assert_stat_eq udp.drop_bad_checksum 0
stop_app
log "pass"
