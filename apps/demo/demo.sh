#!/bin/bash
# demo.sh - what `sudo make demo` runs: ustack answering the Linux kernel
# over a TAP device, narrated step by step.
#
# Everything happens inside a network namespace made for the demo (your
# host's own network is never touched): ustack-inetd runs on tap0 there,
# the kernel side of tap0 is 10.0.0.1, the stack is 10.0.0.2. The kernel
# pings it, talks UDP (and TCP, when the stack has it) to it; the stack
# pings back; every frame goes to a pcap you can open afterwards. At the
# end ustack-draw draws pictures of it (build/demo/*.svg). Ends by itself
# in well under a minute and cleans up (namespace, processes).
#
# Usage: apps/demo/demo.sh [BUILD]   (BUILD: build directory, default build)
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${1:-build}
BIN=$BUILD/bin
US=10.0.0.2
KS=10.0.0.1

if [ "$(id -u)" != 0 ]; then
	echo "demo: needs root to create a network namespace and a TAP device." >&2
	echo "demo: run it as: sudo make demo" >&2
	exit 1
fi
[ -c /dev/net/tun ] || { echo "demo: no /dev/net/tun (try: modprobe tun)" >&2; exit 1; }
for b in inetd ping stat httpd; do
	[ -x "$BIN/ustack-$b" ] || { echo "demo: $BIN/ustack-$b missing; run make first" >&2; exit 1; }
done

NS=ustack-demo-$$
DIR=$(mktemp -d /tmp/ustack-demo.XXXXXX)
mkdir -p "$BUILD/demo"
PCAP=$(cd "$BUILD/demo" && pwd)/ustack-demo.pcap
CTL=$DIR/ctl
PIDS=""
RUN_TIMEOUT=10
. apps/demo/lib.sh

STEP=0
# A numbered step ("say -" continues the previous step without a number).
say() {
	if [ "$1" = - ]; then
		shift
		printf '\n%s== %s%s\n' "$B" "$*" "$N"
	else
		STEP=$((STEP + 1))
		printf '\n%s== %d. %s%s\n' "$B" "$STEP" "$*" "$N"
	fi
}
gave_up() {
	echo "demo: gave up waiting for $1" >&2
	[ -s "$DIR/inetd.log" ] && tail -n 5 "$DIR/inetd.log" >&2
	exit 1
}
trap cleanup EXIT
trap 'echo; echo "demo: interrupted"; exit 130' INT TERM

say "A network namespace of our own: $NS"
note "Nothing in this demo touches your host's network; the namespace goes away at the end."
ip netns add "$NS" || exit 1
ip -n "$NS" link set lo up

say "Start the stack: ustack-inetd on a TAP device inside the namespace"
note "The stack is a normal process. It creates tap0, gives the kernel's side"
note "10.0.0.1/24, and answers as 10.0.0.2: its own MAC, ARP, IP, ICMP, UDP and TCP."
printf '%s$ %s%s\n' "$B" "$BIN/ustack-inetd --dev tap0 --host-addr $KS/24 --pcap $PCAP --ctl \$CTL --trace" "$N"
ip netns exec "$NS" "$BIN/ustack-inetd" --dev tap0 --host-addr "$KS/24" \
	--pcap "$PCAP" --ctl "$CTL" --trace >"$DIR/inetd.log" 2>&1 &
PIDS="$PIDS $!"
wait_until 10 "the control socket" test -S "$CTL"
wait_until 10 "the first ping" ip netns exec "$NS" ping -c 1 -W 1 "$US"
grep -m 1 " on tap0" "$DIR/inetd.log" | sed 's/^/  /'
run ip -br addr show tap0

say "ARP: the kernel learned the stack's Ethernet address"
run ip neigh show dev tap0
note "And the stack's own ARP cache, read over its control socket with ustack-stat:"
"$BIN/ustack-stat" "$CTL" arp | sed 's/^/  /'

say "ping: the kernel pings the stack"
run ping -c 3 -i 0.2 "$US"
say - "ping -s 4000: fragmented both ways, reassembled by the stack"
run ping -c 2 -i 0.2 -s 4000 "$US"

say "UDP echo (port 7): what goes out comes back, one datagram per message"
printf '%s$ %s%s\n' "$B" "echo 'hello over UDP' | socat -t 1 - UDP:$US:7" "$N"
echo "hello over UDP" | timeout 5 ip netns exec "$NS" socat -t 1 - "UDP:$US:7" 2>&1 | sed 's/^/  /'
note "A closed UDP port answers ICMP port unreachable (socat reports it):"
printf '%s$ %s%s\n' "$B" "echo x | socat - UDP:$US:5555" "$N"
echo x | timeout 5 ip netns exec "$NS" socat -t 1 - "UDP:$US:5555" 2>&1 | sed 's/^/  /' | tail -n 1

say "The other way: the stack pings the kernel (ustack-ping on a second TAP)"
note "ustack-ping brings up a stack of its own on tap1 as 10.0.1.2, pinging 10.0.1.1."
run "$BIN/ustack-ping" --dev tap1 --addr 10.0.1.2/24 -c 3 -i 0.2 10.0.1.1

HAS_TCP=
"$BIN/ustack-stat" "$CTL" conns 2>/dev/null | grep -q '^tcp .*LISTEN' && HAS_TCP=1
if [ -n "$HAS_TCP" ]; then
	say "TCP: echo (7), daytime (13), chargen (19) with the kernel's nc"
	printf '%s$ %s%s\n' "$B" "echo 'hello over TCP' | nc -N $US 7" "$N"
	echo "hello over TCP" | timeout 5 ip netns exec "$NS" nc -N "$US" 7 2>&1 | sed 's/^/  /'
	run nc -d "$US" 13
	printf '%s$ %s%s\n' "$B" "nc -d $US 19 | head -n 3" "$N"
	timeout 5 ip netns exec "$NS" nc -d "$US" 19 2>/dev/null | head -n 3 | sed 's/^/  /'
	note "The connection table while a client holds a connection to discard (9):"
	( sleep 2 | timeout 5 ip netns exec "$NS" nc "$US" 9 >/dev/null 2>&1 ) &
	PIDS="$PIDS $!"
	est() { "$BIN/ustack-stat" "$CTL" conns | grep -q ':9 .*ESTABLISHED'; }
	wait_until 5 "the discard connection" est
	printf '%s$ %s%s\n' "$B" "ustack-stat \$CTL conns" "$N"
	"$BIN/ustack-stat" "$CTL" conns | sed 's/^/  /'
	note "The daytime connection's life, as --trace logged every state transition:"
	grep -E -- ':13 .*->' "$DIR/inetd.log" | sed 's/^/  /'

	say "TCP under loss: ustack-nc sends 300 kB to the kernel through --fault loss=5%"
	note "A second stack on tap3 (10.0.3.2) drops 5% of the frames it sends and delays the rest by 10 ms (seeded,"
	note "so the run repeats); TCP retransmits and the kernel still gets every byte."
	note "(--offload off: one frame per segment, so the loss hits segments, not 64 kB bursts)"
	LOSS_PCAP=$(cd "$BUILD/demo" && pwd)/ustack-demo-loss.pcap
	head -c 300000 /dev/urandom >"$DIR/blob"
	ip netns exec "$NS" socat -u TCP-LISTEN:5001,reuseaddr "CREATE:$DIR/blob.got" \
		>/dev/null 2>&1 &
	PIDS="$PIDS $!"
	listening() { ip netns exec "$NS" ss -ltn | grep -q ':5001 '; }
	wait_until 5 "the kernel's listener" listening
	printf '%s$ %s%s\n' "$B" "ustack-nc --dev tap3 --addr 10.0.3.2/24 --offload off --fault loss=5%,delay=10ms,seed=7 --pcap $LOSS_PCAP --trace 10.0.3.1 5001 < 300kB" "$N"
	timeout 30 ip netns exec "$NS" "$BIN/ustack-nc" --dev tap3 --addr 10.0.3.2/24 --offload off \
		--fault loss=5%,delay=10ms,seed=7 --pcap "$LOSS_PCAP" --trace 10.0.3.1 5001 \
		<"$DIR/blob" >/dev/null 2>"$DIR/nc.log"
	wait_until 5 "the kernel's copy" cmp -s "$DIR/blob" "$DIR/blob.got"
	echo "  the kernel received $(wc -c <"$DIR/blob.got") bytes, identical to what was sent"
	note "Its connection's life, from --trace:"
	grep -E -- ' -> ' "$DIR/nc.log" | sed 's/^/  /'
	echo "  $(tcpdump -nr "$LOSS_PCAP" 'tcp and src host 10.0.3.2' 2>/dev/null | wc -l) segments sent; the picture at the end shows which were sent again"

	say "HTTP: ustack-httpd (one event loop) on tap2, and curl"
	ip netns exec "$NS" "$BIN/ustack-httpd" --dev tap2 --addr 10.0.2.2/24 \
		--port 80 >"$DIR/httpd.log" 2>&1 &
	PIDS="$PIDS $!"
	wait_until 10 "ustack-httpd" ip netns exec "$NS" curl -s -m 1 -o /dev/null http://10.0.2.2/
	run curl -s http://10.0.2.2/conns
	printf '%s$ %s%s\n' "$B" "curl -o /dev/null -w '%{size_download} bytes at %{speed_download} bytes/s' http://10.0.2.2/bytes?n=50000000" "$N"
	timeout 20 ip netns exec "$NS" curl -s -o /dev/null \
		-w '  %{size_download} bytes at %{speed_download} bytes/s\n' \
		"http://10.0.2.2/bytes?n=50000000"
else
	say "TCP"
	note "This build's stack has no TCP yet (inetd serves UDP only): TCP echo,"
	note "daytime, chargen, ustack-nc and ustack-httpd join the demo once it lands."
fi

say "The stack's counters (ustack-stat -z: the ones that are not zero)"
if command -v column >/dev/null 2>&1; then
	"$BIN/ustack-stat" -z "$CTL" stats | column -c 100 | expand | sed 's/^/  /'
else
	"$BIN/ustack-stat" -z "$CTL" stats | sed 's/^/  /'
fi

say "Stop the stack (SIGTERM): it closes cleanly and flushes the capture"
for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done
for p in $PIDS; do wait "$p" 2>/dev/null; done
PIDS=""
if [ -s "$PCAP" ] && command -v tcpdump >/dev/null 2>&1; then
	filter="arp or icmp"
	[ -n "$HAS_TCP" ] && filter="tcp port 13"
	note "From the capture: the $filter frames."
	printf '%s$ %s%s\n' "$B" "tcpdump -n -r $PCAP '$filter' | head -n 12" "$N"
	tcpdump -n -r "$PCAP" "$filter" 2>/dev/null | head -n 12 | sed 's/^/  /'
	echo "  ... $(tcpdump -n -r "$PCAP" 2>/dev/null | wc -l) frames in all"
fi
if [ -n "$HAS_TCP" ] && [ -x "$BIN/ustack-draw" ]; then
	say "Pictures: ustack-draw turns the captures and the trace into SVG"
	PICS=$(cd "$BUILD/demo" && pwd)
	# The --trace logs are kept next to the captures, to draw again.
	TRACE=$PICS/ustack-demo.log
	cp "$DIR/inetd.log" "$TRACE"
	printf '%s$ %s%s\n' "$B" "ustack-draw ladder --pcap $PCAP --trace $TRACE --port 13 -o $PICS/daytime-ladder.svg" "$N"
	"$BIN/ustack-draw" ladder --pcap "$PCAP" --trace "$TRACE" --port 13 \
		-o "$PICS/daytime-ladder.svg" 2>&1 | sed 's/^/  /'
	if [ -s "${LOSS_PCAP:-}" ]; then
		cp "$DIR/nc.log" "$PICS/ustack-demo-loss.log"
		printf '%s$ %s%s\n' "$B" "ustack-draw tseq --pcap $LOSS_PCAP -o $PICS/loss-tseq.svg" "$N"
		"$BIN/ustack-draw" tseq --pcap "$LOSS_PCAP" -o "$PICS/loss-tseq.svg" 2>&1 | sed 's/^/  /'
		"$BIN/ustack-draw" ladder --pcap "$LOSS_PCAP" --trace "$PICS/ustack-demo-loss.log" \
			-o "$PICS/loss-ladder.svg" 2>&1 | sed 's/^/  /'
	fi
	if command -v dot >/dev/null 2>&1; then
		printf '%s$ %s%s\n' "$B" "ustack-draw states --counts $TRACE -o $PICS/tcp-states.svg" "$N"
		"$BIN/ustack-draw" states --counts "$TRACE" -o "$PICS/tcp-states.svg" 2>&1 | sed 's/^/  /'
	else
		note "(no graphviz 'dot' here: apt-get install graphviz for the state diagram)"
	fi
	note "Open them in a browser (docs/draw.md says how to read them):"
	for f in daytime-ladder loss-tseq loss-ladder tcp-states; do
		[ -s "$PICS/$f.svg" ] && echo "  $PICS/$f.svg"
	done
	note "daytime-ladder: the daytime connection, segment by segment, with ustack's"
	note "  states from --trace and the kernel's inferred; loss-tseq: the 300 kB transfer,"
	note "  retransmissions in red; tcp-states: the state machine, each edge with how"
	note "  often inetd took it."
fi
say - "Done."
echo "Every frame the stack sent and received is in:"
echo "  $PCAP"
echo "Read it with 'tcpdump -n -r $PCAP' or open it in Wireshark."
echo "Run the tests with: sudo make check    Read on: README.md, docs/"
