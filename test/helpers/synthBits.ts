/** Small pieces the synthetic-capture generators of the tests share. */

/** Bytes in an IPv4 header without options. */
export const IPV4_HEADER = 20;

/** xorshift32: a deterministic generator, so every run writes the same file. */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** RFC 791 header checksum of the option-less IPv4 header at `off`. */
export function ipChecksum(b: Buffer, off: number): number {
  let sum = 0;
  for (let i = 0; i < IPV4_HEADER; i += 2) sum += b.readUInt16BE(off + i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}
