#!/usr/bin/env -S GLIBC_TUNABLES=glibc.malloc.hugetlb=1:${GLIBC_TUNABLES} node
'use strict';
// The line above runs Node with glibc's malloc asking for transparent huge pages (madvise(MADV_HUGEPAGE) on the
// memory it takes from the system: glibc 2.35 and later, where /sys/kernel/mm/transparent_hugepage/enabled is
// `madvise` or `always`; any other libc or kernel ignores it), ahead of whatever GLIBC_TUNABLES the caller set, which
// therefore wins (GLIBC_TUNABLES=glibc.malloc.hugetlb=0 turns it off). Fewer, larger page faults for the memory that
// onnxruntime, SQLite, V8's compiler and Node's buffers take: in a one-core run of the 1M bench capture -0.13 to
// -0.18 s, and -0.06 s of a one-packet run's 0.41 s, peak RSS +6 MB (README "Design notes", round perf49). `env -S`
// (GNU coreutils 8.30 and later, BSD and macOS env) splits the line; `node bin/sensor.js` skips it and runs the same.
// Entry point for the `sensor` command; the compiled CLI lives in dist/ (built by `npm install` / `npm run build`).
// First V8's compiler flags (src/startup/compilerFlags.ts; SENSOR_V8_FLAGS=off leaves V8's defaults), then the V8
// code cache for the modules below (src/startup/codeCache.ts; SENSOR_CODE_CACHE=off disables it), then the CLI from
// its start-up bundle when that is fresh (src/startup/bundle.ts; SENSOR_BUNDLE=off loads dist/ module by module).
require('../dist/startup/compilerFlags.js').setCompilerFlags();
require('../dist/startup/codeCache.js').installCodeCache();
const bundle = require('../dist/startup/bundle.js').useBundle();
/** Calls `then` once everything written to `stream` so far is handed to the operating system. */
function flushed(stream, then) {
  if (stream.writableLength === 0) then();
  else stream.write('', then);
}
require(bundle !== null ? bundle : '../dist/cli/main.js').main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // main() resolves once every output is written and closed: exit now, standard output and error flushed first,
    // rather than wait for V8 and the native addons to take their heaps apart (~14 ms of a one-flow run, pinned).
    flushed(process.stdout, () => flushed(process.stderr, () => process.exit(code)));
  },
  (err) => { process.stderr.write(`sensor: internal error: ${err && err.stack ? err.stack : err}\n`); process.exitCode = 70; },
);
