#!/usr/bin/env python3
"""A hand-written ONC RPC (RFC 5531) portmapper/rpcbind client over TCP: a second implementation next to libtirpc's
rpcinfo for the lab's background class other:rpc.

  oncrpcc.py HOST PORT SEED

One connection; 1-6 calls drawn from: NULL (v2/v3/v4), PMAPPROC_GETPORT and PMAPPROC_DUMP (v2), RPCBPROC_GETADDR,
RPCBPROC_DUMP and RPCBPROC_GETTIME (v3/v4), RPCBPROC_GETVERSADDR (v4), with AUTH_NONE or AUTH_SYS credentials,
pipelined or one at a time; each reply's record-marking fragments are read to the end.
"""
import random
import socket
import struct
import sys
import time

PMAP = 100000


def xdr_string(s):
    b = s.encode()
    return struct.pack(">I", len(b)) + b + b"\0" * (-len(b) % 4)


def auth(rng):
    if rng.random() < 0.6:
        return struct.pack(">II", 0, 0)  # AUTH_NONE
    body = struct.pack(">I", int(time.time())) + xdr_string(rng.choice(["labc", "client1", "ws-17"])) + \
        struct.pack(">II", rng.choice([0, 1000]), rng.choice([0, 1000]))
    gids = [rng.randint(0, 2000) for _ in range(rng.randint(0, 4))]
    body += struct.pack(">I", len(gids)) + b"".join(struct.pack(">I", g) for g in gids)
    return struct.pack(">II", 1, len(body)) + body  # AUTH_SYS


def call(rng, xid):
    vers, proc, args = rng.choice([
        (2, 0, b""), (3, 0, b""), (4, 0, b""),
        (2, 3, struct.pack(">IIII", rng.choice([100003, 100005, 100021, 100024, 100000]), rng.choice([2, 3, 4]),
                           rng.choice([6, 17]), 0)),  # GETPORT(prog, vers, prot, port)
        (2, 4, b""),  # DUMP
        (3, 4, b""), (4, 4, b""),  # RPCBPROC_DUMP
        (3, 6, b""), (4, 6, b""),  # GETTIME
        (rng.choice([3, 4]), 3, struct.pack(">II", rng.choice([100000, 100003, 100005]), rng.choice([2, 3, 4])) +
         xdr_string(rng.choice(["tcp", "udp", "tcp6"])) + xdr_string("") + xdr_string("")),  # GETADDR(rpcb)
        (4, 9, struct.pack(">II", 100000, 4) + xdr_string("tcp") + xdr_string("") + xdr_string("")),  # GETVERSADDR
    ])
    body = struct.pack(">IIIIII", xid, 0, 2, PMAP, vers, proc) + auth(rng) + struct.pack(">II", 0, 0) + args
    return struct.pack(">I", 0x80000000 | len(body)) + body


def read_reply(s):
    while True:
        hdr = b""
        while len(hdr) < 4:
            c = s.recv(4 - len(hdr))
            if not c:
                raise EOFError("connection closed")
            hdr += c
        (mark,) = struct.unpack(">I", hdr)
        n = mark & 0x7FFFFFFF
        while n:
            c = s.recv(min(n, 65536))
            if not c:
                raise EOFError("connection closed")
            n -= len(c)
        if mark & 0x80000000:
            return


def main():
    host, port, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(seed)
    s = socket.create_connection((host, port), timeout=15)
    xid = rng.randint(1, 2**31)
    calls = [call(rng, xid + i) for i in range(rng.randint(1, 6))]
    if rng.random() < 0.3:
        s.sendall(b"".join(calls))  # pipelined
        for _ in calls:
            read_reply(s)
    else:
        for c in calls:
            s.sendall(c)
            read_reply(s)
            time.sleep(rng.uniform(0, 0.3))
    s.close()


if __name__ == "__main__":
    main()
