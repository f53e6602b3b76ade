/**
 * The per-connection state kept by the flow table. One object per tracked flow; every field is set in the
 * constructor so all flows share one hidden class.
 *
 * The key is stored in canonical order: endpoint A is the lesser (address bytes, then port), as in
 * Community ID v1, so both directions of a connection find the same flow. Counters are kept per endpoint
 * (A/B) and mapped to client/server when the record is written, because the client can be decided after
 * the first packet (SPEC.md: a SYN decides it).
 */

/** Zeek endpoint states (base/protocols/conn). */
export const EP_INACTIVE = 0;
export const EP_SYN_SENT = 1;
export const EP_SYN_ACK_SENT = 2;
export const EP_PARTIAL = 3;
export const EP_ESTABLISHED = 4;
export const EP_CLOSED = 5;
export const EP_RESET = 6;

/** How the client was decided (SPEC.md "Client"). */
export const ROLE_FIRST_PACKET = 0;
export const ROLE_SYN_ACK = 1;
export const ROLE_SYN = 2;

export class Flow {
  // ---- key ----
  ipVersion: number;
  vlan: number;
  a0: number;
  a1: number;
  a2: number;
  a3: number;
  b0: number;
  b1: number;
  b2: number;
  b3: number;
  portA: number;
  portB: number;
  hash: number;
  /** Next flow in the same hash bucket. */
  nextInBucket: Flow | null = null;
  // ---- recency list (least recently seen first) ----
  prev: Flow | null = null;
  next: Flow | null = null;
  /** False once the flow has been written out and removed; stale references (close queue) check it. */
  alive = true;

  source: string;
  firstTs: number;
  lastTs: number;
  /** Start of the current active-timeout interval. */
  activeStart: number;

  // ---- roles ----
  /** True when endpoint A is the client. */
  clientIsA: boolean;
  roleBy = ROLE_FIRST_PACKET;
  /** The first packet carried no SYN: the flow was first seen mid-stream. */
  midstream: boolean;

  // ---- counters per endpoint (sender) ----
  pktsA = 0;
  pktsB = 0;
  bytesA = 0;
  bytesB = 0;
  payA = 0;
  payB = 0;

  // ---- sequence ----
  readonly lengths: number[] = [];
  /** Highest sequence number counted per sending endpoint; -1 = none yet. */
  hiSeqA = -1;
  hiSeqB = -1;
  retransSkipped = 0;

  // ---- TCP state ----
  stateA = EP_INACTIVE;
  stateB = EP_INACTIVE;
  finA = false;
  finB = false;
  /** Both FINs or a RST seen: a pure SYN now starts a new flow, and the flow ends after the grace period. */
  closed = false;
  closedByRst = false;
  /** Table clock when the flow closed, for the grace timer. */
  closeClock = 0;
  /** History letters seen, as bits (see flowTable HISTORY_*), upper = client side, separate per endpoint. */
  histBitsA = 0;
  histBitsB = 0;
  history = '';

  constructor(
    source: string,
    ts: number,
    ipVersion: number,
    vlan: number,
    a0: number,
    a1: number,
    a2: number,
    a3: number,
    portA: number,
    b0: number,
    b1: number,
    b2: number,
    b3: number,
    portB: number,
    hash: number,
    clientIsA: boolean,
    midstream: boolean,
  ) {
    this.source = source;
    this.firstTs = ts;
    this.lastTs = ts;
    this.activeStart = ts;
    this.ipVersion = ipVersion;
    this.vlan = vlan;
    this.a0 = a0;
    this.a1 = a1;
    this.a2 = a2;
    this.a3 = a3;
    this.portA = portA;
    this.b0 = b0;
    this.b1 = b1;
    this.b2 = b2;
    this.b3 = b3;
    this.portB = portB;
    this.hash = hash;
    this.clientIsA = clientIsA;
    this.midstream = midstream;
  }
}
