#!/usr/bin/python3
"""svgcheck.py - what tests/draw/run.sh asks of ustack-draw's pictures.

  svgcheck.py valid FILE.svg...              each parses as XML with an <svg> root
  svgcheck.py count FILE.svg CLASS           print the number of <g> whose class
                                             attribute has the word CLASS (A.B:
                                             both words)
  svgcheck.py paths FILE.svg CLASS           the same for <path> elements
  svgcheck.py tcpsegs FILE.pcap              print the number of TCP/IPv4 frames
  svgcheck.py edges FILE.svg TCP_FSM_C       every transition in tcp_fsm.c's
                                             transitions[] is an edge (id FROM-TO)
                                             of the state diagram, and no other
  svgcheck.py craft-oow FILE.pcap            write a handshake, one segment in
                                             the window and one far beyond it
Reads the pcap format and the C table itself, so the checks do not rest on
the code under test. Exit 0 when the check holds, 1 when not.
"""
import re
import struct
import sys
import xml.etree.ElementTree as ET

SVG = "{http://www.w3.org/2000/svg}"


def parse(path):
    root = ET.parse(path).getroot()
    if root.tag != SVG + "svg":
        sys.exit("%s: root is %s, not svg" % (path, root.tag))
    return root


def count(path, tag, cls):
    """Elements having every word of cls ("seg.normal": both) as a class."""
    want = set(cls.split("."))
    return sum(1 for e in parse(path).iter(SVG + tag)
               if want <= set((e.get("class") or "").split()))


def tcpsegs(path):
    """TCP over IPv4 frames in an Ethernet pcap (microsecond or ns)."""
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    end = "<" if magic in (0xa1b2c3d4, 0xa1b23c4d) else ">"
    linktype = struct.unpack(end + "I", data[20:24])[0]
    if linktype != 1:
        sys.exit("%s: link type %d, expected Ethernet" % (path, linktype))
    off, n = 24, 0
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(end + "IIII", data[off:off + 16])
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if len(frame) >= 34 and frame[12:14] == b"\x08\x00" and frame[23] == 6:
            n += 1
    return n


def table_edges(fsm_c):
    src = open(fsm_c).read()
    body = src[src.index("transitions[] = {"):]
    body = body[:body.index("};")]
    return set(re.findall(r"\{S\((\w+)\),\s*S\((\w+)\),", body))


def svg_edges(path):
    out = set()
    for g in parse(path).iter(SVG + "g"):
        if "edge" in (g.get("class") or "").split():
            a, _, b = (g.get("id") or "").partition("-")
            out.add((a, b))
    return out


def frame(ipid, src, dst, sport, dport, seq, ack, flags, win, payload=b""):
    """Ethernet + IPv4 + TCP (checksums left zero: ustack-draw ignores them)."""
    tcp = struct.pack(">HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags,
                      win, 0, 0) + payload
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), ipid, 0, 64, 6, 0,
                     bytes(src), bytes(dst))
    eth = b"\x02\0\0\0\0\x01" + b"\x02\0\0\0\0\x02" + b"\x08\x00"
    return eth + ip + tcp


def craft_oow(path):
    a, b = [10, 0, 0, 1], [10, 0, 0, 2]
    syn, ack, psh = 0x02, 0x10, 0x08
    segs = [
        frame(1, a, b, 40000, 80, 1000, 0, syn, 1000),
        frame(2, b, a, 80, 40000, 5000, 1001, syn | ack, 1000),
        frame(3, a, b, 40000, 80, 1001, 5001, ack, 1000),
        frame(4, a, b, 40000, 80, 1001, 5001, ack | psh, 1000, b"x" * 100),
        frame(5, b, a, 80, 40000, 5001, 1101, ack, 1000),
        # 4000 bytes past the right edge (1101 + 1000): out of window
        frame(6, a, b, 40000, 80, 6101, 5001, ack | psh, 1000, b"y" * 100),
        frame(7, b, a, 80, 40000, 5001, 1101, ack, 1000),
    ]
    out = struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1)
    for i, f in enumerate(segs):
        out += struct.pack("<IIII", 1, 1000 * i, len(f), len(f)) + f
    with open(path, "wb") as fh:
        fh.write(out)


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "valid":
        for p in argv[2:]:
            parse(p)
        return 0
    if cmd == "count":
        print(count(argv[2], "g", argv[3]))
        return 0
    if cmd == "paths":
        print(count(argv[2], "path", argv[3]))
        return 0
    if cmd == "craft-oow":
        craft_oow(argv[2])
        return 0
    if cmd == "tcpsegs":
        print(tcpsegs(argv[2]))
        return 0
    if cmd == "edges":
        want, got = table_edges(argv[3]), svg_edges(argv[2])
        if len(want) < 20:
            print("only %d transitions found in %s" % (len(want), argv[3]))
            return 1
        missing, extra = want - got, got - want
        for a, b in sorted(missing):
            print("missing edge %s -> %s" % (a, b))
        for a, b in sorted(extra):
            print("edge not in the table: %s -> %s" % (a, b))
        return 1 if missing or extra else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
