#!/usr/bin/env python3
"""slixmpp session: xmppc.py HOST PORT USER PASS SEED (login, roster, presence, a few messages, log out)."""
import asyncio
import logging
import random
import ssl
import sys

import slixmpp

host, port, user, pw, seed = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
rng = random.Random(seed)
logging.disable(logging.CRITICAL)


class Bot(slixmpp.ClientXMPP):
    def __init__(self):
        super().__init__(f"{user}@lab.test/{rng.choice(['phone', 'laptop', 'bot', 'r' + str(rng.randrange(999))])}", pw)
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        self.add_event_handler("session_start", self.start)
        self.add_event_handler("failed_auth", lambda _e: self.disconnect())

    async def start(self, _e):
        self.send_presence(pstatus=rng.choice(["", "busy", "at lunch"]))
        await self.get_roster()
        for _ in range(rng.randint(0, 6)):
            self.send_message(mto=rng.choice(["alice@lab.test", "bob@lab.test", "carol@lab.test"]),
                              mbody="m" * rng.randint(1, 800), mtype="chat")
            await asyncio.sleep(rng.choice([0, 0.05, 0.3]))
        self.disconnect()


b = Bot()
if rng.random() < 0.3:
    b.register_plugin("xep_0199")
b.connect((host, port))  # an address: no SRV lookup of the JID domain
# process(timeout=) is broken on Python 3.11 (asyncio.wait on coroutines): wait for the disconnect ourselves
b.loop.run_until_complete(asyncio.wait_for(b.disconnected, 25))
