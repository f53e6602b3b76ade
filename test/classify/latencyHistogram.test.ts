import { describe, expect, it } from 'vitest';
import { LatencyHistogram, quantile } from '../../src/metrics/latencyHistogram';

describe('LatencyHistogram', () => {
  it('percentilesMs() is 0 before any observation and follows histogram_quantile() after', async () => {
    const h = new LatencyHistogram('test_latency_seconds', 'test');
    expect(await h.percentilesMs()).toEqual({ p50: 0, p99: 0 });
    // 100 observations: 50 at 3 ms (bucket 2.5-5 ms), 49 at 20 ms (10-25 ms), one at 20 s (past the last bucket).
    for (let i = 0; i < 50; i++) h.observe(0.003);
    for (let i = 0; i < 49; i++) h.observe(0.02);
    h.observe(20);
    expect(await h.count()).toBe(100);
    const { p50, p99 } = await h.percentilesMs();
    // Rank 50 is the last of the 3 ms bucket: its upper bound. Rank 99 is the last of the 10-25 ms bucket.
    expect(p50).toBeCloseTo(5, 6);
    expect(p99).toBeCloseTo(25, 6);
  });

  it('quantile() interpolates inside the bucket and caps at the last finite bound', () => {
    const b = [
      { le: 1, count: 0 },
      { le: 2, count: 10 },
      { le: Infinity, count: 20 },
    ];
    expect(quantile(0.25, b)).toBeCloseTo(1.5, 9);
    expect(quantile(0.9, b)).toBe(2);
    expect(quantile(0.5, [{ le: Infinity, count: 0 }])).toBe(0);
  });
});
