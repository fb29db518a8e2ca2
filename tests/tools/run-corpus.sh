#!/bin/sh
# Feed every frame of the real-world capture corpus (tests/corpus/pcap)
# through a stack: build and run the check_corpus suite of BUILD_DIR.
# Under a sanitizer build (SANITIZE=1, or a build directory named *san*)
# the run is the ASan+UBSan proof: any report fails it.
# Usage: run-corpus.sh [BUILD_DIR]     (make check-corpus passes $(BUILD))
# Environment: USTACK_CORPUS_ONLY=NAME to run matching captures only,
# USTACK_CORPUS_VERBOSE=1 for a line per capture.
set -eu
build=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
san=${SANITIZE:-0}
case "$(basename "$build")" in *san*) san=1 ;; esac
make --no-print-directory BUILD="$build" SANITIZE="$san" \
	"$build/tests/check_corpus"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export USTACK_CORPUS_DIR="${USTACK_CORPUS_DIR:-$root/tests/corpus/pcap}"
start=$(date +%s)
status=0
timeout 600 "$build/tests/check_corpus" || status=$?
echo "corpus: $(( $(date +%s) - start )) s$( [ "$san" = 1 ] && echo ' (ASan+UBSan)')"
if [ "$status" != 0 ]; then
	echo "corpus: FAILED (exit $status)" >&2
	exit 1
fi
