# lib.sh - what demo.sh and concept.sh share (sourced, bash): colours,
# commands shown and run in the namespace, the clock, bounded waits, and
# the clean-up of what a script started (processes by pid, the namespace,
# the temp dir). The caller sets NS, DIR and PIDS (pids it started),
# RUN_TIMEOUT (seconds a shown command may take) and defines
# gave_up WHAT (what to say and do when a wait runs out; it must exit).

if [ -t 1 ]; then B=$(printf '\033[1m'); D=$(printf '\033[2m'); N=$(printf '\033[0m'); else B='' D='' N=''; fi
note() { printf '%s%s%s\n' "$D" "$*" "$N"; }
shown() { printf '%s$ %s%s\n' "$B" "$*" "$N"; }
# Show a command as typed in the namespace, then run it there (bounded),
# output indented.
run() {
	shown "$*"
	timeout "$RUN_TIMEOUT" ip netns exec "$NS" "$@" 2>&1 | sed 's/^/  /'
}
now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }

# stop_pid PID: TERM, up to 3 s to go, then KILL.
stop_pid() {
	local p=$1 end
	kill -TERM "$p" 2>/dev/null
	end=$(($(now_ms) + 3000))
	while kill -0 "$p" 2>/dev/null && [ "$(now_ms)" -lt "$end" ]; do sleep 0.05; done
	kill -KILL "$p" 2>/dev/null
	wait "$p" 2>/dev/null
}
cleanup() {
	trap - EXIT INT TERM
	for p in $PIDS; do stop_pid "$p"; done
	ip netns del "$NS" 2>/dev/null
	rm -rf "$DIR"
}

# wait_until SECONDS WHAT CMD...: poll every 50 ms until CMD succeeds;
# gave_up WHAT at the deadline.
wait_until() {
	local end=$(($(now_ms) + $1 * 1000)) what=$2
	shift 2
	while ! "$@" >/dev/null 2>&1; do
		[ "$(now_ms)" -lt "$end" ] || gave_up "$what"
		sleep 0.05
	done
}
