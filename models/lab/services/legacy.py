"""telnet (netkit telnetd-ssl or GNU inetutils telnetd behind a small inetd) and irc (ngIRCd, InspIRCd)."""
import os
import subprocess

from .base import Service, write
from .ssh import PASSWORD, USER, ensure_user

INETUTILS_TELNETD = "/opt/sensorlab/inetutils-telnetd/usr/sbin/telnetd"  # see models/lab/README.md (dpkg -x)


class Telnet(Service):
    name, port = "telnet", 23
    concurrency = 4
    servers = {"netkit-telnetd-ssl": "netkit telnetd 0.17 (telnetd-ssl, plain)", "inetutils-telnetd": "GNU inetutils 2.4 telnetd"}
    programs = {"inetutils-telnet": ("GNU inetutils 2.4 telnet", []), "busybox-telnet": ("BusyBox 1.35 telnet", []),
                "python-telnetlib": ("Python telnetlib", []), "putty": ("PuTTY 0.78 plink -telnet", [])}

    def prepare(self, ctx):
        home = os.path.join(ctx.work, "home")
        os.makedirs(home, exist_ok=True)
        ensure_user(home)
        subprocess.run(["chown", f"{USER}:{USER}", home], check=True)

    def server_options(self, rng):
        return {"no_hostinfo": rng.random() < 0.5}

    def start(self, ctx, o):
        srv = o.get("server") or "netkit-telnetd-ssl"
        prog = ["/usr/sbin/in.telnetd"] if srv == "netkit-telnetd-ssl" else [INETUTILS_TELNETD]
        if o["no_hostinfo"]:
            prog.append("-h")
        return [ctx.srv(["/usr/bin/python3", os.path.join(ctx.lab, "clients", "inetd.py"), ctx.sip, str(self.port)] + prog)]

    def session(self, ctx, rng, o, prog):
        kind = rng.choices(["command", "interactive", "idle"], [3, 3, 1])[0]
        if prog == "python-telnetlib":
            return ["/usr/bin/python3", os.path.join(ctx.lab, "clients", "telnetc.py"), ctx.sip, str(self.port), USER,
                    PASSWORD, kind, str(rng.randint(0, 2**31))], kind
        cmds = [rng.choice(["ls", "pwd", "id", "date", "uname -a", "ls -la /etc | head -30"])
                for _ in range(1 if kind == "command" else rng.randint(2, 6))]
        pause = (2, 5) if kind == "idle" else (0.2, 1.0)
        feed = (f"(sleep {rng.uniform(1.0, 2.0):.2f}; echo {USER}; sleep {rng.uniform(0.8, 1.5):.2f}; echo {PASSWORD}; "
                + " ".join(f"sleep {rng.uniform(*pause):.2f}; echo {c!r};" for c in cmds) + " sleep 0.5; echo exit; sleep 1)")
        client = {"inetutils-telnet": f"inetutils-telnet {ctx.sip} {self.port}",
                  "busybox-telnet": f"busybox telnet {ctx.sip} {self.port}",
                  "putty": f"plink -telnet -batch -P {self.port} {ctx.sip}"}[prog]
        return ["sh", "-c", f"{feed} | timeout 30 {client} >/dev/null 2>&1; exit 0"], kind

    def client(self, ctx, rng, o):
        return self.session(ctx, rng, o, "inetutils-telnet")[0]


class Irc(Service):
    name, port = "irc", 6667
    concurrency = 6
    servers = {"ngircd": "ngIRCd 26.1", "inspircd": "InspIRCd 3.15"}
    programs = {"weechat": ("WeeChat 3.8 (headless)", []), "irssi": ("Irssi 1.4", []), "ii": ("ii (suckless)", []),
                "sic": ("sic (suckless)", []), "python-raw": ("hand-written Python socket client", []),
                "python-irc": ("Python irc library 8.5", [])}

    def server_options(self, rng):
        return {"motd": rng.choice(["Welcome to the lab IRC network.", "Be excellent to each other. " * 8, ""]),
                "network": rng.choice(["LabNet", "CorpChat", "x"])}

    def start(self, ctx, o):
        w = ctx.work
        write(os.path.join(w, "motd.txt"), o["motd"] + "\n")
        if (o.get("server") or "ngircd") == "ngircd":
            write(os.path.join(w, "ngircd.conf"), f"""[Global]
Name = irc.lab.test
Info = lab irc
Listen = {ctx.sip}
Ports = {self.port}
MotdFile = {w}/motd.txt
Network = {o['network']}
PidFile = {w}/ngircd.pid
[Limits]
MaxConnections = 200
[Options]
DNS = no
Ident = no
PAM = no
[Channel]
Name = #lab
Topic = lab channel
""")
            return [ctx.srv(["ngircd", "-n", "-f", os.path.join(w, "ngircd.conf")])]
        os.makedirs(os.path.join(w, "insp"), exist_ok=True)
        write(os.path.join(w, "inspircd.conf"), f"""<server name="irc.lab.test" description="lab irc" network="{o['network']}">
<admin name="lab" nick="lab" email="lab@lab.test">
<bind address="{ctx.sip}" port="{self.port}" type="clients">
<connect allow="*" timeout="60" flood="100" threshold="100" pingfreq="120" sendq="262144" recvq="8192" localmax="200" globalmax="200" useident="no">
<files motd="{w}/motd.txt">
<dns server="127.0.0.1" timeout="1">
<pid file="{w}/insp/inspircd.pid">
<options prefixquit="Quit: " hostintopic="yes" defaultmodes="nt">
<security announceinvites="dynamic" hidesplits="no" hideulines="no" userstats="Pu" customversion="" operspywhois="no" runasuser="irc" runasgroup="irc">
<performance netbuffersize="10240" somaxconn="128" softlimit="200" clonesonconnect="no" quietbursts="yes">
<limits maxnick="30" maxchan="64" maxmodes="20" maxident="11" maxquit="255" maxtopic="307" maxkick="255" maxreal="128" maxgecos="128" maxaway="200">
<log method="file" type="* -USERINPUT -USEROUTPUT" level="default" target="{w}/insp/ircd.log">
""")
        subprocess.run(["chown", "-R", "irc:irc", os.path.join(w, "insp")], check=False)
        return [ctx.srv(["inspircd", "--nofork", "--runasroot", f"--config={w}/inspircd.conf"])]

    def session(self, ctx, rng, o, prog):
        kind = rng.choices(["chat", "idle", "bulk"], [4, 1, 1])[0]
        nick = rng.choice(["alice", "bob", "ops", "deploybot", "x"]) + str(rng.randrange(10**rng.randint(1, 5)))
        chans = rng.sample(["#lab", "#ops", "#dev", "#random"], rng.randint(1, 3))
        msgs = [rng.choice(["hi", "deploy done", "anyone around?", "x" * rng.randint(10, 300)])
                for _ in range(rng.randint(1, 15 if kind == "bulk" else 4))]
        wait = rng.uniform(3, 8) if kind == "idle" else rng.uniform(0.5, 2)
        tmp = os.path.join(ctx.work, "c", f"{prog}{rng.randrange(10**9)}")
        if prog in ("python-raw", "python-irc"):
            return ["/usr/bin/python3", os.path.join(ctx.lab, "clients", "ircc.py"), "raw" if prog == "python-raw" else "jaraco",
                    ctx.sip, str(self.port), nick, kind, str(rng.randint(0, 2**31))], kind
        if prog == "weechat":
            cmds = [f"/server add lab {ctx.sip}/{self.port} -notls -nicks={nick} -autoconnect", "/connect lab", "/wait 2s /join " + ",".join(chans)]
            t = 3
            for m in msgs:
                t += rng.randint(0, 1)
                cmds.append(f"/wait {t}s /msg -server lab {chans[0]} {m}")
            cmds.append(f"/wait {t + int(wait) + 1}s /quit")
            return ["sh", "-c", f"mkdir -p {tmp}; timeout 30 weechat-headless --dir {tmp} -r {repr('; '.join(cmds))} "
                    f">/dev/null 2>&1; rm -rf {tmp}; exit 0"], kind
        feed_lines = []
        if prog == "irssi":
            feed_lines = [f"/join {c}" for c in chans] + [f"/msg {chans[0]} {m}" for m in msgs] + ["/quit bye"]
            client = f"script -qfec 'TERM=xterm irssi --home={tmp} -c {ctx.sip} -p {self.port} -n {nick}' /dev/null"
            first = 2.5
        elif prog == "sic":
            feed_lines = [f":j {c}" for c in chans] + [f":m {chans[0]} {m}" for m in msgs] + [":q"]  # sic: ':' commands
            client = f"sic -h {ctx.sip} -p {self.port} -n {nick}"
            first = 1.5
        else:  # ii: a directory tree of FIFOs; commands are written into the server's "in" FIFO
            lines = " ".join(f"sleep {rng.uniform(0.2, 1.0):.2f}; echo {l!r} > {tmp}/{ctx.sip}/in;" for l in
                             [f"/j {c}" for c in chans] + [f"/privmsg {chans[0]} {m}" for m in msgs])
            return ["sh", "-c", f"mkdir -p {tmp}; ii -s {ctx.sip} -p {self.port} -n {nick} -i {tmp} & pid=$!; sleep 2; {lines} "
                    f"sleep {wait:.1f}; echo /quit > {tmp}/{ctx.sip}/in; sleep 1; kill $pid 2>/dev/null; "
                    f"rm -rf {tmp}; exit 0"], kind
        feed = f"(sleep {first}; " + " ".join(f"sleep {rng.uniform(0.2, 1.0):.2f}; echo {l!r};" for l in feed_lines[:-1]) + \
            f" sleep {wait:.1f}; echo {feed_lines[-1]!r}; sleep 1)"
        return ["sh", "-c", f"mkdir -p {tmp}; {feed} | timeout 30 {client} >/dev/null 2>&1; rm -rf {tmp}; exit 0"], kind

    def client(self, ctx, rng, o):
        return self.session(ctx, rng, o, "python-raw")[0]
