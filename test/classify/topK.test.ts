import { describe, expect, it } from 'vitest';

import { verdictFromRow } from '../../src/classify/topK';

const CLASSES = ['a', 'b', 'c', 'd'];

describe('verdictFromRow()', () => {
  it('reads its row at the offset and keeps the k best, best first', () => {
    const probs = Float32Array.from([0.7, 0.1, 0.1, 0.1, /* row 2: */ 0.1, 0.2, 0.6, 0.1]);
    const v = verdictFromRow(probs, 4, CLASSES, 2, 0.5, 'v1');
    expect(v).toEqual({ label: 'c', confidence: 0.6, topk: [{ label: 'c', p: 0.6 }, { label: 'b', p: 0.2 }], model_version: 'v1', status: 'classified' });
  });

  it('gives each verdict a top-k list of its own, whatever k the next one asks for', () => {
    const a = verdictFromRow(Float32Array.from([0.7, 0.1, 0.15, 0.05]), 0, CLASSES, 3, 0.5, 'v1');
    const b = verdictFromRow(Float32Array.from([0.1, 0.6, 0.2, 0.1]), 0, CLASSES, 3, 0.5, 'v1');
    const c = verdictFromRow(Float32Array.from([0.1, 0.2, 0.3, 0.4]), 0, CLASSES, 1, 0.5, 'v1');
    expect(a.topk).toEqual([{ label: 'a', p: 0.7 }, { label: 'c', p: 0.15 }, { label: 'b', p: 0.1 }]);
    expect(b.topk).toEqual([{ label: 'b', p: 0.6 }, { label: 'c', p: 0.2 }, { label: 'a', p: 0.1 }]);
    expect(c.topk).toEqual([{ label: 'd', p: 0.4 }]);
    expect(a.topk).not.toBe(b.topk);
    expect(JSON.stringify(a.topk)).toBe('[{"label":"a","p":0.7},{"label":"c","p":0.15},{"label":"b","p":0.1}]');
  });

  it('breaks ties by class order and caps k at the number of classes', () => {
    const v = verdictFromRow(Float32Array.from([0.25, 0.25, 0.25, 0.25]), 0, CLASSES, 9, 0.2, 'v1');
    expect(v.topk.map((s) => s.label)).toEqual(['a', 'b', 'c', 'd']);
    expect(v.label).toBe('a');
  });

  it("is 'unknown' below the threshold, and at the threshold it is not", () => {
    const probs = Float32Array.from([0.5, 0.25, 0.125, 0.125]);
    expect(verdictFromRow(probs, 0, CLASSES, 1, 0.51, 'v1').label).toBe('unknown');
    expect(verdictFromRow(probs, 0, CLASSES, 1, 0.5, 'v1').label).toBe('a');
  });

  it("is 'unknown' when the top class is a background class, however probable, and keeps its top-k", () => {
    const probs = Float32Array.from([0.1, 0.8, 0.05, 0.05]);
    const bg = Uint8Array.from([0, 1, 0, 0]);
    const v = verdictFromRow(probs, 0, CLASSES, 2, 0.5, 'v1', bg);
    expect(v.label).toBe('unknown');
    expect(v.confidence).toBeCloseTo(0.8, 6);
    expect(v.topk.map((s) => s.label)).toEqual(['b', 'a']);
    // a background class in second place changes nothing
    expect(verdictFromRow(Float32Array.from([0.8, 0.1, 0.05, 0.05]), 0, CLASSES, 2, 0.5, 'v1', bg).label).toBe('a');
  });

  it('ranks NaN last and never lets it pass the threshold', () => {
    const v = verdictFromRow(Float32Array.from([NaN, 0.3, NaN, 0.2]), 0, CLASSES, 4, 0.1, 'v1');
    expect(v.topk.map((s) => s.label)).toEqual(['b', 'd', 'a', 'c']);
    expect(v.label).toBe('b');
    const all = verdictFromRow(Float32Array.from([NaN, NaN, NaN, NaN]), 0, CLASSES, 1, 0, 'v1');
    expect(all.label).toBe('unknown');
    expect(all.confidence).toBe(0);
  });

  it('rounds probabilities to 6 decimals', () => {
    const v = verdictFromRow(Float32Array.from([0.123456789, 0.876543211, 0, 0]), 0, CLASSES, 2, 0.5, 'v1');
    expect(v.topk).toEqual([{ label: 'b', p: 0.876543 }, { label: 'a', p: 0.123457 }]);
  });
});
