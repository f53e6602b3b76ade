#!/usr/bin/env python3
"""ldap3 session: ldapc.py URL BASE SEED (bind, a few searches, sometimes a compare)."""
import random
import ssl
import sys

from ldap3 import ALL, Connection, Server, Tls

url, base, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = random.Random(seed)
tls = Tls(validate=ssl.CERT_NONE)
s = Server(url, use_ssl=url.startswith("ldaps"), tls=tls, connect_timeout=20,
           get_info=ALL if rng.random() < 0.3 else None)
if rng.random() < 0.5:
    c = Connection(s, user=f"cn=admin,{base}", password="adminpw", receive_timeout=20)
else:
    c = Connection(s, receive_timeout=20)
c.bind()
for _ in range(rng.randint(1, 5)):
    c.search(base, rng.choice([f"(uid=user{rng.randrange(300)})", "(objectClass=organizationalUnit)",
                               f"(cn=group{rng.randrange(20)})", f"(mail=user{rng.randrange(9)}*)"]),
             attributes=rng.choice([["cn"], ["*"], ["mail", "telephoneNumber"], []]), size_limit=rng.choice([0, 5, 50]))
if rng.random() < 0.3:
    c.compare(f"uid=user{rng.randrange(300)},ou=people,{base}", "sn", f"S{rng.randrange(300)}")
c.unbind()
