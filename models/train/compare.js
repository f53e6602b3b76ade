#!/usr/bin/env node
'use strict';
// Decisions of two graphs of one model on the same rows (ensemble.py --int8: the int8 graph against the float one),
// in onnxruntime-node, the runtime the sensor uses:
//   node models/train/compare.js A.onnx B.onnx THRESHOLD BACKGROUND_JSON ROWS.csv [ROWS2.csv ...]
// Per CSV (who's-talking rows: label, then the lengths): rows, the largest absolute probability difference, and
// how many rows differ in top-1 class, in the unknown decision (top-1 probability below THRESHOLD or a background
// class) and in the label given (class or unknown). Prints one JSON object.
const fs = require('node:fs');
const path = require('node:path');
const ort = require('onnxruntime-node');

ort.env.logLevel = 'fatal';

async function probs(session, X, n, L) {
  const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', X, [n, L]) });
  return out[session.outputNames[0]].data;
}

async function main() {
  const [a, b, thr, bgJson, ...csvs] = process.argv.slice(2);
  if (!csvs.length) {
    process.stderr.write('usage: node models/train/compare.js A.onnx B.onnx THRESHOLD BACKGROUND_JSON ROWS.csv...\n');
    return 2;
  }
  const opts = { executionProviders: ['cpu'], intraOpNumThreads: 1, graphOptimizationLevel: 'all' };
  const sa = await ort.InferenceSession.create(a, opts);
  const sb = await ort.InferenceSession.create(b, opts);
  const threshold = Number(thr);
  const background = new Set(JSON.parse(bgJson)); // class indices
  const result = {};
  for (const csv of csvs) {
    const lines = fs.readFileSync(csv, 'utf8').trim().split('\n').slice(1);
    const L = lines[0].split(',').length - 1;
    const X = new Float32Array(lines.length * L);
    lines.forEach((l, i) => l.split(',').slice(1).forEach((v, j) => { X[i * L + j] = Number(v); }));
    const pa = await probs(sa, X, lines.length, L);
    const pb = await probs(sb, X, lines.length, L);
    const K = pa.length / lines.length;
    const decide = (p, i) => {
      let top = 0;
      for (let k = 1; k < K; k++) if (p[i * K + k] > p[i * K + top]) top = k;
      const unknown = p[i * K + top] < threshold || background.has(top);
      return { top, unknown, label: unknown ? -1 : top };
    };
    let maxDiff = 0;
    for (let i = 0; i < pa.length; i++) maxDiff = Math.max(maxDiff, Math.abs(pa[i] - pb[i]));
    const r = { rows: lines.length, max_abs_diff: maxDiff, top1_differ: 0, unknown_differ: 0, label_differ: 0 };
    for (let i = 0; i < lines.length; i++) {
      const da = decide(pa, i);
      const db = decide(pb, i);
      if (da.top !== db.top) r.top1_differ++;
      if (da.unknown !== db.unknown) r.unknown_differ++;
      if (da.label !== db.label) r.label_differ++;
    }
    result[path.basename(csv)] = r;
  }
  process.stdout.write(JSON.stringify(result) + '\n');
  return 0;
}

main().then((c) => { process.exitCode = c; }, (e) => { process.stderr.write(`compare.js: ${e.message}\n`); process.exitCode = 1; });
