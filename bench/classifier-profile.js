'use strict';
/**
 * Where onnxruntime's run time goes in the classifier (or any model with one float input [N, L]): the sensor's
 * session options (CPU, one intra-op thread, sequential, all graph optimisations) plus onnxruntime's own profiler,
 * batches of B real rows from a who's-talking CSV (default models/lab/sample.csv, cycled). Sums the kernel time of
 * each node (after onnxruntime's graph optimisations) by operator type and prints one JSON object: per type the
 * total us, calls and share, the matrix products (MatMulInteger, DynamicQuantizeLinear, the ops they feed) apart
 * from the rest, and the mean whole-run time a call as the profiler saw it.
 *
 * Usage: taskset -c 1 node bench/classifier-profile.js [--model models/sensor.onnx] [--rows CSV] [--batch 256]
 *                                                      [--calls 400] [--profile 0|1]
 * With --profile 0 it times the calls instead (no profiler, whose per-node cost inflates the small nodes): us of
 * process CPU a flow, median of 7 rounds of --calls calls (any model with one float input [N, 30], such as a cut of
 * the classifier's feature subgraph).
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { optionArgs } = require('./report');
const { SENSOR_SESSION_OPTIONS, cpuPerRowRounds, profiledRuns } = require('./ort-ab');

const ROOT = path.resolve(__dirname, '..');

function args(argv) {
  return optionArgs({ model: path.join(ROOT, 'models/sensor.onnx'), rows: path.join(ROOT, 'models/lab/sample.csv'), batch: 256, calls: 400, profile: 1 }, argv);
}

async function main() {
  const o = args(process.argv.slice(2));
  const ort = require('onnxruntime-node');
  const L = 30;
  const rows = fs.readFileSync(o.rows, 'utf8').trim().split('\n').slice(1).map((l) => l.split(',').slice(1, L + 1).map(Number));
  const prefix = path.join(os.tmpdir(), `clsprof-${process.pid}`);
  const session = await ort.InferenceSession.create(fs.readFileSync(o.model), {
    ...SENSOR_SESSION_OPTIONS, enableProfiling: o.profile === 1, profileFilePrefix: prefix,
  });
  const input = new Float32Array(o.batch * L);
  for (let i = 0; i < o.batch; i++) input.set(rows[i % rows.length].slice(0, L), i * L);
  const name = session.inputNames[0];
  const feed = () => ({ [name]: new ort.Tensor('float32', input, [o.batch, L]) });
  if (o.profile !== 1) {
    const timed = await cpuPerRowRounds(session, feed, o.calls, o.batch);
    await session.release();
    process.stdout.write(JSON.stringify({ model: o.model, batch: o.batch, calls: o.calls, ...timed,
      loadAverage1m: +os.loadavg()[0].toFixed(2) }) + '\n');
    return;
  }
  const { runs, runUs, kernelUs, byType } = await profiledRuns(session, feed, o.calls, prefix);
  const heavy = new Set(['MatMulInteger', 'DynamicQuantizeLinear', 'MatMulIntegerToFloat', 'DynamicQuantizeMatMul']);
  let heavyUs = 0;
  const types = [...byType.entries()].sort((a, b) => b[1].us - a[1].us).map(([t, s]) => {
    if (heavy.has(t)) heavyUs += s.us;
    return { op: t, usPerCall: +(s.us / o.calls).toFixed(1), nodes: s.calls / o.calls, share: +(s.us / kernelUs).toFixed(4) };
  });
  process.stdout.write(JSON.stringify({
    model: path.relative(ROOT, o.model), batch: o.batch, calls: o.calls,
    runUsPerCall: +(runUs / runs).toFixed(1), kernelUsPerCall: +(kernelUs / o.calls).toFixed(1),
    usPerFlow: +(runUs / runs / o.batch).toFixed(3),
    matrixShare: +(heavyUs / kernelUs).toFixed(4), restShare: +(1 - heavyUs / kernelUs).toFixed(4),
    nodesAfterOptimisation: types.reduce((n, t) => n + t.nodes, 0), types, loadAverage1m: +os.loadavg()[0].toFixed(2),
  }, null, 1) + '\n');
}

main().catch((e) => {
  process.stderr.write(`classifier-profile: ${e && e.message ? e.message : e}\n`);
  process.exit(1);
});
