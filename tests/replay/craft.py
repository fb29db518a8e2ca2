#!/usr/bin/python3
"""craft.py - build replay cases whose peer is a script instead of a kernel.

  /usr/bin/python3 tests/replay/craft.py BUILD [NAME...]

For scenarios a live Linux peer does not produce on demand (simultaneous
close, out-of-order arrival, a receiver's zero window, a peer that never
answers) the peer is played by scapy, one frame at a time: after every frame
it adds to in.pcap, the script replays the case with `ustack-replay --update`
and reads what the stack sent (the stack is deterministic, so the frames it
sent before the new input stay the same), then decides the next frame from
the stack's last one (its sequence numbers, its window). Each case says in
case.txt that it is crafted. Also builds tests/replay/selftest, the small
case the runner's self-tests mutate.

Needs python3-scapy (/usr/bin/python3).
"""
import os
import subprocess
import sys

from scapy.all import ARP, ICMP, IP, TCP, UDP, Ether, Raw, conf, fragment, \
    rdpcap, wrpcap

conf.verb = 0
TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CASES = os.path.join(TOP, 'tests', 'replay', 'cases')
PEER_MAC, STACK_MAC = '02:00:00:00:00:01', '02:00:00:00:00:02'
PEER, STACK = '10.0.0.1', '10.0.0.2'
RTT = 0.0005  # the scripted peer answers half a millisecond later


class Case:
    """A case directory being built: in.pcap grows one frame at a time.
    Every frame the stack sends is shown to the peers (observe) once, in
    order, before any input that comes after it is added."""

    def __init__(self, build, name, conf_text, txt, where=None):
        self.replay = os.path.join(build, 'bin', 'ustack-replay')
        self.dir = where or os.path.join(CASES, name)
        os.makedirs(self.dir, exist_ok=True)
        with open(os.path.join(self.dir, 'case.conf'), 'w') as f:
            f.write('# Crafted by tests/replay/craft.py (%s): do not edit, '
                    're-run it.\n' % name)
            f.write(conf_text.strip() + '\n')
        with open(os.path.join(self.dir, 'case.txt'), 'w') as f:
            f.write(txt.strip() + '\n\nCrafted: the peer is a scapy script '
                    '(tests/replay/craft.py %s),\nnot a live kernel.\n' % name)
        self.frames, self.t, self.seen, self.peers = [], 2.0, 0, []

    def run(self):
        wrpcap(os.path.join(self.dir, 'in.pcap'), self.frames,
               linktype=1)
        subprocess.run([self.replay, '--update', self.dir], check=True,
                       stdout=subprocess.DEVNULL)
        return list(rdpcap(os.path.join(self.dir, 'out.pcap')))

    def observe(self, p):
        for peer in self.peers:
            if peer.mine(p):
                peer.observe(p[TCP])

    def send(self, pkt, dt=0.0):
        """Add an input dt after the current time; first the peers see
        everything the stack sent up to then."""
        t = self.t + dt
        out = self.run()
        while self.seen < len(out) and float(out[self.seen].time) <= t:
            self.observe(out[self.seen])
            self.seen += 1
        self.t = t
        pkt.time = t
        self.frames.append(pkt)
        return pkt

    def next_out(self, want=None, until=None):
        """The stack's next frame for which want(pkt) holds (all frames
        on the way are observed); the clock moves to it. None if the stack
        sends nothing more (before `until`)."""
        while True:
            out = self.run()
            if self.seen >= len(out) or \
               (until is not None and float(out[self.seen].time) > until):
                return None
            p = out[self.seen]
            self.seen += 1
            self.t = max(self.t, float(p.time))
            self.observe(p)
            if want is None or want(p):
                return p

    def finish(self):
        out = self.run()
        print('%s: %d frames in, %d out' % (os.path.relpath(self.dir, TOP),
                                           len(self.frames), len(out)))


def eth():
    return Ether(src=PEER_MAC, dst=STACK_MAC)


def arp_hello(c):
    """The peer asks for the stack's MAC: both caches learn."""
    c.send(Ether(src=PEER_MAC, dst='ff:ff:ff:ff:ff:ff') /
           ARP(op=1, hwsrc=PEER_MAC, psrc=PEER, pdst=STACK))
    c.next_out(lambda p: ARP in p)


def arp_answer(c, p):
    """Answer the stack's ARP request for the peer."""
    c.send(Ether(src=PEER_MAC, dst=STACK_MAC) /
           ARP(op=2, hwsrc=PEER_MAC, psrc=PEER, hwdst=STACK_MAC, pdst=STACK),
           RTT)


def is_arp_req(p):
    return ARP in p and p[ARP].op == 1 and p[ARP].pdst == PEER


class Peer:
    """One TCP connection end played by the script."""

    def __init__(self, c, sport, dport, isn=1000, win=65535):
        self.c, self.sport, self.dport = c, sport, dport
        self.snd_nxt, self.rcv_nxt, self.win = isn, 0, win
        c.peers.append(self)

    def mine(self, p):
        return TCP in p and p[TCP].dport == self.sport

    def observe(self, t):
        """rcv_nxt follows what the stack sent (in order or ahead)."""
        end = t.seq + len(t.payload) + ('S' in t.flags) + ('F' in t.flags)
        if 'S' in t.flags or \
           (end - self.rcv_nxt) % (1 << 32) < (1 << 31):
            self.rcv_nxt = end % (1 << 32)

    def seg(self, flags, data=b'', dt=RTT, seq=None, win=None, opts=None,
            ack=None):
        p = (eth() / IP(src=PEER, dst=STACK) /
             TCP(sport=self.sport, dport=self.dport, flags=flags,
                 seq=self.snd_nxt if seq is None else seq,
                 window=self.win if win is None else win,
                 options=opts or []))
        if data:
            p = p / Raw(data)
        self.c.send(p, dt)
        # the ack field is filled once the peer has seen the stack's frames
        if 'A' in flags:
            p[TCP].ack = self.rcv_nxt if ack is None else ack
        if seq is None:
            self.snd_nxt += len(data) + ('S' in flags) + ('F' in flags)
        return p

    def expect(self, want=None):
        """The stack's next segment on this connection (for which
        want(tcp) holds)."""
        p = self.c.next_out(lambda q: self.mine(q) and
                            (want is None or want(q[TCP])))
        if p is None:
            sys.exit('%s: the stack sent nothing more' % self.c.dir)
        return p[TCP]

    def connect(self, opts=None):
        self.seg('S', opts=opts or [('MSS', 1460), ('SAckOK', b''),
                                    ('NOP', None), ('WScale', 7)], dt=0.001)
        t = self.expect()
        assert 'S' in t.flags and 'A' in t.flags, t.summary()
        self.seg('A')
        return t


def fin(t):
    return 'F' in t.flags


# ---- the cases ---------------------------------------------------------------

def selftest(build):
    c = Case(build, 'selftest', '''
addr 10.0.0.2/24
seed 1
start 1s
end +1s
inetd
''', '''Self-test case for tests/tools/run-replay.sh (not part of the corpus):
ARP, ping, a fragmented ping, UDP echo and a port unreachable. The check
mutates copies of it and proves the runner then fails.''',
             where=os.path.join(TOP, 'tests', 'replay', 'selftest'))
    arp_hello(c)
    c.send(eth() / IP(src=PEER, dst=STACK, id=1) /
           ICMP(type=8, id=7, seq=1) / Raw(bytes(range(56))), 0.01)
    big = IP(src=PEER, dst=STACK, id=2) / ICMP(type=8, id=7, seq=2) / \
        Raw(bytes(i % 256 for i in range(2000)))
    for i, f in enumerate(fragment(big, 1480)):
        c.send(eth() / f, 0.01 if i == 0 else 0.0001)
    c.send(eth() / IP(src=PEER, dst=STACK, id=3) /
           UDP(sport=40000, dport=7) / Raw(b'hello, echo'), 0.01)
    c.send(eth() / IP(src=PEER, dst=STACK, id=4) /
           UDP(sport=40001, dport=4444) / Raw(b'anybody?'), 0.01)
    c.send(eth() / IP(src=PEER, dst=STACK, id=5) /
           UDP(sport=40000, dport=7) / Raw(b'x' * 100), 0.01)
    c.finish()


def simultaneous_close(build):
    c = Case(build, 'tcp-close-simultaneous', '''
addr 10.0.0.2/24
seed 1
start 1s
end +62s
tcp-hold 5000 close-at 3s
''', '''Simultaneous close (RFC 9293 3.6, figure 13): the application closes at
t=3 s and the peer's FIN crosses ours in flight (it acknowledges
everything but our FIN). Pins: FIN_WAIT_1 + FIN -> CLOSING (we ACK the
peer's FIN), then the ACK of our FIN -> TIME_WAIT, and TIME_WAIT
(2*MSL = 60 s) expiring silently.''')
    arp_hello(c)
    p = Peer(c, 41000, 5000)
    p.connect()
    f = p.expect(fin)                      # our FIN at close-at
    # the peer's FIN crosses ours: it has not seen our FIN yet
    p.seg('FA', dt=0.0001, ack=f.seq)
    p.expect()                             # our ACK of its FIN, from CLOSING
    p.seg('A')                             # the peer acks our FIN
    c.finish()


def out_of_order(build):
    c = Case(build, 'tcp-out-of-order', '''
addr 10.0.0.2/24
seed 1
start 1s
end +2s
tcp-discard 9
''', '''Out-of-order arrival: the peer's second and third segments arrive before
the first. Pins: an immediate duplicate ACK for each out-of-order segment
with SACK blocks (RFC 9293 3.10.7.4, RFC 2018), the cumulative ACK jumping
over the queued data when the hole is filled, an overlapping retransmission
trimmed, then the peer's FIN and our FIN from the discard service.''')
    arp_hello(c)
    p = Peer(c, 41001, 9)
    p.connect()
    base = p.snd_nxt
    chunk = [bytes([65 + i]) * 1000 for i in range(4)]
    p.seg('PA', chunk[1], seq=base + 1000, dt=0.01)
    p.seg('PA', chunk[2], seq=base + 2000, dt=0.0002)
    p.seg('PA', chunk[0], seq=base, dt=0.0002)
    p.seg('PA', chunk[2][:500] + chunk[3], seq=base + 2500, dt=0.0002)
    p.snd_nxt = base + 4000
    p.seg('FA', dt=0.05)
    p.expect(fin)                          # discard closes: our FIN
    p.seg('A')
    c.finish()


def zero_window_receiver(build):
    c = Case(build, 'tcp-zero-window-recv', '''
addr 10.0.0.2/24
seed 1
start 1s
end +2s
set tcp_rcvbuf 8192
tcp-hold 5000 read-at 8s
''', '''Our receive window closes: the application does not read (an 8 KiB
receive buffer) until t=8 s. Pins: the window shrinking to 0 in our
ACKs, our answers to the peer's zero-window probes (an ACK with window 0,
RFC 9293 3.8.6.1), the window update once the application reads
(receiver silly-window avoidance, RFC 9293 3.8.6.2.2), and the rest of
the data flowing; the peer's FIN, our FIN after the application's EOF.''')
    arp_hello(c)
    p = Peer(c, 41002, 5000)
    syn_ack = p.connect()
    win = syn_ack.window
    data = bytes(i % 251 for i in range(20000))
    sent, probes = 0, 0
    while sent < len(data):
        if win == 0:
            # Linux-style probe: one old byte (seq = snd_una - 1)
            probes += 1
            p.seg('A', dt=0.2 * (2 ** min(probes - 1, 4)),
                  seq=p.snd_nxt - 1)
            t = p.expect()
            win = t.window
            continue
        n = min(1000, len(data) - sent, win)
        p.seg('PA', data[sent:sent + n], dt=0.001)
        sent += n
        t = p.expect(lambda t: t.ack == p.snd_nxt)
        win = t.window
    p.seg('FA', dt=0.01)
    p.expect(fin)
    p.seg('A')
    c.finish()


def syn_timeout(build):
    c = Case(build, 'tcp-syn-timeout', '''
addr 10.0.0.2/24
seed 1
start 1s
end +200s
nc-connect 10.0.0.1 9 at 2s
''', '''A SYN to a peer that never answers (it answers ARP, nothing else). Pins
the SYN retransmission schedule: initial RTO 1 s doubling each time
(RFC 6298 5.5), tcp_syn_retries (7) retransmissions, then the connect
fails with ETIMEDOUT (ustack-nc exits) and nothing more is sent.''')
    while True:                            # answer ARP, nothing else
        p = c.next_out(is_arp_req)
        if p is None:
            break
        arp_answer(c, p)
    c.finish()


CRAFTED = {
    'selftest': selftest,
    'tcp-close-simultaneous': simultaneous_close,
    'tcp-out-of-order': out_of_order,
    'tcp-zero-window-recv': zero_window_receiver,
    'tcp-syn-timeout': syn_timeout,
}


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    build = argv[1]
    names = argv[2:] or list(CRAFTED)
    for n in names:
        if n not in CRAFTED:
            sys.exit('unknown case %s (have: %s)' % (n, ' '.join(CRAFTED)))
        CRAFTED[n](build)


if __name__ == '__main__':
    main(sys.argv)
