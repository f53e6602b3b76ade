'use strict';
/**
 * Round perf29: a CPU profile of a downstream replay (bench/downstream-replay.js run with `node --cpu-prof`), summed
 * over the replay only: the samples from the first one with Pipeline.submit on its stack (the first replayed record,
 * after the records were read from their file) to the end. Prints self milliseconds by stage (files and functions
 * mapped below), then the top functions.
 *
 *   node bench/downstream-profile.js FILE.cpuprofile [N]
 *
 * onnxruntime's native run shows as the self time of backend.js's setImmediate callback (its native method has no
 * node of its own), better-sqlite3's Statement.run as the self time of its caller (runFlow, HostProfiles.store), and
 * Database.exec (COMMIT, the deferred CREATE INDEX) as better-sqlite3's wrappers.js `exec`.
 */
const fs = require('node:fs');

const p = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const N = Number(process.argv[3] ?? 30);
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

function stackHas(id, pred) {
  for (let x = id; x !== undefined; x = parent.get(x)) if (pred(byId.get(x).callFrame)) return true;
  return false;
}
const short = (cf) => `${cf.functionName || '(anon)'} ${cf.url.split('/').slice(-2).join('/')}:${cf.lineNumber}`;

/** The stage a sample's function belongs to (its own frame; a few by a caller). */
function stage(id) {
  const cf = byId.get(id).callFrame;
  const u = cf.url;
  const f = cf.functionName;
  if (f === '(garbage collector)') return 'gc';
  if (f === '(program)' || f === '(idle)') return 'program/idle';
  if (u.includes('onnxruntime-node/dist/backend.js') && cf.lineNumber === 114) return 'ort: native run (both models)';
  if (u.includes('onnxruntime')) return 'ort: JS of onnxruntime-node/common (tensors, checks, setImmediate)';
  if (u.includes('/classify/modelRunner.js')) return 'classifier: InlineRunner (tensor, output copy)';
  if (u.includes('/classify/')) return 'classifier: JS (batches, verdicts, top-k)';
  if (u.includes('/monitor/')) return 'monitor';
  if (u.includes('/anomaly/scorer.js') && f === 'infer') return 'anomaly: infer (tensor)';
  if (u.includes('/anomaly/')) return 'anomaly: JS (context window, features, scores)';
  if (u.includes('/hosts/')) return 'hosts';
  if (u.includes('/flow/flowUid.js') || (u.includes('/flow/flowRecord.js') && f === 'get uid')) return 'sqlite: uid';
  if (u.includes('better-sqlite3') && f === 'exec') return 'sqlite: exec (COMMIT, deferred indexes)';
  if (u.includes('better-sqlite3') && f === 'close') return 'sqlite: close';
  if (u.includes('/sink/sqliteSink.js') && f === 'runFlow') {
    return 'sqlite: runFlow (parameters + native Statement.run)';
  }
  if (u.includes('/sink/') || u.includes('better-sqlite3')) {
    return 'sqlite: other JS (texts, isoMicros, write, transaction)';
  }
  if (u.includes('/pipeline/')) return 'pipeline, sinks hand-over';
  if (u.includes('downstream-replay.js')) return 'replay harness';
  if (u.startsWith('node:') || u === '') return 'node internals / natives';
  return 'other: ' + u.split('/').slice(-2).join('/');
}

// The window: from the first sample with the pipeline's submit on its stack.
let t = p.startTime;
let from = -1;
const times = [];
for (let i = 0; i < p.samples.length; i++) {
  t += p.timeDeltas[i] ?? 0;
  times.push(t);
  const isSubmit = (cf) => cf.url.endsWith('pipeline/pipeline.js') && cf.functionName === 'submit';
  if (from < 0 && stackHas(p.samples[i], isSubmit)) from = i;
}
// Each sample's weight is the interval until the next one (as DevTools reads it).
const st = new Map();
const fn = new Map();
let total = 0;
for (let i = from; i < p.samples.length; i++) {
  const dt = (i + 1 < p.samples.length ? times[i + 1] : p.endTime) - times[i];
  const id = p.samples[i];
  const s = stage(id);
  st.set(s, (st.get(s) ?? 0) + dt);
  const k = short(byId.get(id).callFrame);
  fn.set(k, (fn.get(k) ?? 0) + dt);
  total += dt;
}
console.log(`window ${(total / 1000).toFixed(0)} ms (of ${((p.endTime - p.startTime) / 1000).toFixed(0)} ms profiled)`);
for (const [k, v] of [...st].sort((a, b) => b[1] - a[1])) console.log(`${(v / 1000).toFixed(1).padStart(8)}  ${k}`);
console.log('--- functions');
for (const [k, v] of [...fn].sort((a, b) => b[1] - a[1]).slice(0, N)) {
  console.log(`${(v / 1000).toFixed(1).padStart(8)}  ${k}`);
}
