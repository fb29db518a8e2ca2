#!/bin/sh
# check-layers-selftest.sh - the layering check must fail on each kind of
# violation planted in a copy of the tree (and pass on the copy unchanged).
# Usage: check-layers-selftest.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d /tmp/ustack-layers.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

fresh() {
	rm -rf "$tmp/tree"
	mkdir -p "$tmp/tree"
	cp -r "$root/apps" "$root/drivers" "$root/stack" "$tmp/tree/"
}

# plant FILE LINE EXPECTED: append LINE to FILE in a fresh copy; the check
# must fail and name EXPECTED.
plant() {
	fresh
	printf '%s\n' "$2" >>"$tmp/tree/$1"
	if "$here/check-layers.sh" "$tmp/tree" >"$tmp/out" 2>&1; then
		echo "layers-selftest: FAIL: '$2' in $1 was not caught"
		exit 1
	fi
	grep -qF "$3" "$tmp/out" || {
		cat "$tmp/out"
		echo "layers-selftest: FAIL: '$2' in $1: expected '$3'"
		exit 1
	}
}

fresh
"$here/check-layers.sh" "$tmp/tree" >"$tmp/out" 2>&1 || {
	cat "$tmp/out"
	echo "layers-selftest: FAIL: the unchanged copy does not pass"
	exit 1
}
plant apps/ping.c '#include "core/stack.h"' "internal header outside stack/"
plant drivers/memlink.c '#include "../stack/proto/tcp.h"' "internal header outside stack/"
plant stack/wire/tcp.h '#include "core/pkb.h"' "stack/wire includes another part"
plant stack/proto/udp.c 'static void f(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); }' "clock read outside"
plant stack/proto/arp.c 'static int g(struct ustack *st) { return st->socks.size; }' "socket table used outside"
plant stack/proto/arp.c '#include "proto/tcp.h"' "a lower layer includes an upper layer's interface: stack/proto/arp.c"
plant stack/proto/ipv4.c '#include "sock/sock.h"' "a lower layer includes an upper layer's interface: stack/proto/ipv4.c"
plant stack/core/pkb.c '#include "proto/ipv4.h"' "a lower layer includes an upper layer's interface: stack/core/pkb.c"
plant stack/proto/tcp_out.c '#include "sock/rt.h"' "a lower layer includes an upper layer's interface: stack/proto/tcp_out.c"
echo "layers-selftest: PASS (9 planted violations caught, the clean copy passes)"
