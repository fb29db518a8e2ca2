#!/usr/bin/python3
"""crosscheck.py CASE_DIR - compare a recorded case's live.pcap (what the
stack sent in the live session) with out.pcap (what the replay makes it
send). Standard library only.

The replay is faithful when the same frames come out: same count, same
kind (ARP op / IP protocol / TCP flags / payload length) frame by frame,
at the same times (within the case's tolerance), and ideally the same
bytes. Where the bytes differ but the kind agrees, the report names the
fields (a TCP timestamp one millisecond apart is the usual one: see
docs/testing.md, "Recording"). Exit 0 when count and kinds agree.
"""
import os
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pcaptool  # noqa: E402

STACK_MAC = bytes.fromhex('020000000002')


def frames(path):
    return [(us, bytes(b)) for us, _o, b in pcaptool.read(path)[3]]


def stack_frames(pcap):
    return [(us, b) for us, b in frames(pcap) if b[6:12] == STACK_MAC]


def kind(b):
    """What the frame is, leaving out the fields that legitimately vary."""
    if b[12:14] == b'\x08\x06':
        return 'ARP op %d' % struct.unpack('>H', b[20:22])[0]
    if b[12:14] != b'\x08\x00' or len(b) < 34:
        return 'ether 0x%s len %d' % (b[12:14].hex(), len(b))
    ihl, proto = (b[14] & 15) * 4, b[23]
    tot, frag = struct.unpack('>HH', b[16:18] + b[20:22])
    if frag & 0x1fff:
        return 'IP fragment len %d' % tot
    t = 14 + ihl
    if proto == 6:
        flags = ''.join(c for c, bit in zip('FSRPA', (1, 2, 4, 8, 16))
                        if b[t + 13] & bit)
        plen = tot - ihl - (b[t + 12] >> 4) * 4
        return 'TCP %d>%d [%s] len %d' % (struct.unpack('>H', b[t:t + 2])[0],
                                          struct.unpack('>H', b[t + 2:t + 4])[0],
                                          flags, plen)
    if proto == 17:
        return 'UDP len %d' % (tot - ihl - 8)
    if proto == 1:
        return 'ICMP type %d code %d len %d' % (b[t], b[t + 1], tot - ihl)
    return 'IP proto %d len %d' % (proto, tot)


def tolerance(case):
    tol = 1000
    with open(os.path.join(case, 'case.conf')) as f:
        for line in f:
            w = line.split()
            if len(w) == 2 and w[0] == 'tolerance':
                v = w[1]
                mul = 1000 if v.endswith('ms') else 1 if v.endswith('us') \
                    else 1000000
                tol = int(float(v.rstrip('mus')) * mul)
    return tol


def compare(case):
    live = frames(os.path.join(case, 'live.pcap'))
    rep = frames(os.path.join(case, 'out.pcap'))
    tol = tolerance(case)
    same_bytes = same_kind = late = 0
    worst, notes = 0, []
    for i in range(min(len(live), len(rep))):
        (lt, lb), (rt, rb) = live[i], rep[i]
        dt = abs(lt - rt)
        worst = max(worst, dt)
        if lb == rb:
            same_bytes += 1
        if kind(lb) == kind(rb):
            same_kind += 1
        elif len(notes) < 8:
            notes.append('frame %d: live %s, replay %s' % (i, kind(lb),
                                                          kind(rb)))
        if dt > tol:
            late += 1
            if len(notes) < 8:
                notes.append('frame %d: %d us apart (%s)' % (i, dt, kind(lb)))
    for i in range(len(rep), len(live)):
        if len(notes) < 8:
            notes.append('frame %d only live: %s' % (i, kind(live[i][1])))
    for i in range(len(live), len(rep)):
        if len(notes) < 8:
            notes.append('frame %d only in the replay: %s' % (i, kind(rep[i][1])))
    ok = len(live) == len(rep) == same_kind
    return ok, ('live %d frames, replay %d; same kind %d, byte-identical %d, '
                'outside the %d us tolerance %d (worst %d us)' %
                (len(live), len(rep), same_kind, same_bytes, tol, late,
                 worst)), notes


def report(replay, case):
    ok, line, notes = compare(case)
    r = subprocess.run([replay, case], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    print('%s: %s%s' % (os.path.basename(case), line,
                        '' if ok else '  <-- NOT FAITHFUL'))
    for n in notes:
        print('    ' + n)
    if r.returncode:
        print(r.stdout)
    return ok and r.returncode == 0


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    bad = 0
    for case in argv[1:]:
        ok, line, notes = compare(case)
        print('%s: %s' % (os.path.basename(case.rstrip('/')), line))
        for n in notes:
            print('    ' + n)
        bad += not ok
    sys.exit(1 if bad else 0)


if __name__ == '__main__':
    main(sys.argv)
