'use strict';
/**
 * In-process cost of the anomaly stage and the host profiles, per flow: the anomaly model's feature rows alone (the
 * context counters with the model's hold and the extractor, src/anomaly/contextWindow.ts, context.ts and features.ts,
 * what runs per flow before inference, for the model's counters), the bundled anomaly model scoring 20,000 flows in
 * batches of 256 (as the classifier hands them on: features and inference), and host profiles taking the same 20,000
 * scored flows into a SQLite database (2,000 hosts, one-hour windows). Median of 5 rounds each.
 *
 * Usage: node bench/anomaly-components.js [MODEL.onnx]   (after npm run build; default models/anomaly.onnx)
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { AnomalyScorer } = require('../dist/anomaly/scorer');
const { CONTEXT_COUNTERS } = require('../dist/anomaly/context');
const { ContextWindow, MAX_HELD } = require('../dist/anomaly/contextWindow');
const { FeatureExtractor } = require('../dist/anomaly/features');
const { checkAnomalyMetadata } = require('../dist/anomaly/anomalyModel');
const { HostProfiles } = require('../dist/hosts/hostProfiles');
const { loadGroupModel } = require('../dist/hosts/behaviourGroups');
const { FlowRecord } = require('../dist/flow/flowRecord');
const { Verdict } = require('../dist/classify/verdict');
const { SqliteSink } = require('../dist/sink/sqliteSink');
const { mulberry32 } = require('./synth');

const ROOT = path.resolve(__dirname, '..');
const MODEL = path.resolve(process.argv[2] ?? path.join(ROOT, 'models/anomaly.onnx'));
const N = 20000;
const rand = mulberry32(13);
const flows = [];
for (let i = 0; i < N; i++) {
  const lengths = new Array(30).fill(0);
  const k = 1 + Math.floor(rand() * 30);
  for (let j = 0; j < k; j++) lengths[j] = (j % 2 ? -1 : 1) * (1 + Math.floor(rand() * 1448));
  const t = 1700000000 + i * 0.18;
  const f = new FlowRecord('bench.pcap', t, t + rand() * 30, 4, `10.1.${(i >> 8) % 8}.${i % 250}`, 30000 + (i % 30000),
    `10.2.0.${i % 40}`, [443, 80, 22, 53][i % 4], 0, 10, 12, 1500, 9000, 900, 8000, k, 0, false, 'SF', 'ShADadFf', '', 'fin', lengths);
  flows.push({ flow: f, verdict: new Verdict('tls', 0.99, [], 'm', 'classified') });
}
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

async function scoring() {
  const times = [];
  for (let r = 0; r < 5; r++) {
    const s = await AnomalyScorer.load({ modelPath: MODEL, device: 'cpu', batchSize: 256, falsePositiveRate: null, intraOpThreads: 1 });
    let done = 0;
    s.onResult = (b) => { done += b.length; };
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i += 256) s.submit(flows.slice(i, i + 256));
    s.flush();
    await s.drain();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    await s.close();
    if (done !== N) throw new Error(`scored ${done} of ${N}`);
  }
  return median(times);
}

/** The feature rows alone (the model's own counters): a fresh context per round, one row buffer of 256 rows as the scorer has. */
function features() {
  const times = [];
  const info = checkAnomalyMetadata(MODEL, fs.readFileSync(MODEL));
  const fx = new FeatureExtractor(info.sequenceLength, info.counters);
  const rows = new Float32Array(256 * fx.width);
  const ctx = new Float64Array(CONTEXT_COUNTERS.length);
  let sink = 0;
  for (let r = 0; r < 5; r++) {
    const window = new ContextWindow(info.contextHold, MAX_HELD);
    let k = 0;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) {
      const f = flows[i].flow;
      window.add(f, f);
      for (let g = window.next(ctx, false); g !== undefined; g = window.next(ctx, false)) fx.fill(g, ctx, rows, (k++ & 255) * fx.width);
    }
    for (let g = window.next(ctx, true); g !== undefined; g = window.next(ctx, true)) fx.fill(g, ctx, rows, (k++ & 255) * fx.width);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    sink += rows[fx.width - 1];
  }
  if (Number.isNaN(sink)) throw new Error('NaN feature');
  return median(times);
}

function profiles() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-hosts-'));
  const times = [];
  try {
    const groups = loadGroupModel(path.join(ROOT, 'models/host-groups.json'));
    for (let r = 0; r < 5; r++) {
      const sink = new SqliteSink(path.join(dir, `h${r}.db`));
      const h = new HostProfiles(sink.db, { sensor: 'b', windowSeconds: 3600, maxHosts: 100000, longFlowSeconds: 600, lateSeconds: 300, groups, flushEveryMs: 10000 });
      const scored = flows.map((c) => ({ ...c, anomaly: null }));
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < N; i += 256) h.write(scored.slice(i, i + 256));
      h.close();
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      sink.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return median(times);
}

(async () => {
  const fe = features();
  const s = await scoring();
  const p = profiles();
  const out = { flows: N, model: path.relative(ROOT, MODEL), load_average: os.loadavg().map((x) => x.toFixed(1)),
    features_ms: Math.round(fe), features_us_per_flow: Number((1000 * fe / N).toFixed(2)),
    anomaly_scoring_ms: Math.round(s), anomaly_us_per_flow: Number((1000 * s / N).toFixed(1)), host_profiles_ms: Math.round(p), host_profiles_us_per_flow: Number((1000 * p / N).toFixed(1)) };
  process.stdout.write(JSON.stringify(out) + '\n');
})();
