import { expect } from 'vitest';

import { ort } from '../../src/classify/ortBinding';

/**
 * Asserts that two anomaly graphs (a plain one and its streamlined rewrite) give bit-identical scores on `n` feature
 * rows `x`, run at each batch size of `batches` (a last partial batch included), and that the scores are real ones: more
 * than `n * minDistinct` distinct values, not a constant.
 */
export async function expectSameScores(a: string, b: string, x: Float32Array, n: number, batches: number[], minDistinct = 0.5): Promise<void> {
  const W = x.length / n;
  const opts = { executionProviders: ['cpu'], graphOptimizationLevel: 'all' as const, intraOpNumThreads: 1 };
  const sa = await ort.InferenceSession.create(a, opts);
  const sb = await ort.InferenceSession.create(b, opts);
  try {
    const seen = new Set<number>();
    for (const batch of batches) {
      let compared = 0;
      for (let i = 0; i < n; i += batch) {
        const rows = Math.min(batch, n - i);
        const feeds = { features: new ort.Tensor('float32', x.slice(i * W, (i + rows) * W), [rows, W]) };
        const ya = (await sa.run(feeds)).score!.data as Float32Array;
        const yb = (await sb.run(feeds)).score!.data as Float32Array;
        expect(Array.from(new Uint32Array(yb.buffer, yb.byteOffset, rows))).toEqual(Array.from(new Uint32Array(ya.buffer, ya.byteOffset, rows)));
        for (const v of ya) seen.add(v);
        compared += rows;
      }
      expect(compared).toBe(n);
    }
    expect(seen.size).toBeGreaterThan(n * minDistinct);
  } finally {
    await sa.release();
    await sb.release();
  }
}
