#!/bin/sh
# coverage.sh - line and branch coverage of stack/ and drivers/ (`make
# coverage`; gcovr from Debian).
#
# Builds everything with COVERAGE=1 (--coverage -O0, in build-cov/), then
# runs what needs no root and no network: the unit suites, the simulations,
# the replay corpus with the runner's self-tests, and the fuzz targets over
# their seed corpus and regression inputs (as plain programs). Prints the
# per-file table and the totals; writes build-cov/coverage.txt and an HTML
# report in build-cov/coverage/index.html.
#
# Environment: COV_BUILD (build-cov), COV_FAIL_UNDER (a line percentage for
# stack/ below which the run fails; default none).
set -u

TOP=$(cd "$(dirname "$0")/../.." && pwd)
B=${COV_BUILD:-build-cov}
cd "$TOP" || exit 2

if ! command -v gcovr >/dev/null 2>&1; then
	echo "coverage: gcovr not installed (apt-get install gcovr)" >&2
	exit 2
fi
# -k: a test that does not build at -O0 is reported and left out
if ! make -k --no-print-directory COVERAGE=1 BUILD="$B" all \
	"$B/tests/fuzz_regress" >"$B.make.log" 2>&1; then
	echo "coverage: some targets did not build (left out):"
	grep -E 'error|Error' "$B.make.log" | head -10 | sed 's/^/    /'
fi
[ -x "$B/bin/ustack-replay" ] || exit 2
find "$B" -name '*.gcda' -delete

echo "coverage: unit suites and simulations (SIM_SEEDS=${SIM_SEEDS:-10} seeds: -O0 is slow)"
SIM_SEEDS=${SIM_SEEDS:-10} tests/tools/run-unit.sh "$B"/tests/check_* "$B"/tests/sim_* 2>&1 |
	grep -v '^PASS' | head -40
echo "coverage: replay corpus"
tests/tools/run-replay.sh "$B" 2>&1 | grep -E '^replay|FAIL' | head -20
echo "coverage: fuzz seeds and regressions"
rm -rf "$B/seeds"
/usr/bin/python3 tests/fuzz/seeds.py "$B/seeds" >/dev/null
USTACK_FUZZ_SKIP_KNOWN=1 "$B/tests/fuzz_regress" "$B/seeds" \
	tests/fuzz/regressions | tail -1

mkdir -p "$B/coverage"
gcovr -r . --object-directory "$B/obj" "$B/obj" -f 'stack/' -f 'drivers/' \
	-e 'stack/core/stubs.c' --exclude-unreachable-branches \
	--txt "$B/coverage.txt" --html-details "$B/coverage/index.html" \
	--print-summary >"$B/coverage.summary" 2>/dev/null
gcovr -r . --object-directory "$B/obj" "$B/obj" -f 'stack/' -f 'drivers/' \
	-e 'stack/core/stubs.c' --exclude-unreachable-branches --branches \
	--txt "$B/coverage-branches.txt" 2>/dev/null
cat "$B/coverage.txt"
grep -E 'TOTAL' "$B/coverage-branches.txt" | sed 's/^TOTAL/TOTAL branches/'
stack_pct=$(gcovr -r . --object-directory "$B/obj" "$B/obj" -f 'stack/' \
	-e 'stack/core/stubs.c' --print-summary 2>/dev/null |
	sed -n 's/^lines: \([0-9.]*\)%.*/\1/p')
drv_pct=$(gcovr -r . --object-directory "$B/obj" "$B/obj" -f 'drivers/' \
	--print-summary 2>/dev/null | sed -n 's/^lines: \([0-9.]*\)%.*/\1/p')
echo "coverage: stack/ lines ${stack_pct}%, drivers/ lines ${drv_pct}%" \
	"(all: $(sed -n 's/^lines: //p' "$B/coverage.summary");" \
	"branches: $(sed -n 's/^branches: //p' "$B/coverage.summary"))"
echo "coverage: HTML report in $B/coverage/index.html"
if [ -n "${COV_FAIL_UNDER:-}" ]; then
	awk -v p="$stack_pct" -v m="$COV_FAIL_UNDER" 'BEGIN { exit !(p >= m) }' || {
		echo "coverage: stack/ below $COV_FAIL_UNDER%" >&2
		exit 1
	}
fi
