import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * scripts/build-native.js is the install hook: a failed addon build must not fail `npm install`, and must say
 * in one line what to install. Run against a copy whose native/ does not compile.
 */

const SCRIPT = path.resolve(__dirname, '../../scripts/build-native.js');
const FIX = 'apt-get install libpcap-dev, then npm run build:native (or npm rebuild)';

const tmp = mkdtempSync(path.join(tmpdir(), 'sensor-build-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function copyWithBrokenAddon(): string {
  const root = path.join(tmp, `pkg-${Math.random().toString(36).slice(2)}`);
  mkdirSync(path.join(root, 'scripts'), { recursive: true });
  mkdirSync(path.join(root, 'native'), { recursive: true });
  copyFileSync(SCRIPT, path.join(root, 'scripts', 'build-native.js'));
  writeFileSync(path.join(root, 'native', 'binding.gyp'), JSON.stringify({ targets: [{ target_name: 'broken', sources: ['broken.cc'] }] }));
  writeFileSync(path.join(root, 'native', 'broken.cc'), '#include <no_such_header_for_the_test.h>\n');
  return path.join(root, 'scripts', 'build-native.js');
}

function run(script: string, args: string[], env: Record<string, string> = {}): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [script, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120000 });
  return { status: r.status, stderr: r.stderr };
}

/** The script's own line (node-gyp's output comes before it). */
function lastLine(text: string): string {
  return text.trim().split('\n').pop() ?? '';
}

describe('scripts/build-native.js', () => {
  it('exits 0 with one line saying what to install when the addon does not compile', () => {
    const r = run(copyWithBrokenAddon(), []);
    expect(r.status).toBe(0);
    expect(lastLine(r.stderr)).toMatch(/^sensor: live capture via the native addon is unavailable \((node-gyp rebuild failed with \d+|node-gyp not found)\): /);
    expect(lastLine(r.stderr).endsWith(FIX)).toBe(true);
  });

  it('--strict (npm run build:native) exits 1 on the same failure', () => {
    expect(run(copyWithBrokenAddon(), ['--strict']).status).toBe(1);
  });

  it('a fast path that does not compile (no compiler) is one line for both addons, and the install succeeds', () => {
    const script = copyWithBrokenAddon();
    const fast = path.join(path.dirname(script), '..', 'native', 'fastpath');
    mkdirSync(fast, { recursive: true });
    writeFileSync(path.join(fast, 'binding.gyp'), JSON.stringify({ targets: [{ target_name: 'broken_fast', sources: ['broken.cc'] }] }));
    writeFileSync(path.join(fast, 'broken.cc'), '#include <no_such_header_for_the_test.h>\n');
    const r = run(script, []);
    expect(r.status).toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^sensor: native addons unavailable \(node-gyp rebuild failed with \d+\): offline analysis runs on the JavaScript path; /);
    expect(run(script, ['--strict']).status).toBe(1);
  });

  it('SENSOR_SKIP_NATIVE=1 skips the build with the same one line', () => {
    const r = run(SCRIPT, [], { SENSOR_SKIP_NATIVE: '1' });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe(`sensor: live capture via the native addon is unavailable (SENSOR_SKIP_NATIVE=1): ${FIX}\n`);
  });
});
