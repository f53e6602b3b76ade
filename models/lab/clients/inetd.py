#!/usr/bin/env python3
"""A minimal inetd: accepts TCP connections and runs a program per connection with the socket as its
stdin/stdout/stderr, as inetd does for in.telnetd. inetd.py ADDR PORT PROGRAM [ARGS...]"""
import os
import signal
import socket
import sys

addr, port, argv = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # no zombies
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
s.listen(64)
while True:
    c, _ = s.accept()
    if os.fork() == 0:
        s.close()
        os.setsid()
        for fd in (0, 1, 2):
            os.dup2(c.fileno(), fd)
        os.execvp(argv[0], argv)
    c.close()
