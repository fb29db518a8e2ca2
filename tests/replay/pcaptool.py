#!/usr/bin/python3
"""pcaptool.py - small edits of classic pcap files, for the replay runner's
self-tests and for hand-editing cases. Standard library only.

  pcaptool.py count FILE
  pcaptool.py flip FILE INDEX OFFSET     flip the low bit of one byte
  pcaptool.py drop FILE INDEX            remove a frame (a "missing" frame)
  pcaptool.py dup FILE INDEX             repeat a frame (an "extra" frame)
  pcaptool.py shift FILE INDEX US        move a frame's stamp by US (signed)
  pcaptool.py head FILE N                keep the first N frames
  pcaptool.py list FILE                  index, stamp, length

INDEX may be negative (from the end). Files are rewritten in place.
"""
import struct
import sys

MAGICS = {0xa1b2c3d4: ('<', 1), 0xd4c3b2a1: ('>', 1),
          0xa1b23c4d: ('<', 1000), 0x4d3cb2a1: ('>', 1000)}


def read(path):
    with open(path, 'rb') as f:
        data = f.read()
    magic = struct.unpack('<I', data[:4])[0]
    if magic not in MAGICS:
        sys.exit('%s: not a classic pcap file' % path)
    end, div = MAGICS[magic]
    hdr, frames, off = data[:24], [], 24
    while off + 16 <= len(data):
        sec, frac, incl, orig = struct.unpack(end + 'IIII', data[off:off + 16])
        body = data[off + 16:off + 16 + incl]
        frames.append([sec * 1000000 + frac // div, orig, bytearray(body)])
        off += 16 + incl
    return hdr, end, div, frames


def write(path, hdr, end, div, frames):
    out = [hdr]
    for us, orig, body in frames:
        frac = (us % 1000000) * div
        out.append(struct.pack(end + 'IIII', us // 1000000, frac, len(body),
                               max(orig, len(body))))
        out.append(bytes(body))
    with open(path, 'wb') as f:
        f.write(b''.join(out))


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    cmd, path, args = argv[1], argv[2], [int(a, 0) for a in argv[3:]]
    hdr, end, div, frames = read(path)
    if cmd == 'count':
        print(len(frames))
        return
    if cmd == 'list':
        for i, (us, orig, body) in enumerate(frames):
            print(i, '%d.%06d' % divmod(us, 1000000), len(body))
        return
    if cmd == 'flip':
        frames[args[0]][2][args[1]] ^= 1
    elif cmd == 'drop':
        del frames[args[0]]
    elif cmd == 'dup':
        f = frames[args[0]]
        frames.insert(args[0] % len(frames) + 1, [f[0], f[1], bytearray(f[2])])
    elif cmd == 'shift':
        frames[args[0]][0] += args[1]
    elif cmd == 'head':
        frames = frames[:args[0]]
    else:
        sys.exit(__doc__)
    write(path, hdr, end, div, frames)


if __name__ == '__main__':
    main(sys.argv)
