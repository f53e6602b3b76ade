/**
 * The per-connection state the flow table keeps, as named numbers: Zeek endpoint states, how the client was
 * decided, and the flag bits of a flow (see flowLayout.ts for where each field lives).
 *
 * The key is stored in canonical order: endpoint A is the lesser (address words, then port), as in
 * Community ID v1, so both directions of a connection find the same flow. Counters are kept per endpoint
 * (A/B) and mapped to client/server when the record is written, because the client can be decided after
 * the first packet (SPEC.md: a SYN decides it).
 *
 * The per-packet code uses the `const enum`s: tsc writes their values in place, so the hot path loads no
 * module property (each such load needs type feedback, and a first use after optimisation deoptimises).
 */

/** Zeek endpoint states (base/protocols/conn). */
export const enum Ep {
  Inactive = 0,
  SynSent = 1,
  SynAckSent = 2,
  Partial = 3,
  Established = 4,
  Closed = 5,
  Reset = 6,
  /**
   * Reset after it had closed (a RST after its own FIN). Zeek keeps this as RESET with prev_state CLOSED, and a
   * later FIN from the peer turns it back into CLOSED ("this was actually normal termination").
   */
  ResetAfterClose = 7,
}
/** The same states as plain constants, for connState.ts. */
export const EP_INACTIVE = Ep.Inactive;
export const EP_SYN_SENT = Ep.SynSent;
export const EP_SYN_ACK_SENT = Ep.SynAckSent;
export const EP_PARTIAL = Ep.Partial;
export const EP_ESTABLISHED = Ep.Established;
export const EP_CLOSED = Ep.Closed;
export const EP_RESET = Ep.Reset;
export const EP_RESET_AFTER_CLOSE = Ep.ResetAfterClose;

/** How the client was decided (SPEC.md "Client"). */
export const enum Role {
  /** The sender of the first packet seen (no SYN yet). */
  FirstPacket = 0,
  /** The receiver of a SYN+ACK. */
  SynAck = 1,
  /** The sender of a SYN without ACK. */
  Syn = 2,
}

/** Flag bits of a flow (one byte per flow). */
export const enum Fl {
  /** Endpoint A is the client. */
  ClientIsA = 1,
  /** The first packet carried no SYN: the flow was first seen mid-stream. */
  Midstream = 2,
  /** Endpoint A / B sent a FIN. */
  FinA = 4,
  FinB = 8,
  /** Both FINs or a RST seen: a pure SYN now starts a new flow, and the flow ends after the grace period. */
  Closed = 16,
  ClosedByRst = 32,
  /** A sequence number has been counted for endpoint A / B (the highest-counted field is meaningful). */
  HasHiA = 64,
  HasHiB = 128,
}
