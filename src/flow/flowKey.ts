/**
 * The flow key as 10 32-bit words, in canonical order (SPEC.md "Flow key"): endpoint A is the lesser (address
 * words, then port), as Community ID orders them, so both directions of a connection give the same key.
 */
export const enum K {
  /** IP version << 16 | outermost VLAN ID (12 bits on the wire, 16 kept). */
  VersionVlan = 0,
  /** Address A, 4 words (IPv4: the first only, the rest 0). */
  AddrA = 1,
  /** Address B, 4 words. */
  AddrB = 5,
  /** Port A << 16 | port B. */
  Ports = 9,
  /** Words in a key. */
  Words = 10,
}

/**
 * 32-bit hash of the key in words[at .. at + 9]: each word times its own odd constant, xored (ten independent
 * multiplies, which the CPU runs in parallel, where a chained hash like FNV waits on each), then MurmurHash3's
 * finalizer so that the low bits (the hash index takes hash & mask) depend on every input bit; linear probing
 * needs that, as nearby addresses and ports would otherwise land in runs of adjacent buckets.
 */
export function flowKeyHash(words: Int32Array, at: number): number {
  let h =
    Math.imul(words[at]!, 0x9e3779b1) ^ Math.imul(words[at + 1]!, 0x85ebca77) ^ Math.imul(words[at + 2]!, 0xc2b2ae3d) ^
    Math.imul(words[at + 3]!, 0x27d4eb2f) ^ Math.imul(words[at + 4]!, 0x165667b1) ^ Math.imul(words[at + 5]!, 0xd3a2646d) ^
    Math.imul(words[at + 6]!, 0xfd7046c5) ^ Math.imul(words[at + 7]!, 0xb55a4f09) ^ Math.imul(words[at + 8]!, 0x7feb352d) ^
    Math.imul(words[at + 9]!, 0x846ca68b);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}
