'use strict';
/**
 * Round perf38, a preload (not shipped): with ORT_NODE=DIR (an onnxruntime-node package folder installed outside the
 * repo, e.g. `npm install --prefix /tmp/ort/1.30.0 --ignore-scripts onnxruntime-node@1.30.0` ->
 * /tmp/ort/1.30.0/node_modules/onnxruntime-node) every require of `onnxruntime-node` (and its package.json) resolves
 * there instead of the repo's node_modules, so bench/model-speed.js and bench/ort-identity.js run another version with
 * the sensor's own dist/ code. Without ORT_NODE it does nothing.
 *
 * Usage: ORT_NODE=/tmp/ort/1.30.0/node_modules/onnxruntime-node node -r ./bench/ort-use.js bench/model-speed.js ...
 */
const path = require('node:path');
const Module = require('node:module');
const DIR = process.env.ORT_NODE;
if (DIR) {
  const orig = Module._resolveFilename;
  Module._resolveFilename = function (req, ...rest) {
    if (req === 'onnxruntime-node') return orig.call(this, path.resolve(DIR), ...rest);
    if (req.startsWith('onnxruntime-node/')) return orig.call(this, path.join(path.resolve(DIR), req.slice('onnxruntime-node/'.length)), ...rest);
    return orig.call(this, req, ...rest);
  };
}
