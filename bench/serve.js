'use strict';
/**
 * `npm run bench:serve`: the HTTP API's speed (issue 12).
 *
 *  1. Throughput: POST /v1/classify with batches of 1,000 sequences (rows of models/lab/sample.csv, repeated),
 *     `--concurrency` requests in flight, for `--seconds`; sequences/s per round. Target >= 50,000/s.
 *  2. Latency: single-sequence requests sent at a fixed 200 requests/s (open loop: each is sent on schedule,
 *     whether or not earlier ones have been answered), for `--seconds`; p50/p99/max. Target p99 <= 10 ms.
 *  3. Side by side in the same run: the model alone (onnxruntime-node, one intra-op thread, batches of 1,024),
 *     flows/s, so that the API's overhead reads as a ratio and the figures can be re-measured after a new model.
 *
 * The server is `sensor serve` in its own process (bin/sensor.js, the built dist/), the client is this process.
 * Loopback only. Prints a table and writes bench/out/serve.json.
 *
 * Options: --rounds N (3)  --seconds S (10)  --concurrency C (2)  --rate R (200)  --model PATH (bundled)
 *          --intra-op-threads N (the config default, 1)
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const { spawn, execFileSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..');
const OUT = path.join(__dirname, 'out');
const BATCH = 1000;
const TARGET_SEQ_PER_S = 50_000;
const TARGET_P99_MS = 10;

function parseOptions(argv) {
  const o = { rounds: 3, seconds: 10, concurrency: 2, rate: 200, model: path.join(ROOT, 'models/sensor.onnx'), intraOpThreads: null };
  for (let i = 0; i < argv.length; i += 2) {
    const [a, v] = [argv[i], argv[i + 1]];
    const num = () => {
      const n = Number(v);
      if (!(n > 0)) usage(`${a} takes a positive number (got ${v})`);
      return n;
    };
    if (a === '--rounds') o.rounds = num();
    else if (a === '--seconds') o.seconds = num();
    else if (a === '--concurrency') o.concurrency = num();
    else if (a === '--rate') o.rate = num();
    else if (a === '--model') o.model = path.resolve(String(v));
    else if (a === '--intra-op-threads') o.intraOpThreads = num();
    else usage(`unknown option ${a}`);
  }
  return o;
}

function usage(msg) {
  process.stderr.write(`bench/serve.js: ${msg}\n`);
  process.exit(2);
}

function sampleRows() {
  const lines = fs.readFileSync(path.join(ROOT, 'models/lab/sample.csv'), 'utf8').trim().split('\n').slice(1);
  return lines.map((l) => l.split(',').slice(1).map(Number));
}

function quantile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}
function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Starts `sensor serve` on a free loopback port; resolves with its port once it serves. */
function startServer(db, opts) {
  const args = [path.join(ROOT, 'bin/sensor.js'), 'serve', '--db', db, '--listen', '127.0.0.1:0', '--model', opts.model, '--log-level', 'info'];
  let config = null;
  if (opts.intraOpThreads !== null) {
    config = path.join(OUT, 'serve-bench-config.json');
    fs.writeFileSync(config, JSON.stringify({ classify: { intraOpThreads: opts.intraOpThreads } }));
    args.push('--config', config);
  }
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  return new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => {
      log += d;
      const m = /"url":"http:\/\/127\.0\.0\.1:(\d+)"/.exec(log);
      if (m && log.includes('serving the HTTP API')) resolve({ child, port: Number(m[1]) });
    });
    child.on('exit', (code) => reject(new Error(`sensor serve exited ${code}: ${log}`)));
  });
}

function post(agent, port, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: '/v1/classify', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks)) : reject(new Error(`HTTP ${res.statusCode}: ${Buffer.concat(chunks)}`))));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function throughput(port, rows, opts) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.concurrency });
  const bodies = [];
  for (let b = 0; b < 8; b++) {
    const batch = [];
    for (let i = 0; i < BATCH; i++) batch.push(rows[(b * BATCH + i) % rows.length]);
    bodies.push(JSON.stringify(batch));
  }
  let sequences = 0;
  let requests = 0;
  const until = performance.now() + opts.seconds * 1000;
  const started = performance.now();
  const worker = async (w) => {
    while (performance.now() < until) {
      const out = await post(agent, port, bodies[(w + requests) % bodies.length]);
      requests++;
      if (requests === 1 && JSON.parse(out).results.length !== BATCH) throw new Error('short answer');
      sequences += BATCH;
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, (_, w) => worker(w)));
  const secs = (performance.now() - started) / 1000;
  agent.destroy();
  return { sequences, requests, seconds: secs, perSecond: sequences / secs };
}

async function latency(port, rows, opts) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const n = Math.round(opts.rate * opts.seconds);
  const interval = 1000 / opts.rate;
  const times = [];
  const pending = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const due = t0 + i * interval;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const body = JSON.stringify([rows[i % rows.length]]);
    // Measured from the scheduled time, so a client or server stall counts against the latency.
    pending.push(post(agent, port, body).then(() => times.push(performance.now() - due)));
  }
  await Promise.all(pending);
  agent.destroy();
  const sent = (performance.now() - t0) / 1000;
  times.sort((a, b) => a - b);
  return { requests: n, achievedRate: n / sent, p50: quantile(times, 0.5), p99: quantile(times, 0.99), max: times[times.length - 1] };
}

/** The model alone, in this process: onnxruntime-node, one intra-op thread, batches of 1,024 rows. */
async function modelAlone(rows, opts) {
  const ort = require('onnxruntime-node');
  const session = await ort.InferenceSession.create(opts.model, { intraOpNumThreads: opts.intraOpThreads ?? 1, interOpNumThreads: 1 });
  const B = 1024;
  const input = new Float32Array(B * 30);
  for (let i = 0; i < B; i++) input.set(rows[i % rows.length], i * 30);
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', input, [B, 30]) };
  for (let i = 0; i < 5; i++) await session.run(feeds);
  let flows = 0;
  const started = performance.now();
  while (performance.now() - started < Math.min(3000, opts.seconds * 1000)) {
    await session.run(feeds);
    flows += B;
  }
  const secs = (performance.now() - started) / 1000;
  await session.release();
  return flows / secs;
}

async function main() {
  const opts = parseOptions(process.argv.slice(2));
  fs.mkdirSync(OUT, { recursive: true });
  const rows = sampleRows();
  // `sensor serve` needs a sensor database; an empty one (the schema only) is enough for /v1/classify.
  const db = path.join(OUT, 'serve-bench.db');
  for (const f of [db, `${db}-wal`, `${db}-shm`]) fs.rmSync(f, { force: true });
  const { SqliteSink } = require(path.join(ROOT, 'dist/sink/sqliteSink.js'));
  new SqliteSink(db).close();

  const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');
  const results = { date: new Date().toISOString(), cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version, options: opts, loadBefore: load(), rounds: [] };
  const { child, port } = await startServer(db, opts);
  try {
    await throughput(port, rows, { ...opts, seconds: 2 }); // warm-up
    for (let r = 0; r < opts.rounds; r++) {
      const model = await modelAlone(rows, opts);
      const t = await throughput(port, rows, opts);
      const l = await latency(port, rows, opts);
      results.rounds.push({ modelFlowsPerSecond: model, throughput: t, latency: l });
      process.stderr.write(
        `round ${r + 1}: model alone ${Math.round(model)} flows/s; API ${Math.round(t.perSecond)} sequences/s (batches of ${BATCH}); ` +
          `single requests at ${l.achievedRate.toFixed(0)}/s: p50 ${l.p50.toFixed(2)} ms, p99 ${l.p99.toFixed(2)} ms, max ${l.max.toFixed(2)} ms\n`,
      );
    }
  } finally {
    child.kill('SIGTERM');
  }
  results.loadAfter = load();
  const med = (f) => median(results.rounds.map(f));
  results.medians = {
    modelFlowsPerSecond: med((x) => x.modelFlowsPerSecond),
    apiSequencesPerSecond: med((x) => x.throughput.perSecond),
    apiToModel: med((x) => x.throughput.perSecond / x.modelFlowsPerSecond),
    p50Ms: med((x) => x.latency.p50),
    p99Ms: med((x) => x.latency.p99),
  };
  fs.writeFileSync(path.join(OUT, 'serve.json'), JSON.stringify(results, null, 2));
  const m = results.medians;
  const rowsOut = [
    ['model alone (1 thread, batch 1024)', `${Math.round(m.modelFlowsPerSecond).toLocaleString('en-US')} flows/s`, ''],
    [`POST /v1/classify, batches of ${BATCH}, ${opts.concurrency} in flight`, `${Math.round(m.apiSequencesPerSecond).toLocaleString('en-US')} sequences/s`, `target >= ${TARGET_SEQ_PER_S.toLocaleString('en-US')}: ${m.apiSequencesPerSecond >= TARGET_SEQ_PER_S ? 'met' : 'NOT met'}`],
    ['  API / model alone', `${m.apiToModel.toFixed(2)}x`, ''],
    [`single-sequence requests at ${opts.rate}/s`, `p50 ${m.p50Ms.toFixed(2)} ms, p99 ${m.p99Ms.toFixed(2)} ms`, `target p99 <= ${TARGET_P99_MS} ms: ${m.p99Ms <= TARGET_P99_MS ? 'met' : 'NOT met'}`],
  ];
  process.stdout.write(`\nsensor serve bench: medians of ${opts.rounds} rounds of ${opts.seconds} s; ${results.cpus} CPUs (${results.cpu}), node ${process.version}, load ${results.loadBefore} -> ${results.loadAfter}\n`);
  for (const r of rowsOut) process.stdout.write(`  ${r[0].padEnd(52)} ${r[1].padEnd(30)} ${r[2]}\n`);
  process.stdout.write(`every number: ${path.relative(ROOT, path.join(OUT, 'serve.json'))}\n`);
}

main().catch((e) => {
  process.stderr.write(`bench/serve.js: ${e.stack || e}\n`);
  process.exit(1);
});
