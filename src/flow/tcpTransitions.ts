import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../decode/packetMeta';
import { Ep } from './flow';

/** History letters (Zeek): bit per letter, upper case for the client, lower case for the server. */
export const enum Hist {
  /** S: SYN without ACK */
  Syn = 1,
  /** H: SYN+ACK */
  SynAck = 2,
  /** A: pure ACK */
  Ack = 4,
  /** D: payload */
  Data = 8,
  /** F */
  Fin = 16,
  /** R */
  Rst = 32,
  /** T: payload segment skipped as a retransmission */
  Retx = 64,
  /** W: zero window advertised */
  ZeroWin = 128,
}

/** The letters of the Hist bits, in bit order. */
export const HISTORY_UPPER = 'SHADFRTW';
export const HISTORY_LOWER = 'shadfrtw';

/** Bits of a transition entry: the sender's new state, the peer's new state, then the history bits. */
const T_PEER_SHIFT = 3;
const T_HIST_SHIFT = 6;

/**
 * What one segment does to the Zeek endpoint states and which history letters it shows, given the sender's
 * state, its peer's state, the TCP flags and whether it carries payload. This is the reference logic; the
 * table below holds its result for every input, so the per-packet code makes one lookup instead of a dozen
 * branches (and has no rarely taken branch whose first use would cost a deoptimisation).
 */
function transition(flags: number, payload: boolean, state: number, peer: number): number {
  let hist = payload ? Hist.Data : 0;
  if ((flags & TCP_RST) !== 0) {
    hist |= Hist.Rst;
    state = Ep.Reset;
  } else if ((flags & TCP_SYN) !== 0) {
    if ((flags & TCP_ACK) === 0) {
      hist |= Hist.Syn;
      if (state === Ep.Inactive) state = Ep.SynSent;
    } else {
      hist |= Hist.SynAck;
      if (state === Ep.Inactive || state === Ep.Partial) state = Ep.SynAckSent;
    }
  } else if (state === Ep.Inactive) {
    state = Ep.Partial;
  } else if ((state === Ep.SynSent || state === Ep.SynAckSent) && (peer === Ep.SynAckSent || peer === Ep.SynSent)) {
    // The handshake completed: the side that sent the SYN now acknowledges the SYN+ACK.
    state = Ep.Established;
    peer = Ep.Established;
  }
  if ((flags & TCP_FIN) !== 0) {
    hist |= Hist.Fin;
    if (state !== Ep.Reset) state = Ep.Closed;
  }
  if ((flags & (TCP_SYN | TCP_FIN | TCP_RST)) === 0 && !payload && (flags & TCP_ACK) !== 0) hist |= Hist.Ack;
  return state | (peer << T_PEER_SHIFT) | (hist << T_HIST_SHIFT);
}

/** The flag bits the transition depends on, packed into 4 bits: FIN, SYN, RST, ACK. */
function controlBits(flags: number): number {
  return (flags & (TCP_FIN | TCP_SYN | TCP_RST)) | ((flags & TCP_ACK) !== 0 ? 8 : 0);
}

/** Endpoint states fit in 3 bits. */
const STATE_BITS = 3;

/** Transition table index of a segment: control bits, payload bit, sender state, peer state. */
export function transitionIndex(flags: number, payload: boolean, state: number, peer: number): number {
  return (((controlBits(flags) | (payload ? 16 : 0)) << (2 * STATE_BITS)) | (state << STATE_BITS)) | peer;
}

/** transition() for every index, built once at load. */
export const TRANSITIONS = ((): Uint16Array => {
  const t = new Uint16Array(32 << (2 * STATE_BITS));
  for (let c = 0; c < 32; c++) {
    const flags = (c & 7) | ((c & 8) !== 0 ? TCP_ACK : 0);
    const payload = (c & 16) !== 0;
    for (let state = 0; state < 1 << STATE_BITS; state++) {
      for (let peer = 0; peer < 1 << STATE_BITS; peer++) {
        t[transitionIndex(flags, payload, state, peer)] = transition(flags, payload, state, peer);
      }
    }
  }
  return t;
})();

/** The sender's new state from a transition entry. */
export function newState(t: number): number {
  return t & 7;
}

/** The peer's new state from a transition entry. */
export function newPeer(t: number): number {
  return (t >> T_PEER_SHIFT) & 7;
}

/** The history bits from a transition entry. */
export function historyBits(t: number): number {
  return t >> T_HIST_SHIFT;
}
