import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '../..');
const FLAGS = path.join(ROOT, 'dist/startup/compilerFlags.js');

/**
 * Counts TurboFan's inlining decisions in a fresh node that sets the sensor's flags (or not, SENSOR_V8_FLAGS=off) and
 * then runs a hot loop over a function that calls one of 273 bytes of bytecode: inlined under V8's defaults (460),
 * not under the sensor's limit (230). Compiled on the main thread (no concurrent recompilation), so that the
 * compile is done before the loop ends, whatever the load.
 */
function inlinedBig(env: string): boolean {
  const script = `
    const set = require(${JSON.stringify(FLAGS)}).setCompilerFlags();
    function big(x) { ${Array.from({ length: 15 }, (_, i) => `x = (x * ${i + 3} + ${i}) % 1000003;`).join(' ')} return x; }
    function caller(x) { return big(x) + 1; }
    let s = 0;
    for (let i = 0; i < 2e5; i++) s += caller(i);
    process.stdout.write(JSON.stringify({ set, s }));`;
  const r = spawnSync(process.execPath, ['--trace-turbo-inlining', '--no-concurrent-recompilation', '-e', script], {
    encoding: 'utf8',
    env: { ...process.env, SENSOR_V8_FLAGS: env },
  });
  expect(r.status, r.stderr).toBe(0);
  const out = r.stdout;
  const result = JSON.parse(out.slice(out.lastIndexOf('{"set"'))) as { set: boolean };
  expect(result.set).toBe(env !== 'off');
  return /<SharedFunctionInfo big>\} into/.test(out);
}

describe('compiler flags', () => {
  it('keeps TurboFan from inlining a 273-byte callee, which V8 inlines by default; SENSOR_V8_FLAGS=off leaves the default', () => {
    expect(inlinedBig('off')).toBe(true);
    expect(inlinedBig('on')).toBe(false);
  });
});
