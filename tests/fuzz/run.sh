#!/bin/sh
# run.sh SECONDS - what `make fuzz FUZZ_SECONDS=N` runs.
#
# Builds the libFuzzer targets (make fuzz-build: clang, ASan+UBSan, in
# build-fuzz/), writes the seed corpora (tests/fuzz/seeds.py), and runs each
# target for SECONDS. The growing corpus stays in build-fuzz/corpus/ (or
# FUZZ_CORPUS: `make fuzz-long` keeps it in tests/fuzz/corpus-long/) between
# runs. At the end: the executions of each target. Any crash, leak, timeout or sanitizer report fails the run; the input
# that caused it is copied to tests/fuzz/regressions/<target>/ (commit it:
# `make check` replays it from then on, see tests/fuzz/README.md).
#
# Environment: FUZZ_BUILD (build-fuzz), FUZZ_TARGETS ("frame seq api"),
# FUZZ_CORPUS (FUZZ_BUILD/corpus), FUZZ_NICE=1 to run the targets under
# nice (one core, low priority),
# FUZZ_SKIP_KNOWN=1 to look past the known, unfixed findings listed in
# tests/fuzz/harness.c (exploratory runs only; CI runs without it).
set -u

SECONDS_EACH=${1:-60}
TOP=$(cd "$(dirname "$0")/../.." && pwd)
FB=${FUZZ_BUILD:-build-fuzz}
TARGETS=${FUZZ_TARGETS:-frame seq api}
CORPUS=${FUZZ_CORPUS:-$FB/corpus}
NICE=
[ -n "${FUZZ_NICE:-}" ] && NICE="nice -n 19"
summary=
cd "$TOP" || exit 2

if ! command -v clang >/dev/null 2>&1; then
	echo "fuzz: clang not found (apt-get install clang; as root, make deps)" >&2
	exit 2
fi
make --no-print-directory FUZZ_BUILD="$FB" fuzz-build || exit 2
rm -rf "$FB/seeds"
/usr/bin/python3 tests/fuzz/seeds.py "$FB/seeds" || exit 2

fail=0
for t in $TARGETS; do
	corpus="$CORPUS/$t"
	art="$FB/artifacts/$t"
	mkdir -p "$corpus" "$art" "tests/fuzz/regressions/$t"
	rm -f "$art"/*
	case $t in
	frame) maxlen=4096 ;;
	*) maxlen=16384 ;;
	esac
	echo "fuzz: $t for $SECONDS_EACH s"
	USTACK_FUZZ_SKIP_KNOWN=${FUZZ_SKIP_KNOWN:+1} \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		$NICE "$FB/fuzz_$t" -max_total_time="$SECONDS_EACH" -timeout=10 \
		-rss_limit_mb=2048 -max_len=$maxlen -print_final_stats=1 \
		-artifact_prefix="$art/" "$corpus" "$FB/seeds/$t" \
		>"$FB/fuzz_$t.log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$FB/fuzz_$t.log")
	cov=$(grep -o 'cov: [0-9]*' "$FB/fuzz_$t.log" | tail -1)
	found=$(ls "$art" 2>/dev/null | wc -l)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$FB/fuzz_$t.log")
	summary="$summary$(printf '  %-6s %12s executions  %6s/s  %s  corpus %s' \
		"$t" "${runs:-?}" "${rate:-?}" "${cov:-cov: ?}" \
		"$(ls "$corpus" | wc -l)")
"
	if [ "$rc" -ne 0 ] || [ "$found" -gt 0 ]; then
		echo "fuzz: $t FAILED (exit $rc) after ${runs:-?} runs; log: $FB/fuzz_$t.log"
		grep -m 20 -E 'ERROR|SUMMARY|runtime error|fuzz harness|assertion' \
			"$FB/fuzz_$t.log" | sed 's/^/    /'
		for a in "$art"/*; do
			[ -f "$a" ] || continue
			cp "$a" "tests/fuzz/regressions/$t/"
			echo "    saved tests/fuzz/regressions/$t/$(basename "$a")"
		done
		fail=1
	else
		echo "fuzz: $t ok: ${runs:-?} runs, ${cov:-cov: ?} edges, no crash"
	fi
done
echo "fuzz: executions per target ($SECONDS_EACH s each):"
printf '%s' "$summary"
exit $fail
