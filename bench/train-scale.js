'use strict';
/**
 * `npm run bench:train-scale`: the training-scale benchmark (issue 10), bench/train_scale.py run with the Python
 * that `sensor train` would use ($SENSOR_PYTHON, python3, /usr/bin/python3: the first with torch and onnx), at
 * nice 10. Arguments are passed on (e.g. -- --rows 200000 --slice 50000 for a smoke run).
 */
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const { findPython } = require('../dist/train/trainRun');

let py;
try {
  py = findPython(null);
} catch (e) {
  console.error(`bench:train-scale: ${e.message}`);
  process.exit(2);
}
const r = spawnSync('nice', ['-n', '10', py.python, path.join(__dirname, 'train_scale.py'), ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(r.status ?? 1);
