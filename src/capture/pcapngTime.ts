/**
 * pcapng timestamps: a 64-bit count of ticks (`if_tsresol` ticks per second) split into two 32-bit
 * words, converted to unix seconds as a double without allocating (no BigInt per packet).
 */

/** 2^32, the weight of the high timestamp word. */
const TWO_POW_32 = 4294967296;
/**
 * Below this many ticks per second the long division below is exact: every partial dividend stays
 * under 2^48 and every quotient under 2^16 (or under 2^32 / ticks), far from where a double's
 * rounding could push Math.floor to the next integer. The whole seconds are then exact and the
 * result is rounded once, like the classic pcap `sec + frac / units`: a packet gives the same double
 * in both formats. Finer resolutions (below ~0.23 ns, never seen in practice) use a plain division.
 */
const EXACT_TICKS_LIMIT = 2 ** 32;

/** Below this high word the 64-bit tick count is < 2^53 and so exact as a double. */
const FAST_HIGH_LIMIT = 2 ** 21;

/** Seconds represented by `high * 2^32 + low` ticks of `ticksPerSecond`. */
export function ticksToSeconds(high: number, low: number, ticksPerSecond: number): number {
  if (ticksPerSecond >= EXACT_TICKS_LIMIT) return (high * TWO_POW_32 + low) / ticksPerSecond;
  if (high < FAST_HIGH_LIMIT) {
    // The tick count itself is an exact double (µs timestamps until the year 2255): one division.
    const ticks = high * TWO_POW_32 + low;
    const whole = Math.floor(ticks / ticksPerSecond);
    return whole + (ticks - whole * ticksPerSecond) / ticksPerSecond;
  }
  // Long division in base 2^16: each partial dividend is below ticksPerSecond * 2^16.
  const q1 = Math.floor(high / ticksPerSecond);
  const r1 = high - q1 * ticksPerSecond;
  const d2 = r1 * 65536 + (low >>> 16);
  const q2 = Math.floor(d2 / ticksPerSecond);
  const d3 = (d2 - q2 * ticksPerSecond) * 65536 + (low & 0xffff);
  const q3 = Math.floor(d3 / ticksPerSecond);
  // Whole seconds rounded once (exact below 2^53), then the fraction added once.
  const whole = q1 * TWO_POW_32 + (q2 * 65536 + q3);
  return whole + (d3 - q3 * ticksPerSecond) / ticksPerSecond;
}

/** Ticks per second for an `if_tsresol` option byte: 10^-v, or 2^-(v & 0x7f) when the top bit is set. */
export function tsresolTicksPerSecond(value: number): number {
  return value & 0x80 ? 2 ** (value & 0x7f) : 10 ** value;
}
