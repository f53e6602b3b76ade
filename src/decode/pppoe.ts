import { u16 } from './bytes';
import type { DecodeContext } from './decodeContext';
import { decodePppProtocol } from './ppp';

const PPPOE_HEADER_LEN = 6; // version/type, code, session ID, length

/**
 * A PPPoE session frame (EtherType 0x8864, RFC 2516), then the PPP protocol field. The PPPoE length bounds
 * the layer: an IP total length claiming more is capped by it, as tshark does (zeek/pppoe-over-qinq.pcap
 * has such frames). Discovery frames (0x8863) never get here.
 */
export function decodePppoe(ctx: DecodeContext, off: number): number {
  if (off + PPPOE_HEADER_LEN > ctx.capEnd) {
    ctx.anomalies.truncated_pppoe++;
    return -1;
  }
  ctx.limit(off + PPPOE_HEADER_LEN + u16(ctx.buf, off + 4));
  return decodePppProtocol(ctx, off + PPPOE_HEADER_LEN);
}
