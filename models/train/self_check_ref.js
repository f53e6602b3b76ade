#!/usr/bin/env node
'use strict';
// The reference outputs of a model's self-check (models/train/self_check.py; src/classify/selfCheck.ts): runs the
// rows as ONE batch in the onnxruntime-node this checkout pins, with the session options the sensor uses on the CPU
// (src/classify/deviceSession.ts: graph optimisation 'all', sequential, one intra-op thread), and prints
// {"runtime": "onnxruntime-node X", "probs": [[K] x N]} with every float32 as it came out.
//   node models/train/self_check_ref.js MODEL.onnx ROWS.json      (ROWS.json: [[L numbers] x N])
// Refuses to run on another onnxruntime-node than package.json's pin: the reference must come from a runtime that
// is known to compute the model correctly (round perf38: 1.24.x does not on AVX-512 VNNI CPUs).
const fs = require('node:fs');
const path = require('node:path');
const ort = require('onnxruntime-node');

ort.env.logLevel = 'fatal';

function pinned() {
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'));
  return pkg.dependencies['onnxruntime-node'];
}

/** Whether `version` satisfies a tilde range '~A.B.C' (the form package.json uses). */
function tildeOk(range, version) {
  const m = /^~(\d+)\.(\d+)\.(\d+)$/.exec(range);
  const v = /^(\d+)\.(\d+)\.(\d+)$/.exec(version);
  if (!m || !v) return range === version;
  return m[1] === v[1] && m[2] === v[2] && Number(v[3]) >= Number(m[3]);
}

async function main() {
  const [model, rowsFile] = process.argv.slice(2);
  if (!rowsFile) {
    process.stderr.write('usage: node models/train/self_check_ref.js MODEL.onnx ROWS.json\n');
    return 2;
  }
  const version = ort.env.versions.node;
  const pin = pinned();
  if (!tildeOk(pin, version) && process.env.SELF_CHECK_ANY_RUNTIME !== '1') {
    process.stderr.write(`self_check_ref.js: onnxruntime-node ${version} is not package.json's pin (${pin}); run npm ci first\n`);
    return 1;
  }
  const rows = JSON.parse(fs.readFileSync(rowsFile, 'utf8'));
  const L = rows[0].length;
  const X = new Float32Array(rows.length * L);
  rows.forEach((r, i) => X.set(r, i * L));
  const session = await ort.InferenceSession.create(fs.readFileSync(model), {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: 1,
  });
  const out = (await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', X, [rows.length, L]) }))[session.outputNames[0]];
  const K = out.dims[1];
  const probs = [];
  for (let i = 0; i < rows.length; i++) probs.push(Array.from(out.data.subarray(i * K, (i + 1) * K)));
  process.stdout.write(JSON.stringify({ runtime: `onnxruntime-node ${version}`, probs }) + '\n');
  return 0;
}

main().then(
  (code) => { process.exitCode = code; },
  (e) => { process.stderr.write(`self_check_ref.js: ${e.message}\n`); process.exitCode = 1; },
);
