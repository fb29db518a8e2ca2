#!/usr/bin/python3
"""record.py BUILD SCENARIO CASES_DIR - record one replay case live.

Runs INSIDE a network namespace that tests/replay/record.sh created (and
deletes). In it:

    ustack app --tap us0--> [relay] <--tap uk0-- Linux kernel 10.0.0.1/24

The stack program (ustack-inetd or ustack-nc from BUILD/bin, --seed 1,
--pcap) attaches to the TAP device us0; the kernel is the peer on a second
TAP device, uk0, whose file descriptor this script holds. The relay in
between copies frames both ways (AF_PACKET on us0, the fd of uk0) and can
drop chosen ones: a frame dropped on its way to the stack never reaches the
stack (nor its capture), one dropped on its way to the kernel was sent by
the stack but is lost. That is how the loss cases are made (no netem, tc
actions or iptables on these machines). The kernel side then runs the
scenario (ping, sockets) and the stack program is stopped.

The capture becomes a case with `ustack-replay --from` (in.pcap: frames
the stack received; live.pcap: what it sent), with case.conf carrying the
live start time (the gratuitous ARP of ustack_create), the end time (just
before SIGTERM, on the same CLOCK_MONOTONIC the stack used) and the
services; `ustack-replay --update` writes out.pcap, and crosscheck.py
compares it with live.pcap.
"""
import fcntl
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import crosscheck  # noqa: E402

STACK_MAC = bytes.fromhex('020000000002')
STACK, PEER = '10.0.0.2', '10.0.0.1'
TUNSETIFF, IFF_TAP, IFF_NO_PI = 0x400454ca, 0x0002, 0x1000
ETH_P_ALL, PACKET_OUTGOING = 0x0003, 4
SEED = 1


def now_us():
    return time.monotonic_ns() // 1000


def sh(*cmd, check=True):
    return subprocess.run(cmd, check=check, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True).stdout


# ---- frames -------------------------------------------------------------------

class Frame:
    """The few fields the drop rules look at."""

    def __init__(self, b):
        self.b, self.tcp, self.flags, self.plen = b, False, 0, 0
        self.ip_proto = None
        if len(b) >= 34 and b[12:14] == b'\x08\x00':
            ihl = (b[14] & 15) * 4
            self.ip_proto = b[23]
            tot = struct.unpack('>H', b[16:18])[0]
            t = 14 + ihl
            if self.ip_proto == 6 and len(b) >= t + 20:
                self.tcp = True
                self.sport, self.dport = struct.unpack('>HH', b[t:t + 4])
                self.flags = b[t + 13]
                self.plen = tot - ihl - (b[t + 12] >> 4) * 4

    def is_(self, flags):
        """TCP with exactly these of SYN/FIN/RST/ACK (by letter)."""
        want = sum({'F': 1, 'S': 2, 'R': 4, 'A': 16}[c] for c in flags)
        return self.tcp and (self.flags & 0x17) == want


class Drop:
    """Drop the n-th frame (1-based) going `way` ('to-stack' or
    'to-kernel') for which match(frame) holds; every==True drops all."""

    def __init__(self, way, match, n=1, every=False, what=''):
        self.way, self.match, self.n, self.every = way, match, n, every
        self.what, self.seen, self.dropped = what, 0, 0

    def __call__(self, way, f):
        if way != self.way or not self.match(f):
            return False
        self.seen += 1
        if self.every or self.seen == self.n:
            self.dropped += 1
            return True
        return False


class Relay(threading.Thread):
    def __init__(self, kfd, ssock, drops):
        super().__init__(daemon=True)
        self.kfd, self.ssock, self.drops = kfd, ssock, drops
        self.stop, self.stack_up = False, threading.Event()
        self.first_from_stack = None

    def run(self):
        while not self.stop:
            r, _, _ = select.select([self.kfd, self.ssock], [], [], 0.05)
            if self.kfd in r:
                b = os.read(self.kfd, 65600)
                if not any(d('to-stack', Frame(b)) for d in self.drops):
                    self.ssock.send(b)
            if self.ssock in r:
                b, addr = self.ssock.recvfrom(65600)
                if addr[2] == PACKET_OUTGOING:
                    continue  # our own send into us0
                if b[6:12] == STACK_MAC and not self.stack_up.is_set():
                    self.stack_up.set()
                if not any(d('to-kernel', Frame(b)) for d in self.drops):
                    os.write(self.kfd, b)


def tap_open(name):
    fd = os.open('/dev/net/tun', os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack('16sH', name.encode(),
                                           IFF_TAP | IFF_NO_PI))
    return fd


def setup_links():
    for k in ('all', 'default'):
        sh('sysctl', '-qw', 'net.ipv6.conf.%s.disable_ipv6=1' % k)
    sh('ip', 'link', 'set', 'lo', 'up')
    sh('ip', 'tuntap', 'add', 'dev', 'us0', 'mode', 'tap')
    sh('ip', 'tuntap', 'add', 'dev', 'uk0', 'mode', 'tap')
    # us0 only carries the stack's frames to the relay: never answer ARP
    # on it, never own an address on it.
    sh('sysctl', '-qw', 'net.ipv4.conf.us0.arp_ignore=8')
    sh('ip', 'link', 'set', 'us0', 'up')
    sh('ip', 'addr', 'add', PEER + '/24', 'dev', 'uk0')
    kfd = tap_open('uk0')
    sh('ip', 'link', 'set', 'uk0', 'up')
    ssock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                          socket.htons(ETH_P_ALL))
    ssock.bind(('us0', 0))
    return kfd, ssock


# ---- kernel-side helpers --------------------------------------------------------

def tcp_client(port, send=b'', read=True, shut=True, linger=0.0):
    s = socket.create_connection((STACK, port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    got = b''
    if send:
        s.sendall(send)
    if shut:
        s.shutdown(socket.SHUT_WR)
    while read:
        b = s.recv(65536)
        if not b:
            break
        got += b
    time.sleep(linger)
    s.close()
    return got


def pattern(n):
    return bytes(32 + i % 95 for i in range(n))


# ---- scenarios ---------------------------------------------------------------------
# Each: what it pins (case.txt), the stack program, the kernel side, the
# relay's drops, and the case.conf service lines (a function of the live
# capture where they depend on it).

def k_arp(ctx):
    sh('ip', 'neigh', 'replace', STACK, 'lladdr', '02:00:00:00:00:02',
       'dev', 'uk0', 'nud', 'permanent')
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(3)
    u.sendto(b'who is 10.0.0.1?', (STACK, 7))
    assert u.recvfrom(100)[0] == b'who is 10.0.0.1?'


def k_ping(ctx):
    sh('ping', '-c', '3', '-i', '0.2', '-W', '2', STACK)


def k_ping_frag(ctx):
    sh('ping', '-c', '2', '-i', '0.3', '-W', '2', '-s', '4000', STACK)
    sh('ping', '-c', '1', '-W', '2', '-s', '20000', STACK)


def k_udp_echo(ctx):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(3)
    for n in (1, 100, 1472, 3000):
        u.sendto(pattern(n), (STACK, 7))
        assert u.recvfrom(65536)[0] == pattern(n)
        time.sleep(0.05)


def k_udp_unreach(ctx):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(3)
    u.connect((STACK, 4444))
    u.send(b'anybody there?')
    try:
        u.recv(100)
        raise AssertionError('no ECONNREFUSED')
    except ConnectionRefusedError:
        pass


def k_tcp_handshake(ctx):
    s = socket.create_connection((STACK, 9), timeout=5)
    time.sleep(0.3)
    s.close()


def k_tcp_data(ctx):
    data = pattern(20000)
    assert tcp_client(7, data) == data


def k_tcp_close_passive(ctx):
    s = socket.create_connection((STACK, 7), timeout=5)
    s.sendall(b'hello\n')
    assert s.recv(100) == b'hello\n'
    time.sleep(0.1)
    s.close()               # the kernel's FIN first: we go CLOSE_WAIT


def k_tcp_close_active(ctx):
    ctx['daytime'] = tcp_client(13, shut=False, linger=0.05)


def k_tcp_rst(ctx):
    try:
        socket.create_connection((STACK, 4444), timeout=5)
        raise AssertionError('connected to a closed port')
    except ConnectionRefusedError:
        pass


def k_tcp_retransmit(ctx):
    assert tcp_client(7, b'hello, lossy world\n') == b'hello, lossy world\n'


def k_tcp_retransmit_rto(ctx):
    s = socket.create_connection((STACK, 7), timeout=5)
    s.sendall(b'hello, lossy world\n')
    got = b''
    while len(got) < 19:
        got += s.recv(100)
    assert got == b'hello, lossy world\n'
    time.sleep(0.05)
    s.close()


def k_tcp_ooo(ctx):
    data = pattern(4000)
    assert tcp_client(9, data, read=True) == b''


def k_zero_window(ctx):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    srv.bind((PEER, 5001))
    srv.listen(1)
    ctx['go'].set()
    c, _ = srv.accept()
    time.sleep(3.0)         # not reading: the window closes, we probe
    got = b''
    while True:
        b = c.recv(65536)
        if not b:
            break
        got += b
    c.close()
    assert got == pattern(ctx['nbytes']), len(got)


def k_wait_nc(ctx):
    time.sleep(0.1)


def svc_inetd(ctx, live):
    return ['inetd']


def svc_daytime(ctx, live):
    text = ctx.get('daytime', b'').decode()
    esc = text.replace('\\', '\\\\').replace('"', '\\"') \
              .replace('\r', '\\r').replace('\n', '\\n')
    return ['inetd daytime "%s"' % esc]


def first_connect(live):
    """When ustack-nc called connect(): the stack's first frame after the
    gratuitous ARP (its ARP request for the peer, or the SYN)."""
    return live[1][0]


def svc_nc(port, extra=''):
    def f(ctx, live):
        return ['nc-connect %s %d at %dus %s' % (PEER, port,
                                                 first_connect(live), extra)]
    return f


S = {
    'arp': dict(
        txt='''The stack resolves the kernel: a UDP datagram to echo from a peer
whose MAC the stack does not know yet (the kernel has a static entry for
us). Pins the ARP request (RFC 826), the echo queued while resolving
(the pending queue) and sent when the reply comes.''',
        app='inetd', peer=k_arp, svc=svc_inetd),
    'ping': dict(
        txt='''Three pings from the kernel (ping -c 3 -s 56): the kernel's ARP request
and our reply, then echo replies (RFC 792) mirroring id, seq and data.''',
        app='inetd', peer=k_ping, svc=svc_inetd),
    'ping-frag': dict(
        txt='''Fragmented pings from the kernel (ping -s 4000 twice, -s 20000 once):
reassembly of the requests (RFC 791) and fragmentation of our replies at
the 1500-byte MTU, with our IP ids.''',
        app='inetd', peer=k_ping_frag, svc=svc_inetd),
    'udp-echo': dict(
        txt='''UDP echo (RFC 862) of datagrams of 1, 100, 1472 and 3000 bytes (the
last one fragmented both ways): boundaries and ports kept.''',
        app='inetd', peer=k_udp_echo, svc=svc_inetd),
    'udp-unreach': dict(
        txt='''A datagram to a closed UDP port: ICMP port unreachable (RFC 1122
4.1.3.1) quoting the datagram; the kernel's socket sees ECONNREFUSED.''',
        app='inetd', peer=k_udp_unreach, svc=svc_inetd),
    'tcp-handshake': dict(
        txt='''The kernel connects to discard (9), waits and closes: our SYN-ACK and
its options (MSS from the MTU, SACK, timestamps, window scale), then
the passive close of the discard service.''',
        app='inetd', peer=k_tcp_handshake, svc=svc_inetd),
    'tcp-data': dict(
        txt='''20000 bytes to echo (7) and back, then the kernel's FIN: segmentation
at the peer's MSS, ACK clocking, delayed ACKs, window updates as the
application reads, and the close after the echo drained.''',
        app='inetd', peer=k_tcp_data, svc=svc_inetd),
    'tcp-close-passive': dict(
        txt='''Passive close: the kernel closes first after one echo; we ACK its FIN
(CLOSE_WAIT), the echo service closes, our FIN (LAST_ACK), its ACK
(CLOSED). RFC 9293 3.6 case 2.''',
        app='inetd', peer=k_tcp_close_passive, svc=svc_inetd),
    'tcp-close-active': dict(
        txt='''Active close: daytime (13) sends its line and closes first: FIN_WAIT_1,
FIN_WAIT_2 after the kernel's ACK, TIME_WAIT after its FIN, which we ACK.
The line is the live one (case.conf carries it).''',
        app='inetd', peer=k_tcp_close_active, svc=svc_daytime),
    'tcp-rst-closed': dict(
        txt='''A SYN to a closed port gets RST|ACK with ack = seq + 1 (RFC 9293
3.10.7.1); the kernel's connect fails with ECONNREFUSED.''',
        app='inetd', peer=k_tcp_rst, svc=svc_inetd),
    'tcp-retransmit': dict(
        txt='''The echoed data is lost on its way to the kernel (the recorder's relay
drops it) while the kernel's FIN crosses it; our FIN follows and the
kernel SACKs it: one duplicate ACK, below DupThresh (3). RACK (RFC 8985
6.2) sees the FIN, sent after the data, delivered while the data has been
out longer than RACK.rtt + reo_wnd: the data is lost and goes again at
once with the FIN (before RACK, the RTO resent it 200 ms later), and the
kernel ACKs both.''',
        app='inetd', peer=k_tcp_retransmit, svc=svc_inetd,
        drops=[Drop('to-kernel', lambda f: f.tcp and f.plen > 0 and
                    f.sport == 7, what="the stack's first data segment")]),
    'tcp-retransmit-rto': dict(
        txt='''Retransmission by the timer: the echoed data is lost on its way to the
kernel (the recorder's relay drops it), and nothing follows it that the
kernel could acknowledge, so no duplicate ACK comes; the retransmission
timer (RFC 6298, RTO from the handshake's RTT sample, at least
tcp_rto_min) resends it, the kernel ACKs it, then closes.''',
        app='inetd', peer=k_tcp_retransmit_rto, svc=svc_inetd, settle=0.8,
        drops=[Drop('to-kernel', lambda f: f.tcp and f.plen > 0 and
                    f.sport == 7, what="the stack's first data segment")]),
    'tcp-ooo-kernel': dict(
        txt='''Out-of-order arrival from a live kernel: its first data segment to
discard is lost (the relay drops it), the later ones arrive first. Pins
our duplicate ACKs with SACK blocks (RFC 2018) and the cumulative ACK
when the kernel's retransmission fills the hole.''',
        app='inetd', peer=k_tcp_ooo, svc=svc_inetd,
        drops=[Drop('to-stack', lambda f: f.tcp and f.plen > 0 and
                    f.dport == 9, what="the kernel's first data segment")]),
    'tcp-timewait-reack': dict(
        txt='''TIME_WAIT re-ACKs a retransmitted FIN: daytime closes first, and our
ACK of the kernel's FIN is lost (the relay drops it); the kernel resends
its FIN and we, in TIME_WAIT, ACK it again (RFC 9293 3.10.7.4).''',
        app='inetd', peer=k_tcp_close_active, svc=svc_daytime,
        drops=[Drop('to-kernel', lambda f: f.is_('A') and f.sport == 13 and
                    f.plen == 0, what='our ACK of the FIN')], settle=1.5),
    'tcp-zero-window': dict(
        txt='''Zero window and probes: ustack-nc sends 30000 bytes to a kernel socket
with a 2 KiB receive buffer that does not read for 3 s. Pins our sending
up to the offered window, the persist timer's zero-window probes with
backoff (RFC 9293 3.8.6.1), the restart when the window opens, and nc's
FIN after its input ends.''',
        app='nc', nc_port=5001, nbytes=30000, peer=k_zero_window,
        svc=svc_nc(5001, 'data pattern:30000')),
    'tcp-syn-retransmit': dict(
        txt='''A SYN to a silent peer (the relay drops every SYN to the kernel):
retransmitted with exponential backoff (RFC 6298 5.5) at 1, 3 and 7 s,
until ustack-nc gives up after 10 s (-w 10).''',
        app='nc', nc_port=9, nc_wait=10, peer=k_wait_nc,
        svc=svc_nc(9, 'wait 10s no-stdin'),
        drops=[Drop('to-kernel', lambda f: f.is_('S'), every=True,
                    what='every SYN')]),
}


def start_app(build, sc, pcap):
    common = ['--dev', 'us0', '--host-addr', 'none', '--addr', STACK + '/24',
              '--seed', str(SEED), '--pcap', pcap, '--log', 'error']
    if sc['app'] == 'inetd':
        return subprocess.Popen([os.path.join(build, 'bin', 'ustack-inetd')] +
                                common)
    args = [os.path.join(build, 'bin', 'ustack-nc')] + common
    stdin = subprocess.DEVNULL
    if sc.get('nc_wait'):
        args += ['-w', str(sc['nc_wait']), '-d']
    if sc.get('nbytes'):
        path = pcap + '.stdin'
        with open(path, 'wb') as f:
            f.write(pattern(sc['nbytes']))
        stdin = open(path, 'rb')
    return subprocess.Popen(args + [PEER, str(sc['nc_port'])], stdin=stdin,
                            stdout=subprocess.DEVNULL)


def record(build, name, cases):
    sc = S[name]
    out = os.path.join(cases, name)
    tmp = '/tmp/ustack-record-%s-%d' % (name, os.getpid())
    os.makedirs(tmp, exist_ok=True)
    pcap = os.path.join(tmp, 'tee.pcap')
    kfd, ssock = setup_links()
    drops = sc.get('drops', [])
    for d in drops:
        d.seen = d.dropped = 0
    relay = Relay(kfd, ssock, drops)
    relay.start()
    ctx = {'go': threading.Event(), 'nbytes': sc.get('nbytes', 0)}
    peer_err = []
    if sc['app'] == 'nc' and sc['peer'] is k_zero_window:
        # the kernel's server must listen before ustack-nc connects
        th = threading.Thread(target=lambda: run_peer(sc, ctx, peer_err))
        th.start()
        ctx['go'].wait(5)
        app = start_app(build, sc, pcap)
    else:
        app = start_app(build, sc, pcap)
        if not relay.stack_up.wait(5):
            app.kill()
            sys.exit('%s: the stack did not come up' % name)
        time.sleep(0.2)
        th = threading.Thread(target=lambda: run_peer(sc, ctx, peer_err))
        th.start()
    th.join(30)
    if sc['app'] == 'inetd':
        time.sleep(sc.get('settle', 0.5))  # trailing segments settle
        end = now_us()
        app.send_signal(signal.SIGTERM)
    try:
        app.wait(60)
    except subprocess.TimeoutExpired:
        app.kill()
        sys.exit('%s: the stack program did not end' % name)
    if sc['app'] == 'nc':
        end = now_us()
    relay.stop = True
    relay.join(2)
    if peer_err:
        sys.exit('%s: kernel side failed: %s' % (name, peer_err[0]))
    for d in drops:
        if not d.dropped:
            sys.exit('%s: the relay never dropped %s' % (name, d.what))
    make_case(build, name, sc, ctx, pcap, out, end, drops)


def run_peer(sc, ctx, err):
    try:
        sc['peer'](ctx)
    except Exception as e:  # reported by the caller
        err.append(repr(e))


def make_case(build, name, sc, ctx, pcap, out, end, drops):
    replay = os.path.join(build, 'bin', 'ustack-replay')
    subprocess.run(['rm', '-rf', out], check=True)
    live = crosscheck.stack_frames(pcap)
    svc = sc['svc'](ctx, live)
    args = [replay, '--from', pcap, '--addr', STACK + '/24',
            '--end', '%dus' % end]
    for s in svc:
        args += ['--service', s]
    subprocess.run(args + [out], check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(out, 'case.txt'), 'w') as f:
        f.write(sc['txt'].strip() + '\n\nRecorded live (tests/replay/'
                'record.sh %s): the Linux kernel in a network\nnamespace is '
                'the peer; the stack ran %s --seed %d.\n' %
                (name, 'ustack-' + sc['app'], SEED))
        for d in drops:
            f.write('The recorder dropped %s (%d frame%s).\n' %
                    (d.what, d.dropped, 's' if d.dropped > 1 else ''))
    conf = os.path.join(out, 'case.conf')
    with open(conf) as f:
        lines = [ln for ln in f if not ln.startswith('#')]
    with open(conf, 'w') as f:
        f.write('# Recorded live by tests/replay/record.sh %s (format:\n'
                '# tests/replay/README.md). Times are the live stack\'s '
                'clock.\n' % name)
        f.writelines(lines)
    ok = crosscheck.report(replay, out)
    _ok, line, notes = crosscheck.compare(out)
    with open(os.path.join(out, 'case.txt'), 'a') as f:
        f.write('Live session vs replay when recorded: %s.\n' % line)
        if not _ok:
            f.write('The replay differs from the live session from there on '
                    '(timer lateness,\nsee docs/testing.md "How faithful"); '
                    'out.pcap pins the replay.\n')
    return ok


def main(argv):
    if len(argv) != 4 or argv[2] not in S:
        sys.exit('usage: record.py BUILD SCENARIO CASES_DIR\nscenarios: ' +
                 ' '.join(S))
    record(os.path.abspath(argv[1]), argv[2], os.path.abspath(argv[3]))


if __name__ == '__main__':
    main(sys.argv)
