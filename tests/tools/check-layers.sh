#!/bin/sh
# check-layers.sh - the layering rules of docs/architecture.md, checked on
# the source tree (part of make check):
#   1. apps/ and drivers/ include only public headers (<ustack/...>) and
#      their own; never stack/core, proto, sock or wire.
#   2. stack/wire/ includes nothing of the project but wire/ itself.
#   3. Only the runtimes' clock code reads an OS clock: clock_gettime,
#      gettimeofday, time() and CLOCK_* appear in stack/ and drivers/ only in
#      stack/sock/clock.c (and thread.c's condition-variable clock setting).
#   4. The socket table (st->socks) is used only in stack/sock/.
#   5. No layer includes the interface of a layer above it. Layers, bottom
#      up: 1 core/ and the state headers (proto/*_state.h,
#      sock/sock_state.h: what struct ustack embeds); 2 the network layer
#      (eth, arp, ipv4 + ip4_frag, icmp, filter); 3 the transports (udp,
#      tcp_*) and the socket object they implement (sock/sock.h); 4 the
#      socket layer and the runtimes (sock/*.c, sock/rt.h). core/stack.c is
#      the composition root (it creates and destroys every module) and is
#      not ranked; icmp.c, whose echo sockets make it a transport too, may
#      include sock/sock.h. Errors go up through IPv4's protocol table
#      (docs/architecture.md), so nothing below needs an upper header.
# Usage: check-layers.sh [ROOT]   (default: the tree this script is in)
# Exit 0 when the tree keeps every rule, 1 with one line per violation.
set -u
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$root" || exit 2
bad=0
say() {
	echo "layers: $*"
	bad=1
}

# 1. internal headers from apps/ and drivers/
for f in $(find apps drivers -name '*.[ch]' 2>/dev/null | sort); do
	grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"](\.\./)*(stack/)?(core|proto|sock|wire)/' "$f" |
		while IFS= read -r l; do echo "$f:$l"; done
done >/tmp/layers.$$ 2>/dev/null
while IFS= read -r l; do say "internal header outside stack/: $l"; done </tmp/layers.$$

# 2. wire/ stands alone
for f in $(find stack/wire -name '*.[ch]' | sort); do
	grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" | grep -vE '"wire/' |
		while IFS= read -r l; do echo "$f:$l"; done
done >/tmp/layers.$$
while IFS= read -r l; do say "stack/wire includes another part of the project: $l"; done </tmp/layers.$$

# 3. clock reads (comments are skipped: lines whose first text is * or //)
for f in $(find stack drivers -name '*.c' | sort); do
	case $f in stack/sock/clock.c) continue ;; esac
	grep -nE '\b(clock_gettime|gettimeofday|clock_getres)\b|\btime\(|\bCLOCK_(MONOTONIC|REALTIME|BOOTTIME)' "$f" |
		grep -vE '^[0-9]+:[[:space:]]*(\*|//|/\*)' |
		grep -vE 'pthread_condattr_setclock|cattr;' |
		while IFS= read -r l; do echo "$f:$l"; done
done >/tmp/layers.$$
while IFS= read -r l; do say "clock read outside stack/sock/clock.c: $l"; done </tmp/layers.$$

# 4. the socket table belongs to the socket layer
for f in $(find stack drivers apps -name '*.[ch]' | sort); do
	case $f in stack/sock/*) continue ;; esac
	grep -nE '\bst->socks\b' "$f" | while IFS= read -r l; do echo "$f:$l"; done
done >/tmp/layers.$$
while IFS= read -r l; do say "socket table used outside stack/sock/: $l"; done </tmp/layers.$$
# 5. no layer includes an upper layer's interface
rank() { # rank of a file or an included header, by its path under stack/
	case ${1#stack/} in
	core/stack.c) echo 0 ;;
	core/* | proto/*_state.h | sock/sock_state.h) echo 1 ;;
	proto/eth.* | proto/arp.* | proto/ipv4.* | proto/ip4_* | proto/icmp.* | proto/filter.*) echo 2 ;;
	proto/udp.* | proto/tcp.* | proto/tcp_* | sock/sock.h) echo 3 ;;
	sock/*) echo 4 ;;
	*) echo 0 ;;
	esac
}
for f in $(find stack/core stack/proto stack/sock -name '*.[ch]' | sort); do
	fr=$(rank "$f")
	[ "$fr" = 0 ] && continue
	grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"(core|proto|sock)/' "$f" |
		while IFS= read -r l; do
			h=$(echo "$l" | sed -E 's/^[0-9]+:[^"]*"([^"]*)".*/\1/')
			hr=$(rank "stack/$h")
			[ "$f:$h" = stack/proto/icmp.c:sock/sock.h ] && continue
			[ "$hr" -gt "$fr" ] && echo "$f:$l (layer $fr includes layer $hr)"
		done
done >/tmp/layers.$$
while IFS= read -r l; do say "a lower layer includes an upper layer's interface: $l"; done </tmp/layers.$$
rm -f /tmp/layers.$$

[ $bad = 0 ] && echo "layers: PASS (public headers only in apps/ and drivers/, wire/ alone, clock reads and the socket table with their owners, no include of an upper layer)"
exit $bad
