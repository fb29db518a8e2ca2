# shellcheck shell=bash
# tests/preload/lib.sh - what the preload host tests share (sourced after
# tests/host/lib.sh): run programs under ustack-run in the namespace and
# wait for listeners on either side.

RUN=$BIN/ustack-run
[ -r "$BUILD/lib/libustack-preload.so" ] || fail "missing $BUILD/lib/libustack-preload.so (run make first)"
HELP=$ROOT/tests/preload

# us_run ARGS...: a client program on ustack, in the foreground, bounded.
us_run() { nsx timeout -k 2 60 "$RUN" --dev tap0 -- "$@"; }

# us_start ARGS...: a server program on ustack in the background, with the
# control socket at $CTL (ustack-stat works against it).
us_start() { start_app run -- "$@"; }

# Wait until the ustack program listens on TCP port $1 (its control socket
# shows the listener).
us_listen_wait() {
	wait_for 15 "tap0 up in $NS" tap_up
	wait_for 15 "control socket" test -S "$CTL"
	wait_for 15 "a ustack listener on port $1" \
		sh -c "'$BIN/ustack-stat' '$CTL' conns | grep -qE '^tcp +[0-9.]+:$1 .*LISTEN'"
}

# Wait until a kernel program in the namespace listens on TCP port $1.
k_listen_wait() {
	wait_for 15 "a kernel listener on port $1" \
		sh -c "ip netns exec '$NS' ss -Hltn 'sport = :$1' | grep -q ."
}
