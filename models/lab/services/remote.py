"""Remote desktop and Windows RPC: rdp (xrdp in front of a TigerVNC Xvnc, or FreeRDP's shadow server on Xvfb) and
dcerpc (the DCE/RPC endpoint mapper on TCP 135: Samba's samba-dcerpcd, or the Samba AD DC's own RPC server)."""
import os
import shutil
import subprocess
import time

from .base import SAMBA_NO_PRINTERS, Service, samba_dirs, cert, free_x, tls_opts, wait_x, write
from .ssh import PASSWORD, USER, ensure_user

IMPACKET = "/usr/share/doc/python3-impacket/examples"
VNC_PASSWORD = "lab-vnc"


class Rdp(Service):
    name, port = "rdp", 3389
    concurrency = 3
    sessions_cap = 16  # every session starts an X client under xvfb-run: slow on a loaded machine
    # wrong passwords on purpose; Impacket's rdp_check needs NLA (CredSSP), which xrdp does not offer: its sessions
    # end after the X.224 negotiation and TLS handshake, as a scanner's do
    max_failed_share = 0.7
    servers = {"xrdp": "xrdp 0.9.21 (VNC back end: TigerVNC Xvnc)", "freerdp-shadow": "FreeRDP 2.11 freerdp-shadow-cli on Xvfb"}
    programs = {"xfreerdp": ("FreeRDP 2.11 xfreerdp", []), "rdesktop": ("rdesktop 1.9", []),
                "impacket": ("Impacket 0.10 rdp_check.py (Python)", [])}

    def prepare(self, ctx):
        ensure_user()
        self.pwfile = os.path.join(ctx.work, "vncpasswd")
        subprocess.run(["vncpasswd", "-f"], input=(VNC_PASSWORD + "\n").encode(), stdout=open(self.pwfile, "wb"), check=True)

    def pick_program(self, rng, opts):
        # rdesktop 1.9 and FreeRDP's shadow server disagree on the MCS erect-domain PDU (every session fails)
        progs = sorted(self.programs)
        if opts.get("server") == "freerdp-shadow":
            progs.remove("rdesktop")
        return rng.choice(progs)

    def server_options(self, rng):
        o = tls_opts(rng, ("rsa2048", "rsa3072", "rsa4096"))  # RDP's TLS needs an RSA key in xrdp
        o.update({"security_layer": rng.choice(["negotiate", "negotiate", "tls", "rdp"]),
                  "crypt_level": rng.choice(["high", "high", "fips", "low"]),
                  "geometry": rng.choice(["1024x768", "1280x800", "1920x1080", "800x600"]),
                  "depth": rng.choice([16, 24, 24]), "bitmap_compression": rng.random() < 0.8,
                  "max_bpp": rng.choice([16, 24, 32, 32]), "desktop_load": rng.choice(["blank", "xclock", "xeyes"])})
        return o

    def start(self, ctx, o):
        w = ctx.work
        disp = f":{40 + ctx.slot.k}"  # X sockets live in the shared /tmp: one display number per slot
        free_x(disp)
        procs = []
        if o.get("server") == "freerdp-shadow":
            o["depth"] = 24  # the shadow server's X11 back end takes 24/32-bit displays only
            procs.append(ctx.srv(["Xvfb", disp, "-screen", "0", f"{o['geometry']}x{o['depth']}", "-nolisten", "tcp", "-noreset"]))
        else:
            procs.append(ctx.srv(["Xvnc", disp, "-rfbport", "5910", "-interface", "127.0.0.1", "-geometry", o["geometry"],
                                  "-depth", str(o["depth"]), "-desktop", "lab", "-nolisten", "tcp",
                                  "-SecurityTypes", "VncAuth", "-rfbauth", self.pwfile, "-AlwaysShared"]))
        wait_x(disp)
        if o["desktop_load"] != "blank":
            if shutil.which(o["desktop_load"]):  # x11-apps
                procs.append(ctx.srv(["env", f"DISPLAY={disp}", o["desktop_load"]]))
            else:
                o["desktop_load"] = f"blank ({o['desktop_load']} missing)"
        if o.get("server") == "freerdp-shadow":
            home = os.path.join(w, "shadow-home")
            os.makedirs(home, exist_ok=True)
            sec = {"negotiate": [], "tls": ["/sec:tls"], "rdp": ["/sec:rdp"]}[o["security_layer"]]
            procs.append(ctx.srv(["env", f"DISPLAY={disp}", f"HOME={home}", "freerdp-shadow-cli", f"/port:{self.port}",
                                  f"/bind-address:{ctx.sip}"] + sec))
            return procs
        key, crt = cert(ctx, o)
        write(os.path.join(w, "xrdp.ini"), f"""[Globals]
ini_version=1
fork=false
port={self.port}
tcp_nodelay=true
tcp_keepalive=true
security_layer={o['security_layer']}
crypt_level={o['crypt_level']}
certificate={crt}
key_file={key}
ssl_protocols=TLSv1.2, TLSv1.3
autorun=
allow_channels=true
bitmap_cache=true
bitmap_compression={'true' if o['bitmap_compression'] else 'false'}
bulk_compression=true
max_bpp={o['max_bpp']}
new_cursors=true
use_fastpath=both
[Logging]
LogFile={w}/xrdp.log
LogLevel=WARNING
EnableSyslog=false
[Channels]
rdpdr=true
rdpsnd=true
drdynvc=true
cliprdr=true
rail=true
[Xvnc-direct]
name=vnc-direct
lib=libvnc.so
username=na
password={VNC_PASSWORD}
ip=127.0.0.1
port=5910
""")
        procs.append(ctx.srv(["xrdp", "-n", "-c", os.path.join(w, "xrdp.ini")]))
        return procs

    def session(self, ctx, rng, o, prog):
        shadow = o.get("server") == "freerdp-shadow"
        user, pw = (USER, PASSWORD) if shadow else ("na", VNC_PASSWORD)
        if rng.random() < 0.1:
            pw = "wrong-password"
        kind = rng.choices(["view", "auth-only", "idle"], [4, 1, 1])[0]
        up = rng.uniform(2, 6) if kind == "view" else rng.uniform(8, 14)
        geo = rng.choice(["800x600", "1024x768", "1280x720", "1280x1024"])
        if prog == "impacket":
            return ["sh", "-c", f"timeout 20 /usr/bin/python3 {IMPACKET}/rdp_check.py '{user}:{pw}@{ctx.sip}' >/dev/null 2>&1; exit 0"], "auth-only"
        if prog == "rdesktop":
            opts = [f"-g {geo}", f"-a {rng.choice([8, 15, 16, 24, 32])}"]
            opts += rng.sample(["-z", "-x m", "-x b", "-x l", "-P", "-4", "-E"], rng.randint(0, 2))
            if o["security_layer"] == "rdp" and "-4" not in opts:
                opts.append("-E") if "-E" not in opts else None
            return ["sh", "-c", f"echo yes | timeout -k 2 {up:.1f} xvfb-run -a -s '-screen 0 1600x1200x24' rdesktop "
                    f"-u {user} -p {pw} {' '.join(opts)} {ctx.sip}:{self.port} >/dev/null 2>&1; exit 0"], kind
        opts = ["/cert:ignore", f"/size:{geo}", f"/bpp:{rng.choice([16, 24, 32])}"]
        opts += rng.sample(["/gfx", "/rfx", "-compression", "/network:modem", "/network:broadband", "/network:lan",
                            "+clipboard", "-wallpaper", "/sound", "/log-level:ERROR"], rng.randint(0, 3))
        sec = {"negotiate": rng.choice([[], ["/sec:tls"]]), "tls": ["/sec:tls"], "rdp": ["/sec:rdp"]}[o["security_layer"]]
        if kind == "auth-only":
            opts.append("+auth-only")
        return ["sh", "-c", f"timeout -k 2 {up:.1f} xvfb-run -a -s '-screen 0 1600x1200x24' xfreerdp /v:{ctx.sip}:{self.port} "
                f"/u:{user} /p:{pw} {' '.join(opts + sec)} >/dev/null 2>&1; exit 0"], kind

    def session_timeout(self, prog):
        return 40


class Dcerpc(Service):
    """Endpoint-mapper connections on TCP 135 (lookups, management calls, the map requests that clients make
    before they connect to an interface's dynamic port) and, since batch b13, those interface connections."""
    name, port = "dcerpc", 135
    concurrency = 4
    max_failed_share = 0.7  # wrong passwords and interfaces the server does not offer, on purpose
    servers = {"samba-dcerpcd": "Samba 4.17 samba-dcerpcd (standalone server)", "samba-ad-dc": "Samba 4.17 AD DC (samba)"}
    programs = {"impacket": ("Impacket 0.10 (rpcdump.py, rpcmap.py, DCERPC transport)", []),
                "rpcclient": ("Samba 4.17 rpcclient (source3 client library)", []),
                "samba-python": ("Samba 4.17 Python bindings (source4 librpc)", [])}

    def capture_filter(self, slot):
        """Since batch b13 also the interface connections that follow a map on 135: to the server's dynamic RPC
        ports (49152-65535), as in real captures (half of the outside set's DCE/RPC flows are on such ports). Only
        the server's side of the port range counts, so a client's ephemeral port never pulls in another flow."""
        s = slot.sip
        return (f"tcp and host {s} and (port {self.port} or (src host {s} and src portrange 49152-65535) or "
                f"(dst host {s} and dst portrange 49152-65535))")

    def prepare(self, ctx):
        ensure_user()
        w = ctx.work
        for d in ("sa",):
            for sub in ("run", "lock", "state", "cache", "private", "ncalrpc"):
                os.makedirs(os.path.join(w, d, sub), exist_ok=True)

    def server_options(self, rng):
        return {"workgroup": rng.choice(["LAB", "CORP", "WORKGROUP"])}

    def conf(self, ctx, d, o, extra=""):
        s = os.path.join(ctx.work, d)
        return f"""[global]
  workgroup = {o['workgroup'] if d == 'sa' else 'LAB'}
  interfaces = {ctx.sip}/24
  bind interfaces only = yes
  disable netbios = yes
{samba_dirs(s)}{SAMBA_NO_PRINTERS}{extra}"""

    def provision_ad(self, ctx):
        """Once per slot: a small AD domain (samba-tool domain provision) whose DC serves RPC on 135 itself."""
        s = os.path.join(ctx.work, "ad")
        conf = os.path.join(s, "etc", "smb.conf")
        if os.path.exists(os.path.join(s, "private", "sam.ldb")):
            return conf
        shutil.rmtree(s, ignore_errors=True)
        os.makedirs(os.path.join(s, "run"), exist_ok=True)
        opts = [f"interfaces = {ctx.sip}/24", "bind interfaces only = yes", "disable netbios = yes",
                f"pid directory = {s}/run", f"log file = {s}/log.%m", "load printers = no", "printing = bsd",
                "printcap name = /dev/null", "disable spoolss = yes", "netbios name = LABDC"]
        r = subprocess.run(["samba-tool", "domain", "provision", "--realm", "LAB.TEST", "--domain", "LAB",
                            "--server-role", "dc", "--dns-backend", "NONE", "--adminpass", "Lab-Admin-Pw-1",
                            "--targetdir", s] + [x for o in opts for x in ("--option", o)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            raise RuntimeError("samba-tool domain provision failed: " + r.stdout[-500:])
        subprocess.run(["samba-tool", "user", "create", USER, PASSWORD, "--configfile", conf], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return conf

    def start(self, ctx, o):
        if o.get("server") == "samba-ad-dc":
            conf = self.provision_ad(ctx)
            o["_conf"] = conf
            return [ctx.srv(["samba", "-F", "--no-process-group", "-s", conf, "--debug-stdout", "-d", "0"])]
        conf = os.path.join(ctx.work, "sa", "smb.conf")
        write(conf, self.conf(ctx, "sa", o, "  server role = standalone server\n  rpc start on demand helpers = false\n"))
        subprocess.run(["smbpasswd", "-c", conf, "-s", "-a", USER], input=f"{PASSWORD}\n{PASSWORD}\n", text=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return [ctx.srv(["/usr/libexec/samba/samba-dcerpcd", "-F", "--no-process-group", "--libexec-rpcds", "-s", conf,
                         "--debug-stdout", "-d", "0"])]

    def session(self, ctx, rng, o, prog):
        ad = o.get("server") == "samba-ad-dc"
        user, pw = (("Administrator", "Lab-Admin-Pw-1") if ad and rng.random() < 0.5 else (USER, PASSWORD))
        if rng.random() < 0.1:
            pw = "wrong-password"
        dom = "LAB" if ad else o["workgroup"]
        if prog == "impacket":
            kind = rng.choices(["dump", "map", "lookup"], [3, 1, 2])[0]
            if kind == "dump":
                cmd = f"{IMPACKET}/rpcdump.py -port 135 " + (f"'{dom}/{user}:{pw}@{ctx.sip}'" if rng.random() < 0.3 else ctx.sip)
            elif kind == "map":
                cmd = f"{IMPACKET}/rpcmap.py " + ("-brute-opnums " if rng.random() < 0.2 else "") + f"'ncacn_ip_tcp:{ctx.sip}[135]'"
            else:
                cmd = f"{os.path.join(ctx.lab, 'clients', 'dcerpcc.py')} impacket {ctx.sip} {dom} {user} {pw} {rng.randint(0, 2**31)}"
            return ["sh", "-c", f"timeout 30 /usr/bin/python3 {cmd} >/dev/null 2>&1"], kind
        if prog == "rpcclient":
            c = "; ".join(rng.sample(["srvinfo", "netshareenumall", "lsaquery", "enumdomusers", "getusername", "querydominfo",
                                      "dsroledominfo", "enumdomgroups", "lookupnames " + user], rng.randint(1, 3)))
            binding = rng.choice([f"ncacn_ip_tcp:{ctx.sip}", f"ncacn_ip_tcp:{ctx.sip}[sign]", f"ncacn_ip_tcp:{ctx.sip}[seal]"])
            return ["sh", "-c", f"timeout 30 rpcclient -U '{dom}\\{user}%{pw}' -c '{c}' '{binding}' >/dev/null 2>&1"], "rpc"
        return ["/usr/bin/python3", os.path.join(ctx.lab, "clients", "dcerpcc.py"), "samba", ctx.sip, dom, user, pw,
                str(rng.randint(0, 2**31))], "rpc"
