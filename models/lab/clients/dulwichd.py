#!/usr/bin/env python3
"""Dulwich's git:// daemon: dulwichd.py ADDRESS PORT BASEDIR.

`dulwich daemon` (0.21, Debian 12) fails every request: its FileSystemBackend joins the str root with the bytes
path of the request (TypeError, "Can't mix strings and bytes"), and the request's absolute "/NAME.git" would
escape its root anyway. This runs the same TCPGitServer with a backend
that decodes the path first; everything else is Dulwich's own server code."""
import sys

from dulwich.server import FileSystemBackend, TCPGitServer


class Backend(FileSystemBackend):
    def open_repository(self, path):
        path = path.decode("utf-8") if isinstance(path, bytes) else path
        return super().open_repository(path.lstrip("/"))  # git:// sends "/NAME.git": relative to the base


addr, port, base = sys.argv[1], int(sys.argv[2]), sys.argv[3]
TCPGitServer(Backend(base), addr, port).serve_forever()
