#!/bin/bash
# More than 2^32 bytes through one connection each way, against the
# kernel (issue 7 defect 1: a sender that compared SND.UNA with its ISS
# stopped for good after 2^31 bytes; every other test moved less than
# 2 GiB per connection). ustack-inetd with TSO/GRO on the TAP
# (--offload, the default when it creates the device):
#   ustack -> kernel: chargen (19); the kernel side reads WRAP_BYTES
#     (default 2^32 + 64 MiB) and checks every byte against RFC 864's
#     pattern (chargen's 95 lines of 74 bytes), then closes;
#   kernel -> ustack: discard (9); the kernel side sends WRAP_BYTES,
#     shuts down, and waits for discard's FIN, which comes only after the
#     stack has read everything.
# Each direction is bounded by WRAP_TIMEOUT seconds (default 120), and
# fails after 10 s without progress. About 6 s on an idle 2-CPU machine
# (peer->kernel 1.2 GB/s, kernel->peer 2.4 GB/s in docs/performance.md).
# Network namespace: setup (lib.sh) creates one for this test with
# `ip netns add` and its EXIT trap deletes it; the ustack program and the
# kernel side run inside it (start_app and py wrap `ip netns exec "$NS"`).
. "$(dirname "$0")/lib.sh"
require_root
require_bin inetd stat
BYTES=${WRAP_BYTES:-$(((1 << 32) + (64 << 20)))}
LIMIT=${WRAP_TIMEOUT:-120}
setup
start_app inetd
wait_ready

# ustack -> kernel
t0=$(now_ms)
py "$US" "$BYTES" "$LIMIT" >"$T/chargen.log" 2>&1 <<'PYEOF' ||
import socket, sys, time
host, total, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
line = lambda i: bytes(32 + (i + j) % 95 for j in range(72)) + b"\r\n"
period = b"".join(line(i) for i in range(95))
P = len(period)
CH = 1 << 20
pat = period * (CH // P + 2)
s = socket.create_connection((host, 19), timeout=10)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
buf = bytearray(CH)
mv = memoryview(buf)
got, end = 0, time.monotonic() + limit
while got < total:
    if time.monotonic() > end:
        sys.exit("timed out after %d of %d bytes" % (got, total))
    try:
        n = s.recv_into(mv, min(CH, total - got))
    except socket.timeout:
        sys.exit("nothing for 10 s after %d of %d bytes" % (got, total))
    if n == 0:
        sys.exit("EOF after %d of %d bytes" % (got, total))
    o = got % P
    # (bytes, not memoryview: its comparison goes element by element)
    if (buf if n == CH else buf[:n]) != pat[o:o + n]:
        sys.exit("data differs in the %d bytes at %d" % (n, got))
    got += n
s.close()
print("received %d bytes, pattern ok" % got)
PYEOF
	fail "chargen -> kernel: $(tail -n 2 "$T/chargen.log")"
ms=$(($(now_ms) - t0))
log "ustack -> kernel: $BYTES bytes in $ms ms ($((BYTES / 1000 / (ms + 1))) MB/s), $(cat "$T/chargen.log")"

# kernel -> ustack
t0=$(now_ms)
py "$US" "$BYTES" "$LIMIT" >"$T/discard.log" 2>&1 <<'PYEOF' ||
import socket, sys, time
host, total, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.create_connection((host, 9), timeout=10)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
s.settimeout(limit)
chunk = memoryview(bytes(range(256)) * 4096)
sent, end = 0, time.monotonic() + limit
while sent < total:
    if time.monotonic() > end:
        sys.exit("timed out after sending %d of %d bytes" % (sent, total))
    sent += s.send(chunk[:min(len(chunk), total - sent)])
s.shutdown(socket.SHUT_WR)
# discard closes after reading our FIN, i.e. after every byte before it
if s.recv(1) != b"":
    sys.exit("discard sent data")
s.close()
print("sent %d bytes, discard read them all and closed" % sent)
PYEOF
	fail "kernel -> discard: $(tail -n 2 "$T/discard.log")"
ms=$(($(now_ms) - t0))
log "kernel -> ustack: $BYTES bytes in $ms ms ($((BYTES / 1000 / (ms + 1))) MB/s), $(cat "$T/discard.log")"
assert_stat_eq tcp.timeouts 0
stop_app
log "pass"
