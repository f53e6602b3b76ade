"""http (plain HTTP/1.x) and tls (HTTPS: TLS 1.2/1.3, HTTP/1.1 and HTTP/2), plus the background h2c class.

Servers (one per run): nginx, Apache httpd, lighttpd (OpenSSL or GnuTLS module), h2o, HAProxy (terminating TLS
in front of a Python backend), Node.js, and Python's http.server (plain HTTP only).
Client programs (one per run): curl, wget, Python http.client and requests, Chromium and Firefox ESR headless
(multi-resource pages, several connections, HTTP/2), Go net/http, Java HttpClient, Node.js, lynx, w3m, elinks,
aria2c, and hand-typed requests through openssl s_client / gnutls-cli (tls) or nc (http).
"""
import os
import random
import shutil
import subprocess

from .base import Service, cert, sizes, tls_opts, write

UAS = ["curl/7.88.1", "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Firefox/115.0",
       "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
       "Wget/1.21.3", "python-requests/2.28.1", "okhttp/4.9.3", "Go-http-client/1.1", "monitor/1.0"]

BROWSERS = ("chromium", "firefox")


def apache_conf(w, sip, port, www, o, tls_lines):
    mods = ["mpm_event", "authz_core", "mime", "dir", "deflate", "filter", "headers", "http2", "alias"]
    if tls_lines:
        mods += ["ssl", "socache_shmcb"]
    return "\n".join([f"LoadModule {m}_module /usr/lib/apache2/modules/mod_{m}.so" for m in mods] + [
        f"Listen {sip}:{port}", f"PidFile {w}/apache.pid", f"ErrorLog {w}/apache-error.log", "LogLevel warn",
        f"DefaultRuntimeDir {w}/apache-run", f"Mutex file:{w}/apache-run default", "ServerName lab.test",
        "User www-data", "Group www-data", f"DocumentRoot {www}", f"<Directory {www}>\n  Require all granted\n</Directory>",
        "TypesConfig /etc/mime.types", "DirectoryIndex index.html",
        f"KeepAlive {'On' if o['keepalive_requests'] > 1 else 'Off'}", f"MaxKeepAliveRequests {o['keepalive_requests']}",
        f"ServerTokens {'Full' if o['server_tokens'] else 'Prod'}",
        "AddOutputFilterByType DEFLATE text/html text/css application/javascript" if o["gzip"] else "",
        "Protocols " + ("h2 http/1.1" if tls_lines and o.get("http2") else ("h2c http/1.1" if o.get("h2c") else "http/1.1")),
    ] + tls_lines) + "\n"


class Web(Service):
    concurrency = 6
    programs_all = {
        "curl": ("OpenSSL (libcurl)", ["curl"]), "wget": ("GnuTLS", ["wget"]),
        "python-http.client": ("OpenSSL (Python ssl)", ["httpc.py"]), "python-requests": ("OpenSSL (Python ssl)", ["reqc.py"]),
        "chromium": ("BoringSSL (Chromium)", ["chromium"]), "firefox": ("NSS (Firefox)", ["firefox-esr"]),
        "go": ("Go crypto/tls", ["webc"]), "java": ("JSSE (OpenJDK 17)", ["java"]), "node": ("OpenSSL (Node.js 20)", ["node"]),
        "lynx": ("GnuTLS", ["lynx"]), "w3m": ("OpenSSL", ["w3m"]), "elinks": ("GnuTLS", ["elinks"]),
        "aria2c": ("GnuTLS", ["aria2c"]),
    }

    def __init__(self):
        self.programs = dict(self.programs_all)
        if self.tls:
            del self.programs["lynx"]  # lynx (GnuTLS) refused every lab certificate, with the CA given or not
            self.programs["openssl-s_client"] = ("OpenSSL", ["openssl"])
            self.programs["gnutls-cli"] = ("GnuTLS", ["gnutls-cli"])
            self.servers = {"nginx": "", "apache2": "", "lighttpd-openssl": "", "lighttpd-gnutls": "", "h2o": "",
                            "haproxy": "", "node": ""}
        else:
            self.programs["nc"] = ("none (typed request)", ["nc"])
            self.servers = {"nginx": "", "apache2": "", "lighttpd": "", "h2o": "", "haproxy": "", "node": "",
                            "python-http.server": ""}

    def tools(self, bindir):
        env = dict(os.environ, HOME=bindir, GOCACHE=os.path.join(bindir, "gocache"), GOPATH=os.path.join(bindir, "gopath"))
        src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "clients")
        if not os.path.exists(os.path.join(bindir, "webc")):
            subprocess.run(["go", "build", "-o", os.path.join(bindir, "webc"), os.path.join(src, "webc.go")], check=True, env=env)
        if not os.path.exists(os.path.join(bindir, "WebC.class")):
            subprocess.run(["javac", "-d", bindir, os.path.join(src, "WebC.java")], check=True, env=env)

    def prepare(self, ctx):
        rng = random.Random(7)  # same names in every slot: self.files is shared
        www = os.path.join(ctx.work, "www")
        self.files = []
        for i, n in enumerate(sizes(rng, 60, 30, 600_000)):  # only the first 30 packets count: big files only cost time
            ext = rng.choice(["html", "css", "js", "png", "json", "txt", "svg", "woff2"])
            name = f"f{i}.{ext}"
            body = (("<p>%d</p>\n" % i) * (n // 9 + 1))[:n] if ext in ("html", "css", "js", "json", "txt", "svg") \
                else os.urandom(n).hex()[:n]
            write(os.path.join(www, name), body)
            self.files.append(name)
        write(os.path.join(www, "index.html"), "<html><body>" + "".join(
            f'<a href="/{f}">{f}</a>' for f in self.files) + "</body></html>")
        # pages as browsers meet them: a document with stylesheets, scripts and images of varied sizes
        self.pages = []
        for i in range(12):
            res = rng.sample(self.files, rng.randint(2, 30))
            tags = []
            for f in res:
                if f.endswith(".css"):
                    tags.append(f'<link rel="stylesheet" href="/{f}">')
                elif f.endswith(".js"):
                    tags.append(f'<script src="/{f}"></script>')
                else:
                    tags.append(f'<img src="/{f}" alt="">')
            body = "<p>" + "lorem ipsum " * rng.randint(5, 3000) + "</p>"
            write(os.path.join(www, f"page{i}.html"),
                  f"<!doctype html><html><head><title>page {i}</title>{''.join(t for t in tags if 'stylesheet' in t)}</head>"
                  f"<body>{body}{''.join(t for t in tags if 'stylesheet' not in t)}</body></html>")
            self.pages.append(f"page{i}.html")
        self.files.append("index.html")
        self.files.append("missing.html")  # 404s happen
        if not self.tls:
            return
        # Firefox verifies certificates: a profile that trusts the lab CA (copied per session)
        prof = os.path.join(ctx.work, "ff-profile")
        if not os.path.exists(os.path.join(prof, "cert9.db")):
            os.makedirs(prof, exist_ok=True)
            subprocess.run(["certutil", "-N", "-d", f"sql:{prof}", "--empty-password"], check=True)
            ca = os.path.join(os.path.dirname(ctx.pki["rsa2048"]["key"]), "ca.crt")
            subprocess.run(["certutil", "-A", "-d", f"sql:{prof}", "-n", "lab-ca", "-t", "C,,", "-i", ca], check=True)

    def server_options(self, rng):
        o = {"gzip": rng.random() < 0.5, "keepalive_requests": rng.choice([1, 5, 100, 1000]),
             "server_tokens": rng.random() < 0.5, "sendfile": rng.random() < 0.5, "h2c": rng.random() < 0.3}
        if self.tls:
            o.update(tls_opts(rng))
            o["protocols"] = rng.choice(["TLSv1.2 TLSv1.3", "TLSv1.2 TLSv1.3", "TLSv1.3", "TLSv1.2"])
            o["http2"] = rng.random() < 0.6
            o["session_tickets"] = rng.random() < 0.5
        return o

    def start(self, ctx, o):
        w = ctx.work
        www = os.path.join(w, "www")
        srv = o.get("server") or "nginx"
        key, crt = cert(ctx, o) if self.tls else (None, None)
        if srv == "nginx":
            return self.start_nginx(ctx, o)
        if srv == "apache2":
            os.makedirs(os.path.join(w, "apache-run"), exist_ok=True)
            tls_lines = []
            if self.tls:
                tls_lines = ["SSLEngine on", f"SSLCertificateFile {crt}", f"SSLCertificateKeyFile {key}",
                             "SSLProtocol -all " + " ".join("+" + p for p in o["protocols"].split()),
                             f"SSLSessionCache shmcb:{w}/apache-run/ssl_scache(512000)",
                             f"SSLSessionTickets {'on' if o['session_tickets'] else 'off'}"]
            write(os.path.join(w, "apache.conf"), apache_conf(w, ctx.sip, self.port, www, o, tls_lines))
            return [ctx.srv(["apache2", "-f", os.path.join(w, "apache.conf"), "-DFOREGROUND"])]
        if srv.startswith("lighttpd"):
            mod = "mod_gnutls" if srv.endswith("gnutls") else "mod_openssl"
            lines = [f'server.document-root = "{www}"', f'server.bind = "{ctx.sip}"', f"server.port = {self.port}",
                     'server.username = "www-data"', 'server.groupname = "www-data"', 'index-file.names = ("index.html")',
                     f"server.max-keep-alive-requests = {o['keepalive_requests']}",
                     'mimetype.assign = (".html" => "text/html", ".css" => "text/css", ".js" => "text/javascript", '
                     '".png" => "image/png", ".json" => "application/json", ".svg" => "image/svg+xml", "" => "application/octet-stream")',
                     'server.feature-flags += ("server.h2proto" => "%s")' % ("enable" if o.get("http2", o["h2c"]) else "disable")]
            if self.tls:
                lines = [f'server.modules += ("{mod}")'] + lines + [
                    'ssl.engine = "enable"', f'ssl.pemfile = "{crt}"', f'ssl.privkey = "{key}"',
                    'ssl.openssl.ssl-conf-cmd = ("MinProtocol" => "%s")' % o["protocols"].split()[0]]
            write(os.path.join(w, "lighttpd.conf"), "\n".join(lines) + "\n")
            return [ctx.srv(["lighttpd", "-D", "-f", os.path.join(w, "lighttpd.conf")])]
        if srv == "h2o":
            ssl = (f"\n  ssl:\n    certificate-file: {crt}\n    key-file: {key}\n"
                   f"    minimum-version: {o['protocols'].split()[0]}\n    ocsp-update-interval: 0") if self.tls else ""
            write(os.path.join(w, "h2o.conf"),
                  f"listen:\n  host: {ctx.sip}\n  port: {self.port}{ssl}\nuser: www-data\n"
                  f"http2-reprioritize-blocking-assets: ON\n"
                  f"hosts:\n  default:\n    paths:\n      /:\n        file.dir: {www}\n")
            return [ctx.srv(["h2o", "-c", os.path.join(w, "h2o.conf")])]
        if srv == "haproxy":
            backend = ctx.srv(["/usr/bin/python3", "-m", "http.server", "--bind", "127.0.0.1", "8080", "--directory", www])
            bind = f"bind {ctx.sip}:{self.port}"
            if self.tls:
                pem = os.path.join(w, "haproxy.pem")
                write(pem, open(crt).read() + open(key).read(), 0o600)
                alpn = "h2,http/1.1" if o["http2"] else "http/1.1"
                bind += f" ssl crt {pem} alpn {alpn} ssl-min-ver {o['protocols'].split()[0]}"
            write(os.path.join(w, "haproxy.cfg"),
                  f"global\n  pidfile {w}/haproxy.pid\n  maxconn 256\ndefaults\n  mode http\n  timeout connect 5s\n"
                  f"  timeout client 30s\n  timeout server 30s\n  option http-keep-alive\nfrontend fe\n  {bind}\n"
                  f"  default_backend be\nbackend be\n  server s1 127.0.0.1:8080\n")
            return [backend, ctx.srv(["haproxy", "-db", "-f", os.path.join(w, "haproxy.cfg")])]
        if srv == "node":
            mode = ("h2" if o["http2"] else "https") if self.tls else "http"
            return [ctx.srv(["node", os.path.join(ctx.lab, "clients", "webd.js"), ctx.sip, str(self.port), www, mode]
                            + ([key, crt] if self.tls else []))]
        if srv == "python-http.server":
            return [ctx.srv(["/usr/bin/python3", "-m", "http.server", "--bind", ctx.sip, str(self.port), "--directory", www])]
        raise ValueError(srv)

    def start_nginx(self, ctx, o):
        w = ctx.work
        listen = f"listen {ctx.sip}:{self.port}"
        if self.tls:
            key, crt = cert(ctx, o)
            listen += " ssl" + (" http2" if o["http2"] else "")
            tls = (f"ssl_certificate {crt}; ssl_certificate_key {key}; ssl_protocols {o['protocols']};"
                   f" ssl_session_tickets {'on' if o['session_tickets'] else 'off'}; ssl_session_cache shared:S:1m;")
        else:
            tls = ""
            if o.get("h2c") and self.name == "bg-h2c":
                listen += " http2"
        conf = f"""
worker_processes 1; pid {w}/nginx.pid; error_log {w}/error.log; user www-data;
events {{ worker_connections 512; }}
http {{
  access_log off; client_body_temp_path {w}/tmp; proxy_temp_path {w}/tmp; fastcgi_temp_path {w}/tmp;
  uwsgi_temp_path {w}/tmp; scgi_temp_path {w}/tmp; default_type application/octet-stream;
  include /etc/nginx/mime.types;
  gzip {'on' if o['gzip'] else 'off'}; gzip_types *; keepalive_requests {o['keepalive_requests']};
  server_tokens {'on' if o['server_tokens'] else 'off'}; sendfile {'on' if o['sendfile'] else 'off'};
  server {{ {listen}; {tls} root {w}/www; location / {{ try_files $uri $uri/ =404; }}
           location /upload {{ return 201; }} }}
}}
"""
        os.makedirs(os.path.join(w, "tmp"), exist_ok=True)
        write(os.path.join(w, "nginx.conf"), conf)
        return [ctx.srv(["nginx", "-c", os.path.join(w, "nginx.conf"), "-g", "daemon off;"])]

    def session_timeout(self, prog):
        return 90 if prog in BROWSERS or prog == "java" else 40  # browser and JVM start-up on a loaded machine

    def session_count(self, prog, n):
        return min(n, 8) if prog in BROWSERS else (min(n, 15) if prog == "java" else n)

    def urls(self, rng):
        k = rng.choice([1, 1, 1, 2, 3, 5, 8, 15])
        return [rng.choice(self.files + self.pages) for _ in range(k)]

    def session(self, ctx, rng, o, prog):
        if not prog or prog in ("curl", "wget", "python-http.client"):
            return self.classic(ctx, rng, o, prog)
        scheme = "https" if self.tls else "http"
        base = f"{scheme}://{ctx.sip}:{self.port}"
        bindir = ctx.bindir
        paths = self.urls(rng)
        if rng.random() < 0.1:
            paths.append("upload")
        h1 = rng.random() < 0.3
        if prog == "python-requests":
            return ["/usr/bin/python3", os.path.join(ctx.lab, "clients", "reqc.py"), base, str(rng.randint(0, 2**31))] + paths, "scripted"
        if prog == "chromium":
            page = rng.choice(self.pages + self.pages + self.files[:3])
            prof = os.path.join(ctx.work, "chromium", f"p{rng.randrange(10**9)}")
            argv = ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={prof}", "--ignore-certificate-errors", "--virtual-time-budget=5000",
                    "--timeout=20000"] + (["--disable-http2"] if h1 else []) + ["--dump-dom", f"{base}/{page}"]
            return ["sh", "-c", "timeout -k 5 80 " + " ".join(argv) + f" >/dev/null 2>&1; rc=$?; rm -rf {prof}; exit $rc"], "interactive"
        if prog == "firefox":
            page = rng.choice(self.pages + self.pages + self.files[:3])
            prof = os.path.join(ctx.work, "firefox", f"p{rng.randrange(10**9)}")
            prefs = ['user_pref("browser.shell.checkDefaultBrowser", false);', 'user_pref("app.update.enabled", false);',
                     'user_pref("datareporting.policy.dataSubmissionEnabled", false);',
                     'user_pref("network.captive-portal-service.enabled", false);',
                     'user_pref("network.connectivity-service.enabled", false);',
                     f'user_pref("network.http.http2.enabled", {"false" if h1 else "true"});']
            if self.tls and rng.random() < 0.2:
                prefs.append('user_pref("security.tls.version.max", 3);')
            src = os.path.join(ctx.work, "ff-profile")
            setup = f"mkdir -p {prof} && " + (f"cp {src}/*.db {prof}/ && " if self.tls else "")
            setup += f"printf '%s\\n' {' '.join(repr(p) for p in prefs)} > {prof}/user.js"
            run = (f"timeout -k 5 80 firefox-esr --headless --no-remote --profile {prof} --screenshot {prof}/shot.png "
                   f"{base}/{page} >/dev/null 2>&1")
            return ["sh", "-c", f"{setup} && {run}; rc=$?; rm -rf {prof}; exit $rc"], "interactive"
        if prog == "go":
            return [os.path.join(bindir, "webc"), "-conc", str(rng.choice([1, 1, 2, 4, 6]))] + (["-h1"] if h1 else []) + \
                (["-tls12"] if self.tls and rng.random() < 0.2 else []) + [base, str(rng.randint(0, 2**31))] + paths, "scripted"
        if prog == "java":
            return ["java", "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-cp", bindir, "WebC", base, "h1" if h1 else "h2",
                    str(rng.randint(0, 2**31))] + paths, "scripted"
        if prog == "node":
            return ["node", os.path.join(ctx.lab, "clients", "webc.js"), base, "h1" if h1 else "h2",
                    str(rng.randint(0, 2**31))] + paths, "scripted"
        page = f"{base}/{rng.choice(self.pages + self.files)}"
        if prog == "lynx":
            ca = os.path.join(os.path.dirname(ctx.pki["rsa2048"]["key"]), "ca.crt")  # lynx always verifies
            return ["env", f"SSL_CERT_FILE={ca}", "lynx", "-dump", "-connect_timeout=20", "-useragent=" + rng.choice(UAS),
                    page], "interactive"
        if prog == "w3m":
            return ["w3m", "-dump", "-o", "ssl_verify_server=0", page], "interactive"
        if prog == "elinks":
            return ["elinks", "-dump", "-no-home", "-eval", "set connection.ssl.cert_verify = 0", page], "interactive"
        if prog == "aria2c":
            return ["aria2c", "-q", "--check-certificate=false", "--allow-overwrite=true", "-d", "/tmp",
                    "-o", f"aria-{rng.randrange(10**9)}", "-x", str(rng.choice([1, 1, 2, 4])), "--timeout=20",
                    "--max-tries=1", f"{base}/{rng.choice(self.files[:-1])}"], "bulk"
        req = "".join(f"GET /{p} HTTP/1.1\\r\\nHost: {ctx.sip}\\r\\nUser-Agent: {rng.choice(UAS)}\\r\\n"
                      f"Accept: */*\\r\\n\\r\\n" for p in paths[:3])
        typed = f"(sleep {rng.uniform(0.1, 1.5):.2f}; printf '{req}'; sleep {rng.uniform(0.5, 3):.2f})"
        if prog == "openssl-s_client":
            return ["sh", "-c", f"{typed} | timeout 20 openssl s_client -quiet -connect {ctx.sip}:{self.port} "
                    f"{rng.choice(['', '-tls1_2', '-tls1_3'])} >/dev/null 2>&1; exit 0"], "interactive"
        if prog == "gnutls-cli":
            return ["sh", "-c", f"{typed} | timeout 20 gnutls-cli --insecure -p {self.port} {ctx.sip} >/dev/null 2>&1; exit 0"], \
                "interactive"
        if prog == "nc":
            return ["sh", "-c", f"{typed} | timeout 20 nc -q 2 {ctx.sip} {self.port} >/dev/null; exit 0"], "interactive"
        raise ValueError(prog)

    def classic(self, ctx, rng, o, prog):
        """curl, wget and http.client sessions of the first lab."""
        scheme = "https" if self.tls else "http"
        base = f"{scheme}://{ctx.sip}:{self.port}"
        k = rng.choice([1, 1, 1, 2, 3, 5, 8, 15])
        urls = [f"{base}/{rng.choice(self.files)}" for _ in range(k)]
        ua = rng.choice(UAS)
        prog = prog or rng.choice(["curl"] * 55 + ["wget"] * 25 + ["python-http.client"] * 20)
        if prog == "curl":
            argv = ["curl", "-s", "-o", "/dev/null", "-A", ua, "--max-time", "30"]
            if self.tls:
                argv.append("-k")
                v = rng.random()
                if v < 0.3:
                    argv += ["--tlsv1.2", "--tls-max", "1.2"]
                elif v < 0.5:
                    argv += ["--tlsv1.3"]
                argv.append(rng.choice(["--http1.1", "--http2", "--http2"]))
            if rng.random() < 0.2:
                argv += ["--compressed"]
            if rng.random() < 0.15:
                argv += ["-X", "POST", "--data-binary", "x" * rng.randint(1, 20000), f"{base}/upload"]
                return argv
            if rng.random() < 0.1:
                argv += ["-I"]
            if rng.random() < 0.1:
                argv += ["-r", f"0-{rng.randint(10, 5000)}"]
            for _ in range(rng.randint(0, 3)):
                argv += ["-H", f"X-Req-{rng.randint(0, 99)}: {'v' * rng.randint(1, 80)}"]
            return argv + urls
        if prog == "wget":
            argv = ["wget", "-q", "-O", "/dev/null", "-U", ua, "--timeout=30", "--tries=1"]
            if self.tls:
                argv += ["--no-check-certificate", "--secure-protocol=" + rng.choice(["auto", "TLSv1_2", "TLSv1_3"])]
            return argv + urls
        return ["/usr/bin/python3", os.path.join(ctx.lab, "clients", "httpc.py"), ctx.sip, str(self.port),
                "1" if self.tls else "0", ua, str(rng.randint(0, 2**31))] + [u.split("/", 3)[3] for u in urls]

    def client(self, ctx, rng, o):
        return self.classic(ctx, rng, o, "")

    def stop(self, ctx):
        for d in ("chromium", "firefox"):
            shutil.rmtree(os.path.join(ctx.work, d), ignore_errors=True)


class Http(Web):
    name, port, tls = "http", 80, False


class Tls(Web):
    name, port, tls = "tls", 443, True


class H2c(Web):
    """Cleartext HTTP/2 with prior knowledge on 8080 (curl --http2-prior-knowledge). Meant as background
    `other:http2`, but tshark labels these flows `http` (the connection preface parses as a request line;
    check_labels.py), so they are `http` rows: an h2c client and three more servers for that class."""
    name, label, port, tls = "bg-h2c", "http", 8080, False
    max_failed_share = 0.8  # see build_corpus.MAX_FAILED_SHARE_BY_CLASS

    def __init__(self):
        self.servers = {"nginx": "", "h2o": "", "apache2": ""}
        self.programs = {"curl": ("none (h2c prior knowledge)", ["curl"])}

    def server_options(self, rng):
        o = super().server_options(rng)
        o["h2c"] = True
        return o

    def session(self, ctx, rng, o, prog):
        base = f"http://{ctx.sip}:{self.port}"
        return ["curl", "-s", "-o", "/dev/null", "--max-time", "30", "--http2-prior-knowledge"] + \
            [f"{base}/{p}" for p in self.urls(rng)], "scripted"
