#!/bin/sh
# valgrind.sh BUILD - memcheck over a smaller set (`make valgrind`).
#
# Runs under valgrind memcheck, from a normal (not sanitizer) build:
#   - the unit suites of the protocol core (core, arp, ipv4, icmp, udp,
#     sock, tcp_*), in-process (CK_FORK=no) so one valgrind sees everything;
#   - ustack-replay over every replay case;
#   - fuzz_regress over the fuzz regression inputs and a slice of the seed
#     corpus (tests/fuzz/seeds.py).
# Passes only with zero memcheck errors and zero definitely or indirectly
# lost blocks (--errors-for-leak-kinds=definite,indirect). "Still reachable"
# and "possibly lost" are not errors: the first is what exit leaves behind
# on purpose (libpcap, libcheck), the second is noisy with interior pointers.
set -u

BUILD=${1:-build}
TOP=$(cd "$(dirname "$0")/../.." && pwd)
TMP=$(mktemp -d /tmp/ustack-valgrind.XXXXXX)
trap 'rm -rf "$TMP"' EXIT INT TERM
VG="valgrind --tool=memcheck -q --error-exitcode=99 --leak-check=full \
--errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
--track-fds=no --num-callers=30"
fail=0
n=0

if ! command -v valgrind >/dev/null 2>&1; then
	echo "valgrind: not installed (apt-get install valgrind)" >&2
	exit 2
fi

run() {
	name=$1
	shift
	n=$((n + 1))
	if CK_FORK=no $VG "$@" >"$TMP/out" 2>&1; then
		echo "  PASS valgrind $name"
	else
		echo "  FAIL valgrind $name"
		grep -v '^PASS\|^  PASS\|^100%' "$TMP/out" | head -40 | sed 's/^/      /'
		fail=$((fail + 1))
	fi
}

for t in core arp ipv4 icmp udp sock tcp_fsm tcp_data tcp_opt; do
	bin=$BUILD/tests/check_$t
	[ -x "$bin" ] && run "check_$t" "$bin"
done
for conf in "$TOP"/tests/replay/cases/*/case.conf; do
	[ -f "$conf" ] || continue
	d=$(dirname "$conf")
	run "replay $(basename "$d")" "$BUILD/bin/ustack-replay" "$d"
done
if [ -x "$BUILD/tests/fuzz_regress" ]; then
	/usr/bin/python3 "$TOP/tests/fuzz/seeds.py" "$TMP/seeds" >/dev/null
	mkdir -p "$TMP/slice/frame" "$TMP/slice/seq"
	ls "$TMP/seeds/frame" | awk 'NR % 10 == 0' | while read -r f; do
		cp "$TMP/seeds/frame/$f" "$TMP/slice/frame/"
	done
	cp "$TMP/seeds/seq/"* "$TMP/slice/seq/"
	# fuzz_regress forks a child per input: follow them
	VG="$VG --trace-children=yes" run "fuzz seeds (1 in 10 frames, all sequences)" \
		"$BUILD/tests/fuzz_regress" "$TMP/slice"
	USTACK_FUZZ_SKIP_KNOWN=1 VG="$VG --trace-children=yes" \
		run "fuzz regressions" "$BUILD/tests/fuzz_regress" \
		"$TOP/tests/fuzz/regressions"
fi
echo "valgrind: $n runs, $fail failed"
[ "$fail" -eq 0 ]
