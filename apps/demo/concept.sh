#!/bin/bash
# concept.sh - one networking concept, shown on a live ustack in a network
# namespace of its own (docs/concepts.md is the guide to each).
#
# Usage: apps/demo/concept.sh NAME [BUILD]     (root; BUILD default build)
#        apps/demo/concept.sh list
#
# Each concept makes its namespace (ustk-cpt-NAME-PID), starts the programs
# it needs on TAP devices inside it (the kernel of the namespace is the
# peer), runs the example, prints what to look at (trace lines, counters,
# tcpdump of the capture, pictures when build/bin/ustack-draw exists) and
# the code that does it, then removes everything it started. Captures and
# pictures stay in BUILD/concepts/NAME/. Nothing touches the host's own
# network. Lines starting with "=>" are the results (tests/host/
# test_concepts.sh checks them).
set -u
cd "$(dirname "$0")/../.." || exit 1
NAME=${1:-}
BUILD=${2:-build}
BIN=$BUILD/bin
PY=/usr/bin/python3
US=10.0.0.2
KS=10.0.0.1
CONCEPTS="layers handshake waits closing rst shutdown arp loss sticky iomodels firewall lb"

usage() {
	echo "Usage: $0 NAME [BUILD]   NAME: one of: $CONCEPTS" >&2
	echo "       $0 list" >&2
	exit 2
}
[ -n "$NAME" ] || usage
if [ "$NAME" = list ]; then
	echo "$CONCEPTS" | tr ' ' '\n'
	exit 0
fi
case " $CONCEPTS " in *" $NAME "*) ;; *) usage ;; esac
if [ "$(id -u)" != 0 ]; then
	echo "concept: needs root (a network namespace and TAP devices): sudo $0 $NAME" >&2
	exit 1
fi
[ -x "$BIN/ustack-inetd" ] || { echo "concept: no $BIN/ustack-inetd; run make first" >&2; exit 1; }

NS=ustk-cpt-$NAME-$$
DIR=$(mktemp -d /tmp/ustack-concept.XXXXXX)
OUT=$BUILD/concepts/$NAME
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
PIDS=""
RUN_TIMEOUT=20
. apps/demo/lib.sh

say() { printf '\n%s== %s%s\n' "$B" "$*" "$N"; }
look() { printf '%slook at:%s %s\n' "$B" "$N" "$*"; }
code() { printf '%scode:%s %s\n' "$B" "$N" "$*"; }
result() { printf '=> %s\n' "$*"; }
nsx() { ip netns exec "$NS" "$@"; }
die() {
	echo "concept $NAME: $*" >&2
	for f in "$DIR"/*.log; do [ -s "$f" ] && { echo "--- $f" >&2; tail -n 8 "$f" >&2; }; done
	exit 1
}

trap cleanup EXIT
trap 'echo "concept: interrupted"; exit 130' INT TERM

gave_up() { die "gave up waiting for $1"; }

# bg NAME CMD...: run CMD in the namespace in the background, output in
# $DIR/NAME.log; its pid in LAST_PID.
bg() {
	local name=$1
	shift
	ip netns exec "$NS" "$@" >"$DIR/$name.log" 2>&1 </dev/null 3>&- &
	LAST_PID=$!
	PIDS="$PIDS $LAST_PID"
}
# stop NAME PID: stop one background program (SIGTERM), forget its pid.
stop() {
	stop_pid "$1"
	PIDS=$(echo " $PIDS " | sed "s/ $1 / /")
}
ping_us() { nsx ping -c 1 -W 1 "${1:-$US}"; }
# A stack answering on tap0 (or $2) with its control socket at $1.
wait_stack() {
	wait_until 10 "control socket $1" test -S "$1"
	wait_until 10 "a ping answered by ${2:-$US}" ping_us "${2:-$US}"
}
# A kernel-side listener on PORT in the namespace.
listening() { ip netns exec "$NS" ss -ltn | grep -q ":$1 "; }
stat_of() { "$BIN/ustack-stat" "$1" stats "$2" | awk -v n="$2" '$1 == n { print $2 }'; }

# draw KIND ARGS...: a picture by ustack-draw when this build has it.
draw() {
	local kind=$1
	shift
	if [ -x "$BIN/ustack-draw" ]; then
		shown "ustack-draw $kind $*"
		if "$BIN/ustack-draw" "$kind" "$@" >"$DIR/draw.log" 2>&1; then
			look "the picture: $(echo "$@" | sed 's/.*-o //') (open it in a browser)"
		else
			note "ustack-draw failed: $(tail -n 1 "$DIR/draw.log")"
		fi
	else
		note "(no $BIN/ustack-draw in this build: with it, 'ustack-draw $kind $*' draws this)"
	fi
}

ns_up() {
	say "A network namespace of our own: $NS"
	ip netns add "$NS" || exit 1
	ip -n "$NS" link set lo up
}

# ---- the concepts -------------------------------------------------------------

c_layers() {
	say "Layers: one frame through Ethernet, IPv4 and TCP to the socket"
	bg inetd "$BIN/ustack-inetd" --dev tap0 --pcap "$OUT/layers.pcap" \
		--ctl "$DIR/ctl" --log trace
	wait_stack "$DIR/ctl"
	shown "echo 'one frame' | nc -N $US 7"
	echo "one frame" | timeout 5 ip netns exec "$NS" nc -N "$US" 7 | sed 's/^/  /'
	"$BIN/ustack-stat" "$DIR/ctl" stats >"$DIR/stats.txt"
	stop "$LAST_PID"
	note "The frame that carried 'one frame' to the stack, layer by layer"
	note "(-e Ethernet header, -v IPv4 fields, -X the bytes):"
	shown "tcpdump -e -v -X -n -r $OUT/layers.pcap -c 1 'tcp dst port 7 and tcp[tcpflags] & tcp-push != 0'"
	tcpdump -e -v -X -n -r "$OUT/layers.pcap" -c 1 \
		'tcp dst port 7 and tcp[tcpflags] & tcp-push != 0' 2>/dev/null | tee "$DIR/frame.txt" | sed 's/^/  /'
	grep -q "ethertype IPv4" "$DIR/frame.txt" && grep -q "Flags \[P.\]" "$DIR/frame.txt" &&
		result "frame: Ethernet (ethertype IPv4) > IPv4 (proto TCP) > TCP (Flags [P.]) > 10 bytes for the socket"
	note "The stack's own trace of the same segment (--log trace, one line per segment):"
	grep -m 2 "tcp in .*:7 \[P" "$DIR/inetd.log" | sed 's/^/  /'
	grep -q "tcp in .*:7 \[P" "$DIR/inetd.log" && result "trace: tcp in ... [P.] at the TCP layer"
	look "counters one per layer (ustack-stat PATH stats):"
	grep -E "^(eth\.rx|ip4\.rx|ip4\.rx_delivered|tcp\.rx) " "$DIR/stats.txt" | sed 's/^/  /'
	result "eth.rx $(awk '$1=="eth.rx"{print $2}' "$DIR/stats.txt") >= ip4.rx $(awk '$1=="ip4.rx"{print $2}' "$DIR/stats.txt") >= tcp.rx $(awk '$1=="tcp.rx"{print $2}' "$DIR/stats.txt")"
	code "drivers/tap.c (read the frame) -> stack/core/stack.c ustack_poll_dev -> stack/proto/eth.c eth_input -> stack/proto/ipv4.c ip4_input/ip4_rcv -> stack/proto/tcp_in.c tcp_input, tcp_rcv_established, step_text -> stack/proto/tcp_buf.c (receive ring) -> stack/sock/sock.c ustack_recv"
}

# Trace lines "A -> B" of a log: the states named in them.
states_of() { grep -ohE '[A-Z_0-9]+ -> [A-Z_0-9]+' "$@" | tr ' ' '\n' | grep -v -- '->' | sort -u; }

c_handshake() {
	say "Handshake and teardown: every TCP state a real connection goes through"
	bg inetd "$BIN/ustack-inetd" --dev tap0 --pcap "$OUT/handshake.pcap" \
		--ctl "$DIR/ctl" --trace
	local inetd=$LAST_PID
	wait_stack "$DIR/ctl"
	note "1. daytime (13): the server (the stack) closes first -> it goes through FIN_WAIT_1, FIN_WAIT_2, TIME_WAIT"
	run nc -d "$US" 13
	note "2. echo (7): the client (the kernel) closes first -> the stack goes CLOSE_WAIT, LAST_ACK"
	shown "echo hello | nc -N $US 7"
	echo hello | timeout 5 ip netns exec "$NS" nc -N "$US" 7 | sed 's/^/  /'
	note "3. the stack opens a connection (SYN_SENT): ustack-nc on tap1 (10.0.1.2) to a kernel listener"
	bg listener "$PY" -c 'import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 5000)); s.listen(1); s.settimeout(15)
c, _ = s.accept(); c.settimeout(5)
while c.recv(100): pass
c.close()'
	wait_until 10 "the kernel listener" listening 5000
	shown "echo hi | ustack-nc --dev tap1 --addr 10.0.1.2/24 --trace 10.0.1.1 5000"
	echo hi | timeout 15 ip netns exec "$NS" "$BIN/ustack-nc" --dev tap1 --addr 10.0.1.2/24 --trace \
		10.0.1.1 5000 >"$DIR/nc.log" 2>&1 || die "ustack-nc to the kernel failed"
	sleep 0.2
	stop "$inetd"
	look "the transitions, as --trace logged them (file $OUT/trace.log):"
	grep -hE -- '-> ' "$DIR/inetd.log" "$DIR/nc.log" | grep -v "0.0.0.0:" | tee "$OUT/trace.log" | sed 's/^/  /'
	local st
	st=$(states_of "$DIR/inetd.log" "$DIR/nc.log")
	result "states seen: $(echo "$st" | wc -l) of 11: $(echo "$st" | tr '\n' ' ')"
	note "CLOSING (both sides close at once) needs the two FINs to cross: see 'concept.sh closing'."
	look "the segments: tcpdump -n -r $OUT/handshake.pcap 'tcp port 13'"
	tcpdump -n -r "$OUT/handshake.pcap" 'tcp port 13' 2>/dev/null | cut -c 17- | sed 's/^/  /'
	draw ladder --pcap "$OUT/handshake.pcap" --trace "$OUT/trace.log" --port 13 -o "$OUT/handshake-ladder.svg"
	draw states -o "$OUT/states.svg"
	code "stack/proto/tcp_fsm.c tcp_set_state (every transition, the table tcp_transition_ok); stack/proto/tcp_listen.c listen_syn (SYN -> SYN_RCVD); stack/proto/tcp_in.c rcv_syn_sent, ack_syn_rcvd, step_fin; stack/proto/tcp_fsm.c tcp_close_send (close -> FIN_WAIT_1/LAST_ACK), tcp_enter_time_wait; docs/tcp.md"
}

c_waits() {
	say "TIME_WAIT and CLOSE_WAIT, held on purpose"
	bg inetd "$BIN/ustack-inetd" --dev tap0 --ctl "$DIR/ctl" --trace
	wait_stack "$DIR/ctl"
	note "TIME_WAIT is on the side that closed first. daytime: the stack closes first."
	run nc -d "$US" 13
	tw() { "$BIN/ustack-stat" "$DIR/ctl" conns | grep -E "$US:13 .*TIME_WAIT"; }
	wait_until 5 "TIME_WAIT" tw
	sleep 1
	shown "ustack-stat \$CTL conns   (a second later)"
	"$BIN/ustack-stat" "$DIR/ctl" conns | sed 's/^/  /'
	tw >/dev/null && result "TIME_WAIT held by the stack for $US:13 (2*MSL = 60 s by default, cfg.tcp_msl_us)"
	note "Why: a late duplicate of the old connection must not land in a new one with the"
	note "same four numbers (RFC 9293 3.6), and our last ACK may need resending if the FIN comes again."
	note ""
	note "CLOSE_WAIT is the side that was told 'no more data' and has not closed yet:"
	note "ustack-nc -K -l 5000 on tap1 keeps its stdin (a FIFO) open after the peer's FIN."
	mkfifo "$DIR/fifo"
	ip netns exec "$NS" "$BIN/ustack-nc" --dev tap1 --addr 10.0.1.2/24 --ctl "$DIR/ctl1" \
		--trace -K -l 5000 <"$DIR/fifo" >"$DIR/nc.log" 2>&1 &
	local nc=$!
	PIDS="$PIDS $nc"
	exec 3>"$DIR/fifo"
	wait_stack "$DIR/ctl1" 10.0.1.2
	bg client "$PY" -c 'import socket
s = socket.create_connection(("10.0.1.2", 5000), timeout=20)
s.sendall(b"hello\n"); s.shutdown(socket.SHUT_WR)
d = b""
while True:
    b = s.recv(100)
    if not b: break
    d += b
print("client got %r after its own FIN" % d)'
	local client=$LAST_PID
	cw() { "$BIN/ustack-stat" "$DIR/ctl1" conns | grep -E ":5000 .*CLOSE_WAIT"; }
	wait_until 10 "CLOSE_WAIT" cw
	sleep 1
	shown "ustack-stat \$CTL1 conns; ss -tan (the kernel side)"
	"$BIN/ustack-stat" "$DIR/ctl1" conns | sed 's/^/  /'
	nsx ss -tan | grep ":5000" | sed 's/^/  /'
	cw >/dev/null && result "CLOSE_WAIT held by the stack while the program keeps its input open; the kernel waits in $(nsx ss -tan | grep -o 'FIN-WAIT-2' | head -n 1)"
	echo bye >&3
	exec 3>&-
	wait_until 10 "the client to finish" sh -c "! kill -0 $client"
	sed 's/^/  /' "$DIR/client.log"
	grep -E "CLOSE_WAIT -> LAST_ACK|LAST_ACK -> CLOSED" "$DIR/nc.log" | sed 's/^/  /'
	grep -q "LAST_ACK -> CLOSED" "$DIR/nc.log" && result "closed at last: CLOSE_WAIT -> LAST_ACK -> CLOSED"
	look "many CLOSE_WAIT in 'ss'/'ustack-stat conns' means a program that forgets to close()"
	code "stack/proto/tcp_in.c step_fin (FIN -> CLOSE_WAIT / TIME_WAIT); stack/proto/tcp_fsm.c tcp_enter_time_wait; stack/proto/tcp_timer.c tcp_wait_arm, wait_fire (2*MSL); stack/proto/tcp_fsm.c tcp_close_send (close() in CLOSE_WAIT -> LAST_ACK)"
}

c_closing() {
	say "Simultaneous close: both ends send FIN before either sees the other's (CLOSING)"
	note "The two FINs must cross on the wire, which a real kernel peer does only by luck;"
	note "the conformance script plays the peer segment by segment in virtual time:"
	shown "cat tests/tcp/close-simultaneous.pkt"
	sed 's/^/  /' tests/tcp/close-simultaneous.pkt
	[ -x "$BUILD/tests/check_tcp_conform" ] || die "no $BUILD/tests/check_tcp_conform (make all)"
	shown "TCPSCRIPT_ONLY=close-simultaneous $BUILD/tests/check_tcp_conform"
	TCPSCRIPT_ONLY=close-simultaneous.pkt "$BUILD/tests/check_tcp_conform" 2>&1 | tee "$DIR/run.log" | sed 's/^/  /'
	grep -q "100%" "$DIR/run.log" && result "FIN_WAIT_1 -> CLOSING (their FIN, our FIN not yet acked) -> TIME_WAIT (the ACK): script passes"
	look "the lines '> F.' (our FIN), '< F.' (theirs, acking nothing new), 'state() = CLOSING'"
	note "With this state the stack has taken all eleven: see 'concept.sh handshake' for the other ten."
	code "stack/proto/tcp_in.c step_fin (FIN in FIN_WAIT_1 -> CLOSING), ack_closing_states (CLOSING -> TIME_WAIT); stack/proto/tcp_fsm.c tcp_transition_ok; tests/tcp/close-simultaneous.pkt"
}

c_rst() {
	say "RST: nobody listens on the port"
	bg inetd "$BIN/ustack-inetd" --dev tap0 --pcap "$OUT/rst.pcap" --ctl "$DIR/ctl"
	wait_stack "$DIR/ctl"
	shown "python3: socket.create_connection(('$US', 5555))"
	nsx "$PY" -c "import socket, time
t = time.monotonic()
try:
    socket.create_connection(('$US', 5555), timeout=5)
    print('connected?!')
except ConnectionRefusedError as e:
    print('%s after %.1f ms' % (e, (time.monotonic() - t) * 1000))" 2>&1 | tee "$DIR/client.txt" | sed 's/^/  /'
	local drop
	drop=$(stat_of "$DIR/ctl" tcp.drop_no_conn)
	stop "$LAST_PID"
	look "the capture: tcpdump -n -r $OUT/rst.pcap 'tcp port 5555'"
	tcpdump -n -r "$OUT/rst.pcap" 'tcp port 5555' 2>/dev/null | cut -c 17- | tee "$DIR/pcap.txt" | sed 's/^/  /'
	grep -q "Connection refused" "$DIR/client.txt" && grep -q "Flags \[R.\]" "$DIR/pcap.txt" &&
		result "SYN answered by RST/ACK (ack = their seq + 1): the client sees 'Connection refused' at once"
	result "counter tcp.drop_no_conn = $drop"
	note "(A closed UDP port answers ICMP port unreachable instead: udp_input -> icmp_send_error.)"
	code "stack/proto/tcp_in.c tcp_input (no connection, no listener) -> tcp_reply_rst (RFC 9293 3.10.7.1) -> stack/proto/tcp_out.c tcp_send_raw"
}

c_shutdown() {
	say "close vs shutdown: half-close keeps the other direction open"
	bg server "$PY" -c 'import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 5000)); s.listen(1); s.settimeout(15)
c, _ = s.accept(); c.settimeout(10)
d = b""
while True:
    b = c.recv(100)
    if not b: break
    d += b
print("server: read %r, then the client FIN (EOF)" % d, flush=True)
time.sleep(0.5)
c.sendall(b"answer sent after your FIN\n")
c.close()'
	wait_until 10 "the kernel server" listening 5000
	note "ustack-nc sends its stdin, then shutdown(SHUT_WR) (FIN) and keeps reading:"
	shown "echo question | ustack-nc --dev tap0 --trace --pcap $OUT/shutdown.pcap $KS 5000"
	echo question | timeout 15 ip netns exec "$NS" "$BIN/ustack-nc" --dev tap0 --trace \
		--pcap "$OUT/shutdown.pcap" "$KS" 5000 >"$DIR/nc.out" 2>"$DIR/nc.log"
	sed 's/^/  /' "$DIR/nc.out"
	sed 's/^/  /' "$DIR/server.log"
	look "the stack's states: FIN_WAIT_2 while the answer is still coming"
	grep -E -- '-> (FIN_WAIT|TIME_WAIT)' "$DIR/nc.log" | sed 's/^/  /'
	grep -q "answer sent after your FIN" "$DIR/nc.out" && grep -q "FIN_WAIT_1 -> FIN_WAIT_2" "$DIR/nc.log" &&
		result "half-close: data arrived in FIN_WAIT_2, after our FIN"
	note ""
	note "close() instead says 'I will read nothing more': data that arrives after it (or"
	note "is left unread) makes the closing side reset the connection (RFC 9293 3.10.4, RFC 2525 2.17)."
	bg inetd "$BIN/ustack-inetd" --dev tap0 --pcap "$OUT/close.pcap" --ctl "$DIR/ctl" --trace
	wait_stack "$DIR/ctl"
	shown "python3: connect to chargen (19), read 100 bytes, close() with more unread"
	nsx "$PY" -c "import socket, time
s = socket.create_connection(('$US', 19), timeout=5)
s.recv(100); time.sleep(0.2); s.close(); print('closed with unread data')" 2>&1 | sed 's/^/  /'
	rstd() { grep -q ":19 .*ESTABLISHED -> CLOSED (RST)" "$DIR/inetd.log"; }
	wait_until 5 "the RST at the stack" rstd
	stop "$LAST_PID"
	grep -E ":19 .*-> CLOSED" "$DIR/inetd.log" | sed 's/^/  /'
	tcpdump -n -r "$OUT/close.pcap" 'tcp port 19 and tcp[tcpflags] & tcp-rst != 0' 2>/dev/null | cut -c 17- | head -n 2 | sed 's/^/  /'
	result "close() with unread data: the kernel sent RST, the stack went ESTABLISHED -> CLOSED (RST)"
	code "stack/proto/tcp_sock.c tcp_sock_shutdown (SHUT_WR -> FIN, reading goes on); stack/proto/tcp_fsm.c tcp_close_send; stack/proto/tcp_in.c step_rst; apps/nc.c (shutdown at end of stdin)"
}

c_arp() {
	say "ARP: the broadcast question and the unicast answer"
	bg inetd "$BIN/ustack-inetd" --dev tap0 --pcap "$OUT/arp.pcap" --ctl "$DIR/ctl"
	wait_stack "$DIR/ctl"
	run ip neigh flush dev tap0
	run ping -c 1 -W 1 "$US"
	run ip neigh show dev tap0
	shown "ustack-stat \$CTL arp"
	"$BIN/ustack-stat" "$DIR/ctl" arp | sed 's/^/  /'
	stop "$LAST_PID"
	look "tcpdump -e -n -r $OUT/arp.pcap arp   (-e: the Ethernet addresses)"
	tcpdump -e -n -r "$OUT/arp.pcap" arp 2>/dev/null | cut -c 17- | tee "$DIR/arp.txt" | sed 's/^/  /'
	grep -q "> ff:ff:ff:ff:ff:ff.*Request who-has $US tell $KS" "$DIR/arp.txt" &&
		result "question: broadcast to ff:ff:ff:ff:ff:ff 'who-has $US tell $KS'"
	grep -q "02:00:00:00:00:02 > [0-9a-f:]*, .*Reply $US is-at 02:00:00:00:00:02" "$DIR/arp.txt" &&
		result "answer: unicast from 02:00:00:00:00:02 '$US is-at 02:00:00:00:00:02'"
	note "The first line is the stack's gratuitous ARP at start (who-has its own address):"
	note "nobody answers unless the address is taken (RFC 5227)."
	code "stack/proto/arp.c arp_input -> arp_process -> arp_reply (answer), arp_resolve/arp_solicit (our own questions, queued packets), arp_announce (gratuitous), ustack_arp_list"
}

c_loss() {
	say "TCP vs UDP under the same loss: --fault loss=5%,rx=1 on the receiving stack (both directions)"
	head -c 262144 /dev/urandom >"$DIR/file"
	local want
	want=$(sha256sum "$DIR/file" | cut -c1-16)
	note "The kernel sends one 256 KiB file to ustack-nc, once over TCP, once as 256 UDP"
	note "datagrams of 1 KiB; the stack drops 5% of the frames it receives."
	shown "ustack-nc --fault loss=5%,rx=1,seed=7 --offload off --pcap $OUT/tcp.pcap -d -l 9001 > tcp.out"
	ip netns exec "$NS" "$BIN/ustack-nc" --dev tap0 --ctl "$DIR/ctl" --fault loss=5%,rx=1,seed=7 --offload off \
		--pcap "$OUT/tcp.pcap" -d -l 9001 >"$DIR/tcp.out" 2>"$DIR/nctcp.log" &
	local nc=$!
	PIDS="$PIDS $nc"
	wait_until 10 "control socket" test -S "$DIR/ctl"
	wait_until 10 "tap0 up" nsx ping -c 1 -W 1 "$US"
	nsx "$PY" -c "import socket, sys
s = socket.create_connection(('$US', 9001), timeout=20)
s.sendall(open('$DIR/file', 'rb').read()); s.close()" || die "TCP sender failed"
	wait_until 20 "ustack-nc (TCP) to finish" sh -c "! kill -0 $nc"
	PIDS=$(echo " $PIDS " | sed "s/ $nc / /")
	local tb tsha rtx
	tb=$(stat -c %s "$DIR/tcp.out")
	tsha=$(sha256sum "$DIR/tcp.out" | cut -c1-16)
	rtx=$(tshark -r "$OUT/tcp.pcap" -Y 'tcp.analysis.retransmission or tcp.analysis.fast_retransmission' 2>/dev/null | wc -l)
	result "TCP: $tb of 262144 bytes, sha256 $tsha ($([ "$tsha" = "$want" ] && echo matches || echo DIFFERS)), $rtx retransmissions in the capture"
	shown "ustack-nc -u --fault loss=5%,rx=1,seed=7 --offload off -w 3 -l 9000 > udp.out"
	rm -f "$DIR/ctl"
	ip netns exec "$NS" "$BIN/ustack-nc" --dev tap0 --ctl "$DIR/ctl" --fault loss=5%,rx=1,seed=7 --offload off \
		--pcap "$OUT/udp.pcap" -u -w 3 -l 9000 </dev/null >"$DIR/udp.out" 2>"$DIR/ncudp.log" &
	nc=$!
	PIDS="$PIDS $nc"
	wait_until 10 "control socket" test -S "$DIR/ctl"
	wait_until 10 "tap0 up" nsx ping -c 1 -W 1 "$US"
	nsx "$PY" -c "import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
d = open('$DIR/file', 'rb').read()
for i in range(0, len(d), 1024):
    s.sendto(d[i:i + 1024], ('$US', 9000)); time.sleep(0.001)" || die "UDP sender failed"
	wait_until 20 "ustack-nc (UDP) to finish" sh -c "! kill -0 $nc"
	PIDS=$(echo " $PIDS " | sed "s/ $nc / /")
	local ub usha
	ub=$(stat -c %s "$DIR/udp.out")
	usha=$(sha256sum "$DIR/udp.out" | cut -c1-16)
	result "UDP: $((ub / 1024)) of 256 datagrams ($ub of 262144 bytes), sha256 $usha ($([ "$usha" = "$want" ] && echo matches || echo "DIFFERS: holes"))"
	note "TCP numbers every byte and resends what was not acknowledged, so the file arrives"
	note "whole, later; UDP hands over each datagram that arrived and nothing else."
	look "tshark -r $OUT/tcp.pcap -Y tcp.analysis.retransmission ; counters tcp.retrans_segs/tcp.ooo_segs"
	draw tseq --pcap "$OUT/tcp.pcap" --port 9001 -o "$OUT/loss-tseq.svg"
	code "drivers/fault.c fault_decide (the seeded loss); stack/proto/tcp_in.c step_text (out-of-order queue), stack/proto/tcp_cc.c tcp_cc_dupack/tcp_sack_update (fast retransmit, SACK); stack/proto/tcp_timer.c rtx_timeout (RTO); stack/proto/udp.c udp_input (no retransmission)"
}

c_sticky() {
	say "Sticky packets: TCP is a byte stream; the application draws the message boundaries"
	nsx sysctl -q -w net.ipv4.ip_forward=1
	note "ustack-rpc server on tap0 (10.0.0.2), client on tap1 (10.0.1.2); the namespace's"
	note "kernel routes between them. MTU 576 (MSS 536): each 1000-byte request takes 2 segments,"
	note "and the client writes its 200 requests back to back (Nagle merges them)."
	for mode in naive framed; do
		local extra=""
		[ $mode = naive ] && extra=--naive
		rm -f "$DIR/ctl" "$DIR/ctl1"
		# shellcheck disable=SC2086
		bg server "$BIN/ustack-rpc" --dev tap0 --gateway "$KS" --mtu 576 --ctl "$DIR/ctl" \
			-l --once $extra 7000
		local server=$LAST_PID
		wait_stack "$DIR/ctl"
		shown "ustack-rpc --dev tap1 --addr 10.0.1.2/24 --gateway 10.0.1.1 --mtu 576 -n 200 -s 1000 $extra 10.0.0.2 7000"
		# shellcheck disable=SC2086
		timeout 30 ip netns exec "$NS" "$BIN/ustack-rpc" --dev tap1 --addr 10.0.1.2/24 --gateway 10.0.1.1 \
			--mac 02:00:00:00:01:02 --mtu 576 --ctl "$DIR/ctl1" -n 200 -s 1000 $extra \
			10.0.0.2 7000 2>"$DIR/client-$mode.log" | sed 's/^/  /'
		wait_until 10 "the server to finish" sh -c "! kill -0 $server"
		PIDS=$(echo " $PIDS " | sed "s/ $server / /")
		sed 's/^/  /' "$DIR/server.log" | grep "messages"
		result "$mode: the server counted $(sed -n 's/.*: \([0-9]*\) messages.*/\1/p' "$DIR/server.log") messages of 200"
		wait_until 5 "tap1 to go" sh -c "! ip -n $NS link show tap1"
	done
	note "The fix: a length in front of each message (or a delimiter), and a reader that"
	note "collects bytes until a whole message is there, however recv() cut the stream."
	code "apps/rpc.c recv_msg (framed: length prefix; --naive: one recv = one message), send_msg; stack/proto/tcp_out.c tcp_output (Nagle, segmentation to the MSS)"
}

c_iomodels() {
	say "I/O models: one event loop (ustack-inetd) vs a thread per connection (ustack-echo-threads)"
	bg inetd "$BIN/ustack-inetd" --dev tap0 --ctl "$DIR/ctl"
	local inetd=$LAST_PID
	bg threads "$BIN/ustack-echo-threads" --dev tap1 --addr 10.0.1.2/24 --ctl "$DIR/ctl1" --max 512 --port 7
	local threads=$LAST_PID
	wait_stack "$DIR/ctl"
	wait_stack "$DIR/ctl1" 10.0.1.2
	cat >"$DIR/load.py" <<'PYEOF'
import asyncio, sys, time
host, port, pid, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
def proc():
    d = {}
    for l in open("/proc/%s/status" % pid):
        k, v = l.split(":", 1)
        d[k] = v.strip()
    return (int(d["Threads"]), int(d["VmRSS"].split()[0]) // 1024,
            int(d["VmSize"].split()[0]) // 1024)
async def main():
    t0 = time.monotonic()
    conns = await asyncio.gather(*[asyncio.open_connection(host, port) for _ in range(n)])
    opened = time.monotonic() - t0
    # every connection accepted and held open: sample the server until it
    # has a thread per connection or 2 s passed (the most seen)
    threads, rss, vsz = proc()
    t1 = time.monotonic()
    while threads < n and time.monotonic() - t1 < 2:
        await asyncio.sleep(0.05)
        threads, rss, vsz = max((threads, rss, vsz), proc())
    t2 = time.monotonic()
    async def one(rw):
        r, w = rw
        w.write(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        await w.drain()
        w.write_eof()
        data = await asyncio.wait_for(r.read(), 20)
        w.close()
        return len(data) > 0
    ok = sum(await asyncio.gather(*[one(c) for c in conns]))
    dt = time.monotonic() - t2   # requests sent, answers read
    print("%d connections opened in %.0f ms: %d threads, %d MiB resident, %d "
          "MiB virtual; %d of %d answered in %.0f ms" % (n, opened * 1000, threads,
                                                        rss, vsz, ok, n, dt * 1000))
asyncio.run(main())
PYEOF
	shown "python3 load.py: 200 connections at once, each one request, half-close, read the answer"
	local a b
	a=$(timeout 60 ip netns exec "$NS" "$PY" "$DIR/load.py" "$US" 7 "$inetd" 200 2>&1)
	echo "  ustack-inetd (echo, event loop):         $a"
	b=$(timeout 60 ip netns exec "$NS" "$PY" "$DIR/load.py" 10.0.1.2 7 "$threads" 200 2>&1)
	echo "  ustack-echo-threads (echo, thread per conn): $b"
	result "inetd: $(echo "$a" | grep -o '[0-9]* threads')"
	result "echo-threads: $(echo "$b" | grep -o '[0-9]* threads')"
	note "Why: the event loop keeps each connection as a small struct and one ustack_poll()"
	note "tells it which are ready; the threaded server parks a thread (its stack, a condition"
	note "variable, a context switch per wakeup) on every connection, so its threads and memory"
	note "grow with the connections while the loop stays at one thread. Threads let each handler"
	note "be plain blocking code; the loop must never block (a slow handler stalls everyone)."
	code "stack/sock/loop.c ustack_loop_attach, loop_poll (one thread drives the stack in ustack_poll); apps/inetd.c run (the loop); stack/sock/thread.c ustack_thread_start, thr_wait (a condition variable per blocked call); apps/echo-threads.c worker_main (a thread per connection)"
}

c_firewall() {
	say "Firewall: a packet filter in the stack, rules in order, first match wins"
	shown "ustack-inetd --filter 'drop tcp dport 23' --filter 'reject tcp dport 13' --filter 'reject udp' --filter 'allow icmp'"
	bg inetd "$BIN/ustack-inetd" --dev tap0 --ctl "$DIR/ctl" --pcap "$OUT/firewall.pcap" \
		--filter 'drop tcp dport 23' --filter 'reject tcp dport 13' \
		--filter 'reject udp' --filter 'allow icmp'
	wait_stack "$DIR/ctl"
	nsx "$PY" -c "import socket, time
def t(port):
    s = socket.socket(); s.settimeout(2); t0 = time.monotonic()
    try:
        s.connect(('$US', port)); r = 'connected'
    except socket.timeout: r = 'timeout (dropped: no answer at all)'
    except ConnectionRefusedError: r = 'refused (RST)'
    print('tcp %-3d: %s after %.0f ms' % (port, r, (time.monotonic() - t0) * 1000))
t(23); t(13); t(7)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(2)
u.connect(('$US', 7)); u.send(b'x')
try:
    u.recv(10); print('udp 7  : answered')
except ConnectionRefusedError: print('udp 7  : refused (ICMP port unreachable)')
except socket.timeout: print('udp 7  : timeout')" 2>&1 | tee "$DIR/probe.txt" | sed 's/^/  /'
	shown "ustack-stat \$CTL filter"
	"$BIN/ustack-stat" "$DIR/ctl" filter | tee "$DIR/filter.txt" | sed 's/^/  /'
	stop "$LAST_PID"
	grep -q "tcp 23 : timeout" "$DIR/probe.txt" && result "drop: tcp 23 times out"
	grep -q "tcp 13 : refused" "$DIR/probe.txt" && result "reject: tcp 13 refused at once although daytime listens"
	grep -q "udp 7  : refused" "$DIR/probe.txt" && result "reject: udp 7 gets ICMP port unreachable although echo listens"
	grep -q "tcp 7  : connected" "$DIR/probe.txt" && result "no rule: tcp 7 connects (default allow)"
	look "tcpdump -n -r $OUT/firewall.pcap 'tcp port 23 or tcp port 13 or icmp[0] == 3'"
	tcpdump -n -r "$OUT/firewall.pcap" 'tcp port 23 or tcp port 13 or icmp[0] == 3' 2>/dev/null | cut -c 17- | sed 's/^/  /'
	code "stack/proto/filter.c filter_input (matching at IPv4 input), reject, reject_rst, ustack_filter_add (the parser); stack/proto/ipv4.c ip4_rcv (the hook); apps/lib/report.c report_filter; docs/filter.md"
}

c_lb() {
	say "Load balancing: ustack-lb spreads connections over three kernel-side backends"
	cat >"$DIR/backend.py" <<'PYEOF'
import socket, sys, threading
name, port = sys.argv[1], int(sys.argv[2])
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("0.0.0.0", port)); ls.listen(64)
def serve(c):
    d = b""
    try:
        while True:
            b = c.recv(4096)
            if not b: break
            d += b
        if d:
            print("%s served %s" % (name, d.decode().strip()), flush=True)
            c.sendall(name.encode() + b"\n")
    except OSError: pass
    c.close()
while True:
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PYEOF
	note "Three backends on the kernel side (Python servers that answer their own name):"
	local i bp=()
	for i in 1 2 3; do
		bg "b$i" "$PY" "$DIR/backend.py" "backend$i" "800$i"
		bp[$i]=$LAST_PID
	done
	for i in 1 2 3; do
		wait_until 10 "backend $i" listening 800$i
	done
	shown "ustack-lb --port 80 --backend $KS:8001 --backend $KS:8002 --backend $KS:8003 --policy rr --health-interval 0.5"
	bg lb "$BIN/ustack-lb" --dev tap0 --ctl "$DIR/ctl" --port 80 --backend $KS:8001 \
		--backend $KS:8002 --backend $KS:8003 --health-interval 0.5 --connect-timeout 1
	local lb=$LAST_PID
	wait_stack "$DIR/ctl"
	cat >"$DIR/client.py" <<'PYEOF'
import socket, sys
out = []
for i in range(int(sys.argv[1])):
    s = socket.create_connection(("10.0.0.2", 80), timeout=5)
    s.sendall(b"%s %d\n" % (sys.argv[2].encode(), i)); s.shutdown(socket.SHUT_WR)
    out.append(s.makefile().read().strip()); s.close()
print(" ".join(out))
PYEOF
	shown "6 clients, one after the other"
	echo "  answered by: $(nsx "$PY" "$DIR/client.py" 6 first)"
	look "the backends' own logs:"
	for i in 1 2 3; do echo "  backend$i: $(grep -c served "$DIR/b$i.log") requests"; done
	result "round robin: $(for i in 1 2 3; do printf 'backend%s %s  ' $i "$(grep -c served "$DIR/b$i.log")"; done)"
	note "backend2 goes away (killed by its pid): the next client that gets it is"
	note "retried on the next backend; the health probe then keeps it out."
	stop "${bp[2]}"
	local ans
	ans=$(nsx "$PY" "$DIR/client.py" 6 second 2>&1)
	echo "  answered by: $ans"
	echo "$ans" | grep -q backend2 || result "backend2 down: 6 of 6 clients answered by the others, no client error"
	grep "8002 is down" "$DIR/lb.log" | sed 's/^/  /'
	bg b2 "$PY" "$DIR/backend.py" backend2 8002
	wait_until 10 "the lb to see backend2 again" grep -q "8002 is up again" "$DIR/lb.log"
	grep "8002 is up again" "$DIR/lb.log" | sed 's/^/  /'
	ans=$(nsx "$PY" "$DIR/client.py" 3 third 2>&1)
	echo "  answered by: $ans"
	echo "$ans" | grep -q backend2 && result "backend2 restarted: the health probe brought it back, it serves again"
	stop "$lb"
	grep "ustack-lb: backend" "$DIR/lb.log" | sed 's/^/  /'
	code "apps/lb.c pick (rr/leastconn), conn_try_next (a failed connect tries the next backend), health_start/health_done (connect probes), relay (bytes both ways, shutdown passed on)"
}

ns_up
"c_$NAME"
say "Done: files in $OUT"
