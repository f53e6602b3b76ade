import {
  EP_CLOSED,
  EP_ESTABLISHED,
  EP_INACTIVE,
  EP_PARTIAL,
  EP_RESET,
  EP_RESET_AFTER_CLOSE,
  EP_SYN_ACK_SENT,
  EP_SYN_SENT,
} from './flow';

/** Matches Zeek's RSTOS0 history test `^?S[^HAFGIQ]*R.*`: a SYN, then a RST from the originator, no handshake in between. */
const RSTOS0_HISTORY = /^\^?S[^HAFGIQ]*R/;

/**
 * Zeek's conn_state (base/protocols/conn/main.zeek) from the two endpoint states.
 * `orig` is the client's state, `resp` the server's; `anyPayload` is whether either side sent payload bytes.
 */
export function connState(orig: number, resp: number, history: string, anyPayload: boolean): string {
  const oInactive = orig === EP_INACTIVE || orig === EP_PARTIAL;
  const rInactive = resp === EP_INACTIVE || resp === EP_PARTIAL;
  const oReset = orig === EP_RESET || orig === EP_RESET_AFTER_CLOSE;
  if (resp === EP_RESET || resp === EP_RESET_AFTER_CLOSE) {
    if (orig === EP_SYN_SENT || orig === EP_SYN_ACK_SENT || (oReset && !anyPayload)) return 'REJ';
    return oInactive ? 'RSTRH' : 'RSTR';
  }
  if (oReset) {
    if (rInactive) return RSTOS0_HISTORY.test(history) ? 'RSTOS0' : 'OTH';
    return 'RSTO';
  }
  if (resp === EP_CLOSED && orig === EP_CLOSED) return 'SF';
  if (orig === EP_CLOSED) return rInactive ? 'SH' : 'S2';
  if (resp === EP_CLOSED) return oInactive ? 'SHR' : 'S3';
  if (orig === EP_SYN_SENT && resp === EP_INACTIVE) return 'S0';
  if (orig === EP_ESTABLISHED && resp === EP_ESTABLISHED) return 'S1';
  return 'OTH';
}
