#!/bin/bash
# A program's TIME_WAIT outlives its close: ustack-nc closes first (FIN at
# the end of stdin), the peer answers with its FIN, nc ACKs it, closes and
# heads for exit. The peer pretends that ACK was lost and sends its FIN
# again 300 ms later: nc, still lingering (--linger-exit, default 1 s),
# must ACK it as the kernel would from TIME_WAIT (RFC 9293 3.10.7.4).
# The same through a simultaneous close (nc in CLOSING, then TIME_WAIT):
# the peer's FIN crosses nc's and acknowledges only nc's data.
# With --linger-exit 0 the program exits at once and the retransmitted
# FIN goes unanswered (what docs/apps.md says a peer sees then).
# The peer is a small scapy script on the kernel side of the TAP playing
# 10.0.0.9 (its own MAC; the kernel ignores frames for it), so it can
# choose to retransmit. The TAP is made persistent first so the script
# can listen before nc starts and after it exits.
# Network namespace: setup (lib.sh) creates one for this test with
# `ip netns add` and its EXIT trap deletes it (and the TAP in it); nc and
# the script run inside it (nsx, py wrap `ip netns exec "$NS"`).
. "$(dirname "$0")/lib.sh"
require_root
require_scapy
require_bin nc
setup
ip -n "$NS" tuntap add dev tap0 mode tap || fail "tuntap add"
ip -n "$NS" addr add "$KS/24" dev tap0
ip -n "$NS" link set tap0 up

PEER=10.0.0.9

# run_case NAME MODE NC-OPTIONS...: the peer (MODE normal or simul) in
# the background, then nc; the peer's verdict lands in $T/NAME.peer.
run_case() {
	local name=$1 mode=$2
	shift 2
	py "$PEER" "$mode" >"$T/$name.peer" 2>&1 <<'PYEOF' &
import os, select, socket, sys, time
from scapy.all import Ether, ARP, IP, TCP, raw
PEER, MAC, MODE = sys.argv[1], "02:00:00:00:00:09", sys.argv[2]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind(("tap0", 0))
print("listening", flush=True)
def send(p):
    try:
        s.send(raw(p))
    except OSError as e:
        print("send failed:", e, flush=True)
end = time.time() + 15
iss, rcv_nxt, us = 5000, None, None
fin_sent_at = ack1_at = refin_at = None
acks_of_fin = 0
while time.time() < end:
    wait = 0.05
    r, _, _ = select.select([s], [], [], wait)
    now = time.time()
    if ack1_at and not refin_at and now - ack1_at >= 0.3:
        # "our ACK of your FIN was lost": the same FIN again
        refin_at = now
        send(Ether(src=MAC, dst=us[0]) / IP(src=PEER, dst=us[1]) /
             TCP(sport=7777, dport=us[2], flags="FA", seq=iss + 1,
                 ack=rcv_nxt))
        print("FIN retransmitted", flush=True)
    if refin_at and now - refin_at > 1.5:
        break
    if not r:
        continue
    data, addr = s.recvfrom(65535)
    if addr[2] == socket.PACKET_OUTGOING:
        continue
    e = Ether(data)
    if ARP in e and e[ARP].op == 1 and e[ARP].pdst == PEER:
        send(Ether(src=MAC, dst=e.src) / ARP(op=2, hwsrc=MAC, psrc=PEER,
                                              hwdst=e.src, pdst=e[ARP].psrc))
        continue
    if IP not in e or TCP not in e or e[IP].dst != PEER or e[TCP].dport != 7777:
        continue
    t = e[TCP]
    us = (e.src, e[IP].src, t.sport)
    flags = str(t.flags)
    plen = len(t.payload)
    if "S" in flags:
        rcv_nxt = t.seq + 1
        send(Ether(src=MAC, dst=e.src) / IP(src=PEER, dst=e[IP].src) /
             TCP(sport=7777, dport=t.sport, flags="SA", seq=iss,
                 ack=rcv_nxt, options=[("MSS", 1460)]))
        continue
    if plen:
        rcv_nxt = t.seq + plen
    if "F" in flags and fin_sent_at is None:
        rcv_nxt = t.seq + plen + 1
        fin_sent_at = now
        # normal: ACK their FIN and close our side in one segment;
        # simul: our FIN "crossed" theirs, it acknowledges only the data
        # (they go to CLOSING); their FIN is ACKed once they ACK ours
        send(Ether(src=MAC, dst=e.src) / IP(src=PEER, dst=e[IP].src) /
             TCP(sport=7777, dport=t.sport, flags="FA", seq=iss + 1,
                 ack=rcv_nxt - (1 if MODE == "simul" else 0)))
        continue
    if plen:
        send(Ether(src=MAC, dst=e.src) / IP(src=PEER, dst=e[IP].src) /
             TCP(sport=7777, dport=t.sport, flags="A", seq=iss + 1,
                 ack=rcv_nxt))
        continue
    if fin_sent_at and "A" in flags and t.ack == iss + 2:
        acks_of_fin += 1
        if ack1_at is None:
            ack1_at = now
            print("FIN ACKed", flush=True)
            if MODE == "simul":
                send(Ether(src=MAC, dst=e.src) / IP(src=PEER, dst=e[IP].src) /
                     TCP(sport=7777, dport=t.sport, flags="A", seq=iss + 2,
                         ack=rcv_nxt))
        elif refin_at:
            print("retransmitted FIN ACKed after %.0f ms" %
                  ((now - refin_at) * 1000), flush=True)
print("verdict: acks_of_fin=%d retransmitted=%s" % (acks_of_fin,
      "yes" if refin_at else "no"), flush=True)
PYEOF
	local ppid=$!
	PIDS="$PIDS $ppid"
	wait_for 10 "the peer script listening" grep -q listening "$T/$name.peer"
	echo "hello from ustack-nc" >"$T/$name.in"
	nsx "$BIN/ustack-nc" --dev tap0 "$@" "$PEER" 7777 <"$T/$name.in" \
		>"$T/$name.out" 2>"$T/$name.err" &
	local npid=$!
	PIDS="$PIDS $npid"
	wait_exit "$npid" 10 "ustack-nc"
	[ "$EXIT_RC" = 0 ] || fail "$name: ustack-nc exited $EXIT_RC: $(tail -n 3 "$T/$name.err")"
	wait_exit "$ppid" 20 "the peer script"
	grep -q "FIN ACKed" "$T/$name.peer" || fail "$name: the first FIN was never ACKed: $(cat "$T/$name.peer")"
	grep -q "retransmitted=yes" "$T/$name.peer" || fail "$name: the peer did not get to retransmit: $(cat "$T/$name.peer")"
	log "$name: $(grep -E 'retransmitted FIN ACKed|verdict' "$T/$name.peer" | tr '\n' ' ')"
}

run_case linger normal
grep -q "acks_of_fin=2" "$T/linger.peer" ||
	fail "the retransmitted FIN was not ACKed by the lingering nc: $(cat "$T/linger.peer")"

run_case simultaneous simul --trace
grep -q "acks_of_fin=2" "$T/simultaneous.peer" ||
	fail "simultaneous close: the retransmitted FIN was not ACKed: $(cat "$T/simultaneous.peer")"
grep -q "CLOSING" "$T/simultaneous.err" || fail "simultaneous close: nc never went through CLOSING"

run_case nolinger normal --linger-exit 0
grep -q "acks_of_fin=1 " "$T/nolinger.peer" ||
	fail "--linger-exit 0: expected no answer to the retransmitted FIN: $(cat "$T/nolinger.peer")"
log "pass"
