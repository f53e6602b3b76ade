#!/usr/bin/env node
'use strict';
/**
 * Round perf43: the model self-check's cost in process (src/classify/selfCheck.ts), as the sensor pays it at load:
 * the metadata read (with the entry's parse), the session made as openModel makes it (graph cache included, not
 * timed), then the contract check: with `--mode check` the self-check's batch, which is also the probe; with
 * `--mode probe` the entry is ignored and the two-row probe runs instead (what a model without the entry costs).
 * Prints one JSON line: wall and CPU (ms) of the metadata read and of the contract check, the first in the process.
 *
 *   taskset -c 0 node bench/self-check-cost.js --mode check|probe [--model models/sensor.onnx]
 */
const { readFileSync } = require('node:fs');
const path = require('node:path');

const dist = path.join(__dirname, '..', 'dist', 'classify');
const { readModelMetadata, checkModelContract } = require(path.join(dist, 'modelContract'));
const { createDeviceSession } = require(path.join(dist, 'deviceSession'));

function arg(name, def) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}

function cpuMs() {
  return process.threadCpuUsage !== undefined ? process.threadCpuUsage().user / 1000 : process.cpuUsage().user / 1000;
}

function timed(f) {
  const c0 = process.cpuUsage();
  const w0 = process.hrtime.bigint();
  const r = f();
  return Promise.resolve(r).then((v) => {
    const wall = Number(process.hrtime.bigint() - w0) / 1e6;
    const c = process.cpuUsage(c0);
    return { v, wall: +wall.toFixed(3), cpu: +((c.user + c.system) / 1000).toFixed(3) };
  });
}

async function main() {
  const model = arg('model', path.join(__dirname, '..', 'models', 'sensor.onnx'));
  const mode = arg('mode', 'check');
  const bytes = readFileSync(model);
  const meta = await timed(() => readModelMetadata(model, bytes));
  const { info, selfCheck } = meta.v;
  if (mode === 'check' && selfCheck === null) throw new Error(`${model} has no self_check`);
  const { session } = await createDeviceSession(bytes, 'cpu', 1, { warn() {}, info() {} });
  const contract = await timed(() => checkModelContract(info, session, mode === 'check' ? selfCheck : null));
  process.stdout.write(JSON.stringify({ mode, rows: mode === 'check' ? selfCheck.n : 2, metadata: { wall: meta.wall, cpu: meta.cpu }, contract: { wall: contract.wall, cpu: contract.cpu } }) + '\n');
  await session.release();
}

main().catch((e) => {
  process.stderr.write(`${e.message}\n`);
  process.exitCode = 1;
});
