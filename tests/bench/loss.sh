#!/bin/bash
# loss.sh BUILD - the loss rows of `make bench` (run.sh calls it; it also
# runs alone). Root only; everything runs in a namespace this script makes
# and removes.
#
# The fault driver on ustack's side of its TAP drops LOSS_RATES percent of
# the frames in both directions (--fault loss=N%,seed=S,rx=1). The TAP runs
# without offloads (LOSS_OFFLOAD, default off), so every frame is one
# wire-sized packet as on a real lossy link: with TSO/GRO a frame is up to
# 64 KiB, one drop takes a whole burst, and the result depends on how each
# sender sizes its frames more than on its loss recovery. Over that link:
#   bulk:  LOSS_MB MiB (default 50; LOSS_MB_HEAVY, 10, at 10% and more)
#          once with ustack-nc sending to a kernel nc -lk (ustack is the
#          sender), once with the kernel (bench_peer -w, 64 KiB writes)
#          sending to ustack-inetd's discard port. Goodput in MB/s; ratio
#          ustack/kernel (target >= 0.9).
#   short: LOSS_SHORT_N (50) fresh connections one after another, each
#          carrying LOSS_SHORT_KB KiB (100) from a server that writes them
#          and closes, at LOSS_SHORT_RATE percent (5), and at 0% for
#          reference: the median time from connect to EOF, ms. The same
#          two long-lived programs both ways (bench_peer -s PORT BYTES
#          serving, bench_peer -f counting), only the stack differs: once
#          the server on ustack (ustack-run) and the client on the kernel,
#          once the reverse; the fault driver is on ustack's side either
#          way. Ratio ustack/kernel sender (target <= 1.1).
# The kernel sends with CUBIC (LOSS_KERNEL_CC), ustack with its default
# CUBIC; LOSS_CC=N sets ustack-nc's (--set tcp_congestion=N: 1 CUBIC,
# 0 Reno), so one build compares both.
# Prints "loss N%: ustack MB/s kernel MB/s ratio" and "short ...".
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${1:-build}
BIN=$BUILD/bin
MB=${LOSS_MB:-50}
MB_HEAVY=${LOSS_MB_HEAVY:-10}   # at 10% and more (both senders crawl there)
RATES=${LOSS_RATES-1 5 10}
SEED=${LOSS_SEED:-3}
SN=${LOSS_SHORT_N:-50}
SKB=${LOSS_SHORT_KB:-100}
SRATE=${LOSS_SHORT_RATE:-5}
CCSET=""
[ -n "${LOSS_CC:-}" ] && CCSET="--set tcp_congestion=$LOSS_CC"
OFFLOAD=${LOSS_OFFLOAD:-off}

[ "$(id -u)" = 0 ] || { echo "loss: needs root" >&2; exit 1; }
PEER=$BUILD/tests/bench_peer
for f in "$BIN/ustack-nc" "$BIN/ustack-inetd" "$BIN/ustack-run" "$PEER"; do
	[ -x "$f" ] || { echo "loss: $f missing (make all)" >&2; exit 1; }
done
A=ulo-a-$$
DIR=$(mktemp -d /tmp/ustack-loss.XXXXXX)
PIDS=""
BENCH_NAME=loss NSS="$A"
. tests/bench/lib.sh
bench_traps
ip netns add "$A" || exit 1
ip -n "$A" link set lo up
# The kernel's congestion control: CUBIC (Linux's default, and ustack's)
# unless LOSS_KERNEL_CC names another, set on the kernel's sending sockets
# (bench_peer, TCP_CONGESTION). A machine may make BBR its default (this
# one did), which does not slow down for random loss at all: a different
# contest, so it is measured only when asked for.
KCC=${LOSS_KERNEL_CC:-cubic}

stop() { kill -TERM "$1" 2>/dev/null; wait "$1" 2>/dev/null; PIDS=$(echo " $PIDS " | sed "s/ $1 / /"); }

# kernel_listener: nc -lk on 10.0.0.1:5001 in A (the TAP's host side).
kernel_listener() {
	ip netns exec "$A" timeout 900 nc -lk 5001 >/dev/null </dev/null &
	KL=$!; PIDS="$PIDS $KL"
	wait_until 5 "kernel listener" ip netns exec "$A" ss -ltn 'sport = :5001' -H
}
# inetd RATE: ustack-inetd with the fault driver (discard on port 9).
inetd() {
	ip netns exec "$A" "$BIN/ustack-inetd" --dev tap0 --offload "$OFFLOAD" --fault "loss=$1%,seed=$SEED,rx=1" >/dev/null 2>&1 &
	IN=$!; PIDS="$PIDS $IN"
	wait_until 10 inetd ip netns exec "$A" ping -c 1 -W 1 10.0.0.2
}
# unc BYTES RATE SEED: ms for ustack-nc to send BYTES to the kernel
# listener (prints "fail" on error).
unc() {
	local t0 rc
	t0=$(now_ms)
	head -c "$1" /dev/zero | timeout 300 ip netns exec "$A" "$BIN/ustack-nc" --dev tap0 \
		--offload "$OFFLOAD" --linger-exit 0 $CCSET --fault "loss=$2%,seed=$3,rx=1" 10.0.0.1 5001 >/dev/null 2>"$DIR/unc.err"
	rc=$?
	ip -n "$A" link del tap0 2>/dev/null
	if [ $rc = 0 ]; then
		echo $(($(now_ms) - t0))
	else
		echo "loss: ustack-nc failed (exit $rc): $(tail -1 "$DIR/unc.err")" >&2
		echo fail
	fi
}
# knc MIB: ms for the kernel (bench_peer -w, 64 KiB writes, $KCC) to send
# MIB MiB to ustack-inetd's discard port and see it close.
knc() {
	local t0
	t0=$(now_ms)
	timeout 300 ip netns exec "$A" env BENCH_PEER_CC="$KCC" "$PEER" -w 10.0.0.2 9 "$1" 65536 >/dev/null 2>"$DIR/knc.err" \
		&& echo $(($(now_ms) - t0)) || { echo "loss: kernel sender: $(tail -1 "$DIR/knc.err")" >&2; echo fail; }
}
mbs() { awk -v b="$1" -v m="$2" 'BEGIN { if (m == "fail" || m <= 0) print "fail"; else printf "%.1f", b / 1e6 / (m / 1000) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "fail" || b == "fail" || b <= 0) print "-"; else printf "%.2fx", a / b }'; }

for r in $RATES; do
	mb=$MB
	[ "$r" -ge 10 ] && mb=$MB_HEAVY
	BYTES=$((mb << 20))
	kernel_listener
	us=$(unc "$BYTES" "$r" "$SEED")
	stop "$KL"
	inetd "$r"
	ks=$(knc "$mb")
	stop "$IN"
	ip -n "$A" link del tap0 2>/dev/null
	u=$(mbs "$BYTES" "$us") k=$(mbs "$BYTES" "$ks")
	echo "loss $r% $mb MiB goodput MB/s: ustack $u kernel ($KCC) $k ratio $(ratio "$u" "$k")"
done

SB=$((SKB * 1024))
# at 0% too: the same flows without loss
for sr in 0 $SRATE; do
	# ustack sends: the server on ustack, the kernel's client counts
	ip netns exec "$A" timeout 600 "$BIN/ustack-run" --dev tap0 --offload "$OFFLOAD" \
		--fault "loss=$sr%,seed=$SEED,rx=1" "$PEER" -s 5002 "$SB" >/dev/null 2>&1 &
	US=$!; PIDS="$PIDS $US"
	wait_until 10 "ustack server" ip netns exec "$A" ping -c 1 -W 1 10.0.0.2
	um=$(ip netns exec "$A" timeout 300 "$PEER" -f 10.0.0.2 5002 "$SN" "$SB" 2>"$DIR/f.err" || echo fail)
	stop "$US"
	ip -n "$A" link del tap0 2>/dev/null
	# the kernel sends: its server, the client on ustack
	ip netns exec "$A" env BENCH_PEER_CC="$KCC" timeout 600 "$PEER" -s 5003 "$SB" >/dev/null 2>&1 &
	KS=$!; PIDS="$PIDS $KS"
	wait_until 5 "kernel server" ip netns exec "$A" ss -ltn 'sport = :5003' -H
	km=$(ip netns exec "$A" timeout 300 "$BIN/ustack-run" --dev tap0 --offload "$OFFLOAD" \
		--fault "loss=$sr%,seed=$SEED,rx=1" "$PEER" -f 10.0.0.1 5003 "$SN" "$SB" 2>>"$DIR/f.err" || echo fail)
	stop "$KS"
	ip -n "$A" link del tap0 2>/dev/null
	[ "$um" = fail ] || [ "$km" = fail ] && echo "loss: short flows: $(tail -1 "$DIR/f.err")" >&2
	echo "short $SKB KiB at $sr% median ms of $SN: ustack sender $um kernel sender $km ratio $(ratio "$um" "$km")"
done
