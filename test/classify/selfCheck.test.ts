import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { loadModelInfo } from '../../src/classify/classifier';
import { InlineRunner } from '../../src/classify/modelRunner';
import { readOnnxMetadata } from '../../src/classify/onnxMetadata';
import { compareSelfCheck, parseSelfCheck, PINNED_RUNTIME, type SelfCheck } from '../../src/classify/selfCheck';
import { withMetadata } from '../monitor/referenceModel';
import { refusal } from './refusal';

const REPO = path.resolve(__dirname, '../..');
const MODEL = path.join(REPO, 'models/sensor.onnx');
const FIXTURE = path.join(REPO, 'test/fixtures/model/fixture.onnx');
const tmp = mkdtempSync(path.join(tmpdir(), 'selfcheck-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Entry {
  version: number;
  runtime: string;
  tolerance: number;
  rows: number[][];
  expected: number[][];
}

const bundled = readFileSync(MODEL);
const entry = (): Entry => JSON.parse(readOnnxMetadata(bundled).props.get('self_check')!) as Entry;

/** A copy of the bundled model whose self_check is `e` (appended: the last entry of a key wins). */
function copyWith(name: string, e: Entry | string): string {
  const file = path.join(tmp, name);
  writeFileSync(file, withMetadata(bundled, 'self_check', typeof e === 'string' ? e : JSON.stringify(e)));
  return file;
}

describe('the bundled model carries a self-check', () => {
  it('of 64 rows or more over every class, with the reference of the pinned runtime', () => {
    const e = entry();
    const props = readOnnxMetadata(bundled).props;
    const classes = JSON.parse(props.get('classes')!) as string[];
    expect(e.version).toBe(1);
    expect(e.runtime).toMatch(/^onnxruntime-node 1\.23\./);
    expect(e.rows.length).toBeGreaterThanOrEqual(64);
    expect(e.expected).toHaveLength(e.rows.length);
    // every class is the reference's top class of some row: the rows are spread over the classes
    const tops = new Set(e.expected.map((p) => p.indexOf(Math.max(...p))));
    expect(tops.size).toBeGreaterThanOrEqual(classes.length - 3);
    // and over lengths: short and long flows
    const payload = e.rows.map((r) => r.filter((v) => v !== 0).length);
    expect(Math.min(...payload)).toBeLessThanOrEqual(2);
    expect(Math.max(...payload)).toBeGreaterThanOrEqual(20);
  });

  it('passes on this runtime, on the inference thread and on the calling thread', async () => {
    expect((await loadModelInfo(MODEL)).version).toBe('ppi-mlp-20261130-v6');
    const r = await InlineRunner.open(MODEL, 'cpu', 1, { warn() {}, info() {} });
    await r.close();
  });

  it('package.json pins the runtime the error line names', () => {
    const pkg = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(PINNED_RUNTIME).toBe(`onnxruntime-node ${pkg.dependencies['onnxruntime-node']}`);
  });
});

describe('a model whose reference the runtime does not reproduce is refused', () => {
  it('one expected probability changed: one line naming the model, the row, the deviation, the runtime and what to do', async () => {
    const e = entry();
    const row = 40;
    const top = e.expected[row]!.indexOf(Math.max(...e.expected[row]!));
    e.expected[row]![top] = e.expected[row]![top]! - 0.2;
    const file = copyWith('one-off.onnx', e);
    for (const load of [() => loadModelInfo(file), () => InlineRunner.open(file, 'cpu', 1, { warn() {}, info() {} })]) {
      const msg = await refusal(load, file);
      expect(msg).toContain('self-check failed: onnxruntime-node 1.23.');
      expect(msg).toContain(`on 1 of ${e.rows.length} rows (rows ${row}; top class changed on 0); largest deviation 0.200 on row ${row}`);
      expect(msg).toContain('tolerance 0.05');
      expect(msg).toContain(`install the pinned version (${PINNED_RUNTIME}: npm ci) or run with --no-classify`);
    }
  });

  it('a change within the tolerance passes', async () => {
    const e = entry();
    e.expected[3]![0] = e.expected[3]![0]! + 0.04;
    await expect(loadModelInfo(copyWith('within.onnx', e))).resolves.toBeDefined();
  });

  it('a malformed entry is a contract error', async () => {
    const e = entry();
    const bad: [string, Entry | string, string][] = [
      ['not-json.onnx', '{rows', `metadata 'self_check' is not JSON`],
      ['tolerance.onnx', { ...e, tolerance: 0 }, `metadata 'self_check' tolerance is 0`],
      ['short-row.onnx', { ...e, rows: [e.rows[0]!.slice(1), ...e.rows.slice(1)] }, `metadata 'self_check' row 0 is not 30 finite numbers`],
      ['expected-count.onnx', { ...e, expected: e.expected.slice(1) }, `metadata 'self_check' expected must hold one row`],
      ['one-row.onnx', { ...e, rows: e.rows.slice(0, 1), expected: e.expected.slice(0, 1) }, `rows must be an array of 2 to 1024`],
    ];
    for (const [name, v, want] of bad) {
      const file = copyWith(name, v);
      expect(await refusal(() => loadModelInfo(file), file)).toContain(want);
    }
  });
});

describe('a model without self_check', () => {
  it('loads as before (the test fixture)', async () => {
    expect(readOnnxMetadata(readFileSync(FIXTURE)).props.has('self_check')).toBe(false);
    expect((await loadModelInfo(FIXTURE)).version).toBe('fixture-1');
  });
});

describe('compareSelfCheck()', () => {
  const K = 3;
  const check = (expected: number[][], tolerance = 0.05): SelfCheck => ({
    rows: new Float32Array(expected.length * 2),
    n: expected.length,
    expected: Float64Array.from(expected.flat()),
    tolerance,
    runtime: 'test',
  });

  it('fails a row that deviates beyond the tolerance and names the largest deviation', () => {
    const c = check([[0.9, 0.05, 0.05], [0.1, 0.8, 0.1]]);
    const r = compareSelfCheck([0.9, 0.05, 0.05, 0.1, 0.7, 0.2], c, K);
    expect(r.failed).toEqual([1]);
    expect(r.worst.row).toBe(1);
    expect(r.worst.dev).toBeCloseTo(0.1, 6);
  });

  it('lets a top class swap with a runner-up that the reference had within the tolerance, not one further away', () => {
    const near = check([[0.48, 0.46, 0.06]]);
    expect(compareSelfCheck([0.46, 0.48, 0.06], near, K).failed).toEqual([]);
    const far = check([[0.5, 0.44, 0.06]], 0.05);
    // every probability within 0.05, but the reference's top two were 0.06 apart
    expect(compareSelfCheck([0.46, 0.48, 0.06], far, K)).toMatchObject({ failed: [0], topChanged: 1 });
  });

  it('fails NaN outputs', () => {
    const r = compareSelfCheck([Number.NaN, 0.5, 0.5], check([[0.2, 0.4, 0.4]]), K);
    expect(r.failed).toEqual([0]);
    expect(r.worst.dev).toBe(1);
  });

  it('catches a fault in every 32nd row of a batch (round perf38: onnxruntime-node 1.24.x)', () => {
    const e = entry();
    const props = readOnnxMetadata(bundled).props;
    const L = Number(props.get('sequence_length'));
    const Kb = (JSON.parse(props.get('classes')!) as string[]).length;
    const c = parseSelfCheck(JSON.stringify(e), L, Kb, (w) => new Error(w))!;
    const got = Float32Array.from(e.expected.flat());
    for (let row = 31; row < c.n; row += 32) {
      // another distribution for that row: the reference's rotated one class along
      const p = e.expected[row]!;
      for (let k = 0; k < Kb; k++) got[row * Kb + k] = p[(k + 1) % Kb]!;
    }
    expect(compareSelfCheck(got, c, Kb).failed).toEqual([31, 63, 95].filter((r) => r < c.n));
  });
});
