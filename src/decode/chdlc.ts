import { u16 } from './bytes';
import type { DecodeContext } from './decodeContext';

const CHDLC_HEADER_LEN = 4; // address, control, EtherType

/** Cisco HDLC (LINKTYPE_C_HDLC 104, and Cisco framing on LINKTYPE_PPP_HDLC): an EtherType at byte 2. */
export function decodeChdlc(ctx: DecodeContext, off: number): number {
  if (off + CHDLC_HEADER_LEN > ctx.capEnd) {
    ctx.anomalies.truncated_link++;
    return -1;
  }
  ctx.nextType = u16(ctx.buf, off + 2);
  return off + CHDLC_HEADER_LEN;
}
