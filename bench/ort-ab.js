'use strict';
/**
 * Shared by the onnxruntime bench scripts: the session options the sensor runs a model with, two sessions timed
 * alternating on the same batches (the graph/options A/B scripts: bench/anomaly-graph-ab.js,
 * bench/classifier-graph-ab.js, bench/ort-options-ab.js), one session's plain CPU timing and a profiled run read back
 * (bench/classifier-profile.js, bench/ort-profile.js).
 */
const fs = require('node:fs');
const path = require('node:path');
const { median } = require('./report');

/** CPU, one intra-op thread, sequential, all graph optimisations: how the sensor opens its models. */
const SENSOR_SESSION_OPTIONS = { executionProviders: ['cpu'], graphOptimizationLevel: 'all', executionMode: 'sequential', intraOpNumThreads: 1 };

/**
 * Both sessions run every batch 3 times per round, alternating which goes first, 20 rounds; returns each one's
 * median process CPU time a row, in us (fed with `{ [name]: batch }`, rowsPerBatch rows a batch).
 */
async function alternatingCpuPerRow(sessions, name, batches, rowsPerBatch) {
  const res = [[], []];
  for (let round = 0; round < 20; round++) {
    for (const k of [round % 2, 1 - (round % 2)]) {
      const t0 = process.cpuUsage();
      for (let r = 0; r < 3; r++) for (const t of batches) await sessions[k].run({ [name]: t });
      const u = process.cpuUsage(t0);
      res[k].push((u.user + u.system) / (3 * batches.length * rowsPerBatch));
    }
  }
  return [+median(res[0]).toFixed(3), +median(res[1]).toFixed(3)];
}

/**
 * One session timed without the profiler (whose per-node cost inflates the small nodes): 50 warm-up calls, then 7
 * rounds of `calls` calls, call i fed with feed(i), rowsPerBatch rows a call. Returns each round's process CPU us a
 * row, sorted, and their median, rounded to 3 decimals.
 */
async function cpuPerRowRounds(session, feed, calls, rowsPerBatch) {
  for (let i = 0; i < 50; i++) await session.run(feed(i));
  const rounds = [];
  for (let r = 0; r < 7; r++) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < calls; i++) await session.run(feed(i));
    const c = process.cpuUsage(c0);
    rounds.push((c.user + c.system) / (calls * rowsPerBatch));
  }
  rounds.sort((a, b) => a - b);
  return { usCpuPerFlow: rounds.map((v) => +v.toFixed(3)), median: +rounds[3].toFixed(3) };
}

/**
 * `calls` calls of a session created with `enableProfiling: true, profileFilePrefix: prefix` (call i fed with
 * feed(i)), then the session released and onnxruntime's profile file read and removed. Returns the whole runs (count
 * and us) and the kernel us in all, by operator type (Map op -> { us, calls }) and by node (Map name -> { op, us,
 * provider }).
 */
async function profiledRuns(session, feed, calls, prefix) {
  for (let i = 0; i < calls; i++) await session.run(feed(i));
  session.endProfiling();
  await session.release();
  const dir = path.dirname(prefix);
  const file = fs.readdirSync(dir).filter((f) => f.startsWith(path.basename(prefix))).map((f) => path.join(dir, f))[0];
  const events = JSON.parse(fs.readFileSync(file, 'utf8'));
  fs.unlinkSync(file);
  const byType = new Map();
  const byNode = new Map();
  let runs = 0, runUs = 0, kernelUs = 0;
  for (const e of events) {
    if (e.cat === 'Session' && e.name === 'model_run') { runs++; runUs += e.dur; }
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const t = e.args.op_name;
    const s = byType.get(t) || { us: 0, calls: 0 };
    s.us += e.dur; s.calls++; byType.set(t, s);
    const nn = e.name.replace(/_kernel_time$/, '');
    const q = byNode.get(nn) || { op: t, us: 0, provider: e.args.provider };
    q.us += e.dur; byNode.set(nn, q);
    kernelUs += e.dur;
  }
  return { runs, runUs, kernelUs, byType, byNode };
}

module.exports = { SENSOR_SESSION_OPTIONS, alternatingCpuPerRow, cpuPerRowRounds, profiledRuns };
