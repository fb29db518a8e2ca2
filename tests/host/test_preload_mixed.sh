#!/bin/bash
# tests/preload/mixed.c under ustack-run against tests/preload/kpeer.py (TCP
# and UDP echo on the kernel side): non-blocking connect to a closed port
# (ECONNREFUSED through SO_ERROR), a pipe and a ustack socket in one epoll
# set (edge- and level-triggered, EPOLLONESHOT, EPOLLRDHUP, close while in
# the set), poll and select on a mix, dup/CLOEXEC, options, SO_RCVTIMEO,
# EINTR and SA_RESTART, UDP, fork (the child closing an inherited socket),
# SO_LINGER, threads (8 connections, one shared by a sender and a
# receiver), bad arguments, and the FIN sent at exit for a socket left open.
# Network namespace: setup (lib.sh) creates one with `ip netns add` and
# its EXIT trap deletes it; every program runs inside it (nsx, bg_ns).
. "$(dirname "$0")/lib.sh"
require_root
require_cmd ss
require_bin run
setup
. "$ROOT/tests/preload/lib.sh"
[ -x "$BUILD/tests/preload_mixed" ] || fail "missing $BUILD/tests/preload_mixed (make tests)"

bg_ns "$PY" "$HELP/kpeer.py" 7100
k_listen_wait 7100
us_run "$BUILD/tests/preload_mixed" "$KS" 7100 7199 >"$T/mixed.log" 2>&1
rc=$?
sed "s/^/  /" "$T/mixed.log"
[ $rc = 0 ] || fail "preload_mixed exited $rc"
grep -q "^all passed" "$T/mixed.log" || fail "preload_mixed did not finish"
# It exits with a connection still open: the exit path must have closed
# it with a FIN, so the kernel side has no established connection left.
no_established() { ! nsx ss -Htn state established "( sport = :7100 )" | grep -q .; }
wait_for 5 "the kernel side's connections closed by the exit path" no_established
log "exit with a socket open: the peer got a FIN"
