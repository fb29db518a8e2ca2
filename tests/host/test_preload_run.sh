#!/bin/bash
# ustack-run itself: --help is complete, a bad option or configuration is
# one sentence and a non-zero exit before PROGRAM runs, a missing PROGRAM
# is 127, PROGRAM's own options are its own, the environment carries the
# settings (relative paths made absolute), a program that makes no socket
# never opens the device, and plain LD_PRELOAD with a bad USTACK_ADDR
# fails at the first socket with one sentence.
# Network namespace: setup (lib.sh) creates one with `ip netns add` and
# its EXIT trap deletes it; every program runs inside it (nsx).
. "$(dirname "$0")/lib.sh"
require_root
require_bin run
setup
. "$ROOT/tests/preload/lib.sh"

help=$("$RUN" --help) || fail "--help exited $?"
for w in --dev --addr --gateway --mac --mtu --host-addr --pcap --log --trace \
	--ctl --seed --fault --offload USTACK_DEV LD_PRELOAD; do
	grep -q -- "$w" <<<"$help" || fail "--help does not mention $w"
done

"$RUN" --addr 10.0.0 -- true 2>"$T/bad.err"
rc=$?
[ $rc = 2 ] || fail "--addr 10.0.0: exit $rc, expected 2"
grep -q "^ustack-run: --addr: expected A.B.C.D/N" "$T/bad.err" || fail "--addr 10.0.0: $(head -1 "$T/bad.err")"
# An impossible address is a usage error (the common option checks).
nsx "$RUN" --dev tap0 --gateway 192.168.9.1 -- touch "$T/ran" 2>"$T/gw.err"
rc=$?
[ $rc = 2 ] || fail "gateway off the subnet: exit $rc, expected 2"
[ -e "$T/ran" ] && fail "PROGRAM ran despite a bad configuration"
grep -q "is not on the subnet" "$T/gw.err" || fail "gateway off the subnet: $(head -1 "$T/gw.err")"
# A device that can not be used fails when the stack is brought up: exit 1.
nsx "$RUN" --dev lo -- touch "$T/ran" 2>"$T/dev.err"
rc=$?
[ $rc = 1 ] || fail "--dev lo: exit $rc, expected 1"
[ -e "$T/ran" ] && fail "PROGRAM ran despite a device it can not use"
grep -q "is not a TAP device" "$T/dev.err" || fail "--dev lo: $(head -1 "$T/dev.err")"
nsx "$RUN" --dev tap0 -- /nonexistent/program 2>/dev/null
rc=$?
[ $rc = 127 ] || fail "missing PROGRAM: exit $rc, expected 127"
log "bad configuration: one sentence and exit 2/1 before PROGRAM; missing PROGRAM: 127"

out=$(cd "$T" && nsx "$RUN" --dev tap0 --ctl c.sock --seed 7 -- sh -c \
	'echo "$USTACK_CTL $USTACK_SEED $USTACK_DEV"; ls /sys/class/net') ||
	fail "ustack-run sh exited $?"
grep -q "^$T/c.sock 7 tap0$" <<<"$out" || fail "environment: $out"
grep -q "^tap0$" <<<"$out" && fail "a program without sockets opened the device"
out=$(nsx "$RUN" --dev tap0 -- sh -c 'echo "$1"' sh -h) || fail "PROGRAM's -h"
[ "$out" = "-h" ] || fail "PROGRAM's own option was taken: '$out'"
log "environment set, PROGRAM's options its own, no device without a socket"

nsx env LD_PRELOAD="$BUILD/lib/libustack-preload.so" USTACK_DEV=tap0 USTACK_ADDR=10.0.0 \
	"$PY" -c 'import socket; socket.socket()' 2>"$T/env.err"
rc=$?
[ $rc = 2 ] || fail "bad USTACK_ADDR: exit $rc, expected 2"
grep -q "^libustack-preload: --addr: expected A.B.C.D/N" "$T/env.err" ||
	fail "bad USTACK_ADDR: $(head -1 "$T/env.err")"
log "plain LD_PRELOAD, bad USTACK_ADDR: one sentence at the first socket, exit 2"
