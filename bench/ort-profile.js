'use strict';
/**
 * Round perf24: onnxruntime's own profiler (or plain CPU timing) of either shipped model on real rows: a raw float32
 * file of [n, W] rows (W from the model's input), e.g. what a preload dumped of the sensor's own session.run feeds,
 * or models/anomaly/export_features.js's features.f32. The sensor's session options (bench/ort-ab.js) unless
 * --opts JSON adds to them. Prints one JSON object: per operator type the kernel us a call, nodes, share, the shares by
 * the first part of the node names (the classifier: fused/ is the stacked members' MLP, the rest its in-graph
 * features; the anomaly model: t is the input transform, aes.K member K), the 15 costliest nodes; with
 * --profile 0 the median us of process CPU a flow over 7 rounds of --calls calls instead.
 *
 * Usage: taskset -c 1 node bench/ort-profile.js MODEL.onnx ROWS.f32 [--batch 256] [--calls 400] [--profile 0|1] [--opts '{...}']
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const ort = require('onnxruntime-node');
const { SENSOR_SESSION_OPTIONS } = require('./ort-ab');

async function main() {
  const argv = process.argv.slice(2);
  const pos = [];
  const o = { batch: '256', calls: '400', profile: '1', opts: '{}' };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i].startsWith('--')) o[argv[i].slice(2)] = argv[++i];
    else pos.push(argv[i]);
  }
  const [model, file] = pos;
  const bs = Number(o.batch);
  const calls = Number(o.calls);
  const prefix = path.join(os.tmpdir(), `ortprof-${process.pid}`);
  const session = await ort.InferenceSession.create(model, { ...SENSOR_SESSION_OPTIONS, ...JSON.parse(o.opts),
    enableProfiling: o.profile === '1', profileFilePrefix: prefix });
  const W = session.inputMetadata[0].shape[1];
  const buf = fs.readFileSync(file);
  const x = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
  const n = x.length / W;
  const batches = [];
  for (let i = 0; i + bs <= Math.min(40 * bs, n); i += bs) batches.push(new ort.Tensor('float32', x.slice(i * W, (i + bs) * W), [bs, W]));
  const name = session.inputNames[0];
  if (o.profile !== '1') {
    for (let i = 0; i < 50; i++) await session.run({ [name]: batches[i % batches.length] });
    const rounds = [];
    for (let r = 0; r < 7; r++) {
      const c0 = process.cpuUsage();
      for (let i = 0; i < calls; i++) await session.run({ [name]: batches[i % batches.length] });
      const c = process.cpuUsage(c0);
      rounds.push((c.user + c.system) / (calls * bs));
    }
    rounds.sort((a, b) => a - b);
    await session.release();
    process.stdout.write(JSON.stringify({ model, batch: bs, calls, usCpuPerFlow: rounds.map((v) => +v.toFixed(3)), median: +rounds[3].toFixed(3),
      loadAverage1m: +os.loadavg()[0].toFixed(2) }) + '\n');
    return;
  }
  for (let i = 0; i < calls; i++) await session.run({ [name]: batches[i % batches.length] });
  session.endProfiling();
  await session.release();
  const pf = fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith(path.basename(prefix))).map((f) => path.join(os.tmpdir(), f))[0];
  const events = JSON.parse(fs.readFileSync(pf, 'utf8'));
  fs.unlinkSync(pf);
  const byType = new Map();
  const byNode = new Map();
  let runs = 0, runUs = 0, kernelUs = 0;
  for (const e of events) {
    if (e.cat === 'Session' && e.name === 'model_run') { runs++; runUs += e.dur; }
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const t = e.args.op_name;
    const s = byType.get(t) || { us: 0, calls: 0 };
    s.us += e.dur; s.calls++; byType.set(t, s);
    const nn = e.name.replace(/_kernel_time$/, '');
    const q = byNode.get(nn) || { op: t, us: 0, provider: e.args.provider };
    q.us += e.dur; byNode.set(nn, q);
    kernelUs += e.dur;
  }
  const types = [...byType.entries()].sort((a, b) => b[1].us - a[1].us).map(([t, s]) => ({ op: t,
    usPerCall: +(s.us / calls).toFixed(1), nodes: s.calls / calls, share: +(s.us / kernelUs).toFixed(4) }));
  const nodes = [...byNode.entries()].sort((a, b) => b[1].us - a[1].us).slice(0, 15).map(([k, v]) => ({ node: k, op: v.op,
    usPerCall: +(v.us / calls).toFixed(1), share: +(v.us / kernelUs).toFixed(4) }));
  const byPrefix = {};
  for (const [k, v] of byNode) {
    const pre = k.replace(/^fused /, '').split('/').filter(Boolean)[0];
    byPrefix[pre] = (byPrefix[pre] || 0) + v.us / kernelUs;
  }
  for (const k of Object.keys(byPrefix)) byPrefix[k] = +byPrefix[k].toFixed(4);
  process.stdout.write(JSON.stringify({ model, batch: bs, calls, runUsPerCall: +(runUs / runs).toFixed(1),
    kernelUsPerCall: +(kernelUs / calls).toFixed(1), usPerFlow: +(runUs / runs / bs).toFixed(3),
    nodesAfterOptimisation: types.reduce((a, t) => a + t.nodes, 0), types, byNamePrefix: byPrefix, topNodes: nodes, loadAverage1m: +os.loadavg()[0].toFixed(2) }, null, 1) + '\n');
}

main().catch((e) => {
  process.stderr.write(`ort-profile: ${e && e.message ? e.message : e}\n`);
  process.exit(2);
});
