import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '../..');
const tmp = mkdtempSync(path.join(tmpdir(), 'sensor-lazy-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A preload that names every native package the process requires, one line each on stderr. */
const HOOK = path.join(tmp, 'hook.js');
writeFileSync(
  HOOK,
  `const M = require('module');
const orig = M.prototype.require;
M.prototype.require = function (id) {
  if (/^(onnxruntime-node|better-sqlite3)$/.test(id)) process.stderr.write('LOADED ' + id + '\\n');
  return orig.apply(this, arguments);
};
`,
);

/** The native packages `sensor ARGS` loaded (from its start-up bundle, or module by module with SENSOR_BUNDLE=off). */
function loaded(args: string[], env: NodeJS.ProcessEnv = {}): string[] {
  const r = spawnSync(process.execPath, ['-r', HOOK, path.join(ROOT, 'bin', 'sensor.js'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  expect(r.status, r.stderr).toBe(0);
  return [...new Set(r.stderr.split('\n').filter((l) => l.startsWith('LOADED ')).map((l) => l.slice(7)))].sort();
}

describe('start-up loads what the command needs', () => {
  // onnxruntime and better-sqlite3 took ~0.15-0.25 s of every command's start (src/cli/main.ts imports the offline
  // pipeline when it runs one; the hold's bound lives in contextWindow.ts, not beside the model's loader).
  it('sensor --version and --help load neither onnxruntime nor SQLite, bundled or not', () => {
    for (const env of [{}, { SENSOR_BUNDLE: 'off' }]) {
      expect(loaded(['--version'], env)).toEqual([]);
      expect(loaded(['--help'], env)).toEqual([]);
    }
  });

  it('an offline run still loads both', () => {
    const db = path.join(tmp, 'demo.db');
    expect(loaded(['--pcap', path.join(ROOT, 'demo', 'demo.pcap.gz'), '--db', db, '--no-progress'])).toEqual(['better-sqlite3', 'onnxruntime-node']);
  });
});
