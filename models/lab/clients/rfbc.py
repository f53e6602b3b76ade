#!/usr/bin/env python3
"""Hand-written RFB (VNC) client, as monitoring scripts and bots do: rfbc.py HOST PORT PASSWORD SEED.
Version, security (None or VNC authentication), ClientInit, SetPixelFormat, SetEncodings, framebuffer update
requests (full, then incremental), a few pointer/key events, close."""
import random
import socket
import struct
import sys
import time
import warnings

warnings.filterwarnings("ignore")
host, port, pw, rng = sys.argv[1], int(sys.argv[2]), sys.argv[3], random.Random(int(sys.argv[4]))
s = socket.create_connection((host, port), timeout=20)


def recv(n):
    b = b""
    while len(b) < n:
        d = s.recv(n - len(b))
        if not d:
            raise SystemExit("closed")
        b += d
    return b


ver = recv(12)
mine = rng.choice([b"RFB 003.008\n", b"RFB 003.008\n", b"RFB 003.003\n"]) if ver >= b"RFB 003.008\n" else ver
s.sendall(mine)


def vnc_auth():
    challenge = recv(16)
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    key = bytes(int(f"{c:08b}"[::-1], 2) for c in (pw.encode() + b"\0" * 8)[:8])  # VNC reverses each key byte's bits
    enc = Cipher(algorithms.TripleDES(key * 3), modes.ECB()).encryptor()
    s.sendall(enc.update(challenge) + enc.finalize())
    if struct.unpack(">I", recv(4))[0] != 0:
        raise SystemExit("auth failed")


if mine == b"RFB 003.003\n":  # 3.3: the server picks the security type
    t = struct.unpack(">I", recv(4))[0]
    if t == 2:
        vnc_auth()
    elif t != 1:
        raise SystemExit("connection refused")
else:
    n = recv(1)[0]
    types = recv(n) if n else b""
    if 2 in types:
        s.sendall(b"\x02")
        vnc_auth()
    elif 1 in types:
        s.sendall(b"\x01")
        recv(4)
s.sendall(bytes([rng.choice([0, 1])]))  # ClientInit: shared flag
w, h = struct.unpack(">HH", recv(4))
recv(16)
name_len = struct.unpack(">I", recv(4))[0]
recv(name_len)
if rng.random() < 0.6:
    bpp = rng.choice([8, 16, 32])
    s.sendall(struct.pack(">B3xBBBBHHHBBB3x", 0, bpp, min(bpp, 24), 0, 1, 255 if bpp != 16 else 31, 255 if bpp != 16 else 63,
                          255 if bpp != 16 else 31, 16 if bpp == 32 else 11, 8 if bpp == 32 else 5, 0))
encs = rng.sample([0, 1, 2, 5, 6, 7, 16, -223, -239, -257], rng.randint(1, 6))
s.sendall(struct.pack(">BxH", 2, len(encs)) + b"".join(struct.pack(">i", e) for e in encs))
s.settimeout(2)
for i in range(rng.randint(1, 8)):
    s.sendall(struct.pack(">BBHHHH", 3, 1 if i else 0, 0, 0, w, h))
    if rng.random() < 0.4:
        s.sendall(struct.pack(">BBHH", 5, 0, rng.randrange(w), rng.randrange(h)))
    if rng.random() < 0.2:
        s.sendall(struct.pack(">BBxxI", 4, 1, 0x61) + struct.pack(">BBxxI", 4, 0, 0x61))
    try:
        s.recv(1 << 20)
    except socket.timeout:
        pass
    time.sleep(rng.uniform(0.05, 0.6))
s.close()
