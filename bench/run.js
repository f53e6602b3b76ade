'use strict';
/**
 * `npm run bench`: the proof of speed and memory (issue 3, "Tests and proof").
 *
 *  1. Generates (once) a deterministic capture of 1M Ethernet frames, 20k interleaved TCP connections, plus its
 *     headers-only twin (snaplen 128), see gen-capture.js.
 *  2. End to end, on each file, alternating in every round: `sensor --pcap` with a model, ndpiReader, `sensor
 *     --pcap --no-classify`. Wall time, peak RSS, CPU time; packets/s = frames / wall s, flows/s = rows written
 *     to SQLite (the sensor) or unique flows it reports (ndpiReader) / wall s. Ratios per round and medians.
 *  3. Component breakdown: reader, reader+decoder, reader+decoder+flow table, each in a fresh process, and the
 *     CLI on a capture without packets (start-up and shutdown alone).
 *  4. Flow-table memory per tracked flow: 1M concurrent flows with one sequence entry each, and a quarter as many
 *     with full 30-entry sequences (flow-memory.js).
 *  5. Model inference alone (model-speed.js): the shipped model in onnxruntime-node with the sensor's session
 *     options, one intra-op thread, batches of 256 real rows, pinned like the rest; flows/s against the
 *     100,000 flows/s floor (issue 8).
 * Prints tables and writes bench/out/results.json with every number.
 *
 * Options: --runs N (3)  --packets N (1000000)  --cpus LIST|all (0: both tools pinned to CPU 0 with taskset)
 *          --mem-flows N (1000000)  --skip e2e,ndpi,components,memory,model
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { ensureCaptures, ensureEmptyCapture } = require('./gen-capture');
const { measure, hasGnuTime, hasTaskset } = require('./measure');
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

function parseOptions(argv) {
  const o = { runs: 3, packets: 1_000_000, cpus: '0', memFlows: 1_000_000, skip: new Set() };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (a === '--runs') o.runs = positiveInt(a, v);
    else if (a === '--packets') o.packets = positiveInt(a, v);
    else if (a === '--mem-flows') o.memFlows = positiveInt(a, v);
    else if (a === '--cpus') o.cpus = v === 'all' ? null : String(v);
    else if (a === '--skip') for (const s of String(v).split(',')) o.skip.add(s.trim());
    else usage(`unknown option ${a}`);
    i++;
  }
  for (const s of o.skip) if (!['e2e', 'ndpi', 'components', 'memory', 'model'].includes(s)) usage(`--skip takes e2e,ndpi,components,memory,model (got ${s})`);
  if (o.cpus !== null && !/^[0-9,-]+$/.test(o.cpus)) usage(`--cpus takes a CPU list such as 0 or 0,1, or all (got ${o.cpus})`);
  return o;
}

function positiveInt(name, v) {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) usage(`${name} takes a positive integer (got ${v})`);
  return n;
}

function usage(msg) {
  process.stderr.write(`bench: ${msg}\noptions: --runs N  --packets N  --cpus LIST|all  --mem-flows N  --skip e2e,ndpi,components,memory,model\n`);
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
  if (!avail.cli) return 'dist/cli, dist/daemon or dist/sink is not built (run npx tsc -p tsconfig.json)';
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
  };
}

/** Model for the classifying run: the bundled one if present, else the test fixture. */
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

async function runSensor(capture, variant, model, round, cpus) {
  freshDb();
  const args = [path.join(ROOT, 'bin', 'sensor.js'), '--pcap', capture.path, '--db', DB, '--no-progress'];
  if (variant === 'sensor') args.push('--model', model.path);
  else args.push('--no-classify');
  const tag = `${path.basename(capture.path, '.pcap')}-${variant}-${round}`;
  const stdout = path.join(LOGS, `${tag}.out`);
  const stderr = path.join(LOGS, `${tag}.err`);
  const m = await measure(process.execPath, args, { cpus, stdout, stderr, cwd: ROOT });
  if (m.code !== 0) {
    throw new Error(`sensor exited ${m.code ?? m.signal} on ${capture.path} (${variant}); see ${stderr}:\n${tail(stderr, 5)}`);
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

async function endToEnd(captures, opts, env) {
  const out = {};
  const model = pickModel();
  for (const [name, capture] of Object.entries(captures)) {
    const tools = {};
    const variants = [];
    if (env.cli && model !== null) variants.push('sensor');
    if (env.ndpi !== null) variants.push('ndpiReader');
    if (env.cli) variants.push('sensor-no-classify');
    for (const v of variants) tools[v] = [];
    for (let round = 1; round <= opts.runs; round++) {
      // Alternate the tools inside each round so that drift on a noisy machine hits them alike.
      for (const v of variants) {
        process.stderr.write(`  ${name} round ${round}/${opts.runs}: ${v}...`);
        const r = v === 'ndpiReader' ? await runNdpi(capture, env.ndpi, round, opts.cpus) : await runSensor(capture, v, model, round, opts.cpus);
        process.stderr.write(` ${r.wallSeconds.toFixed(2)} s, ${fmtRate(r.packetsPerSecond)} packets/s\n`);
        tools[v].push(r);
      }
    }
    const result = { file: capture.path, frames: capture.frames, bytes: capture.bytes, model: model !== null ? model.rel : null, tools: {} };
    for (const [v, runs] of Object.entries(tools)) result.tools[v] = { runs, median: medians(runs) };
    if (tools.ndpiReader !== undefined) {
      result.ratios = {};
      for (const v of ['sensor', 'sensor-no-classify']) {
        if (tools[v] === undefined) continue;
        const perRound = tools[v].map((r, i) => r.packetsPerSecond / tools.ndpiReader[i].packetsPerSecond);
        // Per CPU second as well: on a shared machine wall time also measures the neighbours, CPU time less so.
        const perRoundCpu = tools[v].map((r, i) => (r.packetsPerCpuSecond ?? NaN) / (tools.ndpiReader[i].packetsPerCpuSecond ?? NaN));
        result.ratios[v] = {
          perRound,
          medianOfRounds: median(perRound),
          ofMedians: result.tools[v].median.packetsPerSecond / result.tools.ndpiReader.median.packetsPerSecond,
          perCpuSecondPerRound: perRoundCpu,
          perCpuSecondMedianOfRounds: median(perRoundCpu),
        };
      }
    }
    out[name] = result;
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
        per[s].push({ ...r, wallSeconds: m.wallSeconds, maxRssMB: m.maxRssKB / 1024 });
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
  const variants = env.model !== null ? ['sensor', 'sensor-no-classify'] : ['sensor-no-classify'];
  const per = {};
  for (const v of variants) per[v] = [];
  for (let round = 1; round <= opts.runs; round++) {
    for (const v of variants) per[v].push(await runSensor(empty, v, env.model, round, opts.cpus));
  }
  const out = {};
  for (const [v, runs] of Object.entries(per)) out[v] = { runs, median: medians(runs) };
  process.stderr.write(`  CLI on an empty capture: ${variants.join(', ')} done\n`);
  return out;
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
  const pin = results.settings.cpus === null ? 'not pinned' : `both pinned to CPU ${results.settings.cpus}`;
  lines.push(`Machine: ${results.machine.cpuModel}, ${results.machine.cores} cores, node ${results.machine.node}, nDPI ${results.machine.ndpiReader?.ndpi ?? 'absent'}`);
  lines.push(`Capture: ${fmtInt(results.capture.flows)} TCP connections, up to ${fmtInt(results.capture.maxConcurrentFlows)} open at once, ${fmtInt(results.capture.fullSizeFrames)} of ${fmtInt(results.capture.full.frames)} frames full size`);
  for (const [name, e] of Object.entries(results.endToEnd ?? {})) {
    lines.push('');
    lines.push(`End to end: ${path.basename(e.file)} (${fmtInt(e.frames)} frames, ${fmtMB(e.bytes)} MiB, ${fmtInt(results.capture.flows)} flows), median of ${results.settings.runs} runs, ${pin}`);
    const rows = Object.entries(e.tools).map(([v, t]) => [
      v === 'sensor' ? `sensor (${e.model})` : v === 'sensor-no-classify' ? 'sensor --no-classify' : v,
      fmtFixed(t.median.wallSeconds, 2),
      fmtRate(t.median.packetsPerSecond),
      fmtRate(t.median.flowsPerSecond),
      fmtFixed(t.median.maxRssMB, 0),
      fmtFixed(t.median.cpuSeconds, 2),
      fmtRate(t.median.packetsPerCpuSecond),
      fmtRate(t.median.ownPacketsPerSecond),
    ]);
    lines.push(table(['tool', 'wall s', 'packets/s', 'flows/s', 'peak RSS MiB', 'CPU s', 'pkt/CPU s', 'own pkt/s*'], rows));
    for (const [v, r] of Object.entries(e.ratios ?? {})) {
      const rounds = (xs) => xs.map((x) => x.toFixed(2)).join(', ');
      lines.push(`  ${v} / ndpiReader packets/s: ${fmtFixed(r.medianOfRounds, 2)}x (per round ${rounds(r.perRound)}); per CPU second: ${fmtFixed(r.perCpuSecondMedianOfRounds, 2)}x (per round ${rounds(r.perCpuSecondPerRound)})`);
    }
    for (const [v, t] of Object.entries(e.tools)) {
      if (t.median.flows !== undefined && t.median.flows !== results.capture.flows) {
        lines.push(`  note: ${v} reported ${fmtInt(t.median.flows)} flows, the capture has ${fmtInt(results.capture.flows)} connections`);
      }
    }
    const nd = e.tools.ndpiReader;
    if (nd !== undefined && nd.median.ipPacketsAnalysed !== undefined && nd.median.ipPacketsAnalysed < e.frames) {
      lines.push(`  note: ndpiReader analysed ${fmtInt(nd.median.ipPacketsAnalysed)} of ${fmtInt(e.frames)} packets (it discards packets cut by the snaplen)`);
    }
  }
  if (results.endToEnd !== undefined) {
    lines.push('  * own pkt/s: what each tool reports about itself (sensor: frames / time from first read to last record; ndpiReader: "nDPI throughput", processing only)');
  }
  for (const [name, c] of Object.entries(results.components ?? {})) {
    lines.push('');
    lines.push(`Components: ${name}, time inside the process (start-up excluded), median of ${results.settings.runs} runs`);
    const label = { read: 'reader', decode: 'reader + decoder', flow: 'reader + decoder + flow table' };
    const rows = Object.entries(c).map(([s, t]) => [label[s], fmtFixed(t.median.seconds, 3), fmtRate(t.median.framesPerSecond), fmtFixed(t.median.maxRssMB, 0)]);
    const e = results.endToEnd?.[name];
    for (const [v, t] of Object.entries(results.cliFixedCost ?? {})) {
      rows.push([`CLI on an empty capture${v === 'sensor' ? ' with model' : ' --no-classify'} (wall)`, fmtFixed(t.median.wallSeconds, 3), '-', fmtFixed(t.median.maxRssMB, 0)]);
    }
    for (const v of ['sensor-no-classify', 'sensor']) {
      const t = e?.tools[v];
      if (t !== undefined) rows.push([`full CLI${v === 'sensor' ? ' with model' : ' --no-classify'} (wall)`, fmtFixed(t.median.wallSeconds, 3), fmtRate(t.median.packetsPerSecond), fmtFixed(t.median.maxRssMB, 0)]);
    }
    lines.push(table(['stage', 'seconds', 'frames/s', 'peak RSS MiB'], rows));
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
  if (opts.cpus !== null && !hasTaskset()) {
    process.stderr.write('bench: taskset not found (util-linux); running unpinned\n');
    opts.cpus = null;
  }
  const avail = availability();
  const ndpiBin = opts.skip.has('ndpi') ? null : findNdpiReader();
  const skipped = [];
  if (ndpiBin === null && !opts.skip.has('ndpi')) skipped.push('ndpiReader: not installed (apt-get install libndpi-bin)');

  process.stderr.write('bench: preparing captures...\n');
  const cap = ensureCaptures(OUT, { packets: opts.packets });
  process.stderr.write(`bench: ${cap.generated ? `generated in ${cap.generationSeconds.toFixed(1)} s` : 'captures up to date'}: ${cap.full.path}, ${cap.snap.path}\n`);
  const captures = { full: cap.full, [`snap${cap.params.snaplen}`]: cap.snap };
  warmUp(Object.values(captures).map((c) => c.path));

  const results = {
    date: new Date().toISOString(),
    machine: machine(ndpiBin),
    settings: { runs: opts.runs, cpus: opts.cpus, packets: opts.packets, memFlows: opts.memFlows, ndpiArgs: ndpiArgs('FILE').join(' ') },
    capture: cap,
    skipped,
  };

  if (!opts.skip.has('e2e')) {
    const cliError = cliLoadError(avail);
    if (cliError !== null) skipped.push(`sensor end to end: ${cliError}`);
    if (pickModel() === null) skipped.push('sensor with a model: neither models/sensor.onnx nor test/fixtures/model/fixture.onnx exists');
    const env = { cli: cliError === null, ndpi: ndpiBin };
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
      results.components = await components(captures, opts, env);
    }
    const cliError = cliLoadError(avail);
    if (cliError === null) results.cliFixedCost = await fixedCost(opts, { model: pickModel() });
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
  results.benchSeconds = (Date.now() - started) / 1000;
  fs.writeFileSync(path.join(OUT, 'results.json'), JSON.stringify(results, null, 2) + '\n');
  printReport(results);
  process.stderr.write(`bench: done in ${results.benchSeconds.toFixed(0)} s\n`);
}

main().catch((e) => {
  process.stderr.write(`bench: ${e && e.message ? e.message : e}\n`);
  process.exit(1);
});
