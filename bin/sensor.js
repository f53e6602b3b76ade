#!/usr/bin/env node
'use strict';
// Entry point for the `sensor` command; the compiled CLI lives in dist/ (built by `npm install` / `npm run build`).
// First the V8 code cache for the modules below (src/startup/codeCache.ts; SENSOR_CODE_CACHE=off disables it).
require('../dist/startup/codeCache.js').installCodeCache();
require('../dist/cli/main.js').main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { process.stderr.write(`sensor: internal error: ${err && err.stack ? err.stack : err}\n`); process.exitCode = 70; },
);
