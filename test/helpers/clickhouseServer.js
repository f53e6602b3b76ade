'use strict';
/**
 * Real ClickHouse servers for the tests and the bench: Debian's `clickhouse-server` (18.16 on Debian 12), each
 * process with its own config, data directory and loopback ports, and a `remote_servers` cluster naming all of
 * them as shards. Nothing listens beyond 127.0.0.1. Plain JS so that bench/ (no TypeScript) can use it too.
 */
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');

const CANDIDATES = ['/usr/sbin/clickhouse-server', '/usr/bin/clickhouse-server'];
/** How long a server may take to answer /ping (18.16 answers in ~0.2 s here; CI may be slower). */
const START_TIMEOUT_MS = 30_000;

/** Path of clickhouse-server, or null with the reason in `whyMissing()`. */
function findClickHouse() {
  for (const c of CANDIDATES) if (fs.existsSync(c)) return c;
  return null;
}

function whyMissing() {
  return 'clickhouse-server is not installed (apt-get install clickhouse-server; .ci/run installs it)';
}

/** The running server's version (e.g. 18.16.1). */
async function serverVersion(url) {
  return (await query(url, 'SELECT version()')).trim();
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function configXml(dir, http, tcp, cluster, shards) {
  const remote = shards.map((p) => `<shard><replica><host>127.0.0.1</host><port>${p}</port></replica></shard>`).join('');
  return `<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>${dir}/server.log</log><errorlog>${dir}/server.err.log</errorlog><size>10M</size><count>1</count></logger>
  <http_port>${http}</http_port>
  <tcp_port>${tcp}</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <max_connections>256</max_connections>
  <keep_alive_timeout>3</keep_alive_timeout>
  <max_concurrent_queries>50</max_concurrent_queries>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
  <mark_cache_size>67108864</mark_cache_size>
  <path>${dir}/data/</path>
  <tmp_path>${dir}/tmp/</tmp_path>
  <user_files_path>${dir}/user_files/</user_files_path>
  <format_schema_path>${dir}/format_schemas/</format_schema_path>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <remote_servers><${cluster}>${remote}</${cluster}></remote_servers>
</yandex>
`;
}

const USERS_XML = `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
  <users>
    <default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default>
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
`;

/**
 * One HTTP request on a fresh connection (no keep-alive: a pooled socket that the server closed after its 3 s
 * keep-alive timeout would fail the next request). Resolves { status, text }.
 */
function request(url, method, body, timeoutMs) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent: false, timeout: timeoutMs }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode, text }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

async function ping(url) {
  try {
    return (await request(`${url}/ping`, 'GET', undefined, 1000)).status === 200;
  } catch {
    return false;
  }
}

/** Runs `sql` over HTTP and returns the answer's text; rejects with the server's message. */
async function query(url, sql) {
  const r = await request(url + '/', 'POST', sql, 60_000);
  if (r.status !== 200) throw new Error(`ClickHouse ${url}: ${r.text.trim()}`);
  return r.text;
}

/** JSONEachRow rows of `sql` (which must not carry a FORMAT clause). */
async function rows(url, sql) {
  const text = await query(url, `${sql} FORMAT JSONEachRow`);
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
}

class Server {
  constructor(bin, dir, http, tcp, cpus) {
    this.bin = bin;
    this.cpus = cpus;
    this.dir = dir;
    this.http = http;
    this.tcp = tcp;
    this.url = `http://127.0.0.1:${http}`;
    this.proc = null;
  }

  async start() {
    const out = fs.openSync(path.join(this.dir, 'stdout.log'), 'a');
    const argv = [this.bin, `--config-file=${path.join(this.dir, 'config.xml')}`];
    // The bench pins the server to other CPUs than the sensor's, so the two do not take turns on one core.
    if (this.cpus !== null) argv.unshift('taskset', '-c', this.cpus);
    this.proc = spawn(argv[0], argv.slice(1), { cwd: this.dir, stdio: ['ignore', out, out] });
    fs.closeSync(out);
    const proc = this.proc;
    let exited = null;
    proc.once('exit', (code, signal) => (exited = { code, signal }));
    for (const end = Date.now() + START_TIMEOUT_MS; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
      if (exited !== null) {
        const log = fs.readFileSync(path.join(this.dir, 'stdout.log'), 'utf8').trim().split('\n').slice(-5).join('\n');
        throw new Error(`clickhouse-server exited (${exited.code ?? exited.signal}) on start; ${this.dir}/stdout.log ends:\n${log}`);
      }
      if (await ping(this.url)) return;
    }
    throw new Error(`clickhouse-server did not answer ${this.url}/ping within ${START_TIMEOUT_MS} ms`);
  }

  /** SIGKILL (a crash, or a pulled cable): no goodbye to the clients. */
  async kill() {
    await this.stopWith('SIGKILL');
  }

  async stop() {
    await this.stopWith('SIGTERM');
  }

  async stopWith(signal) {
    const p = this.proc;
    if (p === null || p.exitCode !== null || p.signalCode !== null) return;
    const done = new Promise((r) => p.once('exit', r));
    p.kill(signal);
    const t = setTimeout(() => p.kill('SIGKILL'), 10_000);
    await done;
    clearTimeout(t);
    this.proc = null;
  }
}

/**
 * Starts `shards` servers under `root` with a cluster `cluster` naming all of them (shard i = server i); `cpus`
 * (a taskset list) pins them.
 * Returns { servers, bin, version, stop() }.
 */
async function startCluster({ root, shards = 2, cluster = 'sensor_test', cpus = null }) {
  const bin = findClickHouse();
  if (bin === null) throw new Error(whyMissing());
  const ports = [];
  for (let i = 0; i < shards; i++) ports.push({ http: await freePort(), tcp: await freePort() });
  const servers = [];
  for (let i = 0; i < shards; i++) {
    const dir = path.join(root, `shard${i + 1}`);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'config.xml'), configXml(dir, ports[i].http, ports[i].tcp, cluster, ports.map((p) => p.tcp)));
    fs.writeFileSync(path.join(dir, 'users.xml'), USERS_XML);
    servers.push(new Server(bin, dir, ports[i].http, ports[i].tcp, cpus));
  }
  try {
    await Promise.all(servers.map((s) => s.start()));
  } catch (e) {
    await Promise.all(servers.map((s) => s.kill()));
    throw e;
  }
  return {
    servers,
    bin,
    cluster,
    version: await serverVersion(servers[0].url),
    stop: () => Promise.all(servers.map((s) => s.stop())),
  };
}

module.exports = { findClickHouse, whyMissing, serverVersion, startCluster, query, rows, freePort };
