"""vnc: TigerVNC's Xvnc or x11vnc on an Xvfb display; clients vncsnapshot, TigerVNC vncviewer and TightVNC
xtightvncviewer (under xvfb-run), and a hand-written Python RFB client."""
import os
import subprocess

from .base import Service, free_x, wait_x, write

VNC_PASSWORD = "lab-vnc"


class Vnc(Service):
    name, port = "vnc", 5900
    concurrency = 3
    servers = {"tigervnc": "TigerVNC 1.12 Xvnc", "x11vnc": "x11vnc 0.9.16 on Xvfb"}
    programs = {"vncsnapshot": ("vncsnapshot 1.2", []), "tigervnc-viewer": ("TigerVNC 1.12 vncviewer", []),
                "tightvnc-viewer": ("TightVNC 1.3 xtightvncviewer", []), "python-raw": ("hand-written Python RFB client", [])}

    def prepare(self, ctx):
        self.pwfile = os.path.join(ctx.work, "vncpasswd")
        subprocess.run(["vncpasswd", "-f"], input=(VNC_PASSWORD + "\n").encode(), stdout=open(self.pwfile, "wb"), check=True)

    def server_options(self, rng):
        return {"auth": rng.random() < 0.7, "geometry": rng.choice(["1024x768", "1280x800", "1920x1080", "800x600"]),
                "depth": rng.choice([16, 24, 24])}

    def start(self, ctx, o):
        disp = f":{20 + ctx.slot.k}"  # X sockets live in the shared /tmp: one display number per slot
        free_x(disp)
        if (o.get("server") or "tigervnc") == "tigervnc":
            sec = ["-SecurityTypes", "VncAuth", "-rfbauth", self.pwfile] if o["auth"] else ["-SecurityTypes", "None"]
            return [ctx.srv(["Xvnc", disp, "-rfbport", str(self.port), "-interface", ctx.sip, "-geometry", o["geometry"],
                             "-depth", str(o["depth"]), "-desktop", "lab", "-nolisten", "tcp", "-AlwaysShared"] + sec)]
        xvfb = ctx.srv(["Xvfb", disp, "-screen", "0", f"{o['geometry']}x{o['depth']}", "-nolisten", "tcp", "-noreset"])
        wait_x(disp)
        auth = ["-rfbauth", self.pwfile] if o["auth"] else ["-nopw"]
        return [xvfb, ctx.srv(["x11vnc", "-display", disp, "-rfbport", str(self.port), "-listen", ctx.sip, "-forever",
                               "-shared", "-quiet", "-noxdamage"] + auth)]

    def session(self, ctx, rng, o, prog):
        up = rng.uniform(2, 7)
        if prog == "python-raw":
            return ["/usr/bin/python3", os.path.join(ctx.lab, "clients", "rfbc.py"), ctx.sip, str(self.port), VNC_PASSWORD,
                    str(rng.randint(0, 2**31))]
        if prog == "vncsnapshot":
            out = os.path.join(ctx.work, f"snap{rng.randrange(10**9)}.jpg")
            # vncsnapshot exits non-zero on the blank desktop's zero-size rectangles: the snapshot file is the result
            return ["sh", "-c", f"timeout 25 vncsnapshot -quiet -passwd {self.pwfile} {ctx.sip}::{self.port} {out}; "
                    f"[ -s {out} ]; rc=$?; rm -f {out}; exit $rc"]
        viewer = (f"vncviewer -passwd {self.pwfile} -Shared {ctx.sip}::{self.port}" if prog == "tigervnc-viewer" else
                  f"xtightvncviewer -passwd {self.pwfile} -shared {ctx.sip}::{self.port}")
        return ["sh", "-c", f"timeout -k 2 {up:.1f} xvfb-run -a -s '-screen 0 1280x1024x24' {viewer} >/dev/null 2>&1; exit 0"]
