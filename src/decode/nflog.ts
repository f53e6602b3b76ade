import { u16le } from './bytes';
import type { DecodeContext } from './decodeContext';
import { decodeRawIp, RAW_ANY } from './rawIp';

const NFLOG_HEADER_LEN = 4; // address family, version, resource ID
const TLV_HEADER_LEN = 4; // little-endian length (header included), little-endian type
const TLV_TYPE_MASK = 0x7fff; // the top bit flags nested attributes
const NFULA_PAYLOAD = 9;

/**
 * Linux NFLOG (LINKTYPE_NFLOG 239): a header, then TLVs padded to 4 bytes; the payload TLV (type 9) holds
 * the IP packet. A TLV length under 4 (it would loop forever) or past the record's end is `bad_nflog`; a
 * record without a payload TLV carries nothing to follow (`unsupported_ethertype`).
 */
export function decodeNflog(ctx: DecodeContext, off: number): number {
  const buf = ctx.buf;
  if (off + NFLOG_HEADER_LEN > ctx.capEnd) {
    ctx.anomalies.truncated_link++;
    return -1;
  }
  let p = off + NFLOG_HEADER_LEN;
  while (p + TLV_HEADER_LEN <= ctx.capEnd) {
    const len = u16le(buf, p);
    if (len < TLV_HEADER_LEN) {
      ctx.anomalies.bad_nflog++;
      return -1;
    }
    if ((u16le(buf, p + 2) & TLV_TYPE_MASK) === NFULA_PAYLOAD) {
      ctx.limit(p + len); // the TLV is the packet as the kernel copied it; the TLVs after it are not
      return decodeRawIp(ctx, p + TLV_HEADER_LEN, RAW_ANY);
    }
    p += (len + 3) & ~3;
  }
  if (p === ctx.capEnd) ctx.anomalies.unsupported_ethertype++;
  else if (p > ctx.wireEnd) ctx.anomalies.bad_nflog++; // a TLV claims more bytes than the record had
  else ctx.anomalies.truncated_link++; // the snaplen cut the record before its payload TLV
  return -1;
}
