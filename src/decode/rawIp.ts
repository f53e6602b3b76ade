import type { DecodeContext } from './decodeContext';
import { ETHERTYPE_IPV4, ETHERTYPE_IPV6 } from './etherTypes';

/** Which IP version a raw-IP link type allows: LINKTYPE_RAW takes both, LINKTYPE_IPV4/IPV6 one each. */
export const RAW_ANY = 0;
export const RAW_IPV4_ONLY = 4;
export const RAW_IPV6_ONLY = 6;

/**
 * Raw IP (LINKTYPE_RAW 101, 12, 14; LINKTYPE_IPV4 228; LINKTYPE_IPV6 229; an NFLOG payload): no link
 * header, the version nibble names the layer. A version the link type does not allow is `bad_ip_version`.
 */
export function decodeRawIp(ctx: DecodeContext, off: number, allowed: number): number {
  if (off >= ctx.capEnd) {
    ctx.anomalies.truncated_ip++;
    return -1;
  }
  const version = ctx.buf[off]! >> 4;
  if (version === 4 && allowed !== RAW_IPV6_ONLY) ctx.nextType = ETHERTYPE_IPV4;
  else if (version === 6 && allowed !== RAW_IPV4_ONLY) ctx.nextType = ETHERTYPE_IPV6;
  else {
    ctx.anomalies.bad_ip_version++;
    return -1;
  }
  return off;
}
