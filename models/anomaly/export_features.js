#!/usr/bin/env node
'use strict';
/**
 * node models/anomaly/export_features.js DB DIR [MODEL.onnx]: the feature rows of DB's finished flows, as the sensor
 * makes them (src/anomaly/fitCommand.ts exportFeatures(), with rows.tsv naming each row's flow), for
 * models/anomaly/*.py: with MODEL's counters and context hold, or those anomaly-fit would give a model fitted on DB
 * (its own server port indicators, the default hold). HOLD=S in the environment sets another hold (seconds), RETRY_HOLD=S another retry hold.
 * Needs the build (npm run build).
 */
const fs = require('node:fs');
const { exportFeatures } = require('../../dist/anomaly/fitCommand');
const { checkAnomalyMetadata } = require('../../dist/anomaly/anomalyModel');

const [db, dir, model] = process.argv.slice(2);
if (!db || !dir) {
  process.stderr.write('usage: node models/anomaly/export_features.js DB DIR [MODEL.onnx]\n');
  process.exit(2);
}
fs.mkdirSync(dir, { recursive: true });
const info = model ? checkAnomalyMetadata(model, fs.readFileSync(model)) : undefined;
const hold = process.env.HOLD !== undefined ? Number(process.env.HOLD) : info?.contextHold;
const retryHold = process.env.RETRY_HOLD !== undefined ? Number(process.env.RETRY_HOLD) : info?.contextRetryHold;
const r = exportFeatures(db, dir, { sequenceLength: 30, since: null, until: null, withRows: true, counters: info?.counters, hold, retryHold });
process.stdout.write(`${db}: ${r.rows} rows of ${r.width} features in ${dir}\n`);
