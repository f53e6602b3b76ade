'use strict';
/**
 * Shared by the graph A/B scripts (bench/anomaly-graph-ab.js, bench/classifier-graph-ab.js): the session options
 * the sensor runs a model with, and two sessions timed alternating on the same batches.
 */
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

module.exports = { SENSOR_SESSION_OPTIONS, alternatingCpuPerRow };
