#!/usr/bin/python3
"""A kernel-side HTTP server for upload tests: PUT or POST a body, get back
its length and sha256 as "LEN HEX". Usage: upload.py PORT"""
import hashlib
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def body(self):
        n = int(self.headers.get("Content-Length", "0"))
        h, got = hashlib.sha256(), 0
        while got < n:
            b = self.rfile.read(min(1 << 20, n - got))
            if not b:
                break
            h.update(b)
            got += len(b)
        out = f"{got} {h.hexdigest()}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_PUT = body
    do_POST = body

    def log_message(self, *a):
        pass


HTTPServer(("0.0.0.0", int(sys.argv[1])), H).serve_forever()
