import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';
import { captureSummary } from '../helpers/captureSummary';

import { BUNDLE_MANIFEST, bundleFresh, type BundleManifest } from '../../src/startup/bundle';

const ROOT = path.resolve(__dirname, '../..');
const tmp = mkdtempSync(path.join(tmpdir(), 'bundle-'));

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function readManifest(): BundleManifest | null {
  try {
    return JSON.parse(readFileSync(BUNDLE_MANIFEST, 'utf8')) as BundleManifest;
  } catch {
    return null;
  }
}

const manifest = readManifest();
const fresh = manifest !== null && bundleFresh(manifest);

describe('start-up bundle', () => {
  it('is fresh only while every module it lists keeps its size and, in a checkout with sources, its modification time', () => {
    const root = path.join(tmp, 'root');
    mkdirSync(path.join(root, 'dist', 'a'), { recursive: true });
    writeFileSync(path.join(root, 'dist', 'a', 'one.js'), 'exports.one = 1;\n');
    writeFileSync(path.join(root, 'dist', 'a', 'two.js'), 'exports.two = 2;\n');
    const when = Date.UTC(2026, 0, 1);
    for (const f of ['one.js', 'two.js']) utimesSync(path.join(root, 'dist', 'a', f), when / 1000, when / 1000);
    const m: BundleManifest = { version: 3, files: [['dist/a/one.js', 17, when], ['dist/a/two.js', 17, when]] };
    // Without a tsconfig.json (an installed package) the sizes decide; with one (a checkout) the dates too.
    expect(bundleFresh(m, root)).toBe(true);
    writeFileSync(path.join(root, 'tsconfig.json'), '{}\n');
    expect(bundleFresh(m, root)).toBe(true);
    // tsc rewrote one module with the same text: a later date.
    utimesSync(path.join(root, 'dist', 'a', 'two.js'), when / 1000 + 1, when / 1000 + 1);
    expect(bundleFresh(m, root)).toBe(false);
    // An installed package unpacked at another time: the sizes are what counts.
    rmSync(path.join(root, 'tsconfig.json'));
    expect(bundleFresh(m, root)).toBe(true);
    // Another size, a missing module, another manifest version, an empty list.
    expect(bundleFresh({ ...m, files: [['dist/a/one.js', 18, when]] }, root)).toBe(false);
    expect(bundleFresh({ ...m, files: [['dist/a/three.js', 17, when]] }, root)).toBe(false);
    expect(bundleFresh({ ...m, version: 2 } as unknown as BundleManifest, root)).toBe(false);
    expect(bundleFresh({ ...m, files: [] }, root)).toBe(false);
  });

  it.skipIf(!fresh)('is what `sensor` and its worker threads load, with the same flows as dist/ module by module (skipped without a fresh dist/bundle: npm run build)', () => {
    // Which files each thread loaded, from a preload that reports at exit (workers report through the same stderr).
    const probe = path.join(tmp, 'probe.js');
    writeFileSync(
      probe,
      `const { threadId } = require('node:worker_threads');
       process.on('exit', () => process.stderr.write('LOADED ' + threadId + ' ' + JSON.stringify(Object.keys(require.cache)) + '\\n'));`,
    );
    const run = (bundle: string, tag: string) => {
      const db = path.join(tmp, `${tag}.db`);
      const r = spawnSync(process.execPath, ['-r', probe, path.join(ROOT, 'bin', 'sensor.js'), 'demo', '--db', db, '--jsonl', '-', '--no-progress'], {
        encoding: 'utf8',
        // SENSOR_THREADS_ON: the workers a file run on two CPUs goes without (FILE_RUN_THREAD_CPUS) load bundles too.
        env: { ...process.env, SENSOR_BUNDLE: bundle, SENSOR_CODE_CACHE: path.join(tmp, 'cache'), SENSOR_THREADS_ON: 'all' },
      });
      expect(r.status, r.stderr).toBe(0);
      const loaded = r.stderr
        .split('\n')
        .filter((l) => l.startsWith('LOADED '))
        .map((l) => JSON.parse(l.slice(l.indexOf('['))) as string[]);
      const summary = captureSummary(r.stderr);
      // What does not depend on how the threads' batches happened to be cut (the int8 model's scores can: each batch
      // quantizes its own activations, and with threads a batch is cut by time as well as by size).
      const counters = { flows: summary['flows'], frames: summary['frames'], ended: summary['ended'], bytes: summary['bytes'], damaged: summary['damaged_packets'] };
      const flows = r.stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => {
          const f = JSON.parse(l) as Record<string, unknown>;
          return `${String(f['uid'])} ${JSON.stringify(f['lengths'])} ${String(f['end_reason'])} ${String(f['c2s_bytes'])}`;
        })
        .sort();
      return { flows, counters, loaded };
    };
    const off = run('off', 'off');
    const on = run('', 'on');
    expect(on.flows.length).toBeGreaterThan(50);
    expect(on.flows).toEqual(off.flows);
    expect(on.counters).toEqual(off.counters);
    const bundled = (files: string[]) => files.some((f) => f.startsWith(path.join(ROOT, 'dist', 'bundle') + path.sep));
    const own = (files: string[]) => files.filter((f) => f.startsWith(path.join(ROOT, 'dist') + path.sep) && !f.includes(`${path.sep}startup${path.sep}`));
    // Every thread (the capture thread and its workers) ran from the bundles, none from dist/'s own modules.
    expect(on.loaded.length).toBe(off.loaded.length);
    // Workers only where the process may use more than one CPU; on one (taskset, a 1-CPU runner) the helper parts run
    // on the capture thread (src/config/helperThreads.ts) and only it reports.
    expect(on.loaded.length).toBeGreaterThan(availableParallelism() > 1 ? 1 : 0);
    for (const files of on.loaded) {
      expect(bundled(files)).toBe(true);
      expect(own(files).filter((f) => !f.includes(`${path.sep}bundle${path.sep}`))).toEqual([]);
    }
    for (const files of off.loaded) expect(bundled(files)).toBe(false);
    // And the bundles are far fewer files to load.
    const count = (l: string[][]) => l.reduce((n, f) => n + f.length, 0);
    expect(count(on.loaded)).toBeLessThan(count(off.loaded) / 2);
  });

  it.skipIf(!fresh)('lists every module it was built from, the worker entries and the CLI (skipped without a fresh dist/bundle: npm run build)', () => {
    const files = new Set(manifest!.files.map(([f]) => f));
    for (const f of ['dist/bundle/sensor.js', 'dist/bundle/sqliteWorker.js', 'dist/bundle/inferenceWorker.js', 'dist/bundle/scorerWorker.js', 'dist/bundle/queryWorker.js', 'dist/cli/main.js', 'dist/flow/flowTable.js', 'dist/startup/codeCache.js']) {
      expect(files.has(f), f).toBe(true);
    }
    for (const f of files) expect(existsSync(path.join(ROOT, f)), f).toBe(true);
    // No npm package is listed: an installed sensor's dependencies may sit elsewhere.
    expect([...files].filter((f) => f.includes('node_modules'))).toEqual([]);
  });
});
