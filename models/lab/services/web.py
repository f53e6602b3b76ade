"""http (nginx, plain HTTP/1.1) and tls (nginx HTTPS: TLS 1.2/1.3, HTTP/1.1 and HTTP/2)."""
import os
import random

from .base import Service, cert, sizes, tls_opts, write

UAS = ["curl/7.88.1", "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Firefox/115.0",
       "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
       "Wget/1.21.3", "python-requests/2.28.1", "okhttp/4.9.3", "Go-http-client/1.1", "monitor/1.0"]


class Nginx(Service):
    concurrency = 8

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
        self.files.append("index.html")
        self.files.append("missing.html")  # 404s happen

    def server_options(self, rng):
        o = {"gzip": rng.random() < 0.5, "keepalive_requests": rng.choice([1, 5, 100, 1000]),
             "server_tokens": rng.random() < 0.5, "sendfile": rng.random() < 0.5}
        if self.tls:
            o.update(tls_opts(rng))
            o["protocols"] = rng.choice(["TLSv1.2 TLSv1.3", "TLSv1.2 TLSv1.3", "TLSv1.3", "TLSv1.2"])
            o["http2"] = rng.random() < 0.6
            o["session_tickets"] = rng.random() < 0.5
        return o

    def start(self, ctx, o):
        w = ctx.work
        listen = f"listen {ctx.sip}:{self.port}"
        if self.tls:
            key, crt = cert(ctx, o)
            listen += " ssl" + (" http2" if o["http2"] else "")
            tls = (f"ssl_certificate {crt}; ssl_certificate_key {key}; ssl_protocols {o['protocols']};"
                   f" ssl_session_tickets {'on' if o['session_tickets'] else 'off'}; ssl_session_cache shared:S:1m;")
        else:
            tls = ""
        conf = f"""
worker_processes 1; pid {w}/nginx.pid; error_log {w}/error.log; user www-data;
events {{ worker_connections 512; }}
http {{
  access_log off; client_body_temp_path {w}/tmp; proxy_temp_path {w}/tmp; fastcgi_temp_path {w}/tmp;
  uwsgi_temp_path {w}/tmp; scgi_temp_path {w}/tmp; default_type application/octet-stream;
  gzip {'on' if o['gzip'] else 'off'}; gzip_types *; keepalive_requests {o['keepalive_requests']};
  server_tokens {'on' if o['server_tokens'] else 'off'}; sendfile {'on' if o['sendfile'] else 'off'};
  server {{ {listen}; {tls} root {w}/www; location / {{ try_files $uri $uri/ =404; }}
           location /upload {{ return 201; }} }}
}}
"""
        os.makedirs(os.path.join(w, "tmp"), exist_ok=True)
        write(os.path.join(w, "nginx.conf"), conf)
        return [ctx.srv(["nginx", "-c", os.path.join(w, "nginx.conf"), "-g", "daemon off;"])]

    def client(self, ctx, rng, o):
        scheme = "https" if self.tls else "http"
        base = f"{scheme}://{ctx.sip}:{self.port}"
        k = rng.choice([1, 1, 1, 2, 3, 5, 8, 15])
        urls = [f"{base}/{rng.choice(self.files)}" for _ in range(k)]
        ua = rng.choice(UAS)
        prog = rng.random()
        if prog < 0.55:
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
        if prog < 0.8:
            argv = ["wget", "-q", "-O", "/dev/null", "-U", ua, "--timeout=30", "--tries=1"]
            if self.tls:
                argv += ["--no-check-certificate", "--secure-protocol=" + rng.choice(["auto", "TLSv1_2", "TLSv1_3"])]
            return argv + urls
        argv = ["/usr/bin/python3", os.path.join(ctx.lab, "clients", "httpc.py"), ctx.sip, str(self.port),
                "1" if self.tls else "0", ua, str(rng.randint(0, 2**31))] + [u.split("/", 3)[3] for u in urls]
        return argv


class Http(Nginx):
    name, port, tls = "http", 80, False


class Tls(Nginx):
    name, port, tls = "tls", 443, True
