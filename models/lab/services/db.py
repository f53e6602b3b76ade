"""Databases and caches: postgresql, mysql (MariaDB), redis, memcached."""
import os
import random
import subprocess
import time

from .base import Service, write


def twemproxy(ctx, rng_opts, pool, redis, backends, auth=None):
    """Twemproxy (nutcracker 0.5) on the class's port in front of backends on the server namespace's loopback (not
    captured): the proxy, not the store, answers the client (it rejects commands it cannot shard, e.g. INFO, KEYS,
    stats, by closing the connection, as deployed twemproxies do)."""
    o = rng_opts
    lines = [f"{pool}:", f"  listen: {ctx.sip}:{backends['port']}", f"  hash: {o['tw_hash']}",
             f"  distribution: {o['tw_distribution']}", f"  redis: {'true' if redis else 'false'}",
             f"  preconnect: {'true' if o['tw_preconnect'] else 'false'}", "  auto_eject_hosts: false",
             f"  server_connections: {o['tw_server_connections']}", "  timeout: 10000", "  servers:"]
    if auth:
        lines.insert(2, f"  redis_auth: {auth}")
    lines += [f"   - 127.0.0.1:{p}:1 s{i}" for i, p in enumerate(backends["ports"])]
    conf = os.path.join(ctx.work, "nutcracker.yml")
    write(conf, "\n".join(lines) + "\n")
    return ctx.srv(["nutcracker", "-c", conf, "-s", "22222", "-a", "127.0.0.1", "-p", os.path.join(ctx.work, "nutcracker.pid"),
                    "-o", os.path.join(ctx.work, "nutcracker.log")])


def twemproxy_options(rng):
    return {"tw_backends": rng.randint(1, 3), "tw_hash": rng.choice(["fnv1a_64", "murmur", "md5", "crc32a", "one_at_a_time"]),
            "tw_distribution": rng.choice(["ketama", "modula", "random"]), "tw_preconnect": rng.random() < 0.5,
            "tw_server_connections": rng.choice([1, 1, 2])}


def words(rng, n):
    return " ".join(rng.choice(["alpha", "beta", "gamma", "delta", "order", "user", "item", "x"]) for _ in range(n))


def java_jdbc(ctx, rng, url, user, pw, jar):
    return ["java", "-XX:TieredStopAtLevel=1", "-cp", f"{ctx.bindir}:{jar}", "JdbcC", url, user, pw, str(rng.randint(0, 2**31))]


def build_jdbc(bindir):
    if not os.path.exists(os.path.join(bindir, "JdbcC.class")):
        src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "clients", "JdbcC.java")
        subprocess.run(["javac", "-d", bindir, src], check=True)


class Postgres(Service):
    name, port = "postgresql", 5432
    programs = {"psql": ("libpq 15 (psql, pg_isready)", ["psql", "pg_isready"]),
                "psycopg2": ("libpq 15 via psycopg2", ["pgc.py"]), "pg8000": ("pg8000 1.10 (pure Python)", []),
                "jdbc": ("PostgreSQL JDBC 42.5 (Java)", [])}
    servers = {"postgresql": "PostgreSQL 15", "pgbouncer": "PgBouncer 1.18 in front of PostgreSQL 15"}
    concurrency = 6

    def bindir(self):
        import glob
        return sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1]

    def prepare(self, ctx):
        d = os.path.join(ctx.work, "pgdata")
        if not os.path.exists(os.path.join(d, "PG_VERSION")):
            os.makedirs(d, exist_ok=True)
            subprocess.run(["chown", "-R", "postgres:postgres", ctx.work], check=True)
            subprocess.run(["runuser", "-u", "postgres", "--", os.path.join(self.bindir(), "initdb"), "-D", d,
                            "-A", "trust", "-U", "postgres"], check=True, stdout=subprocess.DEVNULL)
            write(os.path.join(d, "pg_hba.conf"),
                  "local all all trust\nhost all lab 10.77.0.0/16 scram-sha-256\nhost all all 10.77.0.0/16 trust\n")
            subprocess.run(["chown", "-R", "postgres:postgres", d], check=True)
        self.seeded = False

    def server_options(self, rng):
        from .base import tls_opts
        o = tls_opts(rng)
        o.update({"password_encryption": "scram-sha-256", "pool_mode": rng.choice(["session", "session", "transaction"]),
                  "pool_size": rng.choice([2, 5, 20]), "bouncer_tls": rng.choice(["disable", "allow", "prefer"])})
        return o

    def start(self, ctx, o):
        d = os.path.join(ctx.work, "pgdata")
        bouncer = o.get("server") == "pgbouncer"
        pgport = 5433 if bouncer else self.port  # behind pgbouncer, PostgreSQL listens on the server's loopback only
        write(os.path.join(d, "pg_hba.conf"), "local all all trust\nhost all all 127.0.0.1/32 trust\n"
              "host all lab 10.77.0.0/16 scram-sha-256\nhost all all 10.77.0.0/16 trust\n")
        subprocess.run(["chown", "postgres:postgres", os.path.join(d, "pg_hba.conf")], check=True)
        p = ctx.srv(["runuser", "-u", "postgres", "--", os.path.join(self.bindir(), "postgres"), "-D", d,
                     "-c", f"listen_addresses={'127.0.0.1' if bouncer else ctx.sip}", "-c", f"port={pgport}",
                     "-c", f"unix_socket_directories={ctx.work}", "-c", "ssl=off", "-c", "fsync=off"])
        for _ in range(50):
            if os.path.exists(os.path.join(ctx.work, f".s.PGSQL.{pgport}")):
                break
            time.sleep(0.2)
        psql = [os.path.join(self.bindir(), "psql"), "-q", "-h", ctx.work, "-p", str(pgport), "-U", "postgres", "-d", "postgres", "-c"]
        ctx.srv_run(["runuser", "-u", "postgres", "--"] + psql +
                    ["DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='lab') THEN "
                     "CREATE ROLE lab LOGIN SUPERUSER PASSWORD 'labpw'; END IF; END$$;"
                     "CREATE TABLE IF NOT EXISTS items(id serial primary key, name text, body text);"
                     "INSERT INTO items(name, body) SELECT 'n'||g, repeat('b', (g*37)%2000) FROM generate_series(1,500) g "
                     "WHERE (SELECT count(*) FROM items) < 500;"])
        if not bouncer:
            return [p]
        return [p, self.start_pgbouncer(ctx, o)]

    def start_pgbouncer(self, ctx, o):
        """PgBouncer 1.18 on the server address in front of PostgreSQL, as connection poolers are deployed."""
        w = os.path.join(ctx.work, "pgbouncer")
        os.makedirs(w, exist_ok=True)
        write(os.path.join(w, "userlist.txt"), '"lab" "labpw"\n"postgres" ""\n')
        write(os.path.join(w, "hba.conf"), "host all lab 0.0.0.0/0 scram-sha-256\nhost all all 0.0.0.0/0 trust\n")
        from .base import cert
        key, crt = cert(ctx, o)
        tls = (f"client_tls_sslmode = {o['bouncer_tls']}\nclient_tls_key_file = {key}\nclient_tls_cert_file = {crt}\n"
               if o["bouncer_tls"] != "disable" else "client_tls_sslmode = disable\n")
        write(os.path.join(w, "pgbouncer.ini"), f"""[databases]
postgres = host=127.0.0.1 port=5433 dbname=postgres
* = host=127.0.0.1 port=5433
[pgbouncer]
listen_addr = {ctx.sip}
listen_port = {self.port}
unix_socket_dir =
auth_type = hba
auth_hba_file = {w}/hba.conf
auth_file = {w}/userlist.txt
pool_mode = {o['pool_mode']}
max_client_conn = 200
default_pool_size = {o['pool_size']}
ignore_startup_parameters = extra_float_digits,options
server_reset_query = DISCARD ALL
logfile = {w}/pgbouncer.log
pidfile = {w}/pgbouncer.pid
admin_users = postgres
{tls}""")
        subprocess.run(["chown", "-R", "postgres:postgres", w], check=True)
        return ctx.srv(["runuser", "-u", "postgres", "--", "pgbouncer", os.path.join(w, "pgbouncer.ini")])

    def adjust_options(self, prog, opts):
        if opts.get("server") == "pgbouncer" and prog == "pg8000":
            # pg8000 names its server-side prepared statements, which transaction pooling hands between clients
            # ("prepared statement already exists"): the combination is deployed with session pooling
            opts["pool_mode"] = "session"

    def tools(self, bindir):
        build_jdbc(bindir)

    def session(self, ctx, rng, o, prog):
        if prog == "pg8000":
            return ["/usr/bin/python3", os.path.join(ctx.lab, "clients", "pg8000c.py"), ctx.sip, "postgres", "",
                    str(rng.randint(0, 2**31))]
        if prog == "jdbc":
            ssl = rng.choice(["", "&sslmode=disable", "&sslmode=prefer"])
            return java_jdbc(ctx, rng, f"jdbc:postgresql://{ctx.sip}:5432/postgres?ApplicationName=jdbc{ssl}", "lab", "labpw",
                             "/usr/share/java/postgresql.jar")
        return super().session(ctx, rng, o, prog)

    def client(self, ctx, rng, o):
        user = rng.choice(["postgres", "lab"])
        q = rng.choice(["SELECT 1", "SELECT now()", f"SELECT * FROM items LIMIT {rng.randint(1, 200)}",
                        f"SELECT name FROM items WHERE id < {rng.randint(1, 500)}", "SELECT version()",
                        f"INSERT INTO items(name, body) VALUES ('{words(rng, 2)}', '{words(rng, rng.randint(1, 200))}')",
                        "SELECT count(*) FROM items", "\\dt", "\\l", "BEGIN; SELECT 2; COMMIT;"])
        env = [f"PGPASSWORD=labpw", f"PGSSLMODE={rng.choice(['disable', 'prefer', 'disable'])}",
               f"PGAPPNAME={rng.choice(['psql', 'app', 'reporting-job', 'x'])}"]
        u = rng.random()
        if u < 0.5:
            argv = ["psql", "-h", ctx.sip, "-U", user, "-d", "postgres", "-X", "-c", q]
            for _ in range(rng.randint(0, 3)):
                argv += ["-c", rng.choice(["SELECT 1", "SELECT * FROM items LIMIT 20", "SHOW server_version"])]
            return ["env"] + env + argv
        if u < 0.65:
            return ["env"] + env + ["psql", "-h", ctx.sip, "-U", user, "-d", "postgres", "-X", "-A", "-t", "-c",
                                    f"SELECT id, name FROM items ORDER BY random() LIMIT {rng.randint(1, 50)}"]
        if u < 0.72:
            return ["env"] + env + ["psql", "-h", ctx.sip, "-U", user, "-d", "postgres", "-X", "-l"]
        if u < 0.8:
            return [os.path.join(self.bindir(), "pg_isready"), "-h", ctx.sip, "-U", user, "-t", "20"]
        return ["env"] + env + ["/usr/bin/python3", os.path.join(ctx.lab, "clients", "pgc.py"), ctx.sip, user,
                                str(rng.randint(0, 2**31))]


class Mysql(Service):
    name, port = "mysql", 3306
    programs = {"mariadb-cli": ("libmariadb (mariadb, mariadb-admin, mariadb-dump)", ["mariadb", "mariadb-admin", "mariadb-dump"]),
                "pymysql": ("PyMySQL (pure Python)", ["myc.py"]), "jdbc": ("MariaDB Connector/J 2.7 (Java)", [])}
    servers = {"mariadb": "MariaDB 10.11"}
    concurrency = 6

    def prepare(self, ctx):
        d = os.path.join(ctx.work, "data")
        if not os.path.exists(os.path.join(d, "mysql")):
            os.makedirs(d, exist_ok=True)
            subprocess.run(["chown", "-R", "mysql:mysql", ctx.work], check=True)
            subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={d}", "--user=mysql",
                            "--auth-root-authentication-method=normal", "--skip-test-db"], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.need_sql = True

    def start(self, ctx, o):
        d = os.path.join(ctx.work, "data")
        sock = os.path.join(ctx.work, "mysqld.sock")
        p = ctx.srv(["mariadbd", "--no-defaults", f"--datadir={d}", "--user=mysql", f"--bind-address={ctx.sip}",
                     f"--port={self.port}", f"--socket={sock}", f"--pid-file={ctx.work}/mysqld.pid",
                     "--skip-log-bin", "--innodb-buffer-pool-size=32M", "--skip-name-resolve"])
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.2)
        time.sleep(0.5)
        ctx.srv_run(["mariadb", "--no-defaults", "-S", sock, "-uroot", "-e",
                     "CREATE USER IF NOT EXISTS 'lab'@'%' IDENTIFIED BY 'labpw'; GRANT ALL ON *.* TO 'lab'@'%';"
                     "CREATE USER IF NOT EXISTS 'app'@'%' IDENTIFIED BY 'another-longer-password';"
                     "GRANT ALL ON *.* TO 'app'@'%'; CREATE DATABASE IF NOT EXISTS labdb;"
                     "CREATE TABLE IF NOT EXISTS labdb.items(id int auto_increment primary key, name text, body text);"
                     "INSERT INTO labdb.items(name, body) SELECT concat('n', seq), repeat('b', (seq*37)%2000) "
                     "FROM seq_1_to_500 WHERE (SELECT count(*) FROM labdb.items) < 500;"])
        return [p]

    def tools(self, bindir):
        build_jdbc(bindir)

    def session(self, ctx, rng, o, prog):
        if prog == "jdbc":
            user, pw = rng.choice([("lab", "labpw"), ("app", "another-longer-password")])
            return java_jdbc(ctx, rng, f"jdbc:mariadb://{ctx.sip}:3306/labdb" + rng.choice(["", "?useCompression=true"]),
                             user, pw, "/usr/share/java/mariadb-java-client.jar")
        return super().session(ctx, rng, o, prog)

    def client(self, ctx, rng, o):
        user, pw = rng.choice([("lab", "labpw"), ("app", "another-longer-password")])
        q = rng.choice(["SELECT 1", "SELECT NOW()", f"SELECT * FROM labdb.items LIMIT {rng.randint(1, 200)}",
                        "SHOW DATABASES", "SHOW VARIABLES LIKE 'version%'", "SELECT COUNT(*) FROM labdb.items",
                        f"INSERT INTO labdb.items(name, body) VALUES ('{words(rng, 2)}', '{words(rng, rng.randint(1, 200))}')",
                        "SHOW PROCESSLIST", "SELECT @@version"])
        u = rng.random()
        base = ["mariadb", "--no-defaults", "-h", ctx.sip, "-u", user, f"-p{pw}", "--connect-timeout=20"]
        if rng.random() < 0.3:
            base.append("--compress")
        if u < 0.55:
            return base + ["-e", q + ";" + ";".join(rng.choice(["SELECT 1", "SELECT USER()", "SHOW TABLES FROM labdb"])
                                                      for _ in range(rng.randint(0, 3)))]
        if u < 0.7:
            return ["mariadb-admin", "--no-defaults", "-h", ctx.sip, "-u", user, f"-p{pw}",
                    rng.choice(["status", "ping", "version", "processlist", "variables"])]
        if u < 0.8:
            return ["mariadb-dump", "--no-defaults", "-h", ctx.sip, "-u", user, f"-p{pw}", "labdb", "--where",
                    f"id < {rng.randint(1, 300)}"]
        return ["/usr/bin/python3", os.path.join(ctx.lab, "clients", "myc.py"), ctx.sip, user, pw,
                str(rng.randint(0, 2**31))]


class Redis(Service):
    name, port = "redis", 6379
    programs = {"redis-cli": ("hiredis (redis-cli, redis-benchmark)", ["redis-cli", "redis-benchmark"]),
                "redis-py": ("redis-py (Python)", ["redisc.py"]), "perl-redis": ("Redis.pm (Perl)", [])}
    servers = {"redis": "Redis 7.0", "nutcracker": "Twemproxy 0.5 (nutcracker) in front of 1-3 Redis 7.0"}
    concurrency = 8
    # commands Twemproxy cannot shard: it closes the connection (a failed session); under it most draws avoid them
    NOT_PROXIED = ("INFO", "KEYS", "DBSIZE", "$r->info;", "$r->keys('*');")

    def server_options(self, rng):
        return dict({"password": rng.random() < 0.4}, **twemproxy_options(rng))

    def start(self, ctx, o):
        proxy = o.get("server") == "nutcracker"
        ports = [6380 + i for i in range(o["tw_backends"])] if proxy else [self.port]
        procs = []
        for port in ports:
            argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1" if proxy else ctx.sip, "--save", "",
                    "--appendonly", "no", "--protected-mode", "no", "--dir", ctx.work, "--daemonize", "no",
                    "--dbfilename", f"dump{port}.rdb"]
            if o["password"]:
                argv += ["--requirepass", "lab-redis-pw"]
            procs.append(ctx.srv(argv))
        if proxy:
            time.sleep(0.5)
            procs.append(twemproxy(ctx, o, "lab", True, {"port": self.port, "ports": ports},
                                   "lab-redis-pw" if o["password"] else None))
        return procs

    def proxied(self, o, rng, draw):
        """draw() again (up to 20 times) while it gives a command Twemproxy rejects, for 85% of sessions under it."""
        x = draw()
        if o.get("server") == "nutcracker" and rng.random() < 0.85:
            for _ in range(20):
                if not any(c in self.NOT_PROXIED for c in (x if isinstance(x, list) else [x])):
                    break
                x = draw()
        return x

    def session(self, ctx, rng, o, prog):
        if prog == "perl-redis":
            ops = []
            for _ in range(rng.randint(1, 10)):
                k = f"k{rng.randrange(100)}"
                ops.append(self.proxied(o, rng, lambda: rng.choice([
                    f"$r->set('{k}', 'p' x {rng.randint(1, 5000)});", f"$r->get('{k}');", "$r->incr('counter');",
                    f"$r->lpush('list', 'x' x {rng.randint(1, 300)});", "$r->ping;", "$r->info;", "$r->keys('*');",
                    f"$r->hgetall('h');"])))
            auth = "$r->auth('lab-redis-pw');" if o["password"] else ""
            return ["perl", "-MRedis", "-e", f"my $r = Redis->new(server => '{ctx.sip}:{self.port}', reconnect => 0, "
                    f"cnx_timeout => 10); {auth} {' '.join(ops)} $r->quit;"]
        return super().session(ctx, rng, o, prog)

    def client(self, ctx, rng, o):
        auth = ["-a", "lab-redis-pw", "--no-auth-warning"] if o["password"] else []
        u = rng.random()
        if u < 0.6:
            key = f"k{rng.randrange(100)}"
            cmd = self.proxied(o, rng, lambda: rng.choice([
                ["SET", key, "v" * rng.randint(1, 5000)], ["GET", key], ["INCR", "counter"],
                ["LPUSH", "list", "x" * rng.randint(1, 300)], ["LRANGE", "list", "0", str(rng.randint(0, 50))],
                ["HSET", "h", key, "y" * rng.randint(1, 100)], ["HGETALL", "h"], ["PING"], ["INFO"],
                ["KEYS", "*"], ["DBSIZE"], ["EXPIRE", key, "100"], ["MGET", "k1", "k2", "k3"]]))
            return ["redis-cli", "-h", ctx.sip, "-p", str(self.port)] + auth + cmd
        if u < 0.75:
            return ["redis-benchmark", "-h", ctx.sip, "-p", str(self.port)] + auth + [
                "-c", "1", "-n", str(rng.randint(5, 40)), "-d", str(rng.randint(3, 2000)),
                "-t", rng.choice(["set", "get", "incr", "lpush", "ping", "set,get"]), "-q"] + \
                (["-P", str(rng.randint(2, 16))] if rng.random() < 0.3 else [])
        return ["/usr/bin/python3", os.path.join(ctx.lab, "clients", "redisc.py"), ctx.sip, str(self.port),
                "lab-redis-pw" if o["password"] else "", str(rng.randint(0, 2**31))] + \
            (["notx"] if o.get("server") == "nutcracker" else [])


class Memcached(Service):
    name, port = "memcached", 11211
    programs = {"libmemcached": ("libmemcached (memcstat, memccat, memccp, memcping)", ["memcstat", "memccat", "memccp", "memcping"]),
                "pymemcache": ("pymemcache (Python)", ["memc.py"]),
                "python-memcached": ("python-memcached (pure Python)", []),
                "perl-cache-memcached": ("Cache::Memcached (Perl)", [])}
    servers = {"memcached": "memcached 1.6", "nutcracker": "Twemproxy 0.5 (nutcracker) in front of 1-3 memcached 1.6"}
    concurrency = 8

    def server_options(self, rng):
        return dict({"mem_mb": rng.choice([16, 64]), "threads": rng.choice([1, 2, 4])}, **twemproxy_options(rng))

    def start(self, ctx, o):
        proxy = o.get("server") == "nutcracker"
        ports = [11212 + i for i in range(o["tw_backends"])] if proxy else [self.port]
        procs = [ctx.srv(["memcached", "-u", "memcache", "-l", "127.0.0.1" if proxy else ctx.sip, "-p", str(port), "-U", "0",
                          "-m", str(o["mem_mb"]), "-t", str(o["threads"])]) for port in ports]
        if proxy:
            time.sleep(0.5)
            procs.append(twemproxy(ctx, o, "lab", False, {"port": self.port, "ports": ports}))
        return procs

    def session(self, ctx, rng, o, prog):
        if prog == "python-memcached":
            return ["/usr/bin/python3", os.path.join(ctx.lab, "clients", "memc2.py"), ctx.sip, str(self.port),
                    str(rng.randint(0, 2**31))]
        if prog == "perl-cache-memcached":
            ops = " ".join(rng.choice([f"$m->set('cm{rng.randrange(50)}', 'c' x {rng.randint(1, 6000)});",
                                       f"$m->get('cm{rng.randrange(50)}');", "$m->get_multi(map {\"cm$_\"} 1..8);",
                                       "$m->incr('counter');", "$m->stats();"]) for _ in range(rng.randint(1, 10)))
            return ["perl", "-MCache::Memcached", "-e", f"my $m = Cache::Memcached->new({{servers => ['{ctx.sip}:{self.port}']}});"
                    f" {ops} $m->disconnect_all;"]
        return super().session(ctx, rng, o, prog)

    def client(self, ctx, rng, o):
        srv = f"--servers={ctx.sip}:{self.port}"
        u = rng.random()
        if u < 0.15:
            return ["memcstat", srv]
        if u < 0.25:
            return ["memccat", srv] + [f"k{rng.randrange(50)}" for _ in range(rng.randint(1, 5))]
        if u < 0.35:
            f = os.path.join(ctx.work, f"val{rng.randrange(8)}")
            if not os.path.exists(f):
                write(f, "z" * random.Random(f).randint(1, 20000))
            return ["memccp", srv, f]
        if u < 0.45:
            return ["memcping", srv]
        return ["/usr/bin/python3", os.path.join(ctx.lab, "clients", "memc.py"), ctx.sip, str(self.port),
                str(rng.randint(0, 2**31))]
