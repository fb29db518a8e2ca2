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
rm -f /tmp/layers.$$

[ $bad = 0 ] && echo "layers: PASS (public headers only in apps/ and drivers/, wire/ alone, clock reads and the socket table with their owners)"
exit $bad
