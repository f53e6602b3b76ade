import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { graphCacheFile, readGraph } from '../../src/classify/graphCache';
import { writeReplayCapture } from '../helpers/synthCapture';

/**
 * Round perf35: onnxruntime's optimised graphs cached beside the code cache (src/classify/graphCache.ts). The CLI
 * must print the same JSON lines (labels, confidences and anomaly scores to the last digit) without the cache, when
 * it writes its entries, when it loads them, and when an entry is missing, corrupt or not a graph at all.
 */

const ROOT = path.resolve(__dirname, '../..');
const BIN = path.join(ROOT, 'bin/sensor.js');
const dir = mkdtempSync(path.join(tmpdir(), 'graph-cache-'));
const capture = path.join(dir, 'replay.pcap');

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** One offline run on one core's worth of threads, both models; its JSON lines. */
function run(cache: string, env: NodeJS.ProcessEnv = {}, nodeFlags: string[] = []): string {
  const r = spawnSync(process.execPath, [...nodeFlags, BIN, '--pcap', capture, '--jsonl', '-', '--device', 'cpu', '--no-progress'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, SENSOR_CODE_CACHE: cache, ...env },
  });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

function entries(cache: string): string[] {
  try {
    return readdirSync(path.join(cache, 'ort-graphs')).sort();
  } catch {
    return [];
  }
}

describe('onnxruntime graph cache', () => {
  let reference = '';
  beforeAll(() => {
    writeReplayCapture(capture, 4000, 100);
    reference = run('off');
  }, 120_000);

  it('is not used where the code cache is not installed (a library user, these tests) or is off', () => {
    const model = readFileSync(path.join(ROOT, 'models/anomaly.onnx'));
    expect(graphCacheFile(model, '1', 'all', { SENSOR_CODE_CACHE: path.join(dir, 'unused') })).toBeNull();
    expect(entries(path.join(dir, 'unused'))).toEqual([]);
  });

  it('writes one entry a model, then loads them, with the same JSON lines', () => {
    expect(reference.split('\n').length).toBeGreaterThan(50);
    expect(reference).toMatch(/"anomaly_score":/);
    const cache = path.join(dir, 'a');
    expect(run(cache)).toBe(reference);
    const written = entries(cache);
    expect(written).toHaveLength(2);
    expect(written.every((e) => /^[0-9a-f]{64}\.onnx$/.test(e))).toBe(true);
    const before = written.map((e) => readFileSync(path.join(cache, 'ort-graphs', e)));
    // Entries in the past: a run that loads them leaves them alone (one that optimised the model again would rewrite them).
    const past = new Date(Math.floor(Date.now() / 1000) * 1000 - 3_600_000);
    for (const e of written) utimesSync(path.join(cache, 'ort-graphs', e), past, past);
    expect(run(cache)).toBe(reference);
    expect(entries(cache)).toEqual(written);
    written.forEach((e, i) => {
      expect(readFileSync(path.join(cache, 'ort-graphs', e)).equals(before[i]!)).toBe(true);
      expect(Math.round(statSync(path.join(cache, 'ort-graphs', e)).mtimeMs)).toBe(past.getTime());
    });
    // Other V8 flags on node's command line: the graph is the same, and so are the records.
    expect(run(cache, {}, ['--max-semi-space-size=32'])).toBe(reference);
    // SENSOR_GRAPH_CACHE=off leaves the entries alone.
    expect(run(cache, { SENSOR_GRAPH_CACHE: 'off' })).toBe(reference);
  }, 120_000);

  it('optimises the model again when an entry is corrupt, torn or not a graph, and rewrites it', () => {
    const cache = path.join(dir, 'b');
    run(cache);
    const [first, second] = entries(cache).map((e) => path.join(cache, 'ort-graphs', e));
    const good = [readFileSync(first!), readFileSync(second!)];
    expect(readGraph(first!)).not.toBeNull();
    // A flipped bit in the graph (the checksum no longer matches).
    const flipped = Buffer.from(good[0]!);
    flipped[flipped.length - 100]! ^= 1;
    writeFileSync(first!, flipped);
    expect(readGraph(first!)).toBeNull();
    // Torn (cut short), and a file whose checksum matches but that onnxruntime refuses.
    writeFileSync(second!, good[1]!.subarray(0, 1000));
    expect(run(cache)).toBe(reference);
    expect(readFileSync(first!).equals(good[0]!)).toBe(true);
    expect(readFileSync(second!).equals(good[1]!)).toBe(true);
    const junk = Buffer.from('not an onnx graph');
    writeFileSync(first!, Buffer.concat([createHash('sha256').update(junk).digest(), junk]));
    expect(readGraph(first!)).not.toBeNull();
    rmSync(second!);
    expect(run(cache)).toBe(reference);
    expect(readFileSync(first!).equals(good[0]!)).toBe(true);
    expect(readFileSync(second!).equals(good[1]!)).toBe(true);
    expect(entries(cache)).toHaveLength(2);
  }, 120_000);

  it('runs without one where its directory cannot be made', () => {
    const cache = path.join(dir, 'c');
    run(cache);
    const graphs = path.join(cache, 'ort-graphs');
    rmSync(graphs, { recursive: true });
    writeFileSync(graphs, 'a file where the directory would be');
    expect(run(cache)).toBe(reference);
    expect(readFileSync(graphs, 'utf8')).toBe('a file where the directory would be');
  }, 120_000);
});
