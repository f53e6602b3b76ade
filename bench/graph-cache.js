'use strict';
/**
 * Round perf35: what src/classify/graphCache.ts saves a run. Writes each model's graph as onnxruntime optimises it
 * (`optimizedModelFilePath`, level 'all') to a temporary folder, then times, in fresh processes that alternate (the
 * order reversed every other round), ORT's load and both sessions built as the sensor builds them without the cache
 * (the model, level 'all') and with it (the optimised graph, level 'disabled'). Prints the medians in ms. Whether the
 * outputs are bit-identical is bench/ort-options-ab.js's job (models/X.onnx OPT.onnx ROWS.f32 --b
 * '{"graphOptimizationLevel":"disabled"}'; OPT.onnx is left in the folder this prints).
 *
 * Usage: env -u NODE_EXTRA_CA_CERTS taskset -c 0 node bench/graph-cache.js [--rounds 15]
 */
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const MODELS = ['sensor', 'anomaly'];
const OPTIONS = { executionProviders: ['cpu'], executionMode: 'sequential' };

/** The child: times require, then each model's session; prints JSON. */
async function child(variant, dir) {
  const t0 = process.hrtime.bigint();
  const ort = require('onnxruntime-node');
  ort.env.logLevel = 'fatal';
  const ms = (a, b) => Number(b - a) / 1e6;
  const out = { require: ms(t0, process.hrtime.bigint()) };
  for (const m of MODELS) {
    const cached = variant === 'cached';
    const bytes = fs.readFileSync(cached ? path.join(dir, `${m}.onnx`) : path.join(ROOT, 'models', `${m}.onnx`));
    const a = process.hrtime.bigint();
    await ort.InferenceSession.create(bytes, { ...OPTIONS, graphOptimizationLevel: cached ? 'disabled' : 'all' });
    out[m] = ms(a, process.hrtime.bigint());
  }
  process.stdout.write(JSON.stringify(out));
}

async function main() {
  const i = process.argv.indexOf('--child');
  if (i >= 0) return child(process.argv[i + 1], process.argv[i + 2]);
  const r = process.argv.indexOf('--rounds');
  const rounds = r >= 0 ? Number(process.argv[r + 1]) : 15;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'graph-cache-'));
  const ort = require('onnxruntime-node');
  ort.env.logLevel = 'fatal';
  for (const m of MODELS) {
    await ort.InferenceSession.create(fs.readFileSync(path.join(ROOT, 'models', `${m}.onnx`)), { ...OPTIONS, graphOptimizationLevel: 'all', optimizedModelFilePath: path.join(dir, `${m}.onnx`) });
  }
  const res = { model: [], cached: [] };
  for (let k = 0; k < rounds; k++) {
    for (const v of k % 2 === 0 ? ['model', 'cached'] : ['cached', 'model']) {
      res[v].push(JSON.parse(execFileSync(process.execPath, [__filename, '--child', v, dir], { encoding: 'utf8' })));
    }
  }
  const med = (xs) => { const s = [...xs].sort((a, b) => a - b); return +s[Math.floor(s.length / 2)].toFixed(2); };
  const summary = {};
  for (const v of Object.keys(res)) summary[v] = Object.fromEntries(['require', ...MODELS].map((f) => [f, med(res[v].map((x) => x[f]))]));
  const paired = Object.fromEntries(MODELS.map((m) => [m, med(res.cached.map((x, j) => x[m] - res.model[j][m]))]));
  process.stdout.write(`${JSON.stringify({ rounds, medians_ms: summary, paired_cached_minus_model_ms: paired, graphs: dir, loadAverage1m: +os.loadavg()[0].toFixed(2) })}\n`);
}

main().catch((e) => { process.stderr.write(`${e.stack}\n`); process.exit(1); });
