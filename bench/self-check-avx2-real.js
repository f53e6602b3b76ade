'use strict';
/**
 * The self-check's tolerance on a real CPU without VNNI (not shipped). Round perf43 set it from an emulation:
 * bench/self-check-avx2.py rewrites the bundled int8 classifier's MatMulIntegers into float ops that compute the
 * integer products as onnxruntime's AVX2 u8s8 kernels do (VPMADDUBSW: each sum of two adjacent products saturated to
 * int16; SAT=1) or exactly (SAT=0, the control). On such a CPU this script runs the shipped graph, the saturating
 * rewrite and the control side by side with the sensor's own session (dist/classify/deviceSession.js: CPU, one intra-op
 * thread, sequential, all optimisations) on
 *
 *   - the model's 64 `self_check` rows as one batch, against the stored reference (onnxruntime-node 1.23.2 on the
 *     machine that wrote it);
 *   - a real run's classifier feeds in the sensor's own batches (FEEDS/classifier.f32 and .batches, dumped by
 *     `ORTSPLIT_DUMP=FEEDS node -r ./bench/ort-split-preload.js bin/sensor.js --pcap bench/out/bench-1m.pcap ...`),
 *
 * and prints, per pair, the rows and values that differ (bits), the largest absolute difference with its 99.9th and
 * 99th percentiles and median over rows, and the rows whose top class changed. On an AVX2 CPU the shipped graph must
 * equal the saturating rewrite bit for bit if the emulation is right.
 *
 *   /usr/bin/python3 bench/self-check-avx2.py models/sensor.onnx /tmp/sat.onnx 1
 *   /usr/bin/python3 bench/self-check-avx2.py models/sensor.onnx /tmp/ctl.onnx 0
 *   taskset -c 0 node bench/self-check-avx2-real.js FEEDS /tmp/sat.onnx /tmp/ctl.onnx
 */
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const dist = path.join(ROOT, 'dist');
const L = 30;

function f32(file) { const b = fs.readFileSync(file); return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length)); }

async function runAll(session, ort, rows, batches) {
  const parts = [];
  let at = 0;
  for (const b of batches) {
    const r = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', rows.slice(at * L, (at + b) * L), [b, L]) });
    parts.push(new Float32Array(r[session.outputNames[0]].data));
    at += b;
  }
  const all = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { all.set(p, o); o += p.length; }
  return all;
}

function compare(a, b, K) {
  const n = a.length / K;
  let values = 0, rows = 0, top = 0;
  const dev = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let differs = false, ta = 0, tb = 0, m = 0;
    for (let k = 0; k < K; k++) {
      const x = a[i * K + k], y = b[i * K + k];
      if (x !== y) { values++; differs = true; }
      m = Math.max(m, Math.abs(x - y));
      if (x > a[i * K + ta]) ta = k;
      if (y > b[i * K + tb]) tb = k;
    }
    if (differs) rows++;
    if (ta !== tb) top++;
    dev[i] = m;
  }
  dev.sort();
  const q = (p) => Number(dev[Math.min(n - 1, Math.floor(n * p))].toPrecision(3));
  return { rows: n, rowsDiffering: rows, valuesDiffering: values, max: q(1), p999: q(0.999), p99: q(0.99), median: q(0.5), top1Changed: top };
}

async function main() {
  const [feeds, sat, ctl] = process.argv.slice(2);
  if (!feeds || !sat || !ctl) throw new Error('usage: node bench/self-check-avx2-real.js FEEDS SAT.onnx CTL.onnx');
  const { createDeviceSession } = require(path.join(dist, 'classify', 'deviceSession.js'));
  const { ort } = require(path.join(dist, 'classify', 'ortBinding.js'));
  const { readMetadataProps } = require(path.join(dist, 'classify', 'onnxMetadata.js'));
  const shipped = fs.readFileSync(path.join(ROOT, 'models', 'sensor.onnx'));
  const check = JSON.parse(readMetadataProps(shipped, (w) => new Error(w)).get('self_check'));
  const sessions = {};
  for (const [k, bytes] of [['shipped', shipped], ['sat', fs.readFileSync(sat)], ['ctl', fs.readFileSync(ctl)]]) {
    sessions[k] = (await createDeviceSession(bytes, 'cpu', 1, { warn() {}, info() {} })).session;
  }
  const K = check.expected[0].length;
  const checkRows = Float32Array.from(check.rows.flat());
  const reference = Float32Array.from(check.expected.flat());
  const c = {};
  for (const [k, s] of Object.entries(sessions)) c[k] = await runAll(s, ort, checkRows, [check.rows.length]);
  const x = f32(path.join(feeds, 'classifier.f32'));
  const batches = fs.readFileSync(path.join(feeds, 'classifier.batches'), 'utf8').trim().split('\n').map(Number);
  const f = {};
  for (const [k, s] of Object.entries(sessions)) f[k] = await runAll(s, ort, x, batches);
  const flags = fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m)?.[1].split(' ') ?? [];
  console.log(JSON.stringify({
    cpu: { avx2: flags.includes('avx2'), avx512f: flags.includes('avx512f'), avx512_vnni: flags.includes('avx512_vnni'), avx_vnni: flags.includes('avx_vnni') },
    runtime: `onnxruntime-node ${require('onnxruntime-node/package.json').version}`,
    check: {
      shippedVsReference: compare(c.shipped, reference, K),
      shippedVsSaturating: compare(c.shipped, c.sat, K),
      controlVsReference: compare(c.ctl, reference, K),
    },
    feeds: {
      shippedVsSaturating: compare(f.shipped, f.sat, K),
      shippedVsControl: compare(f.shipped, f.ctl, K),
    },
  }, null, 1));
  for (const s of Object.values(sessions)) await s.release();
}

main().catch((e) => { console.error(e.message); process.exit(1); });
