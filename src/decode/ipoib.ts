import { u16 } from './bytes';
import type { DecodeContext } from './decodeContext';

// libpcap's LINKTYPE_IPOIB layout: 20-byte source and 20-byte destination hardware addresses, then the
// RFC 4391 encapsulation header (EtherType, 2 reserved bytes).
const IPOIB_TYPE_OFFSET = 40;
const IPOIB_HEADER_LEN = 44;

/** IP over InfiniBand (LINKTYPE_IPOIB 242). */
export function decodeIpoib(ctx: DecodeContext, off: number): number {
  if (off + IPOIB_HEADER_LEN > ctx.capEnd) {
    ctx.anomalies.truncated_link++;
    return -1;
  }
  ctx.nextType = u16(ctx.buf, off + IPOIB_TYPE_OFFSET);
  return off + IPOIB_HEADER_LEN;
}
