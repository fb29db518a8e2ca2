# shellcheck shell=bash
# lib.sh - what the benchmark scripts share (sourced): a clock, a bounded
# wait, and the clean-up that ends the processes a script started (by pid)
# and deletes the network namespaces it made.
#
# The sourcing script sets BENCH_NAME (for messages), NSS (its namespaces),
# DIR (a temporary directory, removed at exit) and adds the pids it starts
# to PIDS; then calls bench_traps.

PIDS=${PIDS:-}

now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }

# End every process in PIDS (TERM, then KILL after 3 s), delete NSS, DIR.
bench_cleanup() {
	trap - EXIT
	for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done
	for p in $PIDS; do
		local end=$(($(now_ms) + 3000))
		while kill -0 "$p" 2>/dev/null && [ "$(now_ms)" -lt "$end" ]; do sleep 0.05; done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	for n in $NSS; do ip netns del "$n" 2>/dev/null; done
	[ -n "${DIR:-}" ] && rm -rf "$DIR"
}

bench_traps() {
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
}

# wait_until SECONDS WHAT CMD...: until CMD succeeds; exits at the deadline.
wait_until() {
	local end=$(($(now_ms) + $1 * 1000)) what=$2
	shift 2
	while ! "$@" >/dev/null 2>&1; do
		[ "$(now_ms)" -lt "$end" ] || { echo "$BENCH_NAME: timed out waiting for $what" >&2; exit 1; }
		sleep 0.02
	done
}
