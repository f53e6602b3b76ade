import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { codeCacheDir } from '../../src/startup/codeCache';

const ROOT = path.resolve(__dirname, '../..');
const CODE_CACHE = path.join(ROOT, 'dist/startup/codeCache.js');
const tmp = mkdtempSync(path.join(tmpdir(), 'code-cache-'));
// Modules under the package root only go through the cache: a scratch folder there (removed at the end).
const scratch = mkdtempSync(path.join(ROOT, 'test', 'startup', '.scratch-'));

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
});

/** Installs the cache in a fresh node, requires `modules`, prints what each one's `probe()` returns and the stats. */
function load(cacheEnv: string, modules: string[]): { installed: boolean; results: unknown[]; stats: { hits: number; misses: number; passed: number } } {
  const script = `
    const cc = require(${JSON.stringify(CODE_CACHE)});
    const installed = cc.installCodeCache();
    const results = ${JSON.stringify(modules)}.map((m) => require(m).probe());
    process.stdout.write(JSON.stringify({ installed, results, stats: cc.codeCacheStats }));`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, SENSOR_CODE_CACHE: cacheEnv } });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as ReturnType<typeof load>;
}

describe('code cache', () => {
  it('names its directory from SENSOR_CODE_CACHE, XDG_CACHE_HOME or HOME, per Node version', () => {
    const v = `v8-${process.version}-${process.arch}`;
    expect(codeCacheDir({ SENSOR_CODE_CACHE: '/x/cc', HOME: '/h' })).toBe(path.join('/x/cc', v));
    expect(codeCacheDir({ XDG_CACHE_HOME: '/xdg', HOME: '/h' })).toBe(path.join('/xdg/tcp-flow-sensor', v));
    expect(codeCacheDir({ XDG_CACHE_HOME: 'relative', HOME: '/h' })).toBe(path.join('/h/.cache/tcp-flow-sensor', v));
    expect(codeCacheDir({ HOME: '/h' })).toBe(path.join('/h/.cache/tcp-flow-sensor', v));
    expect(codeCacheDir({})).toBeNull();
    expect(codeCacheDir({ SENSOR_CODE_CACHE: 'off', HOME: '/h' })).toBeNull();
    expect(codeCacheDir({ SENSOR_CODE_CACHE: '0', HOME: '/h' })).toBeNull();
  });

  it('compiles from the cached data of the run before, with the same results', () => {
    const dir = path.join(tmp, 'a');
    const mod = path.join(scratch, 'mod.js');
    writeFileSync(mod, `#!/usr/bin/env node\n'use strict';\nconst dep = require('./dep');\nexports.probe = () => [dep.twice(21), __filename, typeof require.resolve('./dep'), require.main === undefined];\n`);
    writeFileSync(path.join(scratch, 'dep.js'), `exports.twice = (x) => 2 * x;\n`);
    const off = load('off', [mod]);
    expect(off.installed).toBe(false);
    const first = load(dir, [mod]);
    expect(first.installed).toBe(true);
    expect(first.results).toEqual(off.results);
    expect(first.stats).toEqual({ hits: 0, misses: 2, passed: 0 });
    const entries = readdirSync(path.join(dir, `v8-${process.version}-${process.arch}`));
    expect(entries.length).toBe(2);
    expect(entries.every((e) => /^[0-9a-f]{40}$/.test(e))).toBe(true);
    const second = load(dir, [mod]);
    expect(second.results).toEqual(off.results);
    expect(second.stats).toEqual({ hits: 2, misses: 0, passed: 0 });
  });

  it('never runs an edited file from the old data', () => {
    const dir = path.join(tmp, 'b');
    const mod = path.join(scratch, 'edited.js');
    writeFileSync(mod, `exports.probe = () => 'one';\n`);
    expect(load(dir, [mod]).results).toEqual(['one']);
    // The same length, so only the text tells them apart.
    writeFileSync(mod, `exports.probe = () => 'two';\n`);
    const r = load(dir, [mod]);
    expect(r.results).toEqual(['two']);
    expect(r.stats).toEqual({ hits: 0, misses: 1, passed: 0 });
  });

  it("leaves ES modules' import() and files outside the package to Node's loader", () => {
    const dir = path.join(tmp, 'c');
    const mod = path.join(scratch, 'dynamic.js');
    writeFileSync(mod, `exports.probe = () => typeof (() => import('node:fs'));\n`);
    const outside = path.join(tmp, 'outside.js');
    writeFileSync(outside, `exports.probe = () => 'outside';\n`);
    const r = load(dir, [mod, outside]);
    expect(r.results).toEqual(['function', 'outside']);
    expect(r.stats).toEqual({ hits: 0, misses: 0, passed: 2 });
  });

  it('uses no directory that others can write', () => {
    const base = path.join(tmp, 'shared');
    const dir = path.join(base, `v8-${process.version}-${process.arch}`);
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o777);
    const mod = path.join(scratch, 'plain.js');
    writeFileSync(mod, `exports.probe = () => 1;\n`);
    const r = load(base, [mod]);
    expect(r.installed).toBe(false);
    expect(r.results).toEqual([1]);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('code cache location', () => {
  it('stays out of the way of --enable-source-maps', () => {
    const script = `process.stdout.write(String(require(${JSON.stringify(CODE_CACHE)}).installCodeCache()))`;
    const r = spawnSync(process.execPath, ['--enable-source-maps', '-e', script], { encoding: 'utf8', env: { ...process.env, SENSOR_CODE_CACHE: path.join(tmp, 'maps') } });
    expect(r.stdout).toBe('false');
  });

  it('creates no home that does not exist (a service user with HOME=/nonexistent)', () => {
    const home = path.join(tmp, 'no-such-home');
    const script = `process.stdout.write(String(require(${JSON.stringify(CODE_CACHE)}).installCodeCache()))`;
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: home };
    delete env['SENSOR_CODE_CACHE'];
    delete env['XDG_CACHE_HOME'];
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env });
    expect(r.stdout).toBe('false');
    expect(existsSync(home)).toBe(false);
  });
});
