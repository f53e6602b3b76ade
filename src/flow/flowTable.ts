import { formatIp } from '../decode/formatIp';
import { PacketMeta, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../decode/packetMeta';
import { communityId } from './communityId';
import { connState } from './connState';
import {
  EP_CLOSED,
  EP_ESTABLISHED,
  EP_INACTIVE,
  EP_PARTIAL,
  EP_RESET,
  EP_SYN_ACK_SENT,
  EP_SYN_SENT,
  Flow,
  ROLE_FIRST_PACKET,
  ROLE_SYN,
  ROLE_SYN_ACK,
} from './flow';
import { END_REASONS, EndReason, FlowRecord } from './flowRecord';

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
}

// History letters (Zeek): bit per letter, upper case for the client, lower case for the server.
const H_SYN = 1; // S: SYN without ACK
const H_SYNACK = 2; // H: SYN+ACK
const H_ACK = 4; // A: pure ACK
const H_DATA = 8; // D: payload
const H_FIN = 16; // F
const H_RST = 32; // R
const H_RETX = 64; // T: payload segment skipped as a retransmission
const H_ZEROWIN = 128; // W: zero window advertised
const HISTORY_UPPER = 'SHADFRTW';
const HISTORY_LOWER = 'shadfrtw';

/** How often (in table-clock seconds) the idle and grace timers are checked while packets flow. */
const SWEEP_INTERVAL = 1;

/** True when sequence number a is after b, modulo 2^32 (RFC 1982 serial arithmetic, as the oracle does). */
function seqAfter(a: number, b: number): boolean {
  const d = (a - b) >>> 0;
  return d !== 0 && d < 0x80000000;
}

/**
 * Follows every TCP connection: canonical 5-tuple + VLAN key, client decision, the signed payload-length
 * sequence, Zeek-style state, and every SPEC.md end reason. Finished flows are handed to `emit` as FlowRecords.
 *
 * Time is traffic time: the table clock is the newest packet timestamp seen (offline), or whatever `advance()`
 * is given (live mode passes the wall clock so idle flows end even when no packet arrives).
 */
export class FlowTable {
  readonly opts: FlowTableOptions;
  readonly stats: FlowTableStats;
  private readonly emit: (rec: FlowRecord) => void;
  private readonly buckets = new Map<number, Flow>();
  private count = 0;
  private head: Flow | null = null; // least recently seen
  private tail: Flow | null = null; // most recently seen
  /** Closed flows waiting out the grace period, in close order (the clock never goes back, so this is sorted). */
  private closing: Flow[] = [];
  private closingHead = 0;
  private clock = -Infinity;
  private nextSweep = -Infinity;
  private source: string;

  constructor(opts: FlowTableOptions, emit: (rec: FlowRecord) => void) {
    this.opts = opts;
    this.source = opts.source;
    this.emit = emit;
    const ended = {} as Record<EndReason, number>;
    for (const r of END_REASONS) ended[r] = 0;
    this.stats = { packets: 0, flowsCreated: 0, ended, retransSkipped: 0 };
  }

  /** Flows currently tracked. */
  get size(): number {
    return this.count;
  }

  /** Source name for flows created from now on (next capture file of a rotated set). */
  setSource(source: string): void {
    this.source = source;
  }

  /** One decoded TCP segment. */
  packet(p: PacketMeta): void {
    const ts = p.ts;
    this.stats.packets++;
    if (ts > this.clock) this.clock = ts;
    if (this.clock >= this.nextSweep) this.sweep();

    // Canonical order: A = the lesser (address words, then port), as Community ID orders them.
    const s = p.src;
    const d = p.dst;
    let cmp = 0;
    for (let i = 0; i < 4 && cmp === 0; i++) {
      const x = s[i]!;
      const y = d[i]!;
      if (x !== y) cmp = x < y ? -1 : 1;
    }
    if (cmp === 0) cmp = p.srcPort < p.dstPort ? -1 : p.srcPort > p.dstPort ? 1 : 0;
    const srcIsA = cmp <= 0;
    const A = srcIsA ? s : d;
    const B = srcIsA ? d : s;
    const portA = srcIsA ? p.srcPort : p.dstPort;
    const portB = srcIsA ? p.dstPort : p.srcPort;
    const a0 = A[0]! | 0, a1 = A[1]! | 0, a2 = A[2]! | 0, a3 = A[3]! | 0;
    const b0 = B[0]! | 0, b1 = B[1]! | 0, b2 = B[2]! | 0, b3 = B[3]! | 0;

    // FNV-1a style mix over the key words; kept to 31 bits so Map keys stay small integers.
    let h = 0x811c9dc5 ^ p.ipVersion ^ (p.vlan << 8);
    h = Math.imul(h ^ a0, 0x01000193);
    h = Math.imul(h ^ a1, 0x01000193);
    h = Math.imul(h ^ a2, 0x01000193);
    h = Math.imul(h ^ a3, 0x01000193);
    h = Math.imul(h ^ b0, 0x01000193);
    h = Math.imul(h ^ b1, 0x01000193);
    h = Math.imul(h ^ b2, 0x01000193);
    h = Math.imul(h ^ b3, 0x01000193);
    h = Math.imul(h ^ ((portA << 16) | portB), 0x01000193);
    h = (h ^ (h >>> 15)) & 0x7fffffff;

    let f = this.buckets.get(h) ?? null;
    while (f !== null) {
      if (
        f.a0 === a0 && f.b0 === b0 && f.portA === portA && f.portB === portB && f.a1 === a1 && f.a2 === a2 &&
        f.a3 === a3 && f.b1 === b1 && f.b2 === b2 && f.b3 === b3 && f.vlan === p.vlan && f.ipVersion === p.ipVersion
      ) break;
      f = f.nextInBucket;
    }

    const flags = p.flags;
    const pureSyn = (flags & (TCP_SYN | TCP_ACK)) === TCP_SYN;
    if (f !== null) {
      if (ts - f.lastTs > this.opts.idleTimeout) {
        this.end(f, 'idle');
        f = null;
      } else if (f.closed && pureSyn) {
        // SPEC.md: a SYN for a key whose flow has closed starts a new flow (port reuse).
        this.end(f, f.closedByRst ? 'rst' : 'fin');
        f = null;
      }
    }
    if (f === null) {
      if (this.count >= this.opts.maxFlows && this.head !== null) this.end(this.head, 'evicted');
      // Until a SYN decides it, the sender of the first packet is the client.
      f = new Flow(this.source, ts, p.ipVersion, p.vlan, a0, a1, a2, a3, portA, b0, b1, b2, b3, portB, h, srcIsA,
        (flags & TCP_SYN) === 0);
      const first = this.buckets.get(h);
      if (first !== undefined) f.nextInBucket = first;
      this.buckets.set(h, f);
      this.count++;
      this.stats.flowsCreated++;
      // Append at the tail of the recency list.
      f.prev = this.tail;
      if (this.tail !== null) this.tail.next = f;
      else this.head = f;
      this.tail = f;
    } else if (f !== this.tail) {
      // Move to the tail of the recency list.
      const pr = f.prev;
      const nx = f.next;
      if (pr !== null) pr.next = nx;
      else this.head = nx;
      if (nx !== null) nx.prev = pr;
      f.prev = this.tail;
      f.next = null;
      this.tail!.next = f;
      this.tail = f;
    }
    if (ts > f.lastTs) f.lastTs = ts;

    // Client decision (SPEC.md): the sender of a SYN without ACK; else the receiver of a SYN+ACK.
    if ((flags & TCP_SYN) !== 0) {
      if (pureSyn) {
        if (f.roleBy !== ROLE_SYN) {
          f.clientIsA = srcIsA;
          f.roleBy = ROLE_SYN;
        }
      } else if (f.roleBy === ROLE_FIRST_PACKET) {
        f.clientIsA = !srcIsA;
        f.roleBy = ROLE_SYN_ACK;
      }
    }
    const c2s = srcIsA === f.clientIsA;
    const len = p.payloadLen;

    // Counters per sending endpoint.
    if (srcIsA) {
      f.pktsA++;
      f.bytesA += p.ipLen;
      f.payA += len;
    } else {
      f.pktsB++;
      f.bytesB += p.ipLen;
      f.payB += len;
    }

    let hist = 0;
    if (len > 0) {
      hist |= H_DATA;
      const hi = srcIsA ? f.hiSeqA : f.hiSeqB;
      if (this.opts.skipRetransmissions && hi !== -1 && !seqAfter(p.seq, hi)) {
        f.retransSkipped++;
        this.stats.retransSkipped++;
        hist |= H_RETX;
      } else {
        if (srcIsA) f.hiSeqA = p.seq;
        else f.hiSeqB = p.seq;
        if (f.lengths.length < this.opts.length) f.lengths.push(c2s ? len : -len);
      }
    }

    // Zeek-style endpoint states and history.
    let st = srcIsA ? f.stateA : f.stateB;
    const peer = srcIsA ? f.stateB : f.stateA;
    if ((flags & TCP_RST) !== 0) {
      hist |= H_RST;
      st = EP_RESET;
      if (!f.closed) {
        f.closed = true;
        f.closedByRst = true;
        f.closeClock = this.clock;
        this.closing.push(f);
      }
    } else if ((flags & TCP_SYN) !== 0) {
      if ((flags & TCP_ACK) === 0) {
        hist |= H_SYN;
        if (st === EP_INACTIVE) st = EP_SYN_SENT;
      } else {
        hist |= H_SYNACK;
        if (st === EP_INACTIVE || st === EP_PARTIAL) st = EP_SYN_ACK_SENT;
      }
    } else if (st === EP_INACTIVE) {
      st = EP_PARTIAL;
    } else if ((st === EP_SYN_SENT || st === EP_SYN_ACK_SENT) && (peer === EP_SYN_ACK_SENT || peer === EP_SYN_SENT)) {
      // The handshake completed: the side that sent the SYN now acknowledges the SYN+ACK.
      st = EP_ESTABLISHED;
      if (srcIsA) f.stateB = EP_ESTABLISHED;
      else f.stateA = EP_ESTABLISHED;
    }
    if ((flags & TCP_FIN) !== 0) {
      hist |= H_FIN;
      if (st !== EP_RESET) st = EP_CLOSED;
      if (srcIsA) f.finA = true;
      else f.finB = true;
      if (f.finA && f.finB && !f.closed) {
        f.closed = true;
        f.closeClock = this.clock;
        this.closing.push(f);
      }
    }
    if (srcIsA) f.stateA = st;
    else f.stateB = st;
    if ((flags & (TCP_SYN | TCP_FIN | TCP_RST)) === 0 && len === 0 && (flags & TCP_ACK) !== 0) hist |= H_ACK;
    if (p.window === 0 && (flags & TCP_RST) === 0) hist |= H_ZEROWIN;
    const seen = srcIsA ? f.histBitsA : f.histBitsB;
    if ((hist & ~seen) !== 0) this.addHistory(f, srcIsA, c2s, hist & ~seen);

    if (ts - f.activeStart >= this.opts.activeTimeout) {
      f.activeStart = ts;
      this.stats.ended.active++;
      this.emit(this.record(f, 'active'));
    }
  }

  /** Advance the table clock (live mode: wall clock) and end the flows whose timers ran out. */
  advance(now: number): void {
    if (now > this.clock) this.clock = now;
    this.sweep();
  }

  /**
   * Write every open flow with the given reason (end of a capture file, or shutdown). A flow that already closed
   * (FIN both ways or RST) and was only waiting out its grace period keeps its real reason, `fin` or `rst`.
   */
  flush(reason: 'eof' | 'shutdown'): void {
    while (this.head !== null) {
      const f = this.head;
      this.end(f, f.closed ? (f.closedByRst ? 'rst' : 'fin') : reason);
    }
    this.closing = [];
    this.closingHead = 0;
  }

  private addHistory(f: Flow, srcIsA: boolean, c2s: boolean, bits: number): void {
    if (srcIsA) f.histBitsA |= bits;
    else f.histBitsB |= bits;
    const letters = c2s ? HISTORY_UPPER : HISTORY_LOWER;
    for (let i = 0; i < letters.length; i++) if ((bits & (1 << i)) !== 0) f.history += letters[i]!;
  }

  private sweep(): void {
    const now = this.clock;
    this.nextSweep = now + SWEEP_INTERVAL;
    const idle = this.opts.idleTimeout;
    while (this.head !== null && now - this.head.lastTs > idle) this.end(this.head, 'idle');
    const grace = this.opts.finGrace;
    const q = this.closing;
    while (this.closingHead < q.length) {
      const f = q[this.closingHead]!;
      if (f.alive && now - f.closeClock <= grace) break;
      this.closingHead++;
      if (f.alive) this.end(f, f.closedByRst ? 'rst' : 'fin');
    }
    if (this.closingHead > 1024 && this.closingHead * 2 > q.length) {
      this.closing = q.slice(this.closingHead);
      this.closingHead = 0;
    }
  }

  private end(f: Flow, reason: EndReason): void {
    // Unlink from the hash chain.
    const first = this.buckets.get(f.hash);
    if (first === f) {
      if (f.nextInBucket !== null) this.buckets.set(f.hash, f.nextInBucket);
      else this.buckets.delete(f.hash);
    } else {
      let q = first ?? null;
      while (q !== null && q.nextInBucket !== f) q = q.nextInBucket;
      if (q !== null) q.nextInBucket = f.nextInBucket;
    }
    // Unlink from the recency list.
    if (f.prev !== null) f.prev.next = f.next;
    else this.head = f.next;
    if (f.next !== null) f.next.prev = f.prev;
    else this.tail = f.prev;
    f.prev = f.next = f.nextInBucket = null;
    f.alive = false;
    this.count--;
    this.stats.ended[reason]++;
    this.emit(this.record(f, reason));
  }

  /** Builds the record; runs once per written flow, so formatting and hashing are fine here. */
  private record(f: Flow, reason: EndReason): FlowRecord {
    const aWords = [f.a0 >>> 0, f.a1 >>> 0, f.a2 >>> 0, f.a3 >>> 0];
    const bWords = [f.b0 >>> 0, f.b1 >>> 0, f.b2 >>> 0, f.b3 >>> 0];
    const aIp = formatIp(f.ipVersion, Uint32Array.from(aWords));
    const bIp = formatIp(f.ipVersion, Uint32Array.from(bWords));
    const cA = f.clientIsA;
    const lengths = new Array<number>(this.opts.length).fill(0);
    for (let i = 0; i < f.lengths.length; i++) lengths[i] = f.lengths[i]!;
    const orig = cA ? f.stateA : f.stateB;
    const resp = cA ? f.stateB : f.stateA;
    return new FlowRecord(
      f.source,
      f.firstTs,
      f.lastTs,
      f.ipVersion,
      cA ? aIp : bIp,
      cA ? f.portA : f.portB,
      cA ? bIp : aIp,
      cA ? f.portB : f.portA,
      f.vlan,
      cA ? f.pktsA : f.pktsB,
      cA ? f.pktsB : f.pktsA,
      cA ? f.bytesA : f.bytesB,
      cA ? f.bytesB : f.bytesA,
      cA ? f.payA : f.payB,
      cA ? f.payB : f.payA,
      f.lengths.length,
      f.retransSkipped,
      f.midstream,
      connState(orig, resp, f.history, f.payA + f.payB > 0),
      f.history,
      communityId(f.ipVersion, aWords, f.portA, bWords, f.portB),
      reason,
      lengths,
    );
  }
}

