'use strict';
/**
 * Two anomaly model graphs side by side in one process (round perf14): their sessions alternate on the same batches
 * of real feature rows (a features.f32 file written by models/anomaly/export_features.js, width 96), 20 rounds of 3
 * passes over 40 batches each; prints each graph's median CPU time per flow. One intra-op thread, as the sensor runs.
 *
 * Usage: taskset -c 1 node bench/anomaly-graph-ab.js A.onnx B.onnx FEATURES.f32 [BATCH (256)]
 * e.g. git show c4f61cf:models/anomaly.onnx > /tmp/before.onnx
 *      taskset -c 1 node bench/anomaly-graph-ab.js /tmp/before.onnx models/anomaly.onnx /work/data/anomaly/build9/poolA/features.f32
 */
const fs = require('node:fs');
const ort = require('onnxruntime-node');
const { SENSOR_SESSION_OPTIONS, alternatingCpuPerRow } = require('./ort-ab');

async function main() {
  const [a, b, file, batchArg] = process.argv.slice(2);
  if (!a || !b || !file) throw new Error('usage: node bench/anomaly-graph-ab.js A.onnx B.onnx FEATURES.f32 [BATCH]');
  const bs = Number(batchArg ?? 256);
  const s = [await ort.InferenceSession.create(a, SENSOR_SESSION_OPTIONS), await ort.InferenceSession.create(b, SENSOR_SESSION_OPTIONS)];
  const width = s[0].inputMetadata[0].shape[1];
  const buf = fs.readFileSync(file);
  const x = new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
  const batches = [];
  for (let i = 0; i + bs <= Math.min(40 * bs, x.length / width); i += bs) {
    batches.push(new ort.Tensor('float32', x.slice(i * width, (i + bs) * width), [bs, width]));
  }
  const name = s[0].inputNames[0];
  const usPerFlow = await alternatingCpuPerRow(s, name, batches, bs);
  process.stdout.write(`${JSON.stringify({ batch: bs, rows: batches.length * bs, a, b, us_per_flow: usPerFlow })}\n`);
}

main().catch((e) => {
  process.stderr.write(`${e.message}\n`);
  process.exit(1);
});
