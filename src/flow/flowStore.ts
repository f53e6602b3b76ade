import { flowKeyHash, K } from './flowKey';
import { FlowIndex, MAX_INDEXED_SLOTS } from './flowIndex';
import { HISTORY_MAX, HOT_DIR_BITS, REC_BYTES, Shift, W } from './flowLayout';

/**
 * Where the flows live: numbered slots in preallocated typed arrays, so the table holds no object per flow
 * (no GC work, no pointer chasing) and a lookup compares typed-array words.
 *
 * Each slot has a 128-byte hot record (flowLayout.ts), two cache lines holding everything packet() reads or
 * writes for an existing flow. The hot records are one ArrayBuffer seen through several views, so a packet
 * touches two cache lines of flow state instead of one per field array; with many flows nearly every packet
 * misses the cache, and the number of lines touched is the cost. Fields used once per flow or once per timer
 * (first timestamp, timers, history letters) and the sequence live in plain per-field arrays.
 *
 * The arrays start at INITIAL_SLOTS and double (up to the table limit) when every slot is in use; freed slots
 * go on a free list and are reused first. A generation counter per slot, bumped when the slot is freed, lets
 * holders of a slot number (the FIN/RST grace queue) tell their flow from a later flow in the same slot.
 * Keys are found through a FlowIndex (flowIndex.ts). The recency list is doubly linked through the records
 * (W.Prev/W.Next), head = least recently moved.
 */

/** Slots allocated by a new table; small enough that a table for a few flows costs little (~1.2 MB). */
export const INITIAL_SLOTS = 4096;

/** Hash index buckets of a new table (load <= 0.5 at INITIAL_SLOTS flows). */
export const INITIAL_INDEX_BUCKETS = 2 * INITIAL_SLOTS;

/** Largest slot count the store will allocate (2^27 - 1, what an index entry can name; ~40 GB of flows). */
export const MAX_SLOTS = MAX_INDEXED_SLOTS;

export class FlowStore {
  /** Scratch key: the caller writes the packet's key here before find() and create(). */
  readonly key = new Int32Array(K.Words);
  /** Entries per flow in the sequence region. */
  readonly seqLength: number;
  /** Bytes of direction bits per slot in seqDir (entries from HOT_DIR_BITS on). */
  readonly seqDirBytes: number;
  /** seqLength zeros: FlowRecord.lengths starts as a copy of it (slotRecord.ts). */
  readonly zeroLengths: number[];
  /** Slots in use. */
  count = 0;
  /** Least / most recently moved flow, -1 when empty. */
  head = -1;
  tail = -1;

  // Hot records (views of one ArrayBuffer) and per-field arrays; all replaced when the store grows.
  f64: Float64Array;
  i32: Int32Array;
  u32: Uint32Array;
  u16: Uint16Array;
  u8: Uint8Array;
  /** First packet timestamp. */
  firstTs: Float64Array;
  /** Start of the current active-timeout interval. */
  activeStart: Float64Array;
  /** D.LastTs when the flow was last moved to the tail of the recency list. */
  lastMove: Float64Array;
  /** Table clock when the flow closed (FIN both ways or RST), for the grace timer. */
  closeClock: Float64Array;
  /** Bumped each time the slot is freed. */
  gen: Uint32Array;
  /** Index into the table's list of source names. */
  source: Int32Array;
  /** History letters (char codes) in order of first appearance, HISTORY_MAX per slot, and how many. */
  histLetters: Uint8Array;
  histCount: Uint8Array;
  /**
   * The payload-length sequence: seqLength lengths per slot (Uint32: exact for every length a 32-bit length
   * field or captured length can give). Each entry has a direction bit, set for server -> client (negative):
   * W.Dir in the hot record for the first HOT_DIR_BITS entries (the default length fits), seqDir (seqDirBytes
   * per slot) for the rest.
   */
  seq: Uint32Array;
  seqDir: Uint8Array;

  private capacity: number;
  private readonly maxSlots: number;
  /** Slots below this have been handed out at least once; slots from here up are fresh. */
  private highWater = 0;
  /** Head of the free list (linked through W.Next), -1 when empty. */
  private freeHead = -1;
  private readonly index: FlowIndex;

  /**
   * @param seqLength entries kept per flow (0..65535)
   * @param maxSlots the most slots ever needed (the table's flow limit); growth stops there
   * @param initialSlots slots allocated now
   */
  constructor(seqLength: number, maxSlots: number, initialSlots = INITIAL_SLOTS) {
    this.seqLength = seqLength;
    this.zeroLengths = new Array<number>(seqLength).fill(0);
    this.seqDirBytes = Math.max(0, (seqLength - HOT_DIR_BITS + 7) >> 3);
    this.maxSlots = Math.max(1, Math.min(maxSlots, MAX_SLOTS));
    const n = Math.max(1, Math.min(initialSlots, this.maxSlots));
    this.capacity = n;
    const buf = new ArrayBuffer(n * REC_BYTES);
    this.f64 = new Float64Array(buf);
    this.i32 = new Int32Array(buf);
    this.u32 = new Uint32Array(buf);
    this.u16 = new Uint16Array(buf);
    this.u8 = new Uint8Array(buf);
    this.firstTs = new Float64Array(n);
    this.activeStart = new Float64Array(n);
    this.lastMove = new Float64Array(n);
    this.closeClock = new Float64Array(n);
    this.gen = new Uint32Array(n);
    this.source = new Int32Array(n);
    this.histLetters = new Uint8Array(n * HISTORY_MAX);
    this.histCount = new Uint8Array(n);
    this.seq = new Uint32Array(n * seqLength);
    this.seqDir = new Uint8Array(n * this.seqDirBytes);
    this.index = new FlowIndex(Math.min(INITIAL_INDEX_BUCKETS, 2 * n));
  }

  /** The index's bucket array (replaced when the index grows), for the offline fast path's probe. */
  get indexTable(): Int32Array {
    return this.index.buckets;
  }

  /** Slots allocated now (grows by doubling). */
  get slots(): number {
    return this.capacity;
  }

  /** The slot whose key equals the scratch key (whose hash is h = flowKeyHash(key, 0)), or -1. */
  find(h: number): number {
    return this.index.find(h, this.key, this.i32);
  }

  /**
   * A new flow with the scratch key (hash h), appended at the tail of the recency list. The hot record, the
   * history and the direction bits are zeroed; the caller sets the rest. The arrays may be replaced (growth):
   * reload any array held in a local after calling this.
   */
  create(h: number): number {
    let s: number;
    if (this.freeHead !== -1) {
      s = this.freeHead;
      this.freeHead = this.i32[(s << Shift.W32) + W.Next]!;
    } else {
      if (this.highWater === this.capacity) this.grow();
      s = this.highWater++;
    }
    this.u8.fill(0, s << Shift.U8, (s + 1) << Shift.U8);
    const w = this.i32;
    const k = this.key;
    const o = (s << Shift.W32) + W.Key;
    for (let i = 0; i < K.Words; i++) w[o + i] = k[i]!;
    this.histCount[s] = 0;
    this.seqDir.fill(0, s * this.seqDirBytes, (s + 1) * this.seqDirBytes);
    this.index.insert(s, h, this.i32);
    this.append(s);
    this.count++;
    return s;
  }

  /** Removes the flow in slot s: out of the index and the recency list, generation bumped, slot freed. */
  remove(s: number): void {
    this.index.remove(s, this.i32);
    this.unlink(s);
    this.gen[s] = (this.gen[s]! + 1) >>> 0;
    this.i32[(s << Shift.W32) + W.Next] = this.freeHead;
    this.freeHead = s;
    this.count--;
  }

  /** Moves slot s to the tail of the recency list (most recent). */
  moveToTail(s: number): void {
    if (s === this.tail) return;
    this.unlink(s);
    this.append(s);
  }

  /** The next slot towards the tail, -1 at the tail. */
  next(s: number): number {
    return this.i32[(s << Shift.W32) + W.Next]!;
  }

  private append(s: number): void {
    const w = this.i32;
    const t = this.tail;
    w[(s << Shift.W32) + W.Prev] = t;
    w[(s << Shift.W32) + W.Next] = -1;
    if (t !== -1) w[(t << Shift.W32) + W.Next] = s;
    else this.head = s;
    this.tail = s;
  }

  private unlink(s: number): void {
    const w = this.i32;
    const pr = w[(s << Shift.W32) + W.Prev]!;
    const nx = w[(s << Shift.W32) + W.Next]!;
    if (pr !== -1) w[(pr << Shift.W32) + W.Next] = nx;
    else this.head = nx;
    if (nx !== -1) w[(nx << Shift.W32) + W.Prev] = pr;
    else this.tail = pr;
  }

  /** Doubles the slot arrays (up to maxSlots); slot numbers stay, so the index and the lists are untouched. */
  private grow(): void {
    const old = this.capacity;
    const n = Math.min(old * 2, this.maxSlots);
    if (n === old) throw new Error(`flow store is full at ${old} slots; the flow table must evict before creating a flow`);
    const buf = new ArrayBuffer(n * REC_BYTES);
    const u8 = new Uint8Array(buf);
    u8.set(this.u8);
    this.f64 = new Float64Array(buf);
    this.i32 = new Int32Array(buf);
    this.u32 = new Uint32Array(buf);
    this.u16 = new Uint16Array(buf);
    this.u8 = u8;
    this.firstTs = grown(this.firstTs, new Float64Array(n));
    this.activeStart = grown(this.activeStart, new Float64Array(n));
    this.lastMove = grown(this.lastMove, new Float64Array(n));
    this.closeClock = grown(this.closeClock, new Float64Array(n));
    this.gen = grown(this.gen, new Uint32Array(n));
    this.source = grown(this.source, new Int32Array(n));
    this.histLetters = grown(this.histLetters, new Uint8Array(n * HISTORY_MAX));
    this.histCount = grown(this.histCount, new Uint8Array(n));
    this.seq = grown(this.seq, new Uint32Array(n * this.seqLength));
    this.seqDir = grown(this.seqDir, new Uint8Array(n * this.seqDirBytes));
    this.capacity = n;
  }
}

/**
 * Runs a throwaway store through growth (of its slot arrays and of its index), removal with the index's backward
 * shift, the free list and the recency moves, once per thread from warmUpFlowTable(): the flow table's warm-up runs
 * at its limit of 3 flows, so V8 compiled create() without feedback for its growth and threw the code away when the
 * first real table first grew (at 4,096 flows), and the index's grow() likewise (round perf16).
 */
export function warmUpFlowStore(seqLength: number): void {
  const st = new FlowStore(seqLength, 64, 1);
  const key = st.key;
  const made: number[] = [];
  for (let i = 0; i < 80; i++) {
    key.fill(0);
    key[0] = 4 << 16;
    key[1] = 0x0a000000 + (i % 64);
    key[9] = (40000 + i) << 16 | 443;
    const h = flowKeyHash(key, 0);
    if (st.find(h) !== -1) continue;
    if (st.count === 64) st.remove(made.shift()!);
    const s = st.create(h);
    made.push(s);
    if (i % 4 === 0) st.moveToTail(made[0]!);
    if (i % 5 === 0) st.remove(made.splice(i % made.length, 1)[0]!);
  }
  for (let s = st.head; s !== -1; s = st.next(s));
}

/** `to` with `from` copied into its start. */
function grown<T extends Float64Array | Int32Array | Uint32Array | Uint8Array>(from: T, to: T): T {
  to.set(from as never);
  return to;
}
