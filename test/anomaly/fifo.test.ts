import { describe, expect, it } from 'vitest';

import { Fifo } from '../../src/anomaly/fifo';

describe('Fifo', () => {
  it('hands entries back oldest first across its compactions, and drops no more than it holds', () => {
    const q = new Fifo<number>();
    let next = 0;
    let expected = 0;
    // Pushes and drops in uneven steps so the array is cut down many times (at 1,024 taken and half of it).
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 700; i++) q.push(next++);
      const n = round % 3 === 0 ? 900 : 400;
      for (let i = 0; i < Math.min(n, q.length); i++) expect(q.at(i)).toBe(expected + i);
      const dropped = Math.min(n, q.length);
      q.drop(n);
      expected += dropped;
      expect(q.length).toBe(next - expected);
      expect(q.at(0)).toBe(q.length > 0 ? expected : undefined);
    }
    q.drop(q.length + 10);
    expect(q.length).toBe(0);
    expect(q.at(0)).toBeUndefined();
    q.push(7);
    expect(q.at(0)).toBe(7);
  });
});
