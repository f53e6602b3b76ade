#!/usr/bin/env python3
"""Paramiko or AsyncSSH client session: sshc.py paramiko|asyncssh HOST PORT USER KEY|- PASSWORD KIND SEED DATAFILE

KIND: command (one exec), interactive (a shell on a pty, commands typed with pauses), bulk (SFTP get/put),
idle (log in, wait with keepalives, one command)."""
import io
import random
import sys
import time

lib, host, port, user, key, pw, kind, seed, datafile = sys.argv[1:10]
port, rng = int(port), random.Random(int(seed))
CMDS = ["ls -la", "id", "uname -a", "cat /etc/services | head -50", "df -h", "ps aux | head", "date", "true",
        f"head -c {rng.randint(1, 200000)} /dev/zero | base64"]
typed = [rng.choice(["ls", "pwd", "whoami", "date", "echo hello", "uname -r", "env | head", "ls -la /tmp"])
         for _ in range(rng.randint(1, 6))]


def run_paramiko():
    import paramiko
    c = paramiko.SSHClient()
    c.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    kw = {"key_filename": key, "look_for_keys": False} if key != "-" else {"password": pw, "look_for_keys": False}
    c.connect(host, port, user, timeout=20, allow_agent=False, compress=rng.random() < 0.2, **kw)
    t = c.get_transport()
    if kind == "command":
        _, out, _ = c.exec_command(rng.choice(CMDS))
        out.read()
    elif kind == "interactive":
        ch = c.invoke_shell()
        for cmd in typed:
            time.sleep(rng.uniform(0.1, 1.0))
            for ch_ in cmd + "\n":  # keystroke by keystroke, as a person types
                ch.send(ch_)
                time.sleep(rng.uniform(0.01, 0.12))
            while ch.recv_ready():
                ch.recv(65536)
        ch.send("exit\n")
        time.sleep(0.3)
    elif kind == "bulk":
        s = c.open_sftp()
        if rng.random() < 0.5:
            s.put(datafile, f"/tmp/up-{rng.randrange(10**6)}")
        else:
            s.getfo(datafile, io.BytesIO())
        s.close()
    else:
        t.set_keepalive(1)
        time.sleep(rng.uniform(2, 8))
        _, out, _ = c.exec_command("true")
        out.read()
    c.close()


def run_asyncssh():
    import asyncio
    import asyncssh

    async def go():
        kw = {"client_keys": [key]} if key != "-" else {"password": pw, "client_keys": None}
        async with asyncssh.connect(host, port, username=user, known_hosts=None, connect_timeout=20,
                                    keepalive_interval=1 if kind == "idle" else 0, **kw) as conn:
            if kind == "command":
                await conn.run(rng.choice(CMDS))
            elif kind == "interactive":
                stdin, stdout, _ = await conn.open_session(term_type="xterm", term_size=(80, 24))
                for cmd in typed:
                    await asyncio.sleep(rng.uniform(0.1, 1.0))
                    for ch in cmd + "\n":
                        stdin.write(ch)
                        await asyncio.sleep(rng.uniform(0.01, 0.12))
                stdin.write("exit\n")
                await asyncio.sleep(0.3)
            elif kind == "bulk":
                async with conn.start_sftp_client() as s:
                    if rng.random() < 0.5:
                        await s.put(datafile, f"/tmp/up-{rng.randrange(10**6)}")
                    else:
                        await s.get(datafile, "/dev/null")
            else:
                await asyncio.sleep(rng.uniform(2, 8))
                await conn.run("true")

    asyncio.run(go())


run_paramiko() if lib == "paramiko" else run_asyncssh()
