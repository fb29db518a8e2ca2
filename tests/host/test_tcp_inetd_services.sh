#!/bin/bash
# ustack-inetd's TCP discard (9), chargen (19) and daytime (13) against the
# kernel: discard reads everything and closes after the client's FIN without
# sending a byte; chargen sends the RFC 864 rotating pattern (line i: 72
# characters from ' ' + i, CRLF) for as long as the client reads; daytime
# sends one CRLF-ended line, then closes. (echo: test_tcp_echo_bulk.)
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

py "$US" >"$T/svc.log" 2>&1 <<'PYEOF' || fail "$(tail -n 3 "$T/svc.log")"
import os, socket, sys
host = sys.argv[1]

def conn(port):
    s = socket.create_connection((host, port), timeout=5)
    s.settimeout(5)
    return s

def read_all(s, limit=1 << 20):
    out = b""
    while len(out) < limit:
        b = s.recv(65536)
        if not b:
            return out
        out += b
    sys.exit("more than %d bytes" % limit)

# Discard: 1 MiB in, nothing out, closed after our FIN.
d = conn(9)
d.sendall(os.urandom(1 << 20))
d.shutdown(socket.SHUT_WR)
got = read_all(d)
assert got == b"", "discard sent %d bytes" % len(got)
print("discard ok")

# Chargen: 300 KiB of the pattern, from its start, line after line.
pattern = b"".join(bytes(32 + (i + j) % 95 for j in range(72)) + b"\r\n"
                   for i in range(95))
c = conn(19)
want = 300 * 1024
got = b""
while len(got) < want:
    b = c.recv(65536)
    assert b, "chargen closed after %d bytes" % len(got)
    got += b
full = pattern * (len(got) // len(pattern) + 1)
assert got == full[:len(got)], "chargen: pattern differs at byte %d" % next(
    i for i in range(len(got)) if got[i] != full[i])
c.close()
print("chargen ok (%d bytes)" % len(got))

# Daytime: one line, then the server closes.
t = conn(13)
line = read_all(t, 4096)
assert line.endswith(b"\r\n") and line.count(b"\n") == 1 and len(line) > 10, \
    "daytime: %r" % line
print("daytime ok: %s" % line.decode().strip())
PYEOF
log "$(tr '\n' ' ' <"$T/svc.log")"
assert_stat_eq tcp.drop_bad_checksum 0
stop_app
log "pass"
