import type { DecodeContext } from './decodeContext';
import { ETHERTYPE_IPV4, ETHERTYPE_IPV6 } from './etherTypes';

// Linux ARCNET header (LINKTYPE_ARCNET_LINUX 129): source, destination, 2-byte offset, protocol ID.
const ARCNET_PROTO_OFFSET = 4;
const ARCNET_RFC1051_HEADER_LEN = 5; // RFC 1051 frames stop after the protocol ID
const ARCNET_RFC1201_HEADER_LEN = 8; // RFC 1201 adds a split flag and a 2-byte sequence number
const ARCNET_EXCEPTION_EXTRA = 4; // an exception frame (split flag 0xFF) repeats flag, protocol and padding
const ARCNET_SPLIT_EXCEPTION = 0xff;
const ARC_P_IP_RFC1051 = 0xf0;
const ARC_P_IP = 0xd4; // RFC 1201
const ARC_P_IPV6 = 0xc4; // RFC 2497

/**
 * ARCNET as Linux captures it. RFC 1201 splits big packets; only an unsplit packet or the first piece
 * (odd split flag) starts with the IP header, later pieces are continuations and are skipped.
 */
export function decodeArcnet(ctx: DecodeContext, off: number): number {
  const buf = ctx.buf;
  if (off + ARCNET_RFC1051_HEADER_LEN > ctx.capEnd) {
    ctx.anomalies.truncated_link++;
    return -1;
  }
  const proto = buf[off + ARCNET_PROTO_OFFSET]!;
  if (proto === ARC_P_IP_RFC1051) {
    ctx.nextType = ETHERTYPE_IPV4;
    return off + ARCNET_RFC1051_HEADER_LEN;
  }
  if (proto !== ARC_P_IP && proto !== ARC_P_IPV6) {
    ctx.anomalies.unsupported_ethertype++;
    return -1;
  }
  let len = ARCNET_RFC1201_HEADER_LEN;
  if (off + len > ctx.capEnd) {
    ctx.anomalies.truncated_link++;
    return -1;
  }
  const split = buf[off + ARCNET_RFC1051_HEADER_LEN]!;
  if (split === ARCNET_SPLIT_EXCEPTION) len += ARCNET_EXCEPTION_EXTRA;
  else if (split !== 0 && (split & 1) === 0) {
    ctx.anomalies.unsupported_ethertype++; // a continuation piece: no IP header in it
    return -1;
  }
  if (off + len > ctx.capEnd) {
    ctx.anomalies.truncated_link++;
    return -1;
  }
  ctx.nextType = proto === ARC_P_IP ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6;
  return off + len;
}
