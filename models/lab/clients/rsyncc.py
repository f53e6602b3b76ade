#!/usr/bin/env python3
"""Hand-written rsync daemon-protocol client (as mirror monitors and scanners speak it):
rsyncc.py HOST PORT USER PASSWORD SEED AUTH MODULE [PATH ...]

Greeting and version exchange (protocol 27..31), then either the module list (`#list`), or a module: MOTD,
challenge-response login when the daemon asks (AUTH=1: MD5, protocol 30/31; rsync 3.2 did not accept this
client's MD4 answers of protocols 27-29, so those are drawn for modules without login only), the server arguments of a
listing or a pull (`--server --sender ...`), the empty filter list, then it reads the file list and whatever the
daemon sends until it goes quiet, and closes. Debian 12 has no second rsync implementation; this client is the
lab's own second one."""
import base64
import hashlib
import random
import socket
import sys
import time



def md4(data):
    """MD4 (RFC 1320): rsync's daemon login hash before protocol 30; OpenSSL 3 no longer offers it to hashlib."""
    import struct
    f = lambda x, y, z: (x & y) | (~x & z)  # noqa: E731
    g = lambda x, y, z: (x & y) | (x & z) | (y & z)  # noqa: E731
    h = lambda x, y, z: x ^ y ^ z  # noqa: E731
    rol = lambda v, n: ((v << n) | (v >> (32 - n))) & 0xFFFFFFFF  # noqa: E731
    msg = data + b"\x80" + b"\0" * ((55 - len(data)) % 64) + struct.pack("<Q", len(data) * 8)
    a, b, c, d = 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476
    for i in range(0, len(msg), 64):
        x = struct.unpack("<16I", msg[i:i + 64])
        aa, bb, cc, dd = a, b, c, d
        for k in range(16):
            s = (3, 7, 11, 19)[k % 4]
            a, b, c, d = d, rol((a + f(b, c, d) + x[k]) & 0xFFFFFFFF, s), b, c
        for k in range(16):
            s = (3, 5, 9, 13)[k % 4]
            a, b, c, d = d, rol((a + g(b, c, d) + x[(k % 4) * 4 + k // 4] + 0x5A827999) & 0xFFFFFFFF, s), b, c
        for k in range(16):
            s = (3, 9, 11, 15)[k % 4]
            idx = (0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15)[k]
            a, b, c, d = d, rol((a + h(b, c, d) + x[idx] + 0x6ED9EBA1) & 0xFFFFFFFF, s), b, c
        a, b, c, d = (a + aa) & 0xFFFFFFFF, (b + bb) & 0xFFFFFFFF, (c + cc) & 0xFFFFFFFF, (d + dd) & 0xFFFFFFFF
    return struct.pack("<4I", a, b, c, d)


host, port, user, pw, seed, auth, module = (sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5]),
                                           sys.argv[6] == "1", sys.argv[7])
paths = sys.argv[8:]
rng = random.Random(seed)
s = socket.create_connection((host, port), timeout=20)
buf = b""


def line():
    global buf
    while b"\n" not in buf:
        d = s.recv(4096)
        if not d:
            raise SystemExit("closed")
        buf += d
    ln, buf = buf.split(b"\n", 1)
    return ln.decode("utf-8", "replace")


greet = line()  # "@RSYNCD: 31.0 sha512 sha256 sha1 md5 md4"
proto = rng.choice([31, 31, 30] if auth else [31, 31, 30, 29, 27])
s.sendall(f"@RSYNCD: {proto}.0\n".encode())
if module == "#list":
    s.sendall(b"#list\n" if rng.random() < 0.5 else b"\n")
    while not line().startswith("@RSYNCD: EXIT"):
        pass
    s.close()
    sys.exit(0)
s.sendall(module.encode() + b"\n")
while True:
    ln = line()
    if ln.startswith("@RSYNCD: AUTHREQD"):
        challenge = ln.split()[2]
        raw = pw.encode() + challenge.encode()
        digest = hashlib.md5(raw).digest() if proto >= 30 else md4(raw)
        s.sendall(f"{user} {base64.b64encode(digest).decode().rstrip('=')}\n".encode())
    elif ln.startswith("@RSYNCD: OK"):
        break
    elif ln.startswith("@ERROR") or ln.startswith("@RSYNCD: EXIT"):
        raise SystemExit(ln)
sep = b"\0" if proto >= 30 else b"\n"
flags = rng.choice(["-logDtpre.iLsfxC", "-re.iLsfxC", "-vlogDtpre.iLsfxCIvu", "-de.LsfxC"])
args = ["--server", "--sender", flags, "."] + [f"{module}/{p}" for p in (paths or [""])]
s.sendall(sep.join(a.encode() for a in args) + sep + sep)
time.sleep(0.05)
s.sendall(b"\0\0\0\0")  # the empty filter list
s.settimeout(rng.uniform(0.5, 1.5))
total = 0
try:
    while total < 2_000_000:
        d = s.recv(65536)
        if not d:
            break
        total += len(d)
except (socket.timeout, ConnectionResetError):
    pass  # the daemon resets a connection that ends mid-transfer: the exchange itself is complete
s.close()
