#!/bin/bash
# run.sh - run the host tests: the stack as a program on a TAP device in a
# network namespace, the Linux kernel as its peer (what `make check-host`
# runs). Each test_*.sh makes and removes its own namespace.
#
# Usage: tests/host/run.sh [BUILD] [TEST...]
#   BUILD  build directory with bin/ustack-* (default build)
#   TEST   test names (test_ping_sizes or ping_sizes); default all
# Exit 0 when nothing failed (skips are counted, not failures).
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${1:-build}
shift 2>/dev/null || true
export BUILD
PER_TEST_TIMEOUT=${HOST_TEST_TIMEOUT:-300}

if [ $# -gt 0 ]; then
	tests=()
	for t in "$@"; do
		t=${t#test_}
		tests+=("tests/host/test_${t%.sh}.sh")
	done
else
	tests=(tests/host/test_*.sh)
fi

pass=0 failn=0 skipn=0 failed=""
start_all=${EPOCHREALTIME/./}
for t in "${tests[@]}"; do
	name=$(basename "$t" .sh)
	[ -f "$t" ] || { echo "FAIL $name: no such test"; failn=$((failn + 1)); continue; }
	t0=${EPOCHREALTIME/./}
	out=$(timeout -k 5 "$PER_TEST_TIMEOUT" bash "$t" 2>&1)
	rc=$?
	secs=$(( (${EPOCHREALTIME/./} - t0) / 100000 ))
	secs="$((secs / 10)).$((secs % 10))s"
	case $rc in
	0)
		pass=$((pass + 1))
		printf 'PASS %-28s %6s\n' "$name" "$secs"
		;;
	77)
		skipn=$((skipn + 1))
		printf 'SKIP %-28s %s\n' "$name" "$(printf '%s\n' "$out" | grep '^SKIP' | head -n 1)"
		;;
	*)
		failn=$((failn + 1))
		failed="$failed $name"
		[ $rc = 124 ] && out="$out
(timed out after ${PER_TEST_TIMEOUT}s)"
		printf 'FAIL %-28s %6s\n' "$name" "$secs"
		printf '%s\n' "$out" | tail -n 40 | sed 's/^/    /'
		;;
	esac
done
total=$(( (${EPOCHREALTIME/./} - start_all) / 1000000 ))
echo "host tests: $pass passed, $failn failed, $skipn skipped (${total}s)"
[ -n "$failed" ] && echo "failed:$failed"
[ $failn = 0 ]
