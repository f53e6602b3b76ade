#!/usr/bin/env python3
"""AsyncSSH server for the lab: exec, shell (a real /bin/sh) and SFTP, key or password login.

  sshd_asyncssh.py ADDR PORT HOSTKEY AUTHORIZED_KEYS USER PASSWORD
"""
import asyncio
import sys

import asyncssh

addr, port, hostkey, authkeys, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]


class Server(asyncssh.SSHServer):
    def begin_auth(self, username):
        return True

    def password_auth_supported(self):
        return True

    def validate_password(self, username, pw):
        return username == user and pw == password


async def handle(process):
    cmd = process.command or "/bin/sh -i"
    proc = await asyncio.create_subprocess_shell(cmd, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                                                 stderr=asyncio.subprocess.PIPE)
    await process.redirect(stdin=proc.stdin, stdout=proc.stdout, stderr=proc.stderr)
    process.exit(await proc.wait())


async def main():
    await asyncssh.create_server(Server, addr, port, server_host_keys=[hostkey], authorized_client_keys=authkeys,
                                 process_factory=handle, sftp_factory=True, allow_scp=True, encoding=None)
    await asyncio.Event().wait()


asyncio.run(main())
