#!/bin/bash
# Long run (make check-programs): memcached (4 worker threads, libevent on
# epoll) on ustack; 50 kernel-side connections at once each set 500 keys
# and read every value back (tests/preload/memc_client.py).
# Network namespace: setup (lib.sh) creates one with `ip netns add` and
# its EXIT trap deletes it; every program runs inside it (nsx, bg_ns).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../preload/long.sh"
require_root
require_cmd memcached ss
require_bin run stat
setup
. "$ROOT/tests/preload/lib.sh"

us_start memcached -u root -l 0.0.0.0 -p 11211 -U 0 -t 4
us_listen_wait 11211
nsx timeout 120 "$PY" "$HELP/memc_client.py" "$US" 11211 50 500 >"$T/memc.out" 2>&1 ||
	fail "memcached client: $(head -5 "$T/memc.out")"
log "memcached on ustack: $(cat "$T/memc.out")"
