'use strict';
/**
 * Two classifier graphs side by side in one process (round perf21): first every row of ROWS (a sensor database:
 * the `lengths` of its flows that have any, zero-padded to 30, in id order; or a raw float32 [n, 30] file) through both graphs in consecutive batches of each
 * size in --check (default 256,255,7,1,512), every output float compared bit for bit; then the two sessions alternate
 * on the same 40 batches of --batch rows, 20 rounds of 3 passes, and each graph's median CPU time a flow is printed.
 * One intra-op thread, sequential, all graph optimisations, as the sensor runs. Exits 1 if any output bit differs.
 *
 * Usage: taskset -c 1 node bench/classifier-graph-ab.js A.onnx B.onnx ROWS.db|ROWS.f32 [--batch 256] [--check 256,255,7,1,512]
 * e.g. node bin/sensor.js --pcap bench/out/bench-1m.pcap --db /tmp/b.db --no-progress
 *      git show HEAD~1:models/sensor.onnx > /tmp/before.onnx
 *      taskset -c 1 node bench/classifier-graph-ab.js /tmp/before.onnx models/sensor.onnx /tmp/b.db
 */
const fs = require('node:fs');
const os = require('node:os');
const ort = require('onnxruntime-node');
const { positionalArgs } = require('./report');
const { SENSOR_SESSION_OPTIONS, alternatingCpuPerRow } = require('./ort-ab');

async function main() {
  const [pos, o] = positionalArgs({ batch: '256', check: '256,255,7,1,512' }, process.argv.slice(2));
  const [a, b, file] = pos;
  if (!a || !b || !file) throw new Error('usage: node bench/classifier-graph-ab.js A.onnx B.onnx ROWS.db|ROWS.f32 [--batch 256] [--check 256,255,7,1,512]');
  const bs = Number(o.batch);
  const s = [await ort.InferenceSession.create(a, SENSOR_SESSION_OPTIONS), await ort.InferenceSession.create(b, SENSOR_SESSION_OPTIONS)];
  const L = 30;
  let x;
  if (file.endsWith('.db')) {
    const Database = require('better-sqlite3');
    const db = new Database(file, { readonly: true });
    const seqs = db.prepare('SELECT lengths FROM flows ORDER BY id').all().map((r) => JSON.parse(r.lengths)).filter((v) => v.length > 0);
    db.close();
    x = new Float32Array(seqs.length * L);
    seqs.forEach((v, i) => x.set(v.slice(0, L), i * L));
  } else {
    const buf = fs.readFileSync(file);
    x = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
  }
  const n = x.length / L;
  const name = s[0].inputNames[0];
  const out = s[0].outputNames[0];
  const checked = {};
  let differing = 0;
  for (const cb of o.check.split(',').map(Number)) {
    let rows = 0;
    let bad = 0;
    for (let i = 0; i < n; i += cb) {
      const m = Math.min(cb, n - i);
      const t = new ort.Tensor('float32', x.slice(i * L, (i + m) * L), [m, L]);
      const [ya, yb] = [(await s[0].run({ [name]: t }))[out].data, (await s[1].run({ [name]: t }))[out].data];
      const ua = new Uint32Array(ya.buffer, ya.byteOffset, ya.length);
      const ub = new Uint32Array(yb.buffer, yb.byteOffset, yb.length);
      if (ua.length !== ub.length) throw new Error('output sizes differ');
      for (let r = 0; r < m; r++) {
        const w = ua.length / m;
        for (let c = 0; c < w; c++) if (ua[r * w + c] !== ub[r * w + c]) { bad++; break; }
      }
      rows += m;
    }
    checked[cb] = { rows, differing: bad };
    differing += bad;
  }
  const batches = [];
  for (let i = 0; i + bs <= Math.min(40 * bs, n); i += bs) batches.push(new ort.Tensor('float32', x.slice(i * L, (i + bs) * L), [bs, L]));
  const usPerFlow = await alternatingCpuPerRow(s, name, batches, bs);
  process.stdout.write(`${JSON.stringify({ a, b, rows: n, checked, batch: bs, timedRows: batches.length * bs,
    us_per_flow: usPerFlow, loadAverage1m: +os.loadavg()[0].toFixed(2) })}\n`);
  if (differing) process.exit(1);
}

main().catch((e) => {
  process.stderr.write(`classifier-graph-ab: ${e && e.message ? e.message : e}\n`);
  process.exit(2);
});
