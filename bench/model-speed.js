'use strict';
/**
 * Inference speed of one model as the sensor runs it: the sensor's own session options (dist/classify,
 * CPU, one intra-op thread, sequential execution, all graph optimisations), batches of B real rows from a
 * who's-talking CSV (default models/lab/sample.csv, cycled), the input tensor built once per call as the
 * classifier does. Each round runs for --ms milliseconds after a warm-up; prints one JSON object with
 * flows/s per round (wall clock) and flows per CPU second of the whole process (user + system time of all its
 * threads), with their medians. On an idle core the two agree; on a shared machine the wall clock also counts
 * time the process waited for a core, while the CPU-second figure is what one core does when it runs the model.
 * createMs: the session creation (createDeviceSession) in milliseconds of wall clock (round perf38).
 *
 * Usage: node bench/model-speed.js [--model models/sensor.onnx] [--rows CSV] [--batch 256] [--threads 1]
 *                                  [--rounds 5] [--ms 1500]
 * With --f32 FILE the rows are a raw float32 [n, W] file instead (W: the model's input width), e.g. the sensor's own
 * session.run feeds (bench/ort-split-preload.js); that is how the anomaly model is timed (round perf24), e.g.
 *   taskset -c 0 node bench/model-speed.js --model models/anomaly.onnx --f32 FEEDS/anomalyw96.f32
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { median, optionArgs } = require('./report');

const ROOT = path.resolve(__dirname, '..');
const dist = path.join(ROOT, 'dist');

function args(argv) {
  return optionArgs({ model: path.join(ROOT, 'models/sensor.onnx'), rows: path.join(ROOT, 'models/lab/sample.csv'), batch: 256, threads: 1, rounds: 5, ms: 1500, f32: '' }, argv);
}


async function main() {
  const o = args(process.argv.slice(2));
  const { createDeviceSession } = require(path.join(dist, 'classify', 'deviceSession.js'));
  const { checkMetadata } = require(path.join(dist, 'classify', 'modelContract.js'));
  const { ort } = require(path.join(dist, 'classify', 'ortBinding.js'));
  const bytes = fs.readFileSync(o.model);
  const silent = { warn() {}, info() {} };
  const tc = process.hrtime.bigint();
  const { session } = await createDeviceSession(bytes, 'cpu', o.threads, silent);
  const createMs = Number(process.hrtime.bigint() - tc) / 1e6;
  let info;
  let L;
  let rows;
  if (o.f32) {
    const { checkAnomalyMetadata } = require(path.join(dist, 'anomaly', 'anomalyModel.js'));
    const { readMetadataProps } = require(path.join(dist, 'classify', 'onnxMetadata.js'));
    // An anomaly model is the one whose metadata carries its counters (src/anomaly/anomalyModel.ts); its input is
    // wider than a sequence, so the row width comes from the session's input.
    const anomaly = readMetadataProps(bytes, (what) => new Error(`${o.model}: ${what}`)).has('anomaly_counters');
    L = session.inputMetadata[0].shape[1];
    info = anomaly ? { ...checkAnomalyMetadata(o.model, bytes), classes: [] } : checkMetadata(o.model, bytes);
    const buf = fs.readFileSync(o.f32);
    const x = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
    rows = [];
    for (let i = 0; i + L <= x.length && rows.length < 20000; i += L) rows.push(Array.from(x.subarray(i, i + L)));
  } else {
    info = checkMetadata(o.model, bytes);
    L = info.sequenceLength;
    rows = fs.readFileSync(o.rows, 'utf8').trim().split('\n').slice(1).map((l) => l.split(',').slice(1, L + 1).map(Number));
  }
  const input = new Float32Array(o.batch * L);
  for (let i = 0; i < o.batch; i++) input.set(rows[i % rows.length].slice(0, L), i * L);
  const name = session.inputNames[0];
  const run = () => session.run({ [name]: new ort.Tensor('float32', input, [o.batch, L]) });
  for (let i = 0; i < 50; i++) await run();
  const rounds = [];
  const cpuRounds = [];
  for (let r = 0; r < o.rounds; r++) {
    let calls = 0;
    const t0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    let ms = 0;
    while (ms < o.ms) {
      await run();
      calls++;
      ms = Number(process.hrtime.bigint() - t0) / 1e6;
    }
    const c = process.cpuUsage(c0);
    rounds.push((calls * o.batch) / (ms / 1000));
    cpuRounds.push((calls * o.batch) / ((c.user + c.system) / 1e6));
  }
  await session.release();
  process.stdout.write(JSON.stringify({
    model: path.relative(ROOT, o.model), version: info.version, bytes: bytes.length, classes: info.classes.length,
    batch: o.batch, intraOpThreads: o.threads, rounds: rounds.map(Math.round), flowsPerSecond: Math.round(median(rounds)),
    cpuRounds: cpuRounds.map(Math.round), flowsPerCpuSecond: Math.round(median(cpuRounds)), createMs: +createMs.toFixed(1),
    runtime: `onnxruntime-node ${require('onnxruntime-node/package.json').version}`, loadAverage1m: +os.loadavg()[0].toFixed(2),
  }) + '\n');
}

main().catch((e) => {
  process.stderr.write(`model-speed: ${e && e.message ? e.message : e}\n`);
  process.exit(1);
});
