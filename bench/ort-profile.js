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
const { positionalArgs } = require('./report');
const { SENSOR_SESSION_OPTIONS, cpuPerRowRounds, profiledRuns } = require('./ort-ab');

async function main() {
  const [pos, o] = positionalArgs({ batch: '256', calls: '400', profile: '1', opts: '{}' }, process.argv.slice(2));
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
  const feed = (i) => ({ [name]: batches[i % batches.length] });
  if (o.profile !== '1') {
    const timed = await cpuPerRowRounds(session, feed, calls, bs);
    await session.release();
    process.stdout.write(JSON.stringify({ model, batch: bs, calls, ...timed, loadAverage1m: +os.loadavg()[0].toFixed(2) }) + '\n');
    return;
  }
  const { runs, runUs, kernelUs, byType, byNode } = await profiledRuns(session, feed, calls, prefix);
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
