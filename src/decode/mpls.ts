import type { DecodeContext } from './decodeContext';
import { ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_TEB } from './etherTypes';

const MPLS_LABEL_LEN = 4;
const MPLS_BOTTOM_OF_STACK = 0x01; // in the label's third byte
const PW_CONTROL_WORD_LEN = 4;

/**
 * An MPLS label stack, walked to the bottom-of-stack label. MPLS does not say what it carries, so, like
 * Zeek and tshark, the first nibble decides: 4 IPv4, 6 IPv6, 0 a pseudowire control word followed by an
 * Ethernet frame (RFC 4448). Anything else is not IP: `unsupported_ethertype`.
 */
export function decodeMpls(ctx: DecodeContext, off: number): number {
  const buf = ctx.buf;
  for (;;) {
    if (off + MPLS_LABEL_LEN > ctx.capEnd) {
      ctx.anomalies.truncated_mpls++;
      return -1;
    }
    const bottom = buf[off + 2]! & MPLS_BOTTOM_OF_STACK;
    off += MPLS_LABEL_LEN;
    if (bottom !== 0) break;
  }
  if (off >= ctx.capEnd) {
    ctx.anomalies.truncated_ip++;
    return -1;
  }
  switch (buf[off]! >> 4) {
    case 4:
      ctx.nextType = ETHERTYPE_IPV4;
      return off;
    case 6:
      ctx.nextType = ETHERTYPE_IPV6;
      return off;
    case 0:
      ctx.nextType = ETHERTYPE_TEB;
      return off + PW_CONTROL_WORD_LEN;
    default:
      ctx.anomalies.unsupported_ethertype++;
      return -1;
  }
}
