#!/usr/bin/python3
"""Kernel-side memcached client (text protocol): CONNS connections at once,
each sets KEYS keys with random values and reads every one back.
Usage: memc_client.py HOST PORT CONNS KEYS"""
import os
import socket
import sys
import threading

host, port, conns, keys = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
errors = []


def readline(f):
    line = f.readline()
    if not line:
        raise EOFError("connection closed")
    return line


def one(c):
    try:
        s = socket.create_connection((host, port), timeout=20)
        f = s.makefile("rb")
        vals = {}
        for k in range(keys):
            key = f"k{c}_{k}"
            v = os.urandom(1 + (k * 37) % 3000)
            vals[key] = v
            s.sendall(b"set %s 0 0 %d\r\n" % (key.encode(), len(v)) + v + b"\r\n")
            if readline(f) != b"STORED\r\n":
                raise ValueError(f"set {key} not STORED")
        for key, v in vals.items():
            s.sendall(b"get %s\r\n" % key.encode())
            hdr = readline(f).split()
            if hdr[0] != b"VALUE" or int(hdr[3]) != len(v):
                raise ValueError(f"get {key}: {hdr!r}")
            data = f.read(len(v) + 2)
            if data[:-2] != v or readline(f) != b"END\r\n":
                raise ValueError(f"get {key}: value differs")
        s.close()
    except Exception as e:  # noqa: BLE001
        errors.append(f"conn {c}: {e!r}")


ts = [threading.Thread(target=one, args=(c,)) for c in range(conns)]
for t in ts:
    t.start()
for t in ts:
    t.join(120)
if errors:
    print("\n".join(errors[:10]))
    sys.exit(1)
print(f"{conns} connections x {keys} keys set and read back")
