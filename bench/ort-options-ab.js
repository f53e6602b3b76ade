'use strict';
/**
 * Round perf24: one model (or two graphs of it) under two sets of session options, side by side in one process.
 * First every output tensor of every row is compared bit for bit: the rows of ROWS.f32 (raw float32 [n, W], e.g. the
 * sensor's own session.run feeds dumped by a preload) in the sensor's own batch sizes (ROWS.batches: one size a line,
 * if present) and in consecutive batches of each size in --check; then the two sessions alternate on the same 40
 * batches of --batch rows, 20 rounds of 3 passes (bench/ort-ab.js), and each one's median CPU time a flow is
 * printed. Options are JSON added to the sensor's (bench/ort-ab.js SENSOR_SESSION_OPTIONS). Exits 1 if any bit differs.
 *
 * Usage: taskset -c 0 node bench/ort-options-ab.js A.onnx B.onnx ROWS.f32 [--a '{}'] [--b '{...}'] [--batch 256] [--check 256,255,7,1,512]
 * e.g. taskset -c 0 node bench/ort-options-ab.js models/sensor.onnx models/sensor.onnx /tmp/feeds/classifier.f32 \
 *        --b '{"extra":{"session":{"set_denormal_as_zero":"1"}}}'
 */
const fs = require('node:fs');
const os = require('node:os');
const ort = require('onnxruntime-node');
const { positionalArgs } = require('./report');
const { SENSOR_SESSION_OPTIONS, alternatingCpuPerRow } = require('./ort-ab');

async function main() {
  const [pos, o] = positionalArgs({ a: '{}', b: '{}', batch: '256', check: '256,255,7,1,512' }, process.argv.slice(2));
  const [ma, mb, file] = pos;
  if (!ma || !mb || !file) throw new Error('usage: node bench/ort-options-ab.js A.onnx B.onnx ROWS.f32 [--a JSON] [--b JSON] [--batch 256] [--check LIST]');
  const s = [await ort.InferenceSession.create(ma, { ...SENSOR_SESSION_OPTIONS, ...JSON.parse(o.a) }),
    await ort.InferenceSession.create(mb, { ...SENSOR_SESSION_OPTIONS, ...JSON.parse(o.b) })];
  const W = s[0].inputMetadata[0].shape[1];
  const buf = fs.readFileSync(file);
  const x = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
  const n = x.length / W;
  const name = s[0].inputNames[0];
  const plans = {};
  const sizesFile = file.replace(/\.f32$/, '.batches');
  if (fs.existsSync(sizesFile)) plans.sensor = fs.readFileSync(sizesFile, 'utf8').trim().split('\n').map(Number);
  for (const cb of o.check.split(',').map(Number)) {
    const l = [];
    for (let i = 0; i < n; i += cb) l.push(Math.min(cb, n - i));
    plans[cb] = l;
  }
  const checked = {};
  let differing = 0;
  for (const [k, sizes] of Object.entries(plans)) {
    let i = 0;
    let bad = 0;
    let values = 0;
    for (const m of sizes) {
      const t = new ort.Tensor('float32', x.slice(i * W, (i + m) * W), [m, W]);
      const ra = await s[0].run({ [name]: t });
      const rb = await s[1].run({ [name]: t });
      for (const out of s[0].outputNames) {
        const ya = ra[out].data;
        const yb = rb[out].data;
        if (ya.length !== yb.length) throw new Error(`output ${out}: sizes differ`);
        const ua = new Uint8Array(ya.buffer, ya.byteOffset, ya.byteLength);
        const ub = new Uint8Array(yb.buffer, yb.byteOffset, yb.byteLength);
        const per = ua.length / m;
        for (let r = 0; r < m; r++) {
          for (let c = 0; c < per; c++) if (ua[r * per + c] !== ub[r * per + c]) { bad++; break; }
        }
        values += ya.length;
      }
      i += m;
    }
    checked[k] = { rows: i, values, differing: bad };
    differing += bad;
  }
  const bs = Number(o.batch);
  const batches = [];
  for (let i = 0; i + bs <= Math.min(40 * bs, n); i += bs) batches.push(new ort.Tensor('float32', x.slice(i * W, (i + bs) * W), [bs, W]));
  const usPerFlow = await alternatingCpuPerRow(s, name, batches, bs);
  process.stdout.write(`${JSON.stringify({ a: ma, b: mb, optsA: JSON.parse(o.a), optsB: JSON.parse(o.b), rows: n, outputs: s[0].outputNames,
    checked, differing, batch: bs, us_per_flow: usPerFlow, loadAverage1m: +os.loadavg()[0].toFixed(2) })}\n`);
  if (differing) process.exit(1);
}

main().catch((e) => {
  process.stderr.write(`ort-options-ab: ${e && e.message ? e.message : e}\n`);
  process.exit(2);
});
