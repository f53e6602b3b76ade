import type { Verdict } from './verdict';

/**
 * A model row's answer, shared by every flow with that row: the verdict once the model has answered (null until
 * then). Verdicts are never changed once made (no sink changes one), so one object may serve them all.
 */
export class Answer {
  verdict: Verdict | null = null;
  /** Whether a flow's row went into a batch for it (the first flow with the row; the rest reuse its verdict). */
  placed = false;
  constructor(readonly slot: number) {}
}

/**
 * The answers of recently seen model rows, direct-mapped by a hash of the row: a flow whose input row (the L
 * float32 values the model reads, compared bit for bit) equals one the model has answered, or will answer in a
 * batch submitted before it, gets that answer without a row of its own in a batch.
 *
 * Why: traffic repeats its sequences, and a model call costs ~0.6 ms before its first row. README "Design notes"
 * (round perf48) gives the share of flows answered so in the bench capture and in public captures.
 *
 * What it changes: the bundled int8 model scales each batch's activations by that batch's range, so a row's scores
 * depend slightly on which rows share its batch. With the memo a flow gets the scores its sequence had in the batch
 * that answered it first (while the slot holds it), and batches hold only distinct rows; an offline run stays
 * reproducible, since its batches close only on size. `classify.verdictCache: 0` turns it off.
 *
 * A slot holds the row's bits and hash; a collision only replaces the slot (one more inference later). Memory:
 * slots x (L + 1) x 4 bytes and a pointer (4,096 slots of a 30-length model: ~0.5 MiB).
 */
export class VerdictMemo {
  private readonly mask: number;
  private readonly keys: Int32Array;
  private readonly hashes: Int32Array;
  private readonly answers: (Answer | null)[];

  /** `slots`: a power of two >= 1. */
  constructor(
    slots: number,
    private readonly L: number,
  ) {
    this.mask = slots - 1;
    this.keys = new Int32Array(slots * L);
    this.hashes = new Int32Array(slots);
    this.answers = new Array<Answer | null>(slots).fill(null);
  }

  /** Hash of the row of `bits` (a float32 row's bit patterns, L of them). */
  hash(bits: Int32Array): number {
    const L = this.L;
    let h = 0x811c9dc5 | 0;
    for (let j = 0; j < L; j++) {
      h = Math.imul(h ^ bits[j]!, 0x01000193);
      h ^= h >>> 15;
    }
    return h;
  }

  /** The answer kept for the row `bits` with hash `h`, or null. */
  get(bits: Int32Array, h: number): Answer | null {
    const slot = h & this.mask;
    const a = this.answers[slot]!;
    if (a === null || this.hashes[slot] !== h) return null;
    const keys = this.keys;
    const L = this.L;
    const base = slot * L;
    for (let j = 0; j < L; j++) if (keys[base + j] !== bits[j]) return null;
    return a;
  }

  /** A new answer for the row `bits` with hash `h`, kept in its slot in place of what the slot held. */
  add(bits: Int32Array, h: number): Answer {
    const slot = h & this.mask;
    this.keys.set(bits, slot * this.L);
    this.hashes[slot] = h;
    return (this.answers[slot] = new Answer(slot));
  }

  /** Drops `a` from its slot if the slot still holds it (its batch failed: the next flow with the row is inferred). */
  forget(a: Answer): void {
    if (this.answers[a.slot] === a) this.answers[a.slot] = null;
  }
}

/** Slots of the default memo (`classify.verdictCache`). */
export const DEFAULT_VERDICT_CACHE = 4096;
/** The largest memo (slots); config.ts bounds `classify.verdictCache` by it. */
export const MAX_VERDICT_CACHE = 1 << 20;
/**
 * With the memo on, a batch closes at batchSize model rows or at this many times batchSize flows, whichever comes
 * first: flows answered by the memo take no row, and a model call costs as much for a few rows as for dozens.
 */
export const FLOWS_PER_ROW_BATCH = 8;
