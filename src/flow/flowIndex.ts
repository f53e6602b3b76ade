import { flowKeyHash } from './flowKey';
import { Shift, W } from './flowLayout';

/** Bits of an index entry that hold slot + 1; the bits above hold a tag (the top bits of the key's hash). */
const SLOT_BITS = 27;
const SLOT_MASK = (1 << SLOT_BITS) - 1;
const TAG_MASK = ~SLOT_MASK;

/** Most slots an index entry can name. */
export const MAX_INDEXED_SLOTS = SLOT_MASK;

/** Hash bits from this one up are an entry's tag (exported for tests that force collisions). */
export const INDEX_TAG_SHIFT = SLOT_BITS;

/**
 * Hash index from flow key to slot: open addressing with linear probing over one Int32 per bucket,
 * `tag | slot + 1` (0 = empty). The tag (the hash's top 5 bits) lets a probe skip 31 of 32 colliding flows
 * without touching their records, so a collision rarely costs a cache miss. One word per bucket keeps the
 * index small: with many flows every lookup lands on a random bucket, and the fewer distinct cache lines
 * the index spans, the more of it stays cached. Buckets are a power of two, doubled when the entries would
 * pass half of them (load <= 0.5); deletion shifts later entries back (no tombstones).
 *
 * The keys live in the flow records: `words` is the store's Int32 view of them (see flowLayout.ts). Hashes
 * are not stored; deletion and rehashing recompute them from the keys.
 */
export class FlowIndex {
  private table: Int32Array;
  /** Buckets - 1. */
  private mask: number;
  private entries = 0;

  constructor(minBuckets: number) {
    let n = 2;
    while (n < minBuckets) n *= 2;
    this.table = new Int32Array(n);
    this.mask = n - 1;
  }

  /** The bucket array itself (replaced by growth): native/fastpath/fast_path.cc probes it like find(). */
  get buckets(): Int32Array {
    return this.table;
  }

  /** Bytes the index uses now. */
  get bytes(): number {
    return this.table.byteLength;
  }

  /** The slot whose key equals `key` (whose hash is h), or -1. Mirrored by native/fastpath/fast_path.cc. */
  find(h: number, key: Int32Array, words: Int32Array): number {
    const t = this.table;
    const mask = this.mask;
    const tag = h & TAG_MASK;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const e = t[i]!;
      if (e === 0) return -1;
      if ((e & TAG_MASK) !== tag) continue;
      const s = (e & SLOT_MASK) - 1;
      // Ports first: the word most likely to differ between flows with the same tag.
      const o = (s << Shift.W32) + W.Key;
      if (
        words[o + 9] === key[9] && words[o + 1] === key[1] && words[o + 5] === key[5] && words[o] === key[0] &&
        words[o + 2] === key[2] && words[o + 3] === key[3] && words[o + 4] === key[4] && words[o + 6] === key[6] &&
        words[o + 7] === key[7] && words[o + 8] === key[8]
      ) return s;
    }
  }

  /** Adds slot s, whose key (already in `words`) hashes to h. */
  insert(s: number, h: number, words: Int32Array): void {
    if (2 * (this.entries + 1) > this.table.length) this.grow(words);
    this.place(s, h);
    this.entries++;
  }

  /** Removes slot s (its key still in `words`). Later entries of the probe run move back into the hole. */
  remove(s: number, words: Int32Array): void {
    const t = this.table;
    const mask = this.mask;
    let i = this.hashOf(s, words) & mask;
    while ((t[i]! & SLOT_MASK) !== s + 1) i = (i + 1) & mask;
    for (let j = (i + 1) & mask; ; j = (j + 1) & mask) {
      const e = t[j]!;
      if (e === 0) break;
      const home = this.hashOf((e & SLOT_MASK) - 1, words) & mask;
      // The entry at j may fill the hole at i unless its home bucket lies cyclically in (i, j].
      const stays = i <= j ? home > i && home <= j : home > i || home <= j;
      if (!stays) {
        t[i] = e;
        i = j;
      }
    }
    t[i] = 0;
    this.entries--;
  }

  private place(s: number, h: number): void {
    const t = this.table;
    const mask = this.mask;
    let i = h & mask;
    while (t[i] !== 0) i = (i + 1) & mask;
    t[i] = (h & TAG_MASK) | (s + 1);
  }

  private hashOf(s: number, words: Int32Array): number {
    return flowKeyHash(words, (s << Shift.W32) + W.Key);
  }

  private grow(words: Int32Array): void {
    const old = this.table;
    this.table = new Int32Array(old.length * 2);
    this.mask = this.table.length - 1;
    for (let i = 0; i < old.length; i++) {
      const e = old[i]!;
      if (e !== 0) this.place((e & SLOT_MASK) - 1, this.hashOf((e & SLOT_MASK) - 1, words));
    }
  }
}
