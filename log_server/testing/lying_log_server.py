#!/usr/bin/env python3
"""A public log server that lies: it forwards every GET to a real log server
(docs/PUBLIC_LOG.md) and alters one resource on the way, for
//log_server/testing:public_log_audit_test. Listens on 127.0.0.1, port 0; writes the port to
PORT_FILE.

usage: lying_log_server.py UPSTREAM PORT_FILE MODE
  entry:N          flips the last byte of entry N in the bundle that holds it
  tile:PATH:HASH   flips a bit of hash HASH of the hash tile at PATH (e.g. tile/0/001)
  checkpoint       changes the root line of the checkpoint note (its signature then fails)
  evidence:HEX     flips a bit of the answer for /evidence/HEX (a CRL, or a record by its hash)
"""
import http.server
import os
import struct
import sys
import urllib.error
import urllib.request

UPSTREAM, PORT_FILE, MODE = sys.argv[1], sys.argv[2], sys.argv[3]


def flip_entry(bundle, position):
    """Flips the last byte of entry `position` of an entry bundle (c2sp.org/tlog-tiles)."""
    data = bytearray(bundle)
    offset = 0
    for i in range(position + 1):
        (length,) = struct.unpack(">H", data[offset:offset + 2])
        offset += 2
        if i == position:
            data[offset + length - 1] ^= 0x01
        offset += length
    return bytes(data)


def alter(path, body):
    kind, _, argument = MODE.partition(":")
    if kind == "entry":
        index = int(argument)
        tile = index // 256
        prefix = "/tile/entries/" + format_index(tile)
        if path == prefix or path.startswith(prefix + ".p/"):
            return flip_entry(body, index % 256)
    elif kind == "tile":
        tile_path, _, hash_index = argument.rpartition(":")
        if path == "/" + tile_path or path.startswith("/" + tile_path + ".p/"):
            data = bytearray(body)
            data[int(hash_index) * 32] ^= 0x80
            return bytes(data)
    elif kind == "checkpoint" and path == "/checkpoint":
        lines = body.split(b"\n")
        lines[2] = b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
        return b"\n".join(lines)
    elif kind == "evidence" and path == "/evidence/" + argument:
        return bytes([body[0] ^ 0x01]) + body[1:]
    return body


def format_index(n):
    """N in 3-digit groups, all but the last prefixed with x (c2sp.org/tlog-tiles)."""
    groups = [f"{n % 1000:03d}"]
    n //= 1000
    while n > 0:
        groups.insert(0, f"x{n % 1000:03d}")
        n //= 1000
    return "/".join(groups)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        try:
            with urllib.request.urlopen(UPSTREAM + self.path, timeout=10) as answer:
                status, body = answer.status, answer.read()
        except urllib.error.HTTPError as error:
            status, body = error.code, error.read()
        if status == 200:
            body = alter(self.path, body)
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(PORT_FILE + ".tmp", "w") as f:
    f.write(f"{server.server_address[1]}\n")
os.rename(PORT_FILE + ".tmp", PORT_FILE)
server.serve_forever()
