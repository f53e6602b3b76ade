import { u16 } from './bytes';
import { decodeChdlc } from './chdlc';
import type { DecodeContext } from './decodeContext';
import { ETHERTYPE_IPV4, ETHERTYPE_IPV6 } from './etherTypes';

const PPP_IPV4 = 0x0021;
const PPP_IPV6 = 0x0057;
const PPP_ADDRESS = 0xff; // HDLC all-stations address
const PPP_CONTROL = 0x03; // HDLC unnumbered information
const CISCO_HDLC_UNICAST = 0x0f;
const CISCO_HDLC_MULTICAST = 0x8f;

/**
 * The PPP protocol field (RFC 1661): 2 bytes, or 1 byte when protocol-field compression is on (an odd
 * first byte ends the field). IPv4 and IPv6 continue; LCP, IPCP, CHAP... count as
 * `unsupported_ppp_protocol`.
 */
export function decodePppProtocol(ctx: DecodeContext, off: number): number {
  const buf = ctx.buf;
  if (off >= ctx.capEnd) {
    ctx.anomalies.truncated_pppoe++;
    return -1;
  }
  let proto = buf[off]!;
  let next = off + 1;
  if ((proto & 1) === 0) {
    if (off + 2 > ctx.capEnd) {
      ctx.anomalies.truncated_pppoe++;
      return -1;
    }
    proto = u16(buf, off);
    next = off + 2;
  }
  if (proto === PPP_IPV4) ctx.nextType = ETHERTYPE_IPV4;
  else if (proto === PPP_IPV6) ctx.nextType = ETHERTYPE_IPV6;
  else {
    ctx.anomalies.unsupported_ppp_protocol++;
    return -1;
  }
  return next;
}

/** LINKTYPE_PPP (9): the 0xFF 0x03 address/control bytes are optional (address-field compression). */
export function decodePpp(ctx: DecodeContext, off: number): number {
  const buf = ctx.buf;
  if (off + 2 <= ctx.capEnd && buf[off] === PPP_ADDRESS && buf[off + 1] === PPP_CONTROL) off += 2;
  return decodePppProtocol(ctx, off);
}

/**
 * LINKTYPE_PPP_HDLC (50): PPP in HDLC-like framing, or Cisco HDLC framing on the same link type (RFC 1547
 * 4.3.1), told apart by the address byte.
 */
export function decodePppHdlc(ctx: DecodeContext, off: number): number {
  const first = off < ctx.capEnd ? ctx.buf[off]! : -1;
  if (first === CISCO_HDLC_UNICAST || first === CISCO_HDLC_MULTICAST) return decodeChdlc(ctx, off);
  return decodePpp(ctx, off);
}
