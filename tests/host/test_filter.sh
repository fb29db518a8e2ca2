#!/bin/bash
# The packet filter on a real TAP: ustack-inetd with
#   --filter 'drop tcp dport 23'     telnet: the kernel's connect times out
#   --filter 'reject tcp dport 13'   daytime listens, yet the client gets RST
#   --filter 'reject udp'            UDP echo listens, yet ICMP port unreachable
#   --filter 'allow icmp'            ping still answered
# TCP echo (no rule) still works; `ustack-stat PATH filter` shows each
# rule's hits; a bad rule is a usage error (exit 2) with a clear message.
# Network namespace: setup (lib.sh) creates one for this test with
# `ip netns add` and its EXIT trap deletes it; everything here runs inside
# it (start_app, nsx, py wrap `ip netns exec "$NS"`).
. "$(dirname "$0")/lib.sh"
require_root
require_bin inetd stat

# A bad rule is refused before anything starts.
"$BIN/ustack-inetd" --filter 'drop tcp dport telnet' >/dev/null 2>"${TMPDIR:-/tmp}/filter-usage.$$"
rc=$?
msg=$(cat "${TMPDIR:-/tmp}/filter-usage.$$"); rm -f "${TMPDIR:-/tmp}/filter-usage.$$"
[ "$rc" = 2 ] || fail "a bad --filter rule exited $rc, expected 2"
echo "$msg" | grep -q "': dport: expected a port.*got 'telnet'" || fail "unclear error for a bad rule: $msg"
log "bad rule refused: $(echo "$msg" | head -n 1)"

setup
start_app inetd --filter 'drop tcp dport 23' --filter 'reject tcp dport 13' \
	--filter 'reject udp' --filter 'allow icmp'
wait_ready

py "$US" >"$T/filter.log" 2>&1 <<'PYEOF' || fail "$(tail -n 5 "$T/filter.log")"
import socket, sys, time
us = sys.argv[1]

def tcp(port, timeout):
    s = socket.socket()
    s.settimeout(timeout)
    t0 = time.monotonic()
    try:
        s.connect((us, port))
        return "connected", time.monotonic() - t0
    except socket.timeout:
        return "timeout", time.monotonic() - t0
    except ConnectionRefusedError:
        return "refused", time.monotonic() - t0
    finally:
        s.close()

r, t = tcp(23, 2.0)
print("tcp/23:", r, round(t, 2))
if r != "timeout":
    sys.exit("telnet port: expected a timeout (silent drop), got " + r)
r, t = tcp(13, 3.0)
print("tcp/13:", r, round(t, 2))
if r != "refused" or t > 1.0:
    sys.exit("daytime: expected a RST at once, got %s after %.2f s" % (r, t))
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(3)
u.connect((us, 7))
u.send(b"echo?")
try:
    u.recv(100)
    sys.exit("UDP echo answered through 'reject udp'")
except ConnectionRefusedError:
    print("udp/7: ECONNREFUSED (ICMP port unreachable)")
except socket.timeout:
    sys.exit("udp/7: no ICMP within 3 s")
s = socket.create_connection((us, 7), timeout=3)
s.sendall(b"through\n")
if s.recv(100) != b"through\n":
    sys.exit("TCP echo broken by the filter")
s.close()
print("tcp/7: echo ok")
PYEOF
cat "$T/filter.log"
ping_once || fail "ping not answered with 'allow icmp'"

ustat filter >"$T/rules.log" || fail "ustack-stat filter failed"
cat "$T/rules.log"
grep -q "4 rules" "$T/rules.log" || fail "filter listing lacks '4 rules'"
hits() { awk -v r="$1" 'index($0, r) && $1 ~ /^[0-9]+$/ { print $2 }' "$T/rules.log"; }
[ "$(hits 'drop tcp dport 23')" -ge 1 ] || fail "drop rule has no hits"
[ "$(hits 'reject tcp dport 13')" -ge 1 ] || fail "reject tcp rule has no hits"
[ "$(hits 'reject udp')" -ge 1 ] || fail "reject udp rule has no hits"
[ "$(hits 'allow icmp')" -ge 1 ] || fail "allow icmp rule has no hits"
assert_stat_rose filter.drop 0
assert_stat_rose filter.reject 1
assert_stat_rose tcp.rst_tx 0
stop_app
log "pass"
