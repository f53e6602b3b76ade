import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { GRAPH_CACHE_BOUND, graphCacheFile, pruneGraphs, readGraph, saveGraph, touchGraph } from '../../src/classify/graphCache';
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

/** The same run, started at once with others; its JSON lines. */
function runAsync(cache: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, '--pcap', capture, '--jsonl', '-', '--device', 'cpu', '--no-progress'], {
      cwd: ROOT,
      env: { ...process.env, SENSOR_CODE_CACHE: cache },
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}: ${err}`))));
  });
}

/** Writes an entry of `size` bytes of junk into `graphs` through saveGraph(), dated `when` (ms); its name. */
function fakeEntry(graphs: string, size: number, when: number, bound = GRAPH_CACHE_BOUND): string {
  const name = `${randomBytes(32).toString('hex')}.onnx`;
  const scratch = path.join(graphs, `${name}.1.0.tmp`);
  writeFileSync(scratch, randomBytes(size));
  saveGraph(scratch, path.join(graphs, name), bound);
  const at = new Date(when);
  try {
    utimesSync(path.join(graphs, name), at, at);
  } catch {
    // Not kept (larger than the bound).
  }
  return name;
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
    const inodes = written.map((e) => statSync(path.join(cache, 'ort-graphs', e)).ino);
    // Entries in the past: a run that loads them keeps the same files (one that optimised the model again would
    // rename new ones into place) and marks them used now (round perf40: the least recently used go first).
    const past = new Date(Math.floor(Date.now() / 1000) * 1000 - 3_600_000);
    for (const e of written) utimesSync(path.join(cache, 'ort-graphs', e), past, past);
    const start = Date.now() - 1000;
    expect(run(cache)).toBe(reference);
    expect(entries(cache)).toEqual(written);
    written.forEach((e, i) => {
      const st = statSync(path.join(cache, 'ort-graphs', e));
      expect(readFileSync(path.join(cache, 'ort-graphs', e)).equals(before[i]!)).toBe(true);
      expect(st.ino).toBe(inodes[i]);
      expect(st.mtimeMs).toBeGreaterThanOrEqual(start);
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

  it('stays within its bound when more models are written than it holds; a pruned entry is rebuilt bit-identical', () => {
    const cache = path.join(dir, 'd');
    expect(run(cache)).toBe(reference);
    const graphs = path.join(cache, 'ort-graphs');
    const real = entries(cache);
    expect(real).toHaveLength(2);
    const good = real.map((e) => readFileSync(path.join(graphs, e)));
    // The bundled models' entries last used two hours ago; then as many other models' entries as the bound holds,
    // written later: each write removes the least recently used beyond the bound, the bundled models' first.
    const hour = 3_600_000;
    const base = Math.floor(Date.now() / 1000) * 1000 - 2 * hour;
    for (const e of real) utimesSync(path.join(graphs, e), new Date(base), new Date(base));
    const fakes: string[] = [];
    for (let i = 0; i < GRAPH_CACHE_BOUND.entries; i++) {
      fakes.push(fakeEntry(graphs, 2000 + i, base + hour + i * 1000));
      expect(entries(cache).length).toBeLessThanOrEqual(GRAPH_CACHE_BOUND.entries);
    }
    expect(entries(cache)).toEqual([...fakes].sort());
    // The next run finds neither, optimises both models again and writes the same bytes; the two least recently
    // used of the others go, and the directory holds the bound.
    expect(run(cache)).toBe(reference);
    expect(entries(cache)).toEqual([...real, ...fakes.slice(2)].sort());
    real.forEach((e, i) => expect(readFileSync(path.join(graphs, e)).equals(good[i]!)).toBe(true));
    // A run that loads them (hits) writes nothing, and leaves the directory as it is.
    expect(run(cache)).toBe(reference);
    expect(entries(cache)).toEqual([...real, ...fakes.slice(2)].sort());
    expect(readdirSync(graphs).filter((f) => f.endsWith('.tmp') || f.endsWith('.sum'))).toEqual([]);
  }, 120_000);

  it('gives the same JSON lines to sensors started at once, with whole entries and no temporary files left', async () => {
    const cache = path.join(dir, 'e');
    // Three on an empty cache (all write), then three more on a full one (all load; with other models' entries
    // being written and pruned beside them).
    const first = await Promise.all([runAsync(cache), runAsync(cache), runAsync(cache)]);
    for (const out of first) expect(out).toBe(reference);
    const real = entries(cache);
    expect(real).toHaveLength(2);
    for (const e of real) expect(readGraph(path.join(cache, 'ort-graphs', e))).not.toBeNull();
    const graphs = path.join(cache, 'ort-graphs');
    const racing = Promise.all([runAsync(cache), runAsync(cache), runAsync(cache)]);
    for (let i = 0; i < 3 * GRAPH_CACHE_BOUND.entries; i++) fakeEntry(graphs, 1000, Date.now());
    for (const out of await racing) expect(out).toBe(reference);
    expect(entries(cache).length).toBeLessThanOrEqual(GRAPH_CACHE_BOUND.entries);
    expect(readdirSync(graphs).filter((f) => f.endsWith('.tmp') || f.endsWith('.sum'))).toEqual([]);
  }, 120_000);
});

describe('graph cache bound (saveGraph, pruneGraphs, touchGraph)', () => {
  const base = Date.now() - 3_600_000;

  it('keeps at most GRAPH_CACHE_BOUND.entries, the most recently written or used', () => {
    const graphs = mkdtempSync(path.join(dir, 'bound-'));
    const names: string[] = [];
    for (let i = 0; i < 3 * GRAPH_CACHE_BOUND.entries; i++) {
      names.push(fakeEntry(graphs, 100 + i, base + i * 1000));
      const now = readdirSync(graphs);
      expect(now.length).toBeLessThanOrEqual(GRAPH_CACHE_BOUND.entries);
      expect(now).toContain(names[i]);
    }
    expect(readdirSync(graphs).sort()).toEqual(names.slice(-GRAPH_CACHE_BOUND.entries).sort());
    // The oldest one used now (a run loaded it): the next write removes the one after it instead.
    const oldest = names[names.length - GRAPH_CACHE_BOUND.entries]!;
    touchGraph(path.join(graphs, oldest));
    const newest = fakeEntry(graphs, 50, Date.now());
    expect(readdirSync(graphs).sort()).toEqual([oldest, ...names.slice(-GRAPH_CACHE_BOUND.entries + 2), newest].sort());
    // Touching or pruning what is not there is no error.
    touchGraph(path.join(graphs, 'gone.onnx'));
    pruneGraphs(path.join(graphs, 'gone'), 'x');
  });

  it('keeps at most its bytes; a graph larger than the bound is not kept', () => {
    const graphs = mkdtempSync(path.join(dir, 'bytes-'));
    const bound = { entries: 100, bytes: 10_000 };
    const names: string[] = [];
    for (let i = 0; i < 8; i++) names.push(fakeEntry(graphs, 3000, base + i * 1000, bound));
    // 3,032 bytes an entry with its checksum: three fit.
    expect(readdirSync(graphs).sort()).toEqual(names.slice(-3).sort());
    const big = fakeEntry(graphs, 10_000, Date.now(), bound);
    expect(readdirSync(graphs)).not.toContain(big);
    expect(readdirSync(graphs).sort()).toEqual(names.slice(-3).sort());
  });

  it('removes temporary files a dead writer left, not a live writer\'s, and nothing else', () => {
    const graphs = mkdtempSync(path.join(dir, 'stale-'));
    const key = 'a'.repeat(64);
    for (const f of [`${key}.onnx.11.0.tmp`, `${key}.onnx.11.0.tmp.sum`, `${key}.onnx.12.0.tmp`, 'README', `${key}.onnx`]) writeFileSync(path.join(graphs, f), 'x');
    mkdirSync(path.join(graphs, 'sub'));
    const old = new Date(base);
    utimesSync(path.join(graphs, `${key}.onnx.11.0.tmp`), old, old);
    utimesSync(path.join(graphs, `${key}.onnx.11.0.tmp.sum`), old, old);
    pruneGraphs(graphs, `${key}.onnx`);
    expect(readdirSync(graphs).sort()).toEqual([`${key}.onnx`, `${key}.onnx.12.0.tmp`, 'README', 'sub'].sort());
  });
});
