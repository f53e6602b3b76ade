import { PacketMeta, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from '../decode/packetMeta';
import { CloseQueue } from './closeQueue';
import { Ep, Fl, Role } from './flow';
import { END_REASONS, EndReason, FlowRecord } from './flowRecord';
import { B, D, H, HISTORY_MAX, HOT_DIR_BITS, Shift, W } from './flowLayout';
import { FlowStore, MAX_SLOTS, warmUpFlowStore } from './flowStore';
import type { PayloadInspector } from './payloadInspector';
import { slotRecord } from './slotRecord';
import { Hist, HISTORY_LOWER, HISTORY_UPPER, historyBits, newPeer, newState, TRANSITIONS, transitionIndex } from './tcpTransitions';

export interface FlowTableOptions {
  /** Capture file or interface name recorded with flows that start from now on. */
  source: string;
  /** Sequence length L (the model's); records carry exactly L entries, zero padded. */
  length: number;
  /** SPEC.md retransmission rule: skip payload segments whose sequence number is not after the highest counted. */
  skipRetransmissions: boolean;
  /** Seconds without a packet after which a flow ends `idle`. */
  idleTimeout: number;
  /** Seconds after which a long flow writes an interim `active` record (and keeps going). */
  activeTimeout: number;
  /** Seconds a flow closed by FIN both ways or RST lingers for its last ACKs before it is written. */
  finGrace: number;
  /** Most flows tracked at once; at the limit the least recently seen flow is written `evicted`. */
  maxFlows: number;
}

export const DEFAULT_FLOW_OPTIONS: Omit<FlowTableOptions, 'source'> = {
  length: 30,
  skipRetransmissions: true,
  idleTimeout: 120,
  activeTimeout: 1800,
  finGrace: 5,
  maxFlows: 1_000_000,
};

export interface FlowTableStats {
  packets: number;
  flowsCreated: number;
  ended: Record<EndReason, number>;
  /** Payload segments skipped by the retransmission rule, all flows. */
  retransSkipped: number;
  /**
   * Flows ended by a flush that sheds flows without payload: no record was made for them (a shutdown with a table
   * full of a flood, short of time). They are counted in `ended` too.
   */
  shed: number;
}

/** How often (in table-clock seconds) the idle and grace timers are checked while packets flow. */
const SWEEP_INTERVAL = 1;

/**
 * A flow moves to the tail of the recency list only when its newest timestamp is at least this many seconds
 * past its last move. Moving touches two neighbours' records (random memory, a cache miss each with many
 * flows), and doing it on every packet was a large part of the per-packet cost; a busy flow now moves about
 * once a second. The list order is thus "least recently moved", and every flow's last-seen time is less than
 * this bound after its move time. Idle expiry stays exact because the sweep checks the true last-seen time of
 * each flow it looks at (see sweep()); eviction at the table limit takes the head, which is the least recently
 * seen flow to within this bound.
 */
const RECENCY_MOVE_INTERVAL = 1;

/**
 * A flow's deadline (D.Deadline) is the earlier of its next recency move and its active timeout, brought this
 * many seconds early for the active timeout so that floating-point rounding of "start + timeout" can never
 * skip the exact test, which timers() makes. Packets in this last millisecond only cost a call each.
 */
const ACTIVE_DEADLINE_MARGIN = 1e-3;

/** Largest sequence length the slot layout counts (a 16-bit entry counter). */
const MAX_LENGTH = 0xffff;


/**
 * Follows every TCP connection: canonical 5-tuple + VLAN key, client decision, the signed payload-length
 * sequence, Zeek-style state, and every SPEC.md end reason. Finished flows are handed to `emit` as FlowRecords.
 *
 * Time is traffic time: the table clock is the newest packet timestamp seen (offline), or whatever `advance()`
 * is given (live mode passes the wall clock so idle flows end even when no packet arrives).
 *
 * Flows live in the slots of a FlowStore (typed arrays, see flowStore.ts): per packet nothing is allocated.
 * packet() keeps the per-packet work inline and calls out for what happens once per flow or once per timer
 * (open(), timers()). `emit` must not call back into the table (records are handed over mid-sweep).
 */
export class FlowTable {
  readonly opts: FlowTableOptions;
  readonly stats: FlowTableStats;
  private readonly emit: (rec: FlowRecord) => void;
  /** The flows. Read by the offline fast path (src/fastpath/fastPath.ts), which registers its arrays natively. */
  readonly store: FlowStore;
  /** Flows at most (opts.maxFlows, within what the store can address). */
  private readonly limit: number;
  /** Closed flows waiting out the grace period, in close order. */
  private readonly closing = new CloseQueue();
  /**
   * The table clock and when the timers next run. Written by packet(), advance() and sweep(), and by the offline
   * fast path (src/fastpath/fastPath.ts) for the packets it takes (those never reach nextSweep); nothing else.
   */
  clock = -Infinity;
  nextSweep = -Infinity;
  /**
   * Flows the timers (idle, FIN/RST grace) may still end before the owner calls allowEnds() again. Unlimited by
   * default; the pipeline hands out a budget per input window so that a clock jump that makes a million flows idle
   * at once cannot queue a million records in one go (README "Reliability": bounded queues).
   */
  private endBudget = Infinity;
  private timersBehind = false;
  /** Source names; a flow keeps the index of the one current when it started. */
  private readonly sources: string[] = [];
  private sourceIndex = 0;
  /** History letter codes by bit number, for the client (upper) and server (lower) side. */
  private readonly upperCodes = codes(HISTORY_UPPER);
  private readonly lowerCodes = codes(HISTORY_LOWER);
  /** Learn mode's labeller, or null; `inspectPackets` is 0 without one, so packet() never calls it. */
  private readonly inspector: PayloadInspector | null;
  /** Payload packets per flow the inspector sees; the fast path only runs where this is 0. */
  readonly inspectPackets: number;

  constructor(opts: FlowTableOptions, emit: (rec: FlowRecord) => void, inspector: PayloadInspector | null = null) {
    if (!Number.isInteger(opts.length) || opts.length < 0 || opts.length > MAX_LENGTH) {
      throw new RangeError(`flow table: sequence length ${opts.length} must be an integer from 0 to ${MAX_LENGTH}`);
    }
    if (!warmedUp) warmUpFlowTable(opts);
    this.opts = opts;
    this.emit = emit;
    this.inspector = inspector;
    this.inspectPackets = inspector === null ? 0 : Math.min(inspector.packets, opts.length);
    this.limit = Math.max(1, Math.min(opts.maxFlows, MAX_SLOTS));
    this.store = new FlowStore(opts.length, this.limit);
    this.setSource(opts.source);
    const ended = {} as Record<EndReason, number>;
    for (const r of END_REASONS) ended[r] = 0;
    this.stats = { packets: 0, flowsCreated: 0, ended, retransSkipped: 0, shed: 0 };
  }

  /** Flows currently tracked. */
  get size(): number {
    return this.store.count;
  }

  /**
   * True when the idle or grace timers stopped at the end budget with more flows due: the owner should let the
   * records drain, then call allowEnds() (the next packet or advance() carries on where the sweep stopped).
   */
  get behind(): boolean {
    return this.timersBehind;
  }

  /** Lets the timers end up to `n` more flows (Infinity: no limit) before they wait for the next allowEnds(). */
  allowEnds(n: number): void {
    this.endBudget = n;
  }

  /** Source name for flows created from now on (next capture file of a rotated set). */
  setSource(source: string): void {
    let i = this.sources.indexOf(source);
    if (i === -1) i = this.sources.push(source) - 1;
    this.sourceIndex = i;
  }

  /**
   * One decoded TCP segment.
   *
   * Mirrored in C++ by native/fastpath/fast_path.cc (Walk) for the common packet of an offline pcap file (an existing
   * flow that is not idle, no sweep due, nothing closed, no active timeout due; new history letters, addHistory(), and
   * timers()' recency move and next deadline included): a change here, in addHistory(), timers(), setDeadline() or
   * FlowStore.moveToTail() must be made there too, or the fast path's conditions extended so that the changed case goes
   * to JavaScript (test/fastpath checks that both paths give the same records).
   */
  packet(p: PacketMeta): void {
    const ts = p.ts;
    this.stats.packets++;
    if (ts > this.clock) this.clock = ts;
    if (this.clock >= this.nextSweep) this.sweep();

    // Canonical order: A = the lesser (address words, then port), as Community ID orders them.
    const src = p.src;
    const dst = p.dst;
    let cmp = 0;
    for (let i = 0; i < 4 && cmp === 0; i++) {
      const x = src[i]!;
      const y = dst[i]!;
      if (x !== y) cmp = x < y ? -1 : 1;
    }
    if (cmp === 0) cmp = p.srcPort < p.dstPort ? -1 : p.srcPort > p.dstPort ? 1 : 0;
    const srcIsA = cmp <= 0;
    const A = srcIsA ? src : dst;
    const Bw = srcIsA ? dst : src;
    const st = this.store;
    const key = st.key;
    const k0 = (p.ipVersion << 16) | (p.vlan & 0xffff);
    const a0 = A[0]!;
    const a1 = A[1]!;
    const a2 = A[2]!;
    const a3 = A[3]!;
    const b0 = Bw[0]!;
    const b1 = Bw[1]!;
    const b2 = Bw[2]!;
    const b3 = Bw[3]!;
    const k9 = srcIsA ? (p.srcPort << 16) | p.dstPort : (p.dstPort << 16) | p.srcPort;
    key[0] = k0;
    key[1] = a0;
    key[2] = a1;
    key[3] = a2;
    key[4] = a3;
    key[5] = b0;
    key[6] = b1;
    key[7] = b2;
    key[8] = b3;
    key[9] = k9;
    // flowKeyHash(key, 0) (flowKey.ts) written out on the words in hand: V8 did not inline the call here, and it took
    // ~27 ms of a one-core run's profile, reading back the ten words just written (round perf16). Math.imul takes
    // both the Uint32 words here and the Int32 ones flowKeyHash() reads as the same 32 bits, so the hashes are equal
    // (the index rehashes with flowKeyHash(); test/flow/flowTableSlots.test.ts checks both agree).
    let h =
      Math.imul(k0, 0x9e3779b1) ^ Math.imul(a0, 0x85ebca77) ^ Math.imul(a1, 0xc2b2ae3d) ^ Math.imul(a2, 0x27d4eb2f) ^
      Math.imul(a3, 0x165667b1) ^ Math.imul(b0, 0xd3a2646d) ^ Math.imul(b1, 0xfd7046c5) ^ Math.imul(b2, 0xb55a4f09) ^
      Math.imul(b3, 0x7feb352d) ^ Math.imul(k9, 0x846ca68b);
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    let s = st.find(h);

    const flags = p.flags;
    const pureSyn = (flags & (TCP_SYN | TCP_ACK)) === TCP_SYN;
    // A new key, an idle flow, or a SYN for a closed flow (SPEC.md: port reuse) opens a flow.
    if (
      s === -1 ||
      ts - st.f64[(s << Shift.F64) + D.LastTs]! > this.opts.idleTimeout ||
      (pureSyn && (st.u8[(s << Shift.U8) + B.Flags]! & Fl.Closed) !== 0)
    ) {
      s = this.open(s, h, p, srcIsA, flags);
    }
    // Loaded only now: open() may have grown the store.
    const f64 = st.f64;
    const u32 = st.u32;
    const u8 = st.u8;
    const d = s << Shift.F64;
    const w = s << Shift.W32;
    const b = s << Shift.U8;
    if (ts > f64[d + D.LastTs]!) f64[d + D.LastTs] = ts;

    // Client decision (SPEC.md): the sender of a SYN without ACK; else the receiver of a SYN+ACK.
    let fl = u8[b + B.Flags]!;
    if ((flags & TCP_SYN) !== 0) {
      const role = u8[b + B.Role]!;
      if (pureSyn) {
        if (role !== Role.Syn) {
          fl = srcIsA ? fl | Fl.ClientIsA : fl & ~Fl.ClientIsA;
          u8[b + B.Role] = Role.Syn;
        }
      } else if (role === Role.FirstPacket) {
        fl = srcIsA ? fl & ~Fl.ClientIsA : fl | Fl.ClientIsA;
        u8[b + B.Role] = Role.SynAck;
      }
    }
    const c2s = srcIsA === ((fl & Fl.ClientIsA) !== 0);
    const len = p.payloadLen;

    // Counters per sending endpoint (packets saturate at 2^32 - 1).
    const pk = w + (srcIsA ? W.PktsA : W.PktsB);
    const n = u32[pk]! + 1;
    u32[pk] = n > 0xffffffff ? 0xffffffff : n;
    const by = d + (srcIsA ? D.BytesA : D.BytesB);
    f64[by] = f64[by]! + p.ipLen;
    const pay = d + (srcIsA ? D.PayA : D.PayB);
    f64[pay] = f64[pay]! + len;

    let hist = 0;
    if (len > 0) {
      const hasHi = srcIsA ? Fl.HasHiA : Fl.HasHiB;
      const hiAt = w + (srcIsA ? W.HiSeqA : W.HiSeqB);
      // Whether p.seq is after the highest counted, modulo 2^32 (RFC 1982 serial arithmetic, as the oracle does):
      // (a - b) >>> 0 neither 0 nor 2^31 or more. Written out, not a function: a call V8 does not inline (packet()
      // used up its inlining budget) takes its two 32-bit numbers as heap objects, an allocation per payload segment.
      const dseq = (p.seq - u32[hiAt]!) >>> 0;
      if (this.opts.skipRetransmissions && (fl & hasHi) !== 0 && !(dseq !== 0 && dseq < 0x80000000)) {
        const r = u32[w + W.Retrans]! + 1;
        u32[w + W.Retrans] = r > 0xffffffff ? 0xffffffff : r;
        this.stats.retransSkipped++;
        hist |= Hist.Retx;
      } else {
        u32[hiAt] = p.seq;
        fl |= hasHi;
        const ci = (s << Shift.U16) + H.SeqCount;
        const count = st.u16[ci]!;
        if (count < st.seqLength) {
          st.seq[s * st.seqLength + count] = len;
          if (!c2s) {
            if (count < HOT_DIR_BITS) {
              u32[w + W.Dir] = u32[w + W.Dir]! | (1 << count);
            } else {
              const db = s * st.seqDirBytes + ((count - HOT_DIR_BITS) >> 3);
              st.seqDir[db] = st.seqDir[db]! | (1 << ((count - HOT_DIR_BITS) & 7));
            }
          }
          st.u16[ci] = count + 1;
          if (count < this.inspectPackets) this.inspector!.payload(s, count, c2s, p);
        }
      }
    }

    // Zeek-style endpoint states and history (tcpTransitions.ts), FIN bits, and closing on FIN both ways or RST.
    const stAt = b + (srcIsA ? B.StateA : B.StateB);
    const peerAt = b + (srcIsA ? B.StateB : B.StateA);
    const state = u8[stAt]!;
    const peer = u8[peerAt]!;
    const tr = TRANSITIONS[transitionIndex(flags, len > 0, state, peer)]!;
    u8[stAt] = newState(tr);
    u8[peerAt] = newPeer(tr);
    hist |= historyBits(tr);
    // Zeek's update_window(): a zero window counts unless it comes with or after the sender's RST, or after the
    // peer's FIN (the states before this segment).
    if (p.window === 0 && (flags & TCP_RST) === 0 && peer !== Ep.Closed && state < Ep.Reset) hist |= Hist.ZeroWin;
    fl |= (flags & TCP_FIN) === 0 ? 0 : srcIsA ? Fl.FinA : Fl.FinB;
    const rst = (flags & TCP_RST) !== 0;
    if ((fl & Fl.Closed) === 0 && (rst || (fl & (Fl.FinA | Fl.FinB)) === (Fl.FinA | Fl.FinB))) {
      fl |= rst ? Fl.Closed | Fl.ClosedByRst : Fl.Closed;
      st.closeClock[s] = this.clock;
      this.closing.push(s, st.gen[s]!);
    }
    u8[b + B.Flags] = fl;
    const hb = b + (srcIsA ? B.HistA : B.HistB);
    const fresh = hist & ~u8[hb]!;
    if (fresh !== 0) {
      u8[hb] = u8[hb]! | fresh;
      this.addHistory(s, c2s, fresh);
    }

    if (ts >= f64[d + D.Deadline]!) this.timers(s, p);
  }

  /** Advance the table clock (live mode: wall clock) and end the flows whose timers ran out. */
  advance(now: number): void {
    if (now > this.clock) this.clock = now;
    this.sweep();
  }

  /**
   * Writes open flows with the given reason (end of a capture file, or shutdown), least recently seen first, at
   * most `max` of them (so a caller can let the records drain between steps); returns how many are still open.
   * A flow that already closed (FIN both ways or RST) and was only waiting out its grace period keeps its real
   * reason, `fin` or `rst`. `shed` ends flows without a record (counted in stats.shed): `no-payload` those without
   * a sequence entry, `all` every one; a shutdown short of time keeps the flows worth its remaining seconds and
   * then finishes before the service manager kills it.
   */
  flush(reason: 'eof' | 'shutdown', max = Infinity, shed: 'none' | 'no-payload' | 'all' = 'none'): number {
    const st = this.store;
    for (let n = 0; st.head !== -1 && n < max; n++) {
      const s = st.head;
      const why = this.closedReason(s) ?? reason;
      if (shed === 'all' || (shed === 'no-payload' && st.u16[(s << Shift.U16) + H.SeqCount] === 0)) {
        st.remove(s);
        this.stats.ended[why]++;
        this.stats.shed++;
      } else this.end(s, why);
    }
    if (st.head === -1) {
      this.closing.clear();
      this.timersBehind = false;
    }
    return st.count;
  }

  /**
   * A new flow for the packet's key (in the store's scratch key, hash h). `old` is the flow found for the key,
   * if any: it ends first, with its `fin` or `rst` when it had closed, else `idle` (the packet came after the
   * idle timeout). At the table limit the least recently moved flow is evicted.
   *
   * It takes the packet, not its timestamp: given `ts` (a double), packet()'s optimized code boxed it into a new
   * heap number on every packet, not only on the rare ones that call open() (16 bytes a packet, 16 MB a run of the
   * 1M bench capture); timers() likewise.
   */
  private open(old: number, h: number, p: PacketMeta, srcIsA: boolean, flags: number): number {
    const ts = p.ts;
    const st = this.store;
    if (old !== -1) {
      // Closed flows keep `fin` / `rst` even when the packet comes after the idle timeout.
      this.end(old, this.closedReason(old) ?? 'idle');
    }
    if (st.count >= this.limit && st.head !== -1) this.end(st.head, 'evicted');
    const s = st.create(h);
    st.f64[(s << Shift.F64) + D.LastTs] = ts;
    st.firstTs[s] = ts;
    st.lastMove[s] = ts;
    st.activeStart[s] = ts;
    st.source[s] = this.sourceIndex;
    // Until a SYN decides it, the sender of the first packet is the client.
    st.u8[(s << Shift.U8) + B.Flags] = (srcIsA ? Fl.ClientIsA : 0) | ((flags & TCP_SYN) === 0 ? Fl.Midstream : 0);
    this.setDeadline(s);
    this.stats.flowsCreated++;
    if (this.inspector !== null) this.inspector.open(s);
    return s;
  }

  /**
   * Called when a packet's timestamp reaches the flow's deadline: moves the flow to the tail of the recency
   * list once RECENCY_MOVE_INTERVAL has passed since its last move, and writes the interim `active` record
   * when the flow has lasted the active timeout (then it keeps its roles and its sequence).
   */
  private timers(s: number, p: PacketMeta): void {
    const ts = p.ts;
    const st = this.store;
    const last = st.f64[(s << Shift.F64) + D.LastTs]!;
    if (last - st.lastMove[s]! >= RECENCY_MOVE_INTERVAL) {
      st.lastMove[s] = last;
      st.moveToTail(s);
    }
    if (ts - st.activeStart[s]! >= this.opts.activeTimeout) {
      st.activeStart[s] = ts;
      this.stats.ended.active++;
      this.emit(this.record(s, 'active'));
    }
    this.setDeadline(s);
  }

  private setDeadline(s: number): void {
    const st = this.store;
    st.f64[(s << Shift.F64) + D.Deadline] = Math.min(
      st.lastMove[s]! + RECENCY_MOVE_INTERVAL,
      st.activeStart[s]! + this.opts.activeTimeout - ACTIVE_DEADLINE_MARGIN,
    );
  }

  /** Appends the letters for the new history bits, in bit order, as the client's or the server's. */
  private addHistory(s: number, c2s: boolean, bits: number): void {
    const st = this.store;
    const letters = c2s ? this.upperCodes : this.lowerCodes;
    const at = s * HISTORY_MAX;
    let n = st.histCount[s]!;
    // The set bits only, lowest first (a packet mostly brings one new letter): b & -b is the lowest set bit.
    for (let b = bits; b !== 0; b &= b - 1) st.histLetters[at + n++] = letters[31 - Math.clz32(b & -b)]!;
    st.histCount[s] = n;
  }

  /** `rst` or `fin` for a flow that closed, null for one that did not. */
  private closedReason(s: number): 'rst' | 'fin' | null {
    const fl = this.store.u8[(s << Shift.U8) + B.Flags]!;
    if ((fl & Fl.Closed) === 0) return null;
    return (fl & Fl.ClosedByRst) !== 0 ? 'rst' : 'fin';
  }

  private sweep(): void {
    const now = this.clock;
    this.nextSweep = now + SWEEP_INTERVAL;
    this.timersBehind = false;
    let budget = this.endBudget;
    const st = this.store;
    const idle = this.opts.idleTimeout;
    // The list is in order of move time, and a flow's move time is at most its last-seen time, so every idle
    // flow is in the prefix of flows whose move time looks idle. Walk that prefix and end the flows whose true
    // last-seen time is idle: exactly the flows with no packet for the idle timeout. The others stay in place
    // (moving one to the tail with its older last-seen time would break the order and hide flows behind it);
    // each was seen less than RECENCY_MOVE_INTERVAL after its last move, so it turns idle (or gets a packet
    // that moves it) within that interval and is walked over at most a couple of times.
    // With the end budget spent, the sweep stops where it is and runs again at the next packet (or advance())
    // after allowEnds(): nothing due is skipped, it is only written a little later.
    for (let s = st.head; s !== -1; ) {
      if (!(now - st.lastMove[s]! > idle)) break;
      const nx = st.next(s);
      // A flow that closed (FIN both ways, RST) keeps its real reason when the idle timer reaches it before its
      // grace ran out, as after a gap in a capture longer than the idle timeout.
      if (now - st.f64[(s << Shift.F64) + D.LastTs]! > idle) {
        if (budget <= 0) return this.stopSweep(budget);
        this.end(s, this.closedReason(s) ?? 'idle');
        budget--;
      }
      s = nx;
    }
    const grace = this.opts.finGrace;
    const q = this.closing;
    while (q.length > 0) {
      const s = q.peekSlot();
      const live = st.gen[s] === q.peekGen();
      if (live && now - st.closeClock[s]! <= grace) break;
      if (live && budget <= 0) return this.stopSweep(budget);
      q.shift();
      if (live) {
        this.end(s, this.closedReason(s)!);
        budget--;
      }
    }
    this.endBudget = budget;
  }

  /** The sweep ran out of end budget with flows still due: sweep again as soon as the budget is refilled. */
  private stopSweep(budget: number): void {
    this.endBudget = budget;
    this.timersBehind = true;
    this.nextSweep = -Infinity;
  }

  /** Writes the flow in slot s and frees the slot. */
  private end(s: number, reason: EndReason): void {
    const rec = this.record(s, reason);
    this.store.remove(s);
    this.stats.ended[reason]++;
    this.emit(rec);
  }

  private record(s: number, reason: EndReason): FlowRecord {
    const rec = slotRecord(this.store, s, this.sources[this.store.source[s]!]!, reason);
    if (this.inspector !== null) this.inspector.record(s, rec, reason !== 'active');
    return rec;
  }
}

/** Char codes of a string, for the history letters. */
function codes(letters: string): Uint8Array {
  const out = new Uint8Array(letters.length);
  for (let i = 0; i < letters.length; i++) out[i] = letters.charCodeAt(i);
  return out;
}

/** Whether warmUp() ran in this thread. */
let warmedUp = false;

/**
 * Runs a few connections through a throwaway table once per thread, before the first real table sees a packet, so
 * that every branch of packet() and of what it calls per flow has run once (V8's type feedback) before V8's optimizing
 * compiler compiles them. Otherwise the compiler compiles packet() early, from the first packets of a capture (often
 * only handshakes), and throws the code away at the first payload segment, the first FIN and the first flow ended by
 * the timers ("insufficient type feedback"): each time the function runs unoptimized until it is compiled again, and
 * each compile is ~15 ms of CPU on a V8 thread (a run of the 1M bench capture compiled packet() four times). Nothing of
 * it is kept: the table and its records are dropped; its counters are returned (for the tests: every end reason ran).
 */
export function warmUpFlowTable(like: FlowTableOptions): FlowTableStats {
  warmedUp = true;
  const t = new FlowTable({ ...like, source: 'warm-up', maxFlows: 3, idleTimeout: 30, activeTimeout: 20, finGrace: 1 }, () => {});
  const p = new PacketMeta();
  let ts = 1e9 + 0.5;
  // Client 10.0.0.2:40000 (above the server in canonical order for one flow, below for the other).
  const seg = (v6: boolean, fromClient: boolean, clientPort: number, flags: number, seq: number, len: number, window = 1024): void => {
    p.ts = ts;
    ts += 0.25;
    p.ipVersion = v6 ? 6 : 4;
    p.vlan = v6 ? 7 : 0;
    const c = fromClient ? p.src : p.dst;
    const s = fromClient ? p.dst : p.src;
    c.fill(0);
    s.fill(0);
    c[0] = 0x0a000002;
    s[0] = clientPort < 1000 ? 0x0a000001 : 0x0a000003;
    if (v6) c[3] = s[3] = 0x20010db8;
    p.srcPort = fromClient ? clientPort : 80;
    p.dstPort = fromClient ? 80 : clientPort;
    p.seq = seq >>> 0;
    p.ack = 0;
    p.flags = flags;
    p.window = window;
    p.payloadLen = len;
    p.ipLen = len + 40;
    t.packet(p);
  };
  const A = TCP_ACK;
  for (const v6 of [false, true]) {
    for (const port of [40000, 999]) {
      // In the last round (the sweep has its type feedback by then), the timers run out of end budget, for the grace
      // timer and then the idle timer: the sweep's two early exits.
      const budgeted = v6 && port === 999;
      // Handshake, payload both ways, a retransmission, a zero window, FIN both ways and the last ACK.
      seg(v6, true, port, TCP_SYN, 0xfffffff0, 0);
      seg(v6, false, port, TCP_SYN | A, 100, 0);
      seg(v6, true, port, A, 0xfffffff1, 0);
      seg(v6, true, port, A | TCP_PSH, 0xfffffff1, 100);
      seg(v6, false, port, A | TCP_PSH, 101, 1448);
      seg(v6, true, port, A | TCP_PSH, 0xfffffff1, 100);
      seg(v6, false, port, A, 1549, 0, 0);
      seg(v6, true, port, A | TCP_FIN, 0x55, 0);
      seg(v6, false, port, A | TCP_FIN, 1549, 0);
      seg(v6, true, port, A, 0x56, 0);
      // A SYN+ACK first (the SYN missed), then a reset.
      seg(v6, false, port + 1, TCP_SYN | A, 7, 0);
      seg(v6, true, port + 1, A, 8, 10);
      seg(v6, false, port + 1, TCP_RST, 8, 0);
      // Midstream payload on a long flow: the recency move, the active timeout, the idle timeout, the table limit.
      if (budgeted) t.allowEnds(0);
      for (let i = 0; i < 12; i++) seg(v6, i % 2 === 0, port + 2, A | TCP_PSH, 1000 + i * 10, 10);
      t.allowEnds(Infinity);
      ts += 25;
      seg(v6, true, port + 2, A | TCP_PSH, 2000, 10);
      ts += 40;
      if (budgeted) t.allowEnds(0);
      seg(v6, true, port + 3, TCP_SYN, 1, 0);
      t.allowEnds(Infinity);
      seg(v6, true, port + 4, TCP_SYN, 1, 0);
      seg(v6, true, port + 5, TCP_SYN, 1, 0);
      seg(v6, true, port + 6, TCP_SYN, 1, 0);
      // A SYN reusing the port of a closed flow.
      seg(v6, true, port + 1, TCP_SYN, 99, 0);
    }
  }
  t.advance(ts + 100);
  seg(false, true, 50000, A | TCP_PSH, 5, 10);
  t.flush('eof');
  // The flush in steps, as the pipeline makes it (FLUSH_STEP flows at a time), with each way of shedding: called once,
  // flush() had no type feedback when the end of a capture first ran it in steps.
  const t2 = new FlowTable({ ...like, source: 'warm-up', maxFlows: 16 }, () => {});
  for (let i = 0; i < 12; i++) {
    p.ts = ts;
    ts += 0.25;
    p.src[0] = 0x0a000002;
    p.dst[0] = 0x0a000001;
    p.srcPort = 41000 + i;
    p.flags = i % 3 === 0 ? TCP_SYN : A | TCP_PSH;
    p.payloadLen = i % 3 === 0 ? 0 : 10;
    t2.packet(p);
  }
  t2.flush('shutdown', 2, 'no-payload');
  t2.flush('shutdown', 1, 'all');
  while (t2.flush('eof', 1) > 0);
  warmUpFlowStore(like.length);
  const stats = t.stats;
  stats.shed += t2.stats.shed;
  for (const r of END_REASONS) stats.ended[r] += t2.stats.ended[r];
  return stats;
}
