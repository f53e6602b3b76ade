import { u32 } from './bytes';
import type { DecodeContext } from './decodeContext';
import {
  IPPROTO_AH,
  IPPROTO_DSTOPTS,
  IPPROTO_HOPOPTS,
  IPPROTO_MOBILITY,
  IPPROTO_ROUTING,
} from './ipProtocols';

/**
 * Skips the IPv6 extension headers that only need skipping (hop-by-hop, routing, destination options,
 * mobility: length in 8-byte units + 1; AH: length in 4-byte units + 2), starting with header `next` at
 * `off`. Stops at the first other header (TCP, the fragment header, anything else), leaves its number in
 * ctx.nextType and returns its offset. Returns -1 when a header is not wholly before `end`; the caller
 * counts that, because it means different things on the normal and the fragment path.
 */
export function skipIpv6Extensions(ctx: DecodeContext, next: number, off: number, end: number): number {
  const buf = ctx.buf;
  for (;;) {
    let unit: number;
    let extra: number;
    switch (next) {
      case IPPROTO_HOPOPTS:
      case IPPROTO_ROUTING:
      case IPPROTO_DSTOPTS:
      case IPPROTO_MOBILITY:
        unit = 8;
        extra = 1;
        break;
      case IPPROTO_AH:
        unit = 4;
        extra = 2;
        break;
      default:
        ctx.nextType = next;
        return off;
    }
    if (off + 2 > end) return -1;
    const len = (buf[off + 1]! + extra) * unit;
    if (off + len > end) return -1;
    next = buf[off]!;
    off += len;
  }
}

const JUMBO_OPTION = 0xc2;
const JUMBO_OPTION_LEN = 4;
const PAD1_OPTION = 0;

/**
 * The Jumbo Payload option (RFC 2675) in the hop-by-hop header at `off`: the payload length (counted from
 * the end of the IPv6 header) of a packet whose IPv6 payload length field is 0; -1 when absent.
 */
export function jumboPayloadLength(ctx: DecodeContext, off: number): number {
  const buf = ctx.buf;
  if (off + 2 > ctx.capEnd) return -1;
  const end = Math.min(off + (buf[off + 1]! + 1) * 8, ctx.capEnd);
  let p = off + 2;
  while (p < end) {
    const type = buf[p]!;
    if (type === PAD1_OPTION) {
      p++;
      continue;
    }
    if (p + 2 > end) return -1;
    const len = buf[p + 1]!;
    if (type === JUMBO_OPTION && len === JUMBO_OPTION_LEN && p + 2 + len <= end) {
      return u32(buf, p + 2);
    }
    p += 2 + len;
  }
  return -1;
}
