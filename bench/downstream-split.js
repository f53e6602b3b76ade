'use strict';
/**
 * Round perf29: where the downstream stages' time goes, by timers around their calls. Preloaded after
 * bench/downstream-replay.js (`node -r ./bench/downstream-replay.js -r ./bench/downstream-split.js`, SENSOR_BUNDLE=off,
 * DOWNSTREAM_REPLAY=FILE), it wraps, from the first Pipeline.settle() (the first replayed step) to exit:
 *
 *   - onnxruntime's native InferenceSession.run (the kernels and the binding's copies), per model (by input name);
 *   - better-sqlite3's Statement.run and get per statement (the flows INSERT, the host profiles' upsert and
 *     look-ups, ...), Database.exec
 *     per statement text (BEGIN, COMMIT, CREATE INDEX: the deferred indexes), pragma and close;
 *   - sync JavaScript of the stages: Classifier fill / answer (the batch rows; verdicts and top-k), the anomaly
 *     scorer's takeIn / takeDue (context window and features), SqliteSink.write (rows and their parameters, with the
 *     INSERTs and commits inside it), HostProfiles.write and close, Monitor.write, FlowRecord's uid getter;
 *   - V8's garbage collection (PerformanceObserver 'gc' entries).
 *
 * Every timer is exclusive of the timers nested inside it (a stack), so the figures add up without double counting.
 * GC pauses also count in the timer they interrupt. Timing adds ~0.1-0.2 µs per wrapped call and can change V8's
 * inlining (round perf29: 6 runs with it, 1.341 s downstream, against 6 alternating without, 1.354 s), so these are a
 * split of the real run; the stages' totals come from switching them off (bench/downstream-stages.sh). Prints one
 * JSON line to stderr at exit (milliseconds, calls).
 */
const path = require('node:path');
const { performance, PerformanceObserver } = require('node:perf_hooks');

// DOWNSTREAM_DIST (round perf33): another tree's dist/, so that one copy of this file times two trees alike.
const dist = process.env.DOWNSTREAM_DIST ?? path.resolve(__dirname, '..', 'dist');
const ms = new Map();
const calls = new Map();
let on = false;
const stack = [];
let gcMs = 0;
let gcCount = 0;

/** Times `fn` under `key`, exclusive of nested timers. */
function timed(key, fn, self, args) {
  if (!on) return fn.apply(self, args);
  const t0 = performance.now();
  stack.push(0);
  try {
    return fn.apply(self, args);
  } finally {
    const dt = performance.now() - t0;
    const inner = stack.pop();
    ms.set(key, (ms.get(key) ?? 0) + dt - inner);
    calls.set(key, (calls.get(key) ?? 0) + 1);
    if (stack.length > 0) stack[stack.length - 1] += dt;
  }
}

function wrap(proto, name, key) {
  const orig = proto[name];
  if (typeof orig !== 'function') throw new Error(`downstream-split: no ${name} to wrap (${key})`);
  proto[name] = function (...args) {
    return timed(typeof key === 'function' ? key(this, args) : key, orig, this, args);
  };
}

// onnxruntime: the native session's run, per model.
// Its prototype's run is neither writable nor configurable: each session gets an own `run` that shadows it.
const { binding } = require(require.resolve('onnxruntime-node/dist/binding', { paths: [dist] }));
{
  const Native = binding.InferenceSession;
  const run = Native.prototype.run;
  binding.InferenceSession = function InferenceSession(...args) {
    const s = new Native(...args);
    Object.defineProperty(s, 'run', {
      value(...a) {
        return timed(`ort.native.run[${Object.keys(a[0]).join(',')}]`, run, this, a);
      },
    });
    return s;
  };
}

// better-sqlite3: statements and exec.
const Database = require(require.resolve('better-sqlite3', { paths: [dist] }));
{
  const probe = new Database(':memory:');
  const Statement = probe.prepare('SELECT 1').constructor;
  probe.close();
  const short = (sql) => sql.replace(/\s+/g, ' ').slice(0, 32);
  // The key once per statement: made per call, its text work would land in the caller's time (runFlow's).
  const keys = new WeakMap();
  const keyOf = (s) => {
    let k = keys.get(s);
    if (k === undefined) keys.set(s, (k = `sqlite.run[${short(s.source)}]`));
    return k;
  };
  wrap(Statement.prototype, 'run', keyOf);
  // Statement.get (round perf33): the host profiles' look-ups of earlier rows (a new host, a window's close).
  const getKeys = new WeakMap();
  wrap(Statement.prototype, 'get', (s) => {
    let k = getKeys.get(s);
    if (k === undefined) getKeys.set(s, (k = `sqlite.get[${short(s.source)}]`));
    return k;
  });
  wrap(Database.prototype, 'exec', (_d, a) => `sqlite.exec[${short(a[0])}]`);
  wrap(Database.prototype, 'pragma', (_d, a) => `sqlite.pragma[${short(a[0])}]`);
  wrap(Database.prototype, 'close', 'sqlite.close');
}

// The stages' own JavaScript.
const { Classifier } = require(path.join(dist, 'classify', 'classifier.js'));
wrap(Classifier.prototype, 'fill', 'js.classifier.fill');
wrap(Classifier.prototype, 'answer', 'js.classifier.answer (verdicts, top-k, onResult)');
const { AnomalyScorer } = require(path.join(dist, 'anomaly', 'scorer.js'));
wrap(AnomalyScorer.prototype, 'takeIn', 'js.anomaly.takeIn (context window)');
wrap(AnomalyScorer.prototype, 'takeDue', 'js.anomaly.takeDue (features)');
const { SqliteSink } = require(path.join(dist, 'sink', 'sqliteSink.js'));
wrap(SqliteSink.prototype, 'write', 'js.sqlite.write (rows, parameters)');
const { HostProfiles } = require(path.join(dist, 'hosts', 'hostProfiles.js'));
wrap(HostProfiles.prototype, 'write', 'js.hosts.write');
// The closing of the open windows at the end of the run (round perf33): rows, groups, events.
wrap(HostProfiles.prototype, 'close', 'js.hosts.close');
const monitor = require(path.join(dist, 'monitor', 'monitor.js'));
const Monitor = Object.values(monitor).find((c) => typeof c === 'function' && typeof c.prototype?.write === 'function');
if (Monitor !== undefined) wrap(Monitor.prototype, 'write', `js.monitor.write`);
const { FlowRecord } = require(path.join(dist, 'flow', 'flowRecord.js'));
{
  const d = Object.getOwnPropertyDescriptor(FlowRecord.prototype, 'uid');
  const get = d.get;
  Object.defineProperty(FlowRecord.prototype, 'uid', {
    ...d,
    get() {
      return this.uidText === null ? timed('js.uid (first read)', get, this, []) : this.uidText;
    },
  });
}

const { Pipeline } = require(path.join(dist, 'pipeline', 'pipeline.js'));
const settle = Pipeline.prototype.settle;
Pipeline.prototype.settle = function () {
  on = true;
  return settle.call(this);
};

new PerformanceObserver((list) => {
  if (!on) return;
  for (const e of list.getEntries()) {
    gcMs += e.duration;
    gcCount++;
  }
}).observe({ entryTypes: ['gc'] });

process.on('exit', () => {
  const out = {};
  for (const [k, v] of [...ms].sort((a, b) => b[1] - a[1])) out[k] = { ms: Number(v.toFixed(1)), calls: calls.get(k) };
  out.gc = { ms: Number(gcMs.toFixed(1)), calls: gcCount };
  process.stderr.write(`downstream-split ${JSON.stringify(out)}\n`);
});
