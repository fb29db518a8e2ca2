#!/bin/bash
# callgrind.sh BUILD - `make bench-callgrind`: instructions per byte and per
# segment of the deterministic TCP benchmark (bench_tcp: two stacks over
# memlink in virtual time), counted by valgrind --tool=callgrind with
# collection switched on only inside bench_tcp's measure_* functions. The
# same build gives the same counts on every run and every machine with the
# same compiler, so before/after comparisons need no repetitions.
#
#   BENCH_MB=16 BENCH_CONNS=500 BENCH_RR=2000 (request/response exchanges:
#   100 bytes up, 1 KiB back, on one keep-alive connection) BENCH_OFFLOAD=1 (also a run with -o: memlink
#   with checksum offload and TSO/GRO) BENCH_MTU=1500 BENCH_WAITS=2000 (a
#   bulk run next to that many TIME_WAIT timers; 0: none)
#
# Prints one table; with BENCH_KEEP=DIR the callgrind.out files are kept
# there (callgrind_annotate them to see where the instructions go).
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${1:-build}
BIN=$BUILD/tests/bench_tcp
MB=${BENCH_MB:-16}
CONNS=${BENCH_CONNS:-500}
RR=${BENCH_RR:-2000}
MTU=${BENCH_MTU:-1500}
OFFLOAD=${BENCH_OFFLOAD:-1}

command -v valgrind >/dev/null || { echo "bench-callgrind: valgrind not installed" >&2; exit 1; }
[ -x "$BIN" ] || { echo "bench-callgrind: $BIN missing (make tests)" >&2; exit 1; }
DIR=${BENCH_KEEP:-$(mktemp -d /tmp/ustack-cg.XXXXXX)}
mkdir -p "$DIR"
[ -n "${BENCH_KEEP:-}" ] || trap 'rm -rf "$DIR"' EXIT

# Callgrind counts every byte that `rep movsb` moves as one instruction,
# and glibc's memcpy switches to rep movsb above a few KiB: large copies
# would look 10x dearer than the same bytes moved in 1 KiB pieces. The
# tunable keeps memcpy on its vector loop at every size, so the counts
# reflect the work (and TSO's 64 KiB copies compare with 1448-byte ones).
export GLIBC_TUNABLES=glibc.cpu.x86_rep_movsb_threshold=2147483647

# run NAME FUNCTION ARGS...: Ir inside FUNCTION; the program's output in DIR/NAME.txt
run() {
	local name=$1 fn=$2
	shift 2
	valgrind --tool=callgrind --collect-atstart=no --toggle-collect="$fn*" \
		--callgrind-out-file="$DIR/callgrind.out.$name" \
		"$BIN" -M "$MTU" "$@" >"$DIR/$name.txt" 2>"$DIR/$name.err" || {
		echo "bench-callgrind: $name failed:" >&2
		cat "$DIR/$name.err" >&2
		exit 1
	}
	awk '/^(summary|totals):/ { print $2; exit }' "$DIR/callgrind.out.$name"
}
# field FILE KEY: value of KEY=... on the first line that has it
field() { grep -o "\b$2=[0-9.]*" "$1" | head -1 | cut -d= -f2; }
div() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "-" }'; }

printf '%-22s %14s %12s %10s %12s %10s\n' "" "instructions" "bytes" "Ir/byte" "MSS-segs" "Ir/seg"
bulk_row() {
	local name=$1 ir bytes segs
	shift
	ir=$(run "$name" measure_bulk -p bulk -m "$MB" "$@")
	bytes=$(field "$DIR/$name.txt" bytes)
	segs=$(field "$DIR/$name.txt" mss_segs)
	printf '%-22s %14s %12s %10s %12s %10s\n' "$name" "$ir" "$bytes" \
		"$(div "$ir" "$bytes")" "$segs" "$(div "$ir" "$segs")"
	sed 's/^/    /' "$DIR/$name.txt" | grep '^    bulk' >&2
}
bulk_row "bulk ${MB} MiB"
[ "$OFFLOAD" = 1 ] && bulk_row "bulk ${MB} MiB TSO" -o
[ "${BENCH_WAITS:-2000}" -gt 0 ] && bulk_row "bulk, ${BENCH_WAITS:-2000} TIME_WAITs" -w "${BENCH_WAITS:-2000}"
ir=$(run conns measure_conns -p conns -n "$CONNS")
printf '%-22s %14s %12s %10s\n' "connections" "$ir" "$CONNS" "$(div "$ir" "$CONNS") Ir/conn"
ir=$(run rr measure_rr -p rr -r "$RR")
printf '%-22s %14s %12s %10s\n' "request/response" "$ir" "$RR" "$(div "$ir" "$RR") Ir/exch"
echo "(bulk: the client sends, the server reads; both stacks and the copies in and"
echo " out of the socket API counted; MSS-segs = bytes / (MTU - 52), the 1448-byte"
echo " segments the data would take on an ordinary link; conns: connect, accept,"
echo " 42 bytes, server closes, client reads to EOF and closes; both stacks;"
echo " TIME_WAITs: the bulk run with the server's timer heap that full; rr: one"
echo " keep-alive connection, a 100-byte request read whole by the server, a"
echo " 1 KiB response read whole by the client, both stacks)"
