#!/usr/bin/env python3
"""smtplib session: smtpc.py TLS HOST PORT FROM TO[,TO] SIZE SEED (one or more messages, sometimes STARTTLS)."""
import random
import smtplib
import ssl
import sys

tls, host, port, frm, to, size, seed = sys.argv[1] == "1", sys.argv[2], int(sys.argv[3]), sys.argv[4], \
    sys.argv[5].split(","), int(sys.argv[6]), int(sys.argv[7])
rng = random.Random(seed)
ctx = ssl.create_default_context()
ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
s = smtplib.SMTP_SSL(host, port, context=ctx, timeout=30) if tls else smtplib.SMTP(host, port, timeout=30)
s.ehlo(rng.choice(["client.lab.test", "app01", "[10.77.0.9]"]))
if not tls and rng.random() < 0.25:
    s.starttls(context=ctx)
    s.ehlo()
for _ in range(rng.choice([1, 1, 1, 2, 3])):
    body = "".join(rng.choice("abcdefgh \n") for _ in range(min(size, 3000)))
    body = (body * (size // max(1, len(body)) + 1))[:size]
    msg = f"From: {frm}\r\nTo: {', '.join(to)}\r\nSubject: report {rng.randrange(10**5)}\r\n\r\n{body}\r\n"
    s.sendmail(frm, to, msg)
    if rng.random() < 0.3:
        s.rset()
s.quit()
