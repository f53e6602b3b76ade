'use strict';
/**
 * Where the time of a run goes between threads (issue 11): the sensor on the bench capture, alternating in every
 * round its defaults, `anomaly.thread: true` (scoring in a thread of its own) and, with --base DIR, the
 * `bin/sensor.js` of another checkout (e.g. a copy of main, with its defaults), on all cores; per run the wall
 * time, the capture thread's CPU time (the critical
 * path when a core is free beside it: bench/capture-thread-cpu.js) and the whole process's. Medians, and one JSON
 * object on stdout with every run.
 *
 * Usage: node bench/threads.js [--runs N (5)] [--capture FILE (bench/out/bench-1m.pcap)] [--base DIR] [--cpus LIST]
 * [--off LIST] (--off adds a variant of this tree with SENSOR_THREADS_OFF=LIST, e.g. all or inference,database:
 * src/config/helperThreads.ts) [--env NAME=VALUE] (a variant of this tree with that environment, e.g. SENSOR_FASTPATH=0,
 * or SENSOR_THREADS_ON=all: a run over a file gets its threads only from three CPUs on, round perf49)
 * (--cpus pins every run with taskset, e.g. 0 for one core; default all cores). Build first (npm run build: dist/ and
 * its start-up bundle; a stale bundle is reported, README "Start-up bundle") and generate the capture (npm run bench,
 * or node bench/gen-capture.js).
 */
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { median } = require('./report');
const { executableEnv, droppedCaBundle } = require('./measure');

const ROOT = path.resolve(__dirname, '..');
const PRELOAD = path.join(__dirname, 'capture-thread-cpu.js');

function options(argv) {
  const o = { runs: 5, capture: path.join(__dirname, 'out', 'bench-1m.pcap'), base: null, cpus: null, off: [], env: [] };
  for (let i = 0; i < argv.length; i += 2) {
    const a = argv[i];
    const v = argv[i + 1];
    if (a === '--runs') o.runs = Number(v);
    else if (a === '--capture') o.capture = path.resolve(v);
    else if (a === '--base') o.base = path.resolve(v);
    else if (a === '--cpus') o.cpus = v;
    else if (a === '--off') o.off.push(v);
    else if (a === '--env' && /^[A-Z_][A-Z0-9_]*=/.test(v ?? '')) o.env.push(v);
    else throw new Error(`unknown option ${a} (--runs N, --capture FILE, --base DIR, --cpus LIST, --off LIST, --env NAME=VALUE)`);
  }
  if (!Number.isInteger(o.runs) || o.runs < 1) throw new Error('--runs takes a positive integer');
  if (!fs.existsSync(o.capture)) throw new Error(`no capture ${o.capture}: run npm run bench (or node bench/gen-capture.js) first`);
  return o;
}

function run(root, extra, o, tmp, env = {}) {
  const db = path.join(tmp, 'threads.db');
  for (const s of ['', '-wal', '-shm']) fs.rmSync(db + s, { force: true });
  // bin/sensor.js run as an executable, as users start it (its #! line's settings apply, round perf49), with this
  // Node first on PATH and the preload through NODE_OPTIONS.
  const bin = path.join(root, 'bin', 'sensor.js');
  const args = [...extra, '--pcap', o.capture, '--db', db, '--no-progress'];
  const cmd = o.cpus !== null ? 'taskset' : bin;
  const argv = o.cpus !== null ? ['-c', o.cpus, bin, ...args] : args;
  const base = executableEnv();
  const runEnvironment = { ...base, NODE_OPTIONS: [base.NODE_OPTIONS, `--require=${PRELOAD}`].filter(Boolean).join(' '), ...env };
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, argv, { cwd: root, env: runEnvironment, encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`sensor in ${root} exited ${r.status}: ${r.stderr.split('\n').slice(-3).join(' ')}`);
  const line = r.stderr.split('\n').find((l) => l.startsWith('CAPTURE_THREAD_CPU '));
  const [, capture, proc] = line.split(' ').map(Number);
  return { wall, captureThreadCpu: capture, processCpu: proc };
}

/** One line on stderr for each tree whose start-up bundle is missing or stale: it would start module by module. */
function checkBundle(root) {
  let fresh = false;
  try {
    const { bundleFresh, BUNDLE_MANIFEST } = require(path.join(root, 'dist', 'startup', 'bundle.js'));
    fresh = bundleFresh(JSON.parse(fs.readFileSync(BUNDLE_MANIFEST, 'utf8')));
  } catch {
    return; // a tree from before the bundle
  }
  if (!fresh) process.stderr.write(`note: ${root} has no fresh start-up bundle (run npm run build there); its runs load dist/ module by module\n`);
}

function main() {
  const o = options(process.argv.slice(2));
  for (const root of [ROOT, ...(o.base !== null ? [o.base] : [])]) checkBundle(root);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-threads-'));
  const threadConfig = path.join(tmp, 'anomaly-thread.json');
  fs.writeFileSync(threadConfig, JSON.stringify({ anomaly: { thread: true } }));
  const variants = [
    ...(o.base !== null ? [{ name: 'base (--base, its defaults)', root: o.base, extra: [] }] : []),
    { name: 'defaults', root: ROOT, extra: [] },
    { name: 'anomaly.thread', root: ROOT, extra: ['--config', threadConfig] },
    ...o.off.map((list) => ({ name: `SENSOR_THREADS_OFF=${list}`, root: ROOT, extra: [], env: { SENSOR_THREADS_OFF: list } })),
    ...o.env.map((kv) => ({ name: kv, root: ROOT, extra: [], env: { [kv.slice(0, kv.indexOf('='))]: kv.slice(kv.indexOf('=') + 1) } })),
  ];
  const runs = Object.fromEntries(variants.map((v) => [v.name, []]));
  const load = [];
  try {
    for (let r = 0; r < o.runs; r++) {
      for (const v of variants) runs[v.name].push(run(v.root, v.extra, o, tmp, v.env));
      load.push(os.loadavg()[0]);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const out = { capture: o.capture, cpus: o.cpus ?? 'all', runs, medians: {}, loadAverage1m: load };
  for (const v of variants) {
    const xs = runs[v.name];
    out.medians[v.name] = {
      wall: median(xs.map((x) => x.wall)),
      captureThreadCpu: median(xs.map((x) => x.captureThreadCpu)),
      processCpu: median(xs.map((x) => x.processCpu)),
    };
    const m = out.medians[v.name];
    process.stderr.write(`${v.name.padEnd(28)} wall ${m.wall.toFixed(2)} s  capture thread ${m.captureThreadCpu.toFixed(2)} s CPU  process ${m.processCpu.toFixed(2)} s CPU\n`);
  }
  process.stderr.write(`load average (1 min) over the rounds: ${load.map((x) => x.toFixed(1)).join(', ')}\n`);
  if (droppedCaBundle() !== null) process.stderr.write(`runs without NODE_EXTRA_CA_CERTS (${droppedCaBundle()}: node parses that bundle at every start; BENCH_KEEP_NODE_EXTRA_CA_CERTS=1 keeps it)\n`);
  process.stdout.write(JSON.stringify(out) + '\n');
}

main();
