#!/usr/bin/env python3
"""imaplib/poplib session: mailc.py imap|pop3 TLS HOST PORT USER PASS SEED."""
import imaplib
import poplib
import random
import ssl
import sys

proto, tls, host, port, user, pw, seed = sys.argv[1], sys.argv[2] == "1", sys.argv[3], int(sys.argv[4]), \
    sys.argv[5], sys.argv[6], int(sys.argv[7])
rng = random.Random(seed)
ctx = ssl.create_default_context()
ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
if proto == "imap":
    m = imaplib.IMAP4_SSL(host, port, ssl_context=ctx, timeout=30) if tls else imaplib.IMAP4(host, port, timeout=30)
    if not tls and rng.random() < 0.2:
        m.starttls(ssl_context=ctx)
    m.login(user, pw)
    if rng.random() < 0.3:
        m.list()
    typ, data = m.select("INBOX", readonly=rng.random() < 0.5)
    n = int(data[0])
    for _ in range(rng.randint(0, 4)):
        if n:
            what = rng.choice(["(FLAGS)", "(RFC822.HEADER)", "(RFC822)", "(BODY.PEEK[])", "(ENVELOPE)"])
            m.fetch(str(rng.randint(1, n)), what)
    if rng.random() < 0.4:
        m.search(None, "ALL")
    if rng.random() < 0.3:
        m.noop()
    m.logout()
else:
    m = poplib.POP3_SSL(host, port, context=ctx, timeout=30) if tls else poplib.POP3(host, port, timeout=30)
    if not tls and rng.random() < 0.2:
        m.stls(context=ctx)
    m.user(user)
    m.pass_(pw)
    count, _ = m.stat()
    if rng.random() < 0.5:
        m.list()
    if rng.random() < 0.3:
        m.uidl()
    for _ in range(rng.randint(0, 3)):
        if count:
            if rng.random() < 0.5:
                m.retr(rng.randint(1, count))
            else:
                m.top(rng.randint(1, count), rng.randint(0, 10))
    m.quit()
