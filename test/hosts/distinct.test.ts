import { describe, expect, it } from 'vitest';

import { DistinctCounter, EXACT_LIMIT, hash53 } from '../../src/hosts/distinct';

describe('DistinctCounter', () => {
  it('counts exactly up to EXACT_LIMIT distinct values, repeats included', () => {
    const c = new DistinctCounter();
    for (let r = 0; r < 3; r++) for (let i = 0; i < EXACT_LIMIT; i++) c.add(`10.0.0.${i}`);
    expect(c.count()).toBe(EXACT_LIMIT);
    expect(c.isExact).toBe(true);
  });

  it.each([100, 1000, 10_000, 65_535])('estimates %i distinct values within 10%', (n) => {
    const c = new DistinctCounter();
    for (let r = 0; r < 2; r++) for (let i = 0; i < n; i++) c.add(String(i));
    expect(c.isExact).toBe(false);
    expect(Math.abs(c.count() - n) / n).toBeLessThan(0.1);
  });

  it('counts numbers as their decimal text, exactly and in the estimate (server ports)', () => {
    const asText = new DistinctCounter();
    const asNumber = new DistinctCounter<number>();
    for (let i = 0; i < 5000; i++) {
      const port = (i * 7919) % 65536;
      asText.add(String(port));
      asNumber.add(port);
      if (i % 16 === 0 || i === EXACT_LIMIT) {
        expect(asNumber.isExact).toBe(asText.isExact);
        expect(asNumber.count()).toBe(asText.count());
      }
    }
    expect(asNumber.isExact).toBe(false);
  });

  it('hashes to 53 bits, differently for near-identical strings', () => {
    const a = hash53('10.0.0.1');
    expect(Number.isSafeInteger(a) && a >= 0).toBe(true);
    expect(hash53('10.0.0.2')).not.toBe(a);
    expect(hash53('10.0.0.1')).toBe(a);
  });
});

describe('warmUpDistinct()', () => {
  it('takes a counter of texts and one of numbers past the exact limit once per thread', async () => {
    const { warmUpDistinct } = await import('../../src/hosts/distinct');
    const first = warmUpDistinct();
    expect(first[0]).toBeGreaterThan(EXACT_LIMIT);
    expect(first[1]).toBeGreaterThan(EXACT_LIMIT);
    expect(warmUpDistinct()).toEqual([0, 0]);
  });
});
