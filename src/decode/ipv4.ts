import { u16, u32 } from './bytes';
import type { DecodeContext } from './decodeContext';
import { IPPROTO_TCP, isTunnel } from './ipProtocols';
import { decodeTcpHeader } from './tcp';

const IPV4_MIN_HEADER_LEN = 20;
const IPV4_FRAGMENT_BITS = 0x3fff; // More Fragments flag and 13-bit offset; DF does not matter

/**
 * IPv4 (RFC 791). The header length comes from IHL (options allowed); the total length gives the TCP
 * payload length, never the captured byte count, so Ethernet padding cannot inflate it and a snaplen
 * cannot shrink it. A total length of 0 (segmentation offload, BIG TCP) means "the whole frame", and one
 * larger than the frame was on the wire is capped to it: both take the length on the wire, like tshark.
 * Only TCP continues: tunnels are `tunnel_skipped`, other protocols `not_tcp`; fragments go to the
 * fragment table.
 */
export function decodeIpv4(ctx: DecodeContext, off: number): boolean {
  const buf = ctx.buf;
  const anomalies = ctx.anomalies;
  if (off + IPV4_MIN_HEADER_LEN > ctx.capEnd) {
    anomalies.truncated_ip++;
    return false;
  }
  const b0 = buf[off]!;
  if (b0 >> 4 !== 4) {
    anomalies.bad_ip_version++;
    return false;
  }
  const headerLen = (b0 & 0x0f) * 4;
  if (headerLen < IPV4_MIN_HEADER_LEN) {
    anomalies.bad_ip_header_length++;
    return false;
  }
  if (off + headerLen > ctx.capEnd) {
    anomalies.truncated_ip++;
    return false;
  }
  // The total length, unless 0 (offload: the frame is the packet) or more than the wire had (bogus).
  let totalLen = u16(buf, off + 2);
  const onWire = ctx.wireEnd - off;
  if (totalLen === 0 || (totalLen > onWire && ctx.wireKnown)) totalLen = onWire;
  if (totalLen < headerLen) {
    anomalies.bad_ip_header_length++;
    return false;
  }
  const proto = buf[off + 9]!;
  if (proto !== IPPROTO_TCP) {
    if (isTunnel(proto)) anomalies.tunnel_skipped++;
    else anomalies.not_tcp++;
    return false;
  }
  const out = ctx.out;
  out.ipVersion = 4;
  out.src[0] = u32(buf, off + 12);
  out.src[1] = 0;
  out.src[2] = 0;
  out.src[3] = 0;
  out.dst[0] = u32(buf, off + 16);
  out.dst[1] = 0;
  out.dst[2] = 0;
  out.dst[3] = 0;
  if ((u16(buf, off + 6) & IPV4_FRAGMENT_BITS) !== 0) {
    return ctx.fragments.addIpv4(ctx, off, headerLen, totalLen);
  }
  out.ipLen = totalLen;
  return decodeTcpHeader(buf, off + headerLen, ctx.capEnd, totalLen - headerLen, out, anomalies);
}
