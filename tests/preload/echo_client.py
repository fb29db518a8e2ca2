#!/usr/bin/python3
"""Kernel-side echo client: N connections at once, each sends SIZE random
bytes, half-closes and must read back exactly what it sent.
Usage: echo_client.py HOST PORT CONNS SIZE"""
import os
import socket
import sys
import threading

host, port, conns, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
errors = []


def one(i):
    try:
        data = os.urandom(size)
        s = socket.create_connection((host, port), timeout=20)
        got = bytearray()

        def reader():
            while True:
                b = s.recv(65536)
                if not b:
                    break
                got.extend(b)
        t = threading.Thread(target=reader)
        t.start()
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        t.join(30)
        s.close()
        if bytes(got) != data:
            errors.append(f"conn {i}: sent {len(data)}, got back {len(got)} (differs)")
    except Exception as e:  # noqa: BLE001
        errors.append(f"conn {i}: {e!r}")


ts = [threading.Thread(target=one, args=(i,)) for i in range(conns)]
for t in ts:
    t.start()
for t in ts:
    t.join(60)
if errors:
    print("\n".join(errors[:10]))
    sys.exit(1)
print(f"{conns} connections x {size} bytes echoed")
