import { describe, expect, it } from 'vitest';
import { ticksToSeconds, tsresolTicksPerSecond } from '../../src/capture/pcapngTime';

/** What the result must be: whole seconds exact, remainder divided once (BigInt reference). */
function reference(ticks: bigint, perSecond: bigint): number {
  return Number(ticks / perSecond) + Number(ticks % perSecond) / Number(perSecond);
}

describe('ticksToSeconds', () => {
  it('matches the exact BigInt split for µs, ns, ms and 2^-n resolutions over the full 64-bit range', () => {
    let x = 0x9e3779b97f4a7c15n;
    for (const perSecond of [1n, 1000n, 1000000n, 1000000000n, 1n << 20n, 1n << 30n, 10000000000n / 10n]) {
      for (let i = 0; i < 2000; i++) {
        x = (x * 6364136223846793005n + 1442695040888963407n) & 0xffffffffffffffffn;
        // Half the samples near present-day timestamps, half anywhere in 64 bits.
        const ticks = i % 2 === 0 ? 1700000000n * perSecond + (x % (100000n * perSecond)) : x;
        const got = ticksToSeconds(Number(ticks >> 32n), Number(ticks & 0xffffffffn), Number(perSecond));
        expect(got).toBe(reference(ticks, perSecond));
      }
    }
  });

  it('gives the same double as classic pcap sec + frac / units', () => {
    expect(ticksToSeconds(Number((1777777777_999999999n >> 32n)), Number(1777777777_999999999n & 0xffffffffn), 1e9)).toBe(1777777777 + 999999999 / 1e9);
    expect(ticksToSeconds(0, 123456, 1e6)).toBe(123456 / 1e6);
  });
});

describe('tsresolTicksPerSecond', () => {
  it('reads a power of 10, or a power of 2 when the top bit is set', () => {
    expect([6, 9, 0, 3].map(tsresolTicksPerSecond)).toEqual([1e6, 1e9, 1, 1e3]);
    expect([0x80 | 10, 0x80 | 20, 0x80].map(tsresolTicksPerSecond)).toEqual([1024, 1048576, 1]);
  });
});
