#!/usr/bin/env node
'use strict';
// Inference speed of an ONNX model on the CPU with onnxruntime-node (the runtime the sensor uses):
//   node models/train/speed.js models/sensor.onnx models/lab/sample.csv [threads] > models/train/out/speed.json
// Flows per second at batch 1 (one call per flow: the worst case of the sensor's batcher) and batch 1024,
// with real rows from a who's-talking CSV. Each measurement runs for about two seconds after a warm-up.
const fs = require('node:fs');
const os = require('node:os');
const ort = require('onnxruntime-node');

const MEASURE_MS = 2000;

async function timeRuns(session, feeds, rowsPerCall) {
  for (let i = 0; i < 20; i++) await session.run(feeds);
  let calls = 0;
  const t0 = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < MEASURE_MS) {
    await session.run(feeds);
    calls++;
    elapsed = Number(process.hrtime.bigint() - t0) / 1e6;
  }
  return { flows_per_second: Math.round((calls * rowsPerCall) / (elapsed / 1000)), calls, ms_per_call: +(elapsed / calls).toFixed(4) };
}

async function main() {
  const [modelPath, csvPath, threadsArg] = process.argv.slice(2);
  if (!modelPath || !csvPath) {
    process.stderr.write('usage: node models/train/speed.js MODEL.onnx ROWS.csv [threads]\n');
    return 2;
  }
  const lines = fs.readFileSync(csvPath, 'utf8').trim().split('\n').slice(1);
  const rows = lines.map((l) => l.split(',').slice(1).map(Number));
  const L = rows[0].length;
  const opts = { executionProviders: ['cpu'], graphOptimizationLevel: 'all' };
  if (threadsArg) opts.intraOpNumThreads = Number(threadsArg);
  const session = await ort.InferenceSession.create(modelPath, opts);
  const input = session.inputNames[0];
  const result = { model: modelPath, bytes: fs.statSync(modelPath).size, runtime: `onnxruntime-node ${require('onnxruntime-node/package.json').version}`,
    cpu: os.cpus()[0].model, cores: os.cpus().length, load_average_1m_before: +os.loadavg()[0].toFixed(2), intra_op_threads: threadsArg ? Number(threadsArg) : 'default', batches: {} };
  for (const batch of (process.env.BATCHES || "1,1024").split(",").map(Number)) {
    const data = new Float32Array(batch * L);
    for (let i = 0; i < batch; i++) data.set(rows[i % rows.length], i * L);
    const feeds = { [input]: new ort.Tensor('float32', data, [batch, L]) };
    result.batches[batch] = await timeRuns(session, feeds, batch);
  }
  await session.release();
  process.stdout.write(JSON.stringify(result, null, 1) + '\n');
  return 0;
}

main().then((c) => { process.exitCode = c; }, (e) => { process.stderr.write(`speed.js: ${e.message}\n`); process.exitCode = 1; });
