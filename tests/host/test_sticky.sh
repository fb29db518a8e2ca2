#!/bin/bash
# Sticky packets (message boundaries): ustack-rpc on two stacks, the
# server on tap0 (10.0.0.2) and the client on tap1 (10.0.1.2), the kernel
# of the namespace routing between them.
#  - framed (length-prefixed) requests survive merging (Nagle, pipelined
#    small writes), splitting (--mtu 576, 1000-byte messages) and loss
#    (--fault): every request answered in order, the server counts exactly N;
#  - the naive reader (one recv = one message) miscounts in the same runs:
#    the client exits 1 saying the boundaries were lost, and the server
#    counted a number of "messages" other than N.
# Network namespace: setup (lib.sh) creates one for this test with
# `ip netns add` and its EXIT trap deletes it; both programs and the
# routing (ip_forward inside the namespace only) live in it.
. "$(dirname "$0")/lib.sh"
require_root
require_bin rpc stat
"$BIN/ustack-rpc" --help | grep -q -- "--naive" || fail "ustack-rpc --help lacks --naive"
"$BIN/ustack-rpc" -l >/dev/null 2>&1; [ $? = 2 ] || fail "ustack-rpc -l without PORT: not a usage error"
"$BIN/ustack-rpc" -s 10 10.0.0.2 7000 >/dev/null 2>&1; [ $? = 2 ] || fail "ustack-rpc -s 10: not a usage error"
setup
nsx sysctl -q -w net.ipv4.ip_forward=1 || fail "ip_forward in the namespace"

CLIENT_CTL=$T/cctl
# run_pair NAME N SIZE [common opts...] -- [client-only opts...]
run_pair() {
	local name=$1 n=$2 size=$3 copts=() xopts=()
	shift 3
	while [ $# -gt 0 ] && [ "$1" != -- ]; do copts+=("$1"); shift; done
	[ $# -gt 0 ] && shift
	xopts=("$@")
	start_app rpc -l --once --gateway 10.0.0.1 "${copts[@]}" 7000
	wait_ready
	nsx "$BIN/ustack-rpc" --dev tap1 --addr 10.0.1.2/24 --gateway 10.0.1.1 \
		--mac 02:00:00:00:01:02 --ctl "$CLIENT_CTL" -n "$n" -s "$size" -w 20 \
		"${copts[@]}" "${xopts[@]}" 10.0.0.2 7000 \
		>"$T/$name.client.out" 2>"$T/$name.client.err"
	CLIENT_RC=$?
	wait_exit "$APP_PID" 20 "the rpc server"
	cp "$T/rpc.out" "$T/$name.server.out"
	SERVER_MSGS=$(sed -n 's/.*: \([0-9]*\) messages.*/\1/p' "$T/rpc.out")
	log "$name: client exit $CLIENT_RC: $(tail -n 1 "$T/$name.client.out" | cut -c1-90); server saw ${SERVER_MSGS:-?} messages"
	# the tap1 device goes away with the client; wait so the next run can make it again
	wait_for 5 "tap1 gone" sh -c "! ip -n $NS link show tap1"
}

# 1. Split: 1000-byte messages over a 576-byte MTU (MSS 536).
run_pair framed_split 200 1000 --mtu 576
[ "$CLIENT_RC" = 0 ] || fail "framed, mtu 576: client exit $CLIENT_RC: $(cat "$T/framed_split.client.out")"
[ "$SERVER_MSGS" = 200 ] || fail "framed, mtu 576: server counted $SERVER_MSGS messages"
run_pair naive_split 200 1000 --mtu 576 --naive
[ "$CLIENT_RC" = 1 ] || fail "naive, mtu 576: client exit $CLIENT_RC, expected 1 (boundaries lost)"
grep -q "message boundaries lost" "$T/naive_split.client.out" || fail "naive client did not say why"
[ "$SERVER_MSGS" != 200 ] || fail "naive, mtu 576: the server counted all 200 messages (no split seen?)"

# 2. Merge: 300 small pipelined writes, Nagle on.
run_pair framed_merge 300 40
[ "$CLIENT_RC" = 0 ] || fail "framed, small writes: client exit $CLIENT_RC"
[ "$SERVER_MSGS" = 300 ] || fail "framed, small writes: server counted $SERVER_MSGS"
run_pair naive_merge 300 40 --naive
[ "$CLIENT_RC" = 1 ] || fail "naive, small writes: client exit $CLIENT_RC, expected 1"
[ "$SERVER_MSGS" -lt 300 ] || fail "naive, small writes: server counted $SERVER_MSGS, expected fewer than 300 (merged)"

# 3. Loss: the framed reader does not care how retransmissions cut the stream.
run_pair framed_loss 200 700 -- --fault loss=5%,seed=3
[ "$CLIENT_RC" = 0 ] || fail "framed under 5% loss: client exit $CLIENT_RC: $(cat "$T/framed_loss.client.out")"
[ "$SERVER_MSGS" = 200 ] || fail "framed under loss: server counted $SERVER_MSGS"
log "pass"
