#!/bin/bash
# OpenBSD nc (poll) and socat (select) on ustack, both ways, against the
# same tools on the kernel side: 5 MiB each way, sha256 checked; the
# listening side on ustack writes what it got and exits on the peer's FIN.
# Network namespace: setup (lib.sh) creates one with `ip netns add` and
# its EXIT trap deletes it; every program runs inside it (nsx, bg_ns).
. "$(dirname "$0")/lib.sh"
require_root
require_cmd nc socat ss
nc -h 2>&1 | grep -q OpenBSD || skip "needs OpenBSD netcat (netcat-openbsd)"
require_bin run stat
setup
. "$ROOT/tests/preload/lib.sh"

make_blob "$T/blob" 5
want=$(sha "$T/blob")

# 1. nc -l on ustack, the kernel's nc sends (and half-closes with -N).
us_start sh -c "exec nc -l 5000 >'$T/got1.bin'"
us_listen_wait 5000
nsx timeout 30 nc -N "$US" 5000 <"$T/blob" || fail "kernel nc -> ustack nc: exit $?"
wait_exit "$APP_PID" 15 "nc -l on ustack"
[ "$(sha "$T/got1.bin")" = "$want" ] || fail "nc to ustack: sha256 differs ($(stat -c %s "$T/got1.bin") bytes)"
log "kernel nc -> nc -l on ustack: 5 MiB, sha256 matches"

# 2. nc -l on the kernel side, nc on ustack sends.
bg_ns sh -c "exec nc -l 5001 >'$T/k1.bin'"
kpid=$BG_PID
k_listen_wait 5001
us_run nc -N "$KS" 5001 <"$T/blob" || fail "ustack nc -> kernel nc: exit $?"
wait_exit "$kpid" 15 "kernel nc -l"
[ "$(sha "$T/k1.bin")" = "$want" ] || fail "nc from ustack: sha256 differs"
log "nc on ustack -> kernel nc -l: 5 MiB, sha256 matches"

# 3. socat listening on ustack, the kernel's socat sends.
us_start socat -u TCP-LISTEN:5002,reuseaddr "OPEN:$T/got3.bin,creat,trunc"
us_listen_wait 5002
nsx timeout 30 socat -u "FILE:$T/blob" "TCP:$US:5002" || fail "kernel socat -> ustack socat: exit $?"
wait_exit "$APP_PID" 15 "socat on ustack"
[ "$EXIT_RC" = 0 ] || fail "socat on ustack exited $EXIT_RC"
[ "$(sha "$T/got3.bin")" = "$want" ] || fail "socat to ustack: sha256 differs"
log "kernel socat -> socat on ustack: 5 MiB, sha256 matches"

# 4. socat on ustack sends to the kernel's socat; then reads a reply.
bg_ns socat -u TCP-LISTEN:5003,reuseaddr "OPEN:$T/k2.bin,creat,trunc"
kpid=$BG_PID
k_listen_wait 5003
us_run socat -u "FILE:$T/blob" "TCP:$KS:5003" || fail "ustack socat -> kernel socat: exit $?"
wait_exit "$kpid" 15 "kernel socat"
[ "$(sha "$T/k2.bin")" = "$want" ] || fail "socat from ustack: sha256 differs"
log "socat on ustack -> kernel socat: 5 MiB, sha256 matches"

# 5. Both directions at once through one connection: socat on ustack
# sends the file and gets the kernel side's echo back.
bg_ns socat TCP-LISTEN:5004,reuseaddr EXEC:cat
k_listen_wait 5004
us_run socat -t 5 - "TCP:$KS:5004" <"$T/blob" >"$T/echo.bin" || fail "socat echo: exit $?"
[ "$(sha "$T/echo.bin")" = "$want" ] || fail "socat echo through the kernel's cat: sha256 differs ($(stat -c %s "$T/echo.bin") bytes)"
log "socat on ustack, both ways at once through the kernel's cat: sha256 matches"

# 6. UDP: nc -u -l on ustack takes the kernel's datagram.
us_start sh -c "exec nc -u -l 5005 >'$T/udp.txt'"
wait_for 15 "a ustack UDP socket on port 5005" \
	sh -c "'$BIN/ustack-stat' '$CTL' conns | grep -qE '^udp +[0-9.]+:5005 '"
echo "datagram to ustack" | nsx nc -u -w 1 "$US" 5005
wait_for 5 "the datagram written out by nc -u -l" grep -q "^datagram to ustack$" "$T/udp.txt"
log "kernel nc -u -> nc -u -l on ustack: the datagram arrived"
