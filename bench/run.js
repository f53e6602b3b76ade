'use strict';
/**
 * `npm run bench`: the proof of speed and memory (issues 3 and 11).
 *
 *  1. Generates (once) a deterministic capture of 1M Ethernet frames, 20k interleaved TCP connections, plus its
 *     headers-only twin (snaplen 128), and a 5M-frame capture (100k connections) so that start-up is not the whole
 *     story; see gen-capture.js.
 *  2. End to end, on each file, pinned to one core (taskset -c CPU) and on all cores, alternating the tools in every
 *     round: `sensor --pcap` with the bundled model, with each --model given, `--no-classify`, and ndpiReader. Wall
 *     time, peak RSS, CPU time; packets/s = frames / wall s, flows/s = rows written to SQLite (the sensor) or unique
 *     flows it reports (ndpiReader) / wall s. Ratios to ndpiReader per round and medians, and what classification
 *     adds to the --no-classify time (per round, median).
 *  3. Per stage: reader, reader+decoder, reader+decoder+flow table, each in a fresh process; the CLI on a capture
 *     without packets (start-up and shutdown alone); the cost of each per-flow stage (uid, rows, SQLite insert and
 *     indexes, JSON lines, the hand-over to the database thread) and inference flows/s of each model on the calling
 *     thread and in a worker thread (per-flow.js).
 *  4. Flow-table memory per tracked flow: 1M concurrent flows with one sequence entry each, and a quarter as many
 *     with full 30-entry sequences (flow-memory.js).
 *  5. Model inference alone (model-speed.js): the shipped model in onnxruntime-node with the sensor's session
 *     options, one intra-op thread, batches of 256 real rows, pinned like the rest; flows/s against the
 *     100,000 flows/s floor (issue 8).
 * Prints tables and writes bench/out/results.json with every number.
 *
 * Options: --runs N (3)  --packets N (1000000)  --big-packets N (5000000)  --big-runs N (--runs: rounds on the
 *          5M capture)  --cpus LIST (0: the one-core runs use
 *          taskset -c LIST)  --model PATH (repeatable: more models end to end and in the inference table)
 *          --mem-flows N (1000000)  --skip e2e,one-core,all-cores,snap,big,ndpi,components,per-flow,memory,model
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { ensureCaptures, ensureEmptyCapture } = require('./gen-capture');
const { measure, hasGnuTime, hasTaskset, droppedCaBundle, executableEnv } = require('./measure');
const { findNdpiReader, ndpiVersion, ndpiArgs, parseNdpiOutput } = require('./ndpi');
const { median, medians, fmtInt, fmtFixed, fmtRate, fmtMB, table } = require('./report');

const ROOT = path.resolve(__dirname, '..');
const OUT = path.join(__dirname, 'out');
const LOGS = path.join(OUT, 'logs');
const DIST = path.join(ROOT, 'dist');
const DB = path.join(OUT, 'bench.db');
/** Read size of the warm-up pass that puts both captures in the page cache before anything is timed. */
const WARMUP_CHUNK = 16 * 1024 * 1024;
/** Sequence entries of a flow that has reached the default length L = 30 (the worst case for memory). */
const FULL_SEQUENCE = 30;
/** Flows per second the shipped model must classify on one core at batch 256 (issue 8). */
const MODEL_FLOOR = 100_000;
const MODEL_BATCH = 256;

const SKIPPABLE = ['e2e', 'one-core', 'all-cores', 'snap', 'big', 'ndpi', 'components', 'per-flow', 'memory', 'model'];

function parseOptions(argv) {
  const o = { runs: 3, bigRuns: null, packets: 1_000_000, bigPackets: 5_000_000, cpus: '0', models: [], memFlows: 1_000_000, skip: new Set() };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (a === '--runs') o.runs = positiveInt(a, v);
    else if (a === '--packets') o.packets = positiveInt(a, v);
    else if (a === '--big-packets') o.bigPackets = positiveInt(a, v);
    else if (a === '--big-runs') o.bigRuns = positiveInt(a, v);
    else if (a === '--mem-flows') o.memFlows = positiveInt(a, v);
    else if (a === '--cpus') o.cpus = String(v);
    else if (a === '--model') {
      if (v === undefined || !fs.existsSync(v)) usage(`--model takes an .onnx file (got ${v})`);
      o.models.push(path.resolve(v));
    } else if (a === '--skip') for (const s of String(v).split(',')) o.skip.add(s.trim());
    else usage(`unknown option ${a}`);
    i++;
  }
  o.bigRuns ??= o.runs;
  for (const s of o.skip) if (!SKIPPABLE.includes(s)) usage(`--skip takes ${SKIPPABLE.join(',')} (got ${s})`);
  if (!/^[0-9,-]+$/.test(o.cpus)) usage(`--cpus takes a CPU list such as 0 or 0,1 (got ${o.cpus})`);
  return o;
}

function positiveInt(name, v) {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) usage(`${name} takes a positive integer (got ${v})`);
  return n;
}

function usage(msg) {
  process.stderr.write(`bench: ${msg}\noptions: --runs N  --packets N  --big-packets N  --big-runs N  --cpus LIST  --model PATH  --mem-flows N  --skip ${SKIPPABLE.join(',')}\n`);
  process.exit(2);
}

/** Which parts can run: each needs its compiled modules (other parts of the tree may not compile yet). */
function availability() {
  const has = (rel) => fs.existsSync(path.join(DIST, rel));
  return {
    reader: has('capture/fileSource.js'),
    decoder: has('decode/decoder.js'),
    flowTable: has('flow/flowTable.js') && has('decode/packetMeta.js'),
    cli: has('cli/main.js') && has('cli/offline.js') && has('pipeline/pipeline.js') && has('sink/sqliteSink.js'),
  };
}

/** Can the module be loaded? (It may exist in dist/ but require a module that does not compile yet.) */
function loads(rel) {
  try {
    require(path.join(DIST, rel));
    return null;
  } catch (e) {
    return e.message.split('\n')[0];
  }
}

/** Why the sensor CLI cannot run from dist/ (null when it can): main.js loads the offline path lazily. */
function cliLoadError(avail) {
  if (!avail.cli) return 'dist/cli, dist/daemon or dist/sink is not built (run npm run build)';
  return loads('cli/main.js') ?? loads('cli/offline.js');
}

function warmUp(files) {
  const buf = Buffer.allocUnsafe(WARMUP_CHUNK);
  for (const f of files) {
    const fd = fs.openSync(f, 'r');
    while (fs.readSync(fd, buf, 0, buf.length, null) > 0);
    fs.closeSync(fd);
  }
}

function machine(ndpiBin) {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0] ? cpus[0].model : 'unknown',
    cores: cpus.length,
    memoryGB: +(os.totalmem() / 2 ** 30).toFixed(1),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    ndpiReader: ndpiBin !== null ? { path: ndpiBin, ...ndpiVersion(ndpiBin) } : null,
    gnuTime: hasGnuTime(),
    taskset: hasTaskset(),
    nodeExtraCaCertsDropped: droppedCaBundle(),
  };
}

/** Model for the classifying run: the bundled one if present, else the test fixture. */
/** A path inside the repository relative to it, any other as given (absolute). */
function shownPath(p) {
  const rel = path.relative(ROOT, p);
  return rel.startsWith('..') ? p : rel;
}

function pickModel() {
  for (const rel of ['models/sensor.onnx', 'test/fixtures/model/fixture.onnx']) {
    const p = path.join(ROOT, rel);
    if (fs.existsSync(p)) return { path: p, rel };
  }
  return null;
}

function freshDb() {
  for (const suffix of ['', '-wal', '-shm', '-journal']) fs.rmSync(DB + suffix, { force: true });
}

function dbSummary() {
  const Database = require('better-sqlite3');
  const db = new Database(DB, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare('SELECT COUNT(*) AS n FROM flows').get().n;
    const labels = {};
    for (const r of db.prepare('SELECT label, COUNT(*) AS n FROM flows GROUP BY label ORDER BY n DESC LIMIT 20').all()) labels[r.label] = r.n;
    return { rows, labels };
  } finally {
    db.close();
  }
}

/** The sensor's own end-of-run log line (winston JSON on stderr): {"message":"capture done", ...}. */
function sensorSummary(stderrFile) {
  const lines = fs.readFileSync(stderrFile, 'utf8').split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    if (!lines[i].includes('capture done')) continue;
    try {
      return JSON.parse(lines[i]);
    } catch {
      return null;
    }
  }
  return null;
}

function tail(file, n) {
  try {
    return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-n).join('\n');
  } catch {
    return '';
  }
}

/**
 * The `sensor` command as users start it (npm's bin link, systemd's `/usr/bin/env sensor`): bin/sensor.js run as an
 * executable, so that its `#!/usr/bin/env -S ...` line applies (glibc's huge-page tunable, round perf49), with this
 * Node first on PATH so that the line's `node` is the one running the bench.
 */
const SENSOR_BIN = path.join(ROOT, 'bin', 'sensor.js');

/** What a sensor variant runs (after SENSOR_BIN): `model` null for --no-classify. */
function sensorArgs(capture, model) {
  const args = ['--pcap', capture.path, '--db', DB, '--no-progress'];
  if (model !== null) args.push('--model', model.path);
  else args.push('--no-classify');
  return args;
}

async function runSensor(capture, variant, round, cpus) {
  freshDb();
  const tag = `${path.basename(capture.path, '.pcap')}-${variant.id.replace(/[^a-z0-9.-]/gi, '_')}-${cpus ?? 'all'}-${round}`;
  const stdout = path.join(LOGS, `${tag}.out`);
  const stderr = path.join(LOGS, `${tag}.err`);
  const m = await measure(SENSOR_BIN, sensorArgs(capture, variant.model), { cpus, stdout, stderr, cwd: ROOT, env: executableEnv() });
  if (m.code !== 0) {
    throw new Error(`sensor exited ${m.code ?? m.signal} on ${capture.path} (${variant.id}); see ${stderr}:\n${tail(stderr, 5)}`);
  }
  const db = dbSummary();
  const own = sensorSummary(stderr);
  return {
    wallSeconds: m.wallSeconds,
    packetsPerSecond: capture.frames > 0 ? capture.frames / m.wallSeconds : null,
    flows: db.rows,
    flowsPerSecond: db.rows / m.wallSeconds,
    maxRssMB: m.maxRssKB / 1024,
    cpuSeconds: m.userSeconds !== null ? m.userSeconds + m.sysSeconds : null,
    cpuUtilisation: m.userSeconds !== null ? (m.userSeconds + m.sysSeconds) / m.wallSeconds : null,
    packetsPerCpuSecond: m.userSeconds !== null && capture.frames > 0 ? capture.frames / (m.userSeconds + m.sysSeconds) : null,
    ownPacketsPerSecond: own !== null && typeof own.packets_per_second === 'number' ? own.packets_per_second : null,
    ownSeconds: own !== null && typeof own.seconds === 'number' ? own.seconds : null,
    framesReported: own !== null && typeof own.frames === 'number' ? own.frames : null,
    // The classifier's counters (null with --no-classify): flows answered by the verdict memo without a model row.
    flowsReused: typeof own?.inference?.reused === 'number' ? own.inference.reused : null,
    flowsClassified: typeof own?.inference?.flows === 'number' ? own.inference.flows : null,
    labels: db.labels,
  };
}

async function runNdpi(capture, bin, round, cpus) {
  const tag = `${path.basename(capture.path, '.pcap')}-ndpiReader-${round}`;
  const stdout = path.join(LOGS, `${tag}.out`);
  const stderr = path.join(LOGS, `${tag}.err`);
  const m = await measure(bin, ndpiArgs(capture.path), { cpus, stdout, stderr, cwd: OUT });
  if (m.code !== 0) throw new Error(`ndpiReader exited ${m.code ?? m.signal} on ${capture.path}; see ${stderr}:\n${tail(stderr, 5)}`);
  const own = parseNdpiOutput(fs.readFileSync(stdout, 'utf8') + fs.readFileSync(stderr, 'utf8'));
  return {
    wallSeconds: m.wallSeconds,
    packetsPerSecond: capture.frames / m.wallSeconds,
    flows: own.uniqueFlows,
    flowsPerSecond: own.uniqueFlows !== null ? own.uniqueFlows / m.wallSeconds : null,
    maxRssMB: m.maxRssKB / 1024,
    cpuSeconds: m.userSeconds !== null ? m.userSeconds + m.sysSeconds : null,
    cpuUtilisation: m.userSeconds !== null ? (m.userSeconds + m.sysSeconds) / m.wallSeconds : null,
    packetsPerCpuSecond: m.userSeconds !== null ? capture.frames / (m.userSeconds + m.sysSeconds) : null,
    ownPacketsPerSecond: own.ownPacketsPerSecond,
    processingMs: own.processingMs,
    ipPacketsAnalysed: own.ipPackets,
    packetsTotal: own.totalPackets,
    dpiPacketsTcp: own.dpiPacketsTcp,
  };
}

/**
 * The tools of the end-to-end runs, in the order they alternate: the sensor with the bundled model, with each
 * --model, ndpiReader, and the sensor without classification.
 */
function variants(opts, env) {
  const out = [];
  const bundled = pickModel();
  if (env.cli && bundled !== null) out.push({ id: 'sensor', label: `sensor (${bundled.rel})`, model: bundled });
  for (const m of opts.models) {
    const rel = shownPath(m);
    if (env.cli) out.push({ id: `sensor:${path.basename(m)}`, label: `sensor (${rel})`, model: { path: m, rel } });
  }
  if (env.ndpi !== null) out.push({ id: 'ndpiReader', label: 'ndpiReader', model: null });
  if (env.cli) out.push({ id: 'sensor-no-classify', label: 'sensor --no-classify', model: null });
  return out;
}

/** Every capture x pinning: rounds of all tools alternating, medians, ratios to ndpiReader, cost of classification. */
async function endToEnd(captures, opts, env) {
  const out = {};
  const tools = variants(opts, env);
  for (const [name, capture] of Object.entries(captures)) {
    out[name] = {};
    for (const pin of env.pinnings) {
      const runs = {};
      for (const v of tools) runs[v.id] = [];
      const rounds = capture.big === true ? opts.bigRuns : opts.runs;
      for (let round = 1; round <= rounds; round++) {
        // Alternate the tools inside each round so that drift on a noisy machine hits them alike.
        for (const v of tools) {
          process.stderr.write(`  ${name}, ${pin.name}, round ${round}/${rounds}: ${v.id}...`);
          const r = v.id === 'ndpiReader' ? await runNdpi(capture, env.ndpi, round, pin.cpus) : await runSensor(capture, v, round, pin.cpus);
          process.stderr.write(` ${r.wallSeconds.toFixed(2)} s (CPU ${r.cpuSeconds?.toFixed(2) ?? '-'} s), ${fmtRate(r.packetsPerSecond)} packets/s\n`);
          runs[v.id].push(r);
        }
      }
      const result = { file: capture.path, frames: capture.frames, bytes: capture.bytes, flows: capture.flows, cpus: pin.cpus, rounds, tools: {}, loadAverage: os.loadavg() };
      for (const v of tools) result.tools[v.id] = { label: v.label, model: v.model?.rel ?? null, runs: runs[v.id], median: medians(runs[v.id]) };
      const nd = runs.ndpiReader;
      if (nd !== undefined) {
        result.ratios = {};
        for (const v of tools) {
          if (v.id === 'ndpiReader') continue;
          // ndpiReader's wall time / the sensor's, per round (= the sensor's packets/s over ndpiReader's).
          const perRound = runs[v.id].map((r, i) => nd[i].wallSeconds / r.wallSeconds);
          // Per CPU second as well: on a shared machine wall time also measures the neighbours, CPU time less so.
          const perRoundCpu = runs[v.id].map((r, i) => (nd[i].cpuSeconds ?? NaN) / (r.cpuSeconds ?? NaN));
          result.ratios[v.id] = { perRound, medianOfRounds: median(perRound), perCpuSecondPerRound: perRoundCpu, perCpuSecondMedianOfRounds: median(perRoundCpu) };
        }
      }
      const plain = runs['sensor-no-classify'];
      if (plain !== undefined) {
        result.classificationCost = {};
        for (const v of tools) {
          if (v.model === null) continue;
          // Time the model adds to the --no-classify run of the same round, as a share of it.
          const perRound = runs[v.id].map((r, i) => r.wallSeconds / plain[i].wallSeconds - 1);
          const perRoundCpu = runs[v.id].map((r, i) => (r.cpuSeconds ?? NaN) / (plain[i].cpuSeconds ?? NaN) - 1);
          result.classificationCost[v.id] = { perRound, medianOfRounds: median(perRound), cpuPerRound: perRoundCpu, cpuMedianOfRounds: median(perRoundCpu) };
        }
      }
      out[name][pin.name] = result;
    }
  }
  return out;
}

async function components(captures, opts, env) {
  const stages = [];
  if (env.reader) stages.push('read');
  if (env.reader && env.decoder) stages.push('decode');
  if (env.reader && env.decoder && env.flowTable) stages.push('flow');
  const out = {};
  for (const [name, capture] of Object.entries(captures)) {
    const per = {};
    for (const s of stages) per[s] = [];
    for (let round = 1; round <= opts.runs; round++) {
      for (const s of stages) {
        const tag = `${path.basename(capture.path, '.pcap')}-component-${s}-${round}`;
        const stdout = path.join(LOGS, `${tag}.out`);
        const stderr = path.join(LOGS, `${tag}.err`);
        const m = await measure(process.execPath, [path.join(__dirname, 'components.js'), s, capture.path], { cpus: opts.cpus, stdout, stderr, cwd: ROOT });
        if (m.code !== 0) throw new Error(`component ${s} failed on ${capture.path}; see ${stderr}:\n${tail(stderr, 5)}`);
        const r = JSON.parse(fs.readFileSync(stdout, 'utf8'));
        const cpuSeconds = m.userSeconds !== null ? m.userSeconds + m.sysSeconds : null;
        per[s].push({ ...r, wallSeconds: m.wallSeconds, cpuSeconds, maxRssMB: m.maxRssKB / 1024 });
      }
    }
    out[name] = {};
    for (const [s, runs] of Object.entries(per)) out[name][s] = { runs, median: medians(runs) };
    process.stderr.write(`  components on ${name}: ${stages.join(', ')} done\n`);
  }
  return out;
}

/** The CLI on a capture without packets: node start-up, module loading, model load, database open, shutdown. */
async function fixedCost(opts, env) {
  const empty = { path: ensureEmptyCapture(OUT), frames: 0 };
  const tools = variants({ ...opts, models: [] }, { cli: true, ndpi: null });
  const out = {};
  for (const pin of env.pinnings) {
    const per = {};
    for (const v of tools) per[v.id] = [];
    for (let round = 1; round <= opts.runs; round++) {
      for (const v of tools) per[v.id].push(await runSensor(empty, v, round, pin.cpus));
    }
    out[pin.name] = {};
    for (const [v, runs] of Object.entries(per)) out[pin.name][v] = { runs, median: medians(runs) };
  }
  process.stderr.write(`  CLI on an empty capture: ${tools.map((v) => v.id).join(', ')} done\n`);
  return out;
}

/** Per-flow stage costs and inference flows/s of each model (per-flow.js), in one process pinned like the one-core runs. */
async function perFlow(opts, capture) {
  const stdout = path.join(LOGS, 'per-flow.out');
  const stderr = path.join(LOGS, 'per-flow.err');
  const models = [pickModel(), ...opts.models.map((m) => ({ path: m }))].filter((m) => m !== null);
  const args = [path.join(__dirname, 'per-flow.js'), capture.path, '--rounds', String(opts.runs), ...models.flatMap((m) => ['--model', m.path])];
  // Not pinned: the worker-thread inference figures need the second core; CPU seconds are reported beside them.
  const m = await measure(process.execPath, args, { cpus: null, stdout, stderr, cwd: ROOT });
  if (m.code !== 0) throw new Error(`per-flow failed; see ${stderr}:\n${tail(stderr, 5)}`);
  return JSON.parse(fs.readFileSync(stdout, 'utf8'));
}

async function flowMemory(opts, flows, entries) {
  const stdout = path.join(LOGS, `flow-memory-${entries}.out`);
  const stderr = path.join(LOGS, `flow-memory-${entries}.err`);
  const args = ['--expose-gc', path.join(__dirname, 'flow-memory.js'), '--flows', String(flows), '--entries', String(entries)];
  const m = await measure(process.execPath, args, {
    cpus: opts.cpus,
    stdout,
    stderr,
    cwd: ROOT,
  });
  if (m.code !== 0) throw new Error(`flow-memory failed; see ${stderr}:\n${tail(stderr, 5)}`);
  return { ...JSON.parse(fs.readFileSync(stdout, 'utf8')), processMaxRssMB: m.maxRssKB / 1024 };
}

async function modelSpeed(opts, model) {
  const stdout = path.join(LOGS, 'model-speed.out');
  const stderr = path.join(LOGS, 'model-speed.err');
  const args = [path.join(__dirname, 'model-speed.js'), '--model', model.path, '--batch', String(MODEL_BATCH), '--threads', '1', '--rounds', String(Math.max(3, opts.runs))];
  const m = await measure(process.execPath, args, { cpus: opts.cpus, stdout, stderr, cwd: ROOT });
  if (m.code !== 0) throw new Error(`model-speed failed; see ${stderr}:\n${tail(stderr, 5)}`);
  return { ...JSON.parse(fs.readFileSync(stdout, 'utf8')), floor: MODEL_FLOOR };
}

function printReport(results) {
  const lines = [];
  const pct = (x) => (x === null || x === undefined || !Number.isFinite(x) ? '-' : `${x >= 0 ? '+' : ''}${(100 * x).toFixed(0)}%`);
  const rounds = (xs, f = (x) => x.toFixed(2)) => xs.map((x) => (Number.isFinite(x) ? f(x) : '-')).join(', ');
  lines.push(`Machine: ${results.machine.cpuModel}, ${results.machine.cores} cores, node ${results.machine.node}, nDPI ${results.machine.ndpiReader?.ndpi ?? 'absent'}`);
  if (results.machine.nodeExtraCaCertsDropped) lines.push(`Timed runs without NODE_EXTRA_CA_CERTS (${results.machine.nodeExtraCaCertsDropped}): node parses that bundle at every start, ~0.05 s of CPU a process here; BENCH_KEEP_NODE_EXTRA_CA_CERTS=1 keeps it`);
  lines.push(`Load average when the bench started: ${results.loadAverageStart.map((x) => x.toFixed(1)).join(', ')}; at the end: ${results.loadAverageEnd.map((x) => x.toFixed(1)).join(', ')}`);
  lines.push(`Capture: ${fmtInt(results.capture.flows)} TCP connections, up to ${fmtInt(results.capture.maxConcurrentFlows)} open at once, ${fmtInt(results.capture.fullSizeFrames)} of ${fmtInt(results.capture.full.frames)} frames full size`);
  for (const [name, byPin] of Object.entries(results.endToEnd ?? {})) {
    for (const [pinName, e] of Object.entries(byPin)) {
      lines.push('');
      const pin = e.cpus === null ? 'all cores (not pinned)' : `one core (every tool pinned to CPU ${e.cpus})`;
      lines.push(`End to end: ${path.basename(e.file)} (${fmtInt(e.frames)} frames, ${fmtMB(e.bytes)} MiB, ${fmtInt(e.flows)} flows), ${pin}, median of ${e.rounds} alternating rounds`);
      const rows = Object.entries(e.tools).map(([, t]) => [
        t.label,
        fmtFixed(t.median.wallSeconds, 2),
        fmtFixed(t.median.cpuSeconds, 2),
        fmtRate(t.median.packetsPerSecond),
        fmtRate(t.median.flowsPerSecond),
        fmtFixed(t.median.maxRssMB, 0),
        fmtRate(t.median.ownPacketsPerSecond),
      ]);
      lines.push(table(['tool', 'wall s', 'CPU s', 'packets/s', 'flows/s', 'peak RSS MiB', 'own pkt/s*'], rows));
      for (const [v, r] of Object.entries(e.ratios ?? {})) {
        lines.push(`  ndpiReader wall / ${v} wall: ${fmtFixed(r.medianOfRounds, 2)}x (rounds ${rounds(r.perRound)}); per CPU second: ${fmtFixed(r.perCpuSecondMedianOfRounds, 2)}x (rounds ${rounds(r.perCpuSecondPerRound)})`);
      }
      for (const [v, c] of Object.entries(e.classificationCost ?? {})) {
        lines.push(`  ${v} over --no-classify: wall ${pct(c.medianOfRounds)} (rounds ${rounds(c.perRound, pct)}), CPU ${pct(c.cpuMedianOfRounds)} (rounds ${rounds(c.cpuPerRound, pct)})`);
      }
      for (const t of Object.values(e.tools)) {
        // The verdict memo's share: how much of a run's classification the capture's repeated sequences spare, so a
        // reader can tell this capture's figure from one of traffic that repeats less (README "Design notes", perf48).
        if (t.median.flowsReused !== undefined && t.median.flowsClassified !== undefined && t.median.flowsClassified > 0) {
          lines.push(`  ${t.label}: the verdict memo answered ${fmtInt(t.median.flowsReused)} of ${fmtInt(t.median.flowsClassified)} flows (${(100 * t.median.flowsReused / t.median.flowsClassified).toFixed(1)}%) without inference: this capture repeats its sequences (public captures: 12-43%)`);
        }
      }
      for (const [v, t] of Object.entries(e.tools)) {
        if (t.median.flows !== undefined && e.flows !== undefined && t.median.flows !== e.flows) {
          lines.push(`  note: ${v} reported ${fmtInt(t.median.flows)} flows, the capture has ${fmtInt(e.flows)} connections`);
        }
      }
      const nd = e.tools.ndpiReader;
      if (nd !== undefined && nd.median.ipPacketsAnalysed !== undefined && nd.median.ipPacketsAnalysed < e.frames) {
        lines.push(`  note: ndpiReader analysed ${fmtInt(nd.median.ipPacketsAnalysed)} of ${fmtInt(e.frames)} packets (it discards packets cut by the snaplen)`);
      }
      lines.push(`  load average after these rounds: ${e.loadAverage.map((x) => x.toFixed(1)).join(', ')}`);
    }
  }
  if (results.endToEnd !== undefined) {
    lines.push('  * own pkt/s: what each tool reports about itself (sensor: frames / time from first read to last record; ndpiReader: "nDPI throughput", processing only)');
  }
  for (const [name, c] of Object.entries(results.components ?? {})) {
    lines.push('');
    lines.push(`Components: ${name}, each in a fresh process pinned to CPU ${results.settings.cpus}; seconds inside the process (start-up excluded), median of ${results.settings.runs} runs`);
    const label = { read: 'reader', decode: 'reader + decoder', flow: 'reader + decoder + flow table (records made, not written)' };
    const rows = Object.entries(c).map(([s, t]) => [label[s], fmtFixed(t.median.seconds, 3), fmtFixed(t.median.cpuSeconds, 3), fmtRate(t.median.framesPerSecond), fmtFixed(t.median.maxRssMB, 0)]);
    for (const [pinName, byTool] of Object.entries(results.cliFixedCost ?? {})) {
      for (const [v, t] of Object.entries(byTool)) {
        rows.push([`CLI on an empty capture, ${v === 'sensor' ? 'with model' : '--no-classify'}, ${pinName} (whole process)`, fmtFixed(t.median.wallSeconds, 3), fmtFixed(t.median.cpuSeconds, 3), '-', fmtFixed(t.median.maxRssMB, 0)]);
      }
    }
    lines.push(table(['stage', 'seconds', 'CPU s (process)', 'frames/s', 'peak RSS MiB'], rows));
  }
  const pf = results.perFlow;
  if (pf !== undefined) {
    lines.push('');
    lines.push(`Per flow: the ${fmtInt(pf.flows)} records of ${path.basename(results.capture.full.file ?? 'the capture')}, each stage alone in one process (CPU time; median of ${results.settings.runs}, the first round includes JIT warm-up)`);
    lines.push(table(['stage', 'µs per flow', 'flows per CPU s'], Object.entries(pf.stages).map(([k, v]) => [k, fmtFixed(v.median.usPerFlowCpu, 2), fmtRate(v.median.flowsPerCpuSecond)])));
    lines.push('');
    lines.push('Inference: Classifier.submit() to verdicts, batches of 256, one intra-op thread (CPU s: the whole process, all threads)');
    lines.push(table(['model', 'where', 'flows/s', 'flows per CPU s', 'µs CPU per flow'], pf.inference.map((i) => [i.model, i.where, fmtRate(i.median.flowsPerSecond), fmtRate(i.median.flowsPerCpuSecond), fmtFixed(i.median.usPerFlowCpu, 1)])));
  }
  const mems = [results.flowMemory, results.flowMemoryFullSequence].filter((m) => m !== undefined);
  if (mems.length > 0) {
    lines.push('');
    lines.push('Flow table: concurrent flows, each a SYN then E data segments (E sequence entries); per-flow figures are deltas after gc');
    const col = (f) => mems.map(f);
    lines.push(table(
      ['measure', ...mems.map((m) => `${fmtInt(m.tracked)} flows, E=${m.entriesPerFlow}`)],
      [
        ['heap per flow', ...col((m) => `${m.heapBytesPerFlow.toFixed(0)} B`)],
        ['RSS per flow', ...col((m) => `${m.rssBytesPerFlow.toFixed(0)} B`)],
        ['heap for 1M flows', ...col((m) => `${fmtMB(m.projectedHeapFor1M)} MiB`)],
        ['RSS for 1M flows', ...col((m) => `${fmtMB(m.projectedRssFor1M)} MiB`)],
        ['process peak RSS', ...col((m) => `${m.processMaxRssMB.toFixed(0)} MiB`)],
        ['inserts (SYN, new flow)', ...col((m) => `${fmtRate(m.insertFlowsPerSecond)} flows/s`)],
        ['data segment, existing flow', ...col((m) => `${fmtRate(m.dataPacketsPerSecond)} packets/s`)],
        ['pure ACK, existing flow', ...col((m) => `${fmtRate(m.lookupPacketsPerSecond)} packets/s`)],
      ],
    ));
  }
  const ms = results.modelSpeed;
  if (ms !== undefined) {
    lines.push('');
    const verdict = (v) => (v >= ms.floor ? 'meets' : 'BELOW');
    lines.push(`Model inference: ${ms.model} (${ms.version}), ${ms.runtime}, ${ms.intraOpThreads} intra-op thread, batch ${ms.batch}, ${results.settings.cpus === null ? 'not pinned' : `pinned to CPU ${results.settings.cpus}`}`);
    lines.push(`  wall clock: ${fmtInt(ms.flowsPerSecond)} flows/s (median of ${ms.rounds.length} rounds: ${ms.rounds.map(fmtInt).join(', ')}); floor ${fmtInt(ms.floor)}: ${verdict(ms.flowsPerSecond)} (${(ms.flowsPerSecond / ms.floor).toFixed(2)}x)`);
    lines.push(`  per CPU second of the process: ${fmtInt(ms.flowsPerCpuSecond)} flows (rounds: ${ms.cpuRounds.map(fmtInt).join(', ')}); floor ${fmtInt(ms.floor)}: ${verdict(ms.flowsPerCpuSecond)} (${(ms.flowsPerCpuSecond / ms.floor).toFixed(2)}x); 1-min load average ${ms.loadAverage1m} (on a busy machine the wall clock includes waiting for a core)`);
  }
  for (const s of results.skipped) lines.push(`skipped: ${s}`);
  lines.push('');
  lines.push(`Every number: ${path.relative(ROOT, path.join(OUT, 'results.json'))}; logs of each run: ${path.relative(ROOT, LOGS)}/`);
  process.stdout.write(lines.join('\n') + '\n');
}

async function main() {
  const opts = parseOptions(process.argv.slice(2));
  const started = Date.now();
  fs.mkdirSync(LOGS, { recursive: true });
  const pinnings = [];
  if (!opts.skip.has('one-core')) {
    if (hasTaskset()) pinnings.push({ name: 'one core', cpus: opts.cpus });
    else process.stderr.write('bench: taskset not found (util-linux); no one-core runs\n');
  }
  if (!opts.skip.has('all-cores')) pinnings.push({ name: 'all cores', cpus: null });
  const avail = availability();
  const ndpiBin = opts.skip.has('ndpi') ? null : findNdpiReader();
  const skipped = [];
  if (ndpiBin === null && !opts.skip.has('ndpi')) skipped.push('ndpiReader: not installed (apt-get install libndpi-bin)');

  process.stderr.write('bench: preparing captures...\n');
  const cap = ensureCaptures(OUT, { packets: opts.packets });
  process.stderr.write(`bench: ${cap.generated ? `generated in ${cap.generationSeconds.toFixed(1)} s` : 'captures up to date'}: ${cap.full.path}, ${cap.snap.path}\n`);
  const captures = { full: { ...cap.full, flows: cap.flows } };
  if (!opts.skip.has('snap')) captures[`snap${cap.params.snaplen}`] = { ...cap.snap, flows: cap.flows };
  if (!opts.skip.has('big')) {
    // Same traffic mix and concurrency, five times the packets (and flows): start-up is a small part of it.
    const big = ensureCaptures(OUT, { packets: opts.bigPackets });
    process.stderr.write(`bench: ${big.generated ? `generated in ${big.generationSeconds.toFixed(1)} s` : 'up to date'}: ${big.full.path}\n`);
    captures[`big${Math.round(opts.bigPackets / 1e6)}m`] = { ...big.full, flows: big.flows, big: true };
  }
  warmUp(Object.values(captures).map((c) => c.path));

  const results = {
    date: new Date().toISOString(),
    machine: machine(ndpiBin),
    loadAverageStart: os.loadavg(),
    settings: { runs: opts.runs, bigRuns: opts.bigRuns, cpus: opts.cpus, packets: opts.packets, bigPackets: opts.bigPackets, models: opts.models, memFlows: opts.memFlows, ndpiArgs: ndpiArgs('FILE').join(' ') },
    capture: cap,
    skipped,
  };

  if (!opts.skip.has('e2e')) {
    const cliError = cliLoadError(avail);
    if (cliError !== null) skipped.push(`sensor end to end: ${cliError}`);
    if (pickModel() === null) skipped.push('sensor with a model: neither models/sensor.onnx nor test/fixtures/model/fixture.onnx exists');
    const env = { cli: cliError === null, ndpi: ndpiBin, pinnings };
    if (env.cli || env.ndpi !== null) {
      process.stderr.write('bench: end to end\n');
      results.endToEnd = await endToEnd(captures, opts, env);
    }
  }
  if (!opts.skip.has('components')) {
    const env = {
      reader: avail.reader && loads('capture/fileSource.js') === null,
      decoder: avail.decoder && loads('decode/decoder.js') === null,
      flowTable: avail.flowTable && loads('flow/flowTable.js') === null,
    };
    if (!env.reader) skipped.push(`components: reader not loadable (${loads('capture/fileSource.js') ?? 'missing'})`);
    else if (!env.decoder) skipped.push(`components decode, flow: decoder not loadable (${loads('decode/decoder.js') ?? 'missing'})`);
    else if (!env.flowTable) skipped.push(`component flow: flow table not loadable (${loads('flow/flowTable.js') ?? 'missing'})`);
    if (env.reader) {
      process.stderr.write('bench: components\n');
      results.components = await components({ full: captures.full }, opts, env);
    }
    const cliError = cliLoadError(avail);
    if (cliError === null) results.cliFixedCost = await fixedCost(opts, { pinnings });
  }
  if (!opts.skip.has('per-flow')) {
    const err = cliLoadError(avail);
    if (err !== null) skipped.push(`per-flow stages: ${err}`);
    else {
      process.stderr.write('bench: per-flow stages and inference\n');
      results.perFlow = await perFlow(opts, captures.full);
    }
  }
  if (!opts.skip.has('memory')) {
    const err = avail.flowTable ? loads('flow/flowTable.js') : 'dist/flow/flowTable.js is not built';
    if (err !== null) skipped.push(`flow-table memory: ${err}`);
    else {
      process.stderr.write(`bench: flow-table memory with ${fmtInt(opts.memFlows)} flows\n`);
      results.flowMemory = await flowMemory(opts, opts.memFlows, 1);
      // Full sequences are the steady state of long flows; fewer flows keep this step short (30 packets per flow).
      const fullFlows = Math.max(1, Math.round(opts.memFlows / 4));
      process.stderr.write(`bench: flow-table memory with ${fmtInt(fullFlows)} flows of ${FULL_SEQUENCE} entries\n`);
      results.flowMemoryFullSequence = await flowMemory(opts, fullFlows, FULL_SEQUENCE);
    }
  }
  if (!opts.skip.has('model')) {
    const model = pickModel();
    const err = loads('classify/deviceSession.js');
    if (model === null) skipped.push('model inference: neither models/sensor.onnx nor test/fixtures/model/fixture.onnx exists');
    else if (err !== null) skipped.push(`model inference: ${err}`);
    else {
      process.stderr.write(`bench: model inference (${model.rel}, batch ${MODEL_BATCH}, one thread)\n`);
      results.modelSpeed = await modelSpeed(opts, model);
    }
  }
  results.loadAverageEnd = os.loadavg();
  results.benchSeconds = (Date.now() - started) / 1000;
  fs.writeFileSync(path.join(OUT, 'results.json'), JSON.stringify(results, null, 2) + '\n');
  printReport(results);
  process.stderr.write(`bench: done in ${results.benchSeconds.toFixed(0)} s\n`);
}

main().catch((e) => {
  process.stderr.write(`bench: ${e && e.message ? e.message : e}\n`);
  process.exit(1);
});
