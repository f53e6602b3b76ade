"""Mail: smtp/smtps (aiosmtpd), imap/imaps and pop3/pop3s (Dovecot), with Maildirs of varied messages."""
import os
import random
import shutil
import subprocess

from .base import Service, cert, tls_opts, write

USERS = [("alice", "alicepw"), ("bob", "a-much-longer-password-for-bob"), ("carol", "c4r0l")]
# Cyrus IMAP conflicts with Dovecot's packages (imap-server, pop3-server): the lab runs it unpacked
# (apt-get download cyrus-common cyrus-imapd cyrus-pop3d; dpkg -x each into CYRUS/<package>)
CYRUS = "/opt/sensorlab"
SERVERNAMES = ["imap.lab.test", "mail.corp.internal", "mx1"]


def ensure_cyrus_user():
    import pwd
    try:
        pwd.getpwnam("cyrus")
    except KeyError:
        subprocess.run(["useradd", "-r", "-M", "-d", "/var/lib/cyrus", "-g", "mail", "-s", "/usr/sbin/nologin", "cyrus"],
                       check=False)  # another slot may win


def message(rng, n):
    body = "".join(rng.choice("abcdefghij klmnop") + ("\r\n" if rng.random() < 0.015 else "") for _ in range(min(n, 4000)))
    body = (body * (n // max(1, len(body)) + 1))[:n]
    return (f"From: sender{rng.randrange(99)}@example.org\r\nTo: user@lab.test\r\nSubject: msg {rng.randrange(10**6)}"
            f"\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\nMessage-ID: <{rng.randrange(10**9)}@x>\r\n\r\n{body}\r\n")


class Dovecot(Service):
    concurrency = 6
    programs = {"curl": ("libcurl (OpenSSL)", ["curl"]), "python-imaplib-poplib": ("Python imaplib/poplib", ["mailc.py"]),
                "perl": ("Perl Mail::IMAPClient / Net::POP3 (IO::Socket::SSL)", [])}
    # fetchmail 6.4 was tried: every session ended "socket error while fetching" in the lab (runs skipped); its
    # session code stays below for a later look
    servers = {"dovecot": "Dovecot 2.3", "cyrus": "Cyrus IMAP 3.6 (imapd, pop3d)"}

    def prepare(self, ctx):
        rng = random.Random(17)
        w = ctx.work
        for u, _ in USERS:
            cur = os.path.join(w, "mail", u, "Maildir", "cur")
            if os.path.isdir(cur):
                continue
            for sub in ("cur", "new", "tmp"):
                os.makedirs(os.path.join(w, "mail", u, "Maildir", sub), exist_ok=True)
            for i in range(rng.randint(3, 40)):
                n = int(rng.choice([200, 800, 3000, 20000, 150000]) * rng.uniform(0.5, 1.5))
                write(os.path.join(cur, f"{1700000000 + i}.M{i}P1.lab:2,S"), message(rng, n))
        subprocess.run(["chown", "-R", "mail:mail", os.path.join(w, "mail")], check=True)
        write(os.path.join(w, "users"), "".join(f"{u}:{{PLAIN}}{p}\n" for u, p in USERS))

    def server_options(self, rng):
        o = tls_opts(rng)
        o["greeting"] = rng.choice(["Dovecot ready.", "Lab mail server ready.", "IMAP/POP3 service"])
        o["protocols"] = rng.choice(["TLSv1.2", "TLSv1.3"])
        o["servername"] = rng.choice(SERVERNAMES)
        o["serverinfo"] = rng.choice(["on", "min", "off"])
        return o

    def start_cyrus(self, ctx, o):
        """Cyrus IMAP 3.6 unpacked (it conflicts with Dovecot's packages): master (as root, drops to user cyrus)
        with the class's listener on the server address, plus a loopback IMAP listener that fills the mailboxes
        once per slot with the same messages as Dovecot's Maildirs (not captured: tcpdump watches s0/c0)."""
        key, crt = cert(ctx, o)
        w = os.path.join(ctx.work, "cyrus")
        conf = os.path.join(w, "conf")
        for d in ("db", "socket", "proc", "lock", "log", "sieve", "quota", "user", "msg", "ptclient", "sync"):
            os.makedirs(os.path.join(conf, d), exist_ok=True)
        os.makedirs(os.path.join(w, "spool"), exist_ok=True)
        os.makedirs(os.path.join(w, "run"), exist_ok=True)
        ensure_cyrus_user()
        tls = {"TLSv1.2": "tls1_2 tls1_3", "TLSv1.3": "tls1_3"}[o["protocols"]]
        write(os.path.join(w, "imapd.conf"), f"""configdirectory: {conf}
partition-default: {w}/spool
admins: cyrus
cyrus_user: cyrus
sasl_pwcheck_method: auxprop
sasl_auxprop_plugin: sasldb
sasl_sasldb_path: {w}/sasldb2
sasl_mech_list: PLAIN LOGIN
allowplaintext: yes
unixhierarchysep: yes
autocreate_quota: 0
autocreate_inbox_folders: Sent | Drafts | Trash
tls_server_cert: {crt}
tls_server_key: {key}
tls_versions: {tls}
servername: {o['servername']}
serverinfo: {o['serverinfo']}
syslog_prefix: cyruslab
""")
        flag = " -s" if self.tls else ""
        binary = (f"{CYRUS}/cyrus-imapd/usr/lib/cyrus/bin/imapd" if self.proto == "imap" else
                  f"{CYRUS}/cyrus-pop3d/usr/lib/cyrus/bin/pop3d")
        cf = os.path.join(w, "imapd.conf")
        write(os.path.join(w, "cyrus.conf"), f"""START {{
  recover cmd="{CYRUS}/cyrus-common/usr/lib/cyrus/bin/ctl_cyrusdb -r -C {cf}"
}}
SERVICES {{
  lab cmd="{binary}{flag} -C {cf}" listen="{ctx.sip}:{self.port}" prefork=1
  setup cmd="{CYRUS}/cyrus-imapd/usr/lib/cyrus/bin/imapd -C {cf}" listen="127.0.0.1:143" prefork=0
}}
EVENTS {{
}}
DAEMON {{
}}
""")
        sasldb = os.path.join(w, "sasldb2")
        if not os.path.exists(sasldb):
            for realm in SERVERNAMES:  # Cyrus looks users up in the realm of its servername (drawn per run)
                for u, p in USERS:
                    subprocess.run(["saslpasswd2", "-p", "-c", "-f", sasldb, "-u", realm, u], input=p + "\n", text=True,
                                   check=True)
        subprocess.run(["chown", "-R", "cyrus:mail", w], check=True)
        os.chmod(sasldb, 0o640)
        env = {"LD_LIBRARY_PATH": f"{CYRUS}/cyrus-common/usr/lib/x86_64-linux-gnu"}
        p = ctx.srv([f"{CYRUS}/cyrus-common/usr/lib/cyrus/bin/master", "-C", cf, "-M", os.path.join(w, "cyrus.conf"),
                     "-p", os.path.join(w, "run", "master.pid")], env=dict(os.environ, **ctx.env, **env))
        marker = os.path.join(w, "populated")
        if not os.path.exists(marker):
            import time
            for _ in range(150):
                if "127.0.0.1:143" in ctx.srv_run(["ss", "-Htln", "sport = :143"]).stdout:
                    break
                time.sleep(0.2)
            code = ("import imaplib,os,sys\n"
                    "for u,p in [" + ",".join(f"({u!r},{p!r})" for u, p in USERS) + "]:\n"
                    " c=imaplib.IMAP4('127.0.0.1',143); c.login(u,p); c.select('INBOX')\n"
                    f" d=os.path.join({ctx.work!r},'mail',u,'Maildir','cur')\n"
                    " for f in sorted(os.listdir(d)): c.append('INBOX','(\\\\Seen)' if hash(f)%2 else None,None,open(os.path.join(d,f),'rb').read())\n"
                    " c.logout()\n")
            r = ctx.srv_run(["/usr/bin/python3", "-c", code])
            if r.returncode == 0:
                write(marker, "ok\n")
            else:
                with open(os.path.join(ctx.work, "server.log"), "a") as f:
                    f.write("cyrus mailbox setup failed: " + r.stdout[-1000:] + "\n")
        return [p]

    def start(self, ctx, o):
        if o.get("server") == "cyrus":
            return self.start_cyrus(ctx, o)
        w = ctx.work
        key, crt = cert(ctx, o)
        for d in ("run", "state"):
            os.makedirs(os.path.join(w, d), exist_ok=True)
        conf = f"""base_dir = {w}/run
state_dir = {w}/state
protocols = {self.proto}
listen = {ctx.sip}
log_path = {w}/dovecot.log
ssl = yes
ssl_cert = <{crt}
ssl_key = <{key}
ssl_min_protocol = {o['protocols']}
disable_plaintext_auth = no
auth_mechanisms = plain login
login_greeting = {o['greeting']}
mail_location = maildir:~/Maildir
default_internal_user = dovecot
first_valid_uid = 8
first_valid_gid = 8
default_login_user = dovenull
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {w}/users
}}
userdb {{
  driver = static
  args = uid=mail gid=mail home={w}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    port = {143 if self.proto == 'imap' and not self.tls else 0}
  }}
  inet_listener imaps {{
    port = {993 if self.proto == 'imap' and self.tls else 0}
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {110 if self.proto == 'pop3' and not self.tls else 0}
  }}
  inet_listener pop3s {{
    port = {995 if self.proto == 'pop3' and self.tls else 0}
  }}
}}
"""
        write(os.path.join(w, "dovecot.conf"), conf)
        return [ctx.srv(["dovecot", "-F", "-c", os.path.join(w, "dovecot.conf")])]

    def session(self, ctx, rng, o, prog):
        u, p = rng.choice(USERS)
        if prog == "fetchmail":
            d = os.path.join(ctx.work, "fm", f"f{rng.randrange(10**9)}")
            rc = os.path.join(d, "rc")
            ssl = "ssl sslcertck no" if self.tls else rng.choice(["sslproto ''", "sslcertck no"])  # plain, or STARTTLS if offered
            mode = rng.choice(["keep", "keep fetchall", "keep limit 20000"])
            proto = "IMAP" if self.proto == "imap" else "POP3"
            line = (f"poll {ctx.sip} proto {proto} port {self.port} user \"{u}\" password \"{p}\" {ssl} {mode} "
                    f"mda \"/bin/cat > /dev/null\"")
            check = " -c" if rng.random() < 0.3 else ""
            return ["sh", "-c", f"mkdir -p {d} && printf '%s\\n' {line!r} > {rc} && chmod 600 {rc} && "
                    f"HOME={d} FETCHMAILHOME={d} timeout 25 fetchmail --nosyslog -s{check} -f {rc} --pidfile {d}/pid -i {d}/ids; rc=$?; rm -rf {d}; "
                    "[ $rc -le 1 ] && exit 0 || exit $rc"]
        ssl = f"SSL => 1, SSL_verify_mode => 0," if self.tls else ""
        if self.proto == "imap":
            ops = rng.sample(["$c->folders;", "$c->select('INBOX'); my @m = $c->search('ALL'); $c->fetch_hash(@m[0..($#m<4?$#m:4)], 'RFC822.SIZE') if @m;",
                              "$c->examine('INBOX'); $c->message_count('INBOX');", "$c->select('INBOX'); my @m = $c->messages; $c->message_string($m[0]) if @m;"],
                             rng.randint(1, 3))
            tls = "Ssl => [SSL_verify_mode => 0]," if self.tls else ("Starttls => [SSL_verify_mode => 0]," if rng.random() < 0.2 else "")
            code = (f"use Mail::IMAPClient; my $c = Mail::IMAPClient->new(Server => '{ctx.sip}', Port => {self.port}, {tls} "
                    f"User => '{u}', Password => '{p}', Timeout => 20) or die; {' '.join(ops)} $c->logout;")
        else:
            ops = rng.sample(["$c->list;", "$c->uidl;", "my ($n) = $c->popstat; $c->get(1) if $n;", "$c->top(1, 5);"], rng.randint(1, 3))
            code = (f"use Net::POP3; my $c = Net::POP3->new('{ctx.sip}', Port => {self.port}, {ssl} Timeout => 20) or die; "
                    + ("$c->starttls(SSL_verify_mode => 0); " if not self.tls and rng.random() < 0.2 else "")
                    + f"$c->login('{u}', '{p}') or die; {' '.join(ops)} $c->quit;")
        if prog == "perl":
            return ["perl", "-e", code]
        return super().session(ctx, rng, o, prog)

    def stop(self, ctx):
        shutil.rmtree(os.path.join(ctx.work, "fm"), ignore_errors=True)

    def client(self, ctx, rng, o):
        u, p = rng.choice(USERS)
        scheme = self.proto + ("s" if self.tls else "")
        url = f"{scheme}://{ctx.sip}:{self.port}/"
        base = ["curl", "-s", "-o", "/dev/null", "--max-time", "30", "-u", f"{u}:{p}", "-k"]
        if not self.tls and rng.random() < 0.2:
            base.append("--ssl")  # STARTTLS when offered: still the plain port's protocol
        if self.tls and rng.random() < 0.3:
            base += ["--tlsv1.2", "--tls-max", "1.2"]
        r = rng.random()
        if r < 0.45:
            if self.proto == "imap":
                return base + [rng.choice([url, url + "INBOX", url + f"INBOX;UID={rng.randint(1, 10)}",
                                           url + "INBOX?ALL"])] + \
                    (["-X", "EXAMINE INBOX"] if rng.random() < 0.2 else [])
            if rng.random() < 0.3:
                return base + [url, "-X", rng.choice(["UIDL", "LIST"])]  # multi-line replies only: curl waits for one
            return base + [rng.choice([url, url + str(rng.randint(1, 5))])]
        return ["/usr/bin/python3", os.path.join(ctx.lab, "clients", "mailc.py"), self.proto, "1" if self.tls else "0",
                ctx.sip, str(self.port), u, p, str(rng.randint(0, 2**31))]


class Imap(Dovecot):
    name, port, proto, tls = "imap", 143, "imap", False


class Imaps(Dovecot):
    name, port, proto, tls = "imaps", 993, "imap", True


class Pop3(Dovecot):
    name, port, proto, tls = "pop3", 110, "pop3", False


class Pop3s(Dovecot):
    name, port, proto, tls = "pop3s", 995, "pop3", True


class Smtpd(Service):
    concurrency = 6
    programs = {"swaks": ("swaks (Perl, Net::SSLeay)", ["swaks"]), "curl": ("libcurl (OpenSSL)", ["curl"]),
                "python-smtplib": ("Python smtplib", ["smtpc.py"]), "msmtp": ("msmtp 1.8 (GnuTLS)", [])}
    servers = {"aiosmtpd": "aiosmtpd 1.4 (Python)", "postfix": "Postfix 3.7 (own config directory, discard transport)"}

    def prepare(self, ctx):
        rng = random.Random(23)
        self.msgs = []
        for i in range(16):
            n = int(rng.choice([100, 500, 2000, 10000, 80000, 400000]) * rng.uniform(0.5, 1.5))
            f = os.path.join(ctx.work, f"mail{i}.eml")
            write(f, message(rng, n))
            self.msgs.append(f)

    def server_options(self, rng):
        o = tls_opts(rng)
        o["size"] = rng.choice([10_000_000, 33_554_432, 52_428_800])
        o["smtputf8"] = rng.random() < 0.5
        o["banner"] = rng.choice(["$myhostname ESMTP", "$myhostname ESMTP Postfix (Debian/GNU)", "mx.lab.test ready"])
        o["helo_required"] = rng.random() < 0.3
        return o

    def start_postfix(self, ctx, o):
        """Postfix with its own config, queue and data directories; accepts mail from the lab nets, discards it."""
        key, crt = cert(ctx, o)
        w = os.path.join(ctx.work, "postfix")
        conf, queue, data = (os.path.join(w, d) for d in ("conf", "queue", "data"))
        for d in (conf, queue, data):
            os.makedirs(d, exist_ok=True)
        shutil.chown(data, "postfix")
        listen = (f"{ctx.sip}:{self.port} inet n - n - - smtpd -o smtpd_tls_wrappermode=yes -o smtpd_tls_security_level=encrypt"
                  if self.tls else f"{ctx.sip}:{self.port} inet n - n - - smtpd")
        services = ["pickup unix n - n 60 1 pickup", "cleanup unix n - n - 0 cleanup", "qmgr unix n - n 300 1 qmgr",
                    "tlsmgr unix - - n 1000? 1 tlsmgr", "rewrite unix - - n - - trivial-rewrite", "bounce unix - - n - 0 bounce",
                    "defer unix - - n - 0 bounce", "trace unix - - n - 0 bounce", "verify unix - - n - 1 verify",
                    "flush unix n - n 1000? 0 flush", "proxymap unix - - n - - proxymap", "showq unix n - n - - showq",
                    "error unix - - n - - error", "retry unix - - n - - error", "discard unix - - n - - discard",
                    "anvil unix - - n - 1 anvil", "scache unix - - n - 1 scache", "postlog unix-dgram n - n - 1 postlogd"]
        write(os.path.join(conf, "master.cf"), "\n".join([listen] + services) + "\n")
        write(os.path.join(conf, "main.cf"), f"""compatibility_level = 3.6
myhostname = mx.lab.test
mydomain = lab.test
mydestination =
queue_directory = {queue}
data_directory = {data}
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = {ctx.sip}
inet_protocols = ipv4
mynetworks = 10.77.0.0/16 127.0.0.0/8
relay_domains =
default_transport = discard:lab sink
local_transport = discard:lab sink
relay_transport = discard:lab sink
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_tls_cert_file = {crt}
smtpd_tls_key_file = {key}
smtpd_tls_security_level = may
smtpd_banner = {o['banner']}
smtpd_helo_required = {'yes' if o['helo_required'] else 'no'}
message_size_limit = {o['size']}
smtputf8_enable = {'yes' if o['smtputf8'] else 'no'}
maillog_file_prefixes = /tmp
maillog_file = {w}/maillog
biff = no
alias_maps =
alias_database =
""")
        subprocess.run(["postfix", "-c", conf, "set-permissions"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ctx.srv_run(["postfix", "-c", conf, "check"])
        return [ctx.srv(["postfix", "-c", conf, "start-fg"])]

    def stop(self, ctx):
        conf = os.path.join(ctx.work, "postfix", "conf")
        if os.path.exists(os.path.join(conf, "main.cf")):
            ctx.srv_run(["postfix", "-c", conf, "stop"])

    def start(self, ctx, o):
        if o.get("server") == "postfix":
            return self.start_postfix(ctx, o)
        key, crt = cert(ctx, o)
        argv = ["/usr/bin/python3", "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink", "-l",
                f"{ctx.sip}:{self.port}", "-s", str(o["size"])]
        if o["smtputf8"]:
            argv.append("-u")
        argv += ["--smtpscert", crt, "--smtpskey", key] if self.tls else \
            ["--tlscert", crt, "--tlskey", key, "--no-requiretls"]
        return [ctx.srv(argv)]

    def session(self, ctx, rng, o, prog):
        if prog == "msmtp":
            frm = f"{rng.choice(['alerts', 'noreply', 'cron'])}@{rng.choice(['example.org', 'lab.test'])}"
            to = [f"user{rng.randrange(50)}@lab.test" for _ in range(rng.choice([1, 1, 2, 4]))]
            tls = ["--tls=on", "--tls-starttls=off"] if self.tls else (["--tls=on", "--tls-starttls=on"] if rng.random() < 0.3 else ["--tls=off"])
            return ["sh", "-c", f"timeout 25 msmtp --host={ctx.sip} --port={self.port} --from={frm} --auth=off "
                    f"--tls-certcheck=off {' '.join(tls)} --domain={rng.choice(['client.lab.test', 'localhost', 'mx1'])} "
                    f"{' '.join(to)} < {rng.choice(self.msgs)}"]
        return super().session(ctx, rng, o, prog)

    def client(self, ctx, rng, o):
        n = int(rng.choice([100, 500, 2000, 10000, 80000, 400000]) * rng.uniform(0.5, 1.5))
        frm = f"{rng.choice(['alerts', 'noreply', 'bob', 'x'])}@{rng.choice(['example.org', 'lab.test', 'corp.internal'])}"
        to = [f"user{rng.randrange(50)}@lab.test" for _ in range(rng.choice([1, 1, 1, 2, 5]))]
        r = rng.random()
        if r < 0.4:
            argv = ["swaks", "--server", ctx.sip, "--port", str(self.port), "--from", frm, "--to", ",".join(to),
                    "--helo", rng.choice(["client.lab.test", "localhost", "mx1"]), "--timeout", "20",
                    "--silent", "2"]
            if rng.random() < 0.5:
                argv += ["--data", rng.choice(self.msgs)]
            else:
                argv += ["--body", rng.choice(["hello", "Disk almost full on host web-01", "ok " * rng.randint(1, 300)])]
            if self.tls:
                argv.append("--tls-on-connect")
            elif rng.random() < 0.3:
                argv.append("--tls")
            return argv
        if r < 0.65:
            f = rng.choice(self.msgs)
            scheme = "smtps" if self.tls else "smtp"
            argv = ["curl", "-s", "--max-time", "30", "-k", f"{scheme}://{ctx.sip}:{self.port}",
                    "--mail-from", frm, "-T", f]
            for t in to:
                argv += ["--mail-rcpt", t]
            if not self.tls and rng.random() < 0.3:
                argv.append("--ssl")
            return argv
        return ["/usr/bin/python3", os.path.join(ctx.lab, "clients", "smtpc.py"), "1" if self.tls else "0",
                ctx.sip, str(self.port), frm, ",".join(to), str(n), str(rng.randint(0, 2**31))]


class Smtp(Smtpd):
    name, port, tls = "smtp", 25, False


class Smtps(Smtpd):
    name, port, tls = "smtps", 465, True
