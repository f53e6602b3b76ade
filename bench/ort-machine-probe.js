'use strict';
/**
 * Round perf24: does onnxruntime run slowly on this machine, or does the machine run slowly? Interleaves, in one
 * process, short CPU-timed slices of (a) the classifier on 10 batches of 256 real rows, (b) the anomaly model on 10
 * such batches, (c) a fixed pure-JS workload (integer hashing over a 64 KiB array, no allocation) and (d) a fixed
 * memory-streaming JS workload (sum over a 64 MiB Float64Array); 40 rounds. Prints each slice's median, min and max
 * and the per-round ratios (a)/(c), (b)/(c): if the ratios stay flat while the slices swing, the swings are the
 * machine's (hypervisor, the host's other tenants), not onnxruntime's.
 *
 * Usage: taskset -c 0 node bench/ort-machine-probe.js CLASSIFIER_ROWS.f32 ANOMALY_ROWS.f32 [ROUNDS]
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const ort = require('onnxruntime-node');
const { SENSOR_SESSION_OPTIONS } = require('./ort-ab');

const ROOT = path.resolve(__dirname, '..');

async function model(file, rows) {
  const s = await ort.InferenceSession.create(file, SENSOR_SESSION_OPTIONS);
  const W = s.inputMetadata[0].shape[1];
  const buf = fs.readFileSync(rows);
  const x = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
  const b = [];
  for (let i = 0; i < 10; i++) b.push(new ort.Tensor('float32', x.slice(i * 256 * W, (i + 1) * 256 * W), [256, W]));
  const name = s.inputNames[0];
  return async () => { for (const t of b) await s.run({ [name]: t }); };
}

const ints = new Int32Array(16384).map((_, i) => i * 2654435761);
function jsInts() {
  let h = 0;
  for (let r = 0; r < 120; r++) for (let i = 0; i < ints.length; i++) h = (Math.imul(h ^ ints[i], 0x85ebca6b) + r) | 0;
  return h;
}
const big = new Float64Array(8 << 20).fill(1.5);
function jsStream() {
  let s = 0;
  for (let r = 0; r < 3; r++) for (let i = 0; i < big.length; i++) s += big[i];
  return s;
}

function cpu(f) { const c = process.cpuUsage(); const v = f(); const u = process.cpuUsage(c); return [(u.user + u.system) / 1000, v]; }
async function cpuA(f) { const c = process.cpuUsage(); await f(); const u = process.cpuUsage(c); return (u.user + u.system) / 1000; }

async function main() {
  const [crow, arow, roundsArg] = process.argv.slice(2);
  const cls = await model(path.join(ROOT, 'models/sensor.onnx'), crow);
  const an = await model(path.join(ROOT, 'models/anomaly.onnx'), arow);
  for (let i = 0; i < 5; i++) { await cls(); await an(); jsInts(); }
  jsStream();
  const rounds = Number(roundsArg ?? 40);
  const t = { classifier: [], anomaly: [], jsInts: [], jsStream: [] };
  let sink = 0;
  for (let r = 0; r < rounds; r++) {
    t.classifier.push(await cpuA(cls));
    let [ms, v] = cpu(jsInts); t.jsInts.push(ms); sink ^= v;
    t.anomaly.push(await cpuA(an));
    [ms, v] = cpu(jsStream); t.jsStream.push(ms); sink += v;
  }
  const st = (a) => { const s = [...a].sort((p, q) => p - q); return { median: +s[s.length >> 1].toFixed(2), min: +s[0].toFixed(2), max: +s[s.length - 1].toFixed(2) }; };
  const ratio = (a, b) => st(a.map((v, i) => v / b[i]));
  process.stdout.write(`${JSON.stringify({ rounds, ms: Object.fromEntries(Object.entries(t).map(([k, v]) => [k, st(v)])),
    classifierOverJsInts: ratio(t.classifier, t.jsInts), anomalyOverJsInts: ratio(t.anomaly, t.jsInts),
    jsStreamOverJsInts: ratio(t.jsStream, t.jsInts), perRound: Object.fromEntries(Object.entries(t).map(([k, v]) => [k, v.map((x) => +x.toFixed(1))])),
    loadAverage1m: +os.loadavg()[0].toFixed(2), sink: sink !== 0 })}\n`);
}

main().catch((e) => { process.stderr.write(`${e.stack}\n`); process.exit(2); });
