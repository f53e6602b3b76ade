'use strict';
/**
 * Round perf38 (not shipped): are two onnxruntime-node versions bit-identical on the sensor's models?
 *
 *   run:     node -r ./bench/ort-use.js bench/ort-identity.js run FEEDS OUT
 *            (ORT_NODE picks the version, see bench/ort-use.js). FEEDS holds a real run's session.run inputs
 *            (bench/ort-split-preload.js with ORTSPLIT_DUMP=FEEDS: classifier.f32/.batches, anomalyw96.f32/.batches).
 *            Each model (models/sensor.onnx, models/anomaly.onnx), with the sensor's own session options
 *            (dist/classify/deviceSession.js: CPU, one intra-op thread, sequential, all optimisations), runs every row
 *            in the sensor's own batches and in batches of 256, 255, 7, 1 and 512; every output is written to
 *            OUT/<model>-<batches>.f32, with the session creation time in OUT/create.json.
 *   compare: node bench/ort-identity.js compare OUT_A OUT_B
 *            prints, per file: rows, rows with any differing value (bits), max abs difference, and the rows whose
 *            decision changes: the classifier's top-1 label or its `unknown` decision (metadata unknown_threshold and
 *            background_classes, as src/classify/classifier.ts), the anomaly model's side of any of its thresholds.
 */
const fs = require('node:fs');
const path = require('node:path');
const ROOT = path.resolve(__dirname, '..');
const dist = path.join(ROOT, 'dist');
const MODELS = { classifier: ['models/sensor.onnx', 'classifier', 30], anomaly: ['models/anomaly.onnx', 'anomalyw96', 96] };
const SCHEDULES = ['sensor', 256, 255, 7, 1, 512];

function f32(file) { const b = fs.readFileSync(file); return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length)); }

async function run(feeds, out) {
  const { createDeviceSession } = require(path.join(dist, 'classify', 'deviceSession.js'));
  const { ort } = require(path.join(dist, 'classify', 'ortBinding.js'));
  fs.mkdirSync(out, { recursive: true });
  const create = { version: require('onnxruntime-node/package.json').version };
  for (const [m, [file, feed, W]] of Object.entries(MODELS)) {
    const bytes = fs.readFileSync(path.join(ROOT, file));
    const t0 = process.hrtime.bigint();
    const { session } = await createDeviceSession(bytes, 'cpu', 1, { warn() {}, info() {} });
    create[m] = Number(process.hrtime.bigint() - t0) / 1e6;
    const x = f32(path.join(feeds, `${feed}.f32`));
    const n = x.length / W;
    const sensorBatches = fs.readFileSync(path.join(feeds, `${feed}.batches`), 'utf8').trim().split('\n').map(Number);
    for (const s of SCHEDULES) {
      const batches = [];
      if (s === 'sensor') batches.push(...sensorBatches);
      else for (let i = 0; i < n; i += s) batches.push(Math.min(s, n - i));
      const parts = [];
      let at = 0;
      for (const b of batches) {
        const input = x.slice(at * W, (at + b) * W);
        const r = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', input, [b, W]) });
        const t = r[session.outputNames[0]];
        parts.push(Buffer.from(new Float32Array(t.data).buffer));
        at += b;
      }
      if (at !== n) throw new Error(`${m} ${s}: ${at} rows of ${n}`);
      fs.writeFileSync(path.join(out, `${m}-${s}.f32`), Buffer.concat(parts));
    }
    await session.release();
  }
  fs.writeFileSync(path.join(out, 'create.json'), JSON.stringify(create) + '\n');
}

function compare(a, b) {
  const { checkMetadata } = require(path.join(dist, 'classify', 'modelContract.js'));
  const { checkAnomalyMetadata } = require(path.join(dist, 'anomaly', 'anomalyModel.js'));
  const cls = checkMetadata('models/sensor.onnx', fs.readFileSync(path.join(ROOT, 'models/sensor.onnx')));
  const an = checkAnomalyMetadata('models/anomaly.onnx', fs.readFileSync(path.join(ROOT, 'models/anomaly.onnx')));
  const K = cls.classes.length;
  const thr = cls.unknownThreshold ?? 0.5;
  const bg = new Set(cls.backgroundClasses.map((c) => cls.classes.indexOf(c)));
  const athr = [...new Set([...an.thresholds.map((t) => t.threshold), ...an.portThresholds.map((t) => t.threshold)])];
  const decideC = (p, r) => { let best = 0; for (let k = 1; k < K; k++) if (p[r * K + k] > p[r * K + best]) best = k; return { top: best, unknown: p[r * K + best] < thr || bg.has(best) }; };
  const rowsOut = [];
  for (const file of fs.readdirSync(a).filter((f) => f.endsWith('.f32')).sort()) {
    const x = f32(path.join(a, file));
    const y = f32(path.join(b, file));
    const xi = new Uint32Array(x.buffer);
    const yi = new Uint32Array(y.buffer);
    const W = file.startsWith('classifier') ? K : 1;
    const n = x.length / W;
    let rowsDiff = 0; let maxAbs = 0; let topChanged = 0; let unknownChanged = 0; let flagChanged = 0; let valuesDiff = 0;
    for (let r = 0; r < n; r++) {
      let d = false;
      for (let k = 0; k < W; k++) {
        const i = r * W + k;
        if (xi[i] !== yi[i]) { d = true; valuesDiff++; maxAbs = Math.max(maxAbs, Math.abs(x[i] - y[i])); }
      }
      if (!d) continue;
      rowsDiff++;
      if (W > 1) { const p = decideC(x, r); const q = decideC(y, r); if (p.top !== q.top) topChanged++; if (p.unknown !== q.unknown) unknownChanged++; }
      else if (athr.some((t) => (x[r] > t) !== (y[r] > t))) flagChanged++;
    }
    rowsOut.push({ file, rows: n, same: x.length === y.length, rowsDiff, valuesDiff, maxAbs, ...(W > 1 ? { topChanged, unknownChanged } : { flagChanged }) });
  }
  for (const r of rowsOut) process.stdout.write(JSON.stringify(r) + '\n');
  const ca = JSON.parse(fs.readFileSync(path.join(a, 'create.json'), 'utf8'));
  const cb = JSON.parse(fs.readFileSync(path.join(b, 'create.json'), 'utf8'));
  process.stdout.write(JSON.stringify({ a: ca, b: cb }) + '\n');
}

const [cmd, p1, p2] = process.argv.slice(2);
if (cmd === 'run') run(p1, p2).catch((e) => { console.error(e); process.exit(1); });
else if (cmd === 'compare') compare(p1, p2);
else { console.error('usage: bench/ort-identity.js run FEEDS OUT | compare OUT_A OUT_B'); process.exit(2); }
