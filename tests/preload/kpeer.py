#!/usr/bin/python3
"""Kernel-side peer for tests/preload/mixed.c: TCP echo (a thread per
connection; closes after the client's FIN) and UDP echo on PORT.
Usage: kpeer.py PORT"""
import socket
import socketserver
import sys
import threading


class TcpEcho(socketserver.BaseRequestHandler):
    def handle(self):
        try:
            while True:
                b = self.request.recv(65536)
                if not b:
                    break
                self.request.sendall(b)
        except ConnectionError:
            pass  # a test closing with unread data resets (as it should)


class UdpEcho(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        sock.sendto(data, self.client_address)


class TS(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


port = int(sys.argv[1])
u = socketserver.UDPServer(("0.0.0.0", port), UdpEcho)
threading.Thread(target=u.serve_forever, daemon=True).start()
TS(("0.0.0.0", port), TcpEcho).serve_forever()
