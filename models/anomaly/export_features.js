#!/usr/bin/env node
'use strict';
/**
 * node models/anomaly/export_features.js DB DIR: the feature rows of DB's finished flows, as the sensor makes them
 * (src/anomaly/fitCommand.ts exportFeatures(), with rows.tsv naming each row's flow), for models/anomaly/*.py.
 * Needs the build (npm run build).
 */
const fs = require('node:fs');
const { exportFeatures } = require('../../dist/anomaly/fitCommand');

const [db, dir] = process.argv.slice(2);
if (!db || !dir) {
  process.stderr.write('usage: node models/anomaly/export_features.js DB DIR\n');
  process.exit(2);
}
fs.mkdirSync(dir, { recursive: true });
const r = exportFeatures(db, dir, { sequenceLength: 30, since: null, until: null, withRows: true });
process.stdout.write(`${db}: ${r.rows} rows of ${r.width} features in ${dir}\n`);
