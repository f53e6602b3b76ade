import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../decode/packetMeta';
import { Ep } from './flow';

/**
 * History letters (Zeek): bit per letter, upper case for the client, lower case for the server. The bit order is
 * the order in which Zeek adds the letters of one packet: flag letters, then W (update_window), then T.
 */
export const enum Hist {
  /** S: SYN without ACK */
  Syn = 1,
  /** H: SYN+ACK */
  SynAck = 2,
  /** A: pure ACK */
  Ack = 4,
  /** D: payload (in a segment without SYN, FIN or RST, as Zeek counts it) */
  Data = 8,
  /** F */
  Fin = 16,
  /** R */
  Rst = 32,
  /** W: zero window advertised */
  ZeroWin = 64,
  /** T: payload segment skipped as a retransmission */
  Retx = 128,
}

/** The letters of the Hist bits, in bit order. */
export const HISTORY_UPPER = 'SHADFRWT';
export const HISTORY_LOWER = 'shadfrwt';

/** Bits of a transition entry: the sender's new state, the peer's new state, then the history bits. */
const T_PEER_SHIFT = 3;
const T_HIST_SHIFT = 6;

/**
 * The history letters of one segment, as Zeek's update_history() picks them: one letter per control flag
 * (S or H, F, R) when the segment carries such a flag, else D for payload or A for a bare ACK. A segment with
 * two or more of SYN, FIN and RST is Zeek's `Q` (or `I` for FIN+RST), letters the sensor does not keep; it
 * shows each of its flags' letters instead.
 */
function historyOf(flags: number, payload: boolean): number {
  let hist = 0;
  if ((flags & TCP_SYN) !== 0) hist |= (flags & TCP_ACK) !== 0 ? Hist.SynAck : Hist.Syn;
  if ((flags & TCP_FIN) !== 0) hist |= Hist.Fin;
  if ((flags & TCP_RST) !== 0) hist |= Hist.Rst;
  if (hist === 0) {
    if (payload) hist = Hist.Data;
    else if ((flags & TCP_ACK) !== 0) hist = Hist.Ack;
  }
  return hist;
}

/**
 * What one segment does to the Zeek endpoint states, given the sender's state, its peer's state, the TCP flags
 * and whether it carries payload: Zeek's TCPSessionAdapter::UpdateStateMachine (Inactive, SYN_Sent,
 * Established/Partial, Closed and Reset cases), with the roles the sensor decides (SPEC.md "Client") in place
 * of Zeek's orig/resp. Zeek asks "is the sender the originator?" in two places; here the peer's state answers
 * it: a pure SYN or SYN+ACK answering a peer in SynSent comes from the server, and so does a bare ACK while the
 * peer is in SynSent. A SYN+ACK to a silent peer (Zeek's "unsolicited SYN response", sent by the responder)
 * puts the sender in SynAckSent, which counts as established once the peer answers with an ACK or a SYN (Zeek's
 * SYN/SYN-ACK reversal), so both orders of a missed SYN end as Zeek's flipped connection does.
 *
 * This is the reference logic; the table below holds its result for every input, so the per-packet code makes
 * one lookup instead of a dozen branches (and has no rarely taken branch whose first use would deoptimise).
 */
function transition(flags: number, payload: boolean, state: number, peer: number): number {
  const syn = (flags & TCP_SYN) !== 0;
  const ack = (flags & TCP_ACK) !== 0;
  const fin = (flags & TCP_FIN) !== 0;
  const rst = (flags & TCP_RST) !== 0;
  switch (state) {
    case Ep.Inactive:
      if (syn) {
        if (peer === Ep.SynSent || (!ack && peer === Ep.SynAckSent)) {
          // The answer to the peer's SYN (SYN+ACK, or a simultaneous open), or a SYN answering a SYN+ACK seen
          // first (Zeek's SYN/SYN-ACK reversal): both sides are established.
          state = Ep.Established;
          peer = Ep.Established;
        } else if (!ack) state = Ep.SynSent;
        else state = peer === Ep.Inactive ? Ep.SynAckSent : Ep.Established;
      }
      if (fin) state = Ep.Closed;
      if (rst) state = state === Ep.Closed ? Ep.ResetAfterClose : Ep.Reset;
      if (state === Ep.Inactive) {
        if (!payload && peer === Ep.SynSent) {
          // "Some eccentric TCP's will ack an initial SYN prior to sending a SYN reply": still inactive.
        } else if (ack && (peer === Ep.Established || peer === Ep.SynAckSent)) {
          // A SYN+ACK was seen and now an ACK: the SYN was missed, the connection is established.
          state = Ep.Established;
          peer = Ep.Established;
        } else state = Ep.Partial;
      }
      break;
    case Ep.SynSent:
    case Ep.SynAckSent:
      if (fin) state = Ep.Closed;
      if (rst) state = state === Ep.Closed ? Ep.ResetAfterClose : Ep.Reset;
      break;
    case Ep.Established:
    case Ep.Partial:
      if (syn && !ack && state === Ep.Partial && peer === Ep.Inactive) state = Ep.SynSent;
      if (fin && !rst) {
        state = Ep.Closed;
        // The peer sent a FIN and then a RST: this was a normal termination after all.
        if (peer === Ep.ResetAfterClose) peer = Ep.Closed;
      }
      if (rst) state = Ep.Reset;
      break;
    case Ep.Closed:
      // After a FIN exchange a RST changes nothing; after a one-sided FIN it resets.
      if (rst && peer !== Ep.Closed) state = Ep.ResetAfterClose;
      break;
    default:
      // Reset: nothing changes it.
      break;
  }
  return state | (peer << T_PEER_SHIFT) | (historyOf(flags, payload) << T_HIST_SHIFT);
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
