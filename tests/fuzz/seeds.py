#!/usr/bin/python3
"""seeds.py OUTDIR - write the seed corpora of the fuzz targets.

  OUTDIR/frame/  one file per frame (harness.h's fz_build format):
                 every frame of the replay cases' in.pcap, raw (mode 0) and
                 as an IPv4 packet (mode 1); Ethernet frames of the tcpdump
                 capture corpus (tests/corpus/pcap/, at most 2000); and
                 structured frames: TCP segments of each kind on each of the
                 harness's connections (mode 2), UDP (3), ICMP errors (4),
                 ARP (5).
  OUTDIR/seq/    one file per sequence (targets.c's format): each replay
                 case's in.pcap with its time gaps, and a few multi-step
                 TCP sequences with time steps that reach the timers.
  OUTDIR/api/    socket-API programs (api.c's format): a server, a
                 client, a UDP echo, each with the peer's segments.

Standard library only; deterministic (same files every run).
"""
import hashlib
import os
import struct
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, 'tests', 'replay'))
import pcaptool  # noqa: E402

NCONNS = 11          # the harness's hand-driven connections (harness.c)
MAX_CORPUS = 2000    # frames taken from tests/corpus/pcap
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def frames_of(path):
    """Ethernet frames of a classic pcap, as (microseconds, bytes)."""
    try:
        hdr, _end, _div, frames = pcaptool.read(path)
    except SystemExit:
        return []
    linktype = struct.unpack('<I' if hdr[:4] in (b'\xd4\xc3\xb2\xa1',
                                                 b'\x4d\x3c\xb2\xa1')
                             else '>I', hdr[20:24])[0]
    if linktype != 1:
        return []
    return [(us, bytes(body)) for us, _orig, body in frames]


def replay_inputs():
    cases = os.path.join(TOP, 'tests', 'replay', 'cases')
    dirs = [os.path.join(cases, d) for d in sorted(os.listdir(cases))]
    dirs.append(os.path.join(TOP, 'tests', 'replay', 'selftest'))
    for d in dirs:
        p = os.path.join(d, 'in.pcap')
        if os.path.exists(p):
            yield os.path.basename(d), frames_of(p)


def tcp_rec(conn, flags, data=b'', seq=0, ack=0, win=65535, opts=b''):
    """Mode 2: a segment on harness connection `conn`."""
    return (bytes([2, conn]) + struct.pack('>IIBH', seq & 0xffffffff,
                                           ack & 0xffffffff, flags, win) +
            bytes([len(opts) & 0x3f]) + opts + data)


def dt_code(us):
    """targets.c's time step closest to `us` (with the checksum bit)."""
    ms = us // 1000
    if ms < 64:
        code = ms
    elif ms < 32 * 64:
        code = 63 + ms // 64
    else:
        code = min(127, 95 + max(1, ms // 4000))
    return 0x80 | code


def seq_file(records):
    return b''.join(struct.pack('>HB', len(r), dt) + r for dt, r in records)


def structured_frames():
    out = []
    kinds = [(ACK, b''), (PSH | ACK, b'hello'), (FIN | ACK, b''),
             (RST, b''), (RST | ACK, b''), (SYN, b''), (SYN | ACK, b''),
             (0, b''), (FIN | PSH | ACK, b'bye')]
    for k in range(NCONNS):
        for flags, data in kinds:
            out.append(tcp_rec(k, flags, data))
        out.append(tcp_rec(k, ACK, b'x' * 1000, seq=1000))       # a hole
        out.append(tcp_rec(k, ACK, b'', ack=-1))                 # old ack
        out.append(tcp_rec(k, ACK, b'', win=0))                  # zero window
        out.append(tcp_rec(k, ACK, b'', opts=bytes([5, 10]) +    # SACK block
                           struct.pack('>II', 0, 100)))
    for port in (7, 9, 4444):
        out.append(bytes([3]) + struct.pack('>HH', port, 40000) + b'ping')
    for typ, code, rest in ((3, 3, 0), (3, 4, 576), (3, 1, 0), (11, 0, 0),
                            (4, 0, 0), (12, 0, 0)):
        for k in (0, 9, 10):
            out.append(bytes([4, typ, code]) + struct.pack('>IBI', rest, k, 0))
    for op in (1, 2, 3):
        out.append(bytes([5, op]) + bytes.fromhex(
            '020000000001' '0a000001' '000000000000' '0a000002'))
    return out


def structured_seqs():
    """A few multi-step sequences on the harness's connections."""
    seqs = []
    for k in range(NCONNS):
        seqs.append(seq_file([
            (0x80 | 1, tcp_rec(k, PSH | ACK, b'a' * 100)),
            (0x80 | 20, tcp_rec(k, PSH | ACK, b'b' * 100, seq=100)),
            (0x80 | 100, tcp_rec(k, FIN | ACK, b'', seq=200)),
            (0x80 | 127, b''),
        ]))
    seqs.append(seq_file([(0x80 | 64, tcp_rec(0, ACK, b'', win=0)),
                          (0x80 | 80, b''), (0x80 | 90, b''),
                          (0x80 | 100, tcp_rec(0, ACK, b'', win=65535))]))
    return seqs


def api_seeds():
    """api.c programs: op byte and its argument bytes."""
    server = [0, 0x40, 1, 0, 0x02, 2, 0, 8, 0x1d, 1, 14, 0, 0, 4, 0,
              14, 0, 0x11, 6, 1, 2, 5, 1, 3, 14, 0, 0, 14, 0, 2, 8, 1,
              12, 100]
    client = [0, 0x40, 3, 0, 0x04, 14, 0, 4, 5, 0, 3, 14, 0, 0, 7, 0, 1,
              14, 0, 2, 12, 0x60]
    udp = [0, 0x41, 1, 0, 1, 15, 0x19, 6, 0, 0x42, 0x15, 0, 0x02, 0x01,
           8, 0]
    return [bytes(server), bytes(client), bytes(udp),
            bytes(server + client + udp)]


def write(d, data, tag):
    name = tag + '-' + hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__)
    fdir, sdir = os.path.join(argv[1], 'frame'), os.path.join(argv[1], 'seq')
    os.makedirs(fdir, exist_ok=True)
    os.makedirs(sdir, exist_ok=True)
    nf = ns = 0
    for name, frames in replay_inputs():
        recs, last = [], None
        for us, f in frames:
            write(fdir, b'\x00' + f, 'replay')
            nf += 1
            if len(f) > 14 and f[12:14] == b'\x08\x00':
                write(fdir, b'\x01' + f[14:], 'replay-ip')
                nf += 1
            recs.append((dt_code(0 if last is None else us - last),
                         b'\x00' + f))
            last = us
        if recs:
            write(sdir, seq_file(recs[:256]), 'replay-' + name)
            ns += 1
    corpus = os.path.join(TOP, 'tests', 'corpus', 'pcap')
    taken = 0
    for p in sorted(os.listdir(corpus)) if os.path.isdir(corpus) else []:
        for _us, f in frames_of(os.path.join(corpus, p))[:20]:
            if taken < MAX_CORPUS and len(f) <= 4096:
                write(fdir, b'\x00' + f, 'corpus')
                taken += 1
    for r in structured_frames():
        write(fdir, r, 'made')
    for s in structured_seqs():
        write(sdir, s, 'made')
    adir = os.path.join(argv[1], 'api')
    os.makedirs(adir, exist_ok=True)
    for s in api_seeds():
        write(adir, s, 'made')
    print('seeds: %d frame seeds (%d from tests/corpus/pcap, %d made), '
          '%d sequence seeds' % (len(os.listdir(fdir)), taken,
                                 len(structured_frames()), len(os.listdir(sdir))))


if __name__ == '__main__':
    main(sys.argv)
