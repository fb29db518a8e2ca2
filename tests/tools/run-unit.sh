#!/bin/sh
# Run test binaries (Check suites, simulations); report each, fail if any did.
# Usage: run-unit.sh BIN...
set -u
fail=0
for t in "$@"; do
	name=$(basename "$t")
	if out=$("$t" 2>&1); then
		printf 'PASS %s: %s\n' "$name" "$(printf '%s\n' "$out" | tail -n 1)"
	else
		printf 'FAIL %s\n%s\n' "$name" "$out"
		fail=1
	fi
done
exit $fail
