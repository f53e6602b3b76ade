#!/usr/bin/env python3
"""ftplib session: ftpc.py HOST PASV UPLOAD SEED NAME... (login, listings, downloads, sometimes an upload)."""
import ftplib
import io
import random
import sys

host, pasv, upload, seed, names = sys.argv[1], sys.argv[2] == "1", sys.argv[3] == "1", int(sys.argv[4]), sys.argv[5:]
rng = random.Random(seed)
f = ftplib.FTP(host, timeout=30)
f.login("anonymous", rng.choice(["", "guest@", "lab@example.org"]))
f.set_pasv(pasv)
for _ in range(rng.randint(1, 5)):
    op = rng.random()
    if op < 0.3:
        f.nlst("pub")
    elif op < 0.5:
        f.retrlines("LIST pub", lambda _l: None)
    elif op < 0.8:
        f.retrbinary("RETR pub/" + rng.choice(names), lambda _b: None)
    elif op < 0.9:
        f.pwd()
        f.sendcmd("SYST")
        f.sendcmd("FEAT")
    elif upload:
        f.storbinary(f"STOR incoming/u{rng.randrange(10**6)}", io.BytesIO(b"u" * rng.randint(1, 50000)))
f.quit()
