import { u16, u32 } from './bytes';
import { MAX_WIRE_LENGTH, type DecodeContext } from './decodeContext';
import { IPPROTO_FRAGMENT, IPPROTO_HOPOPTS, IPPROTO_TCP, isTunnel } from './ipProtocols';
import { jumboPayloadLength, skipIpv6Extensions } from './ipv6Extensions';
import { decodeTcpHeader } from './tcp';

const IPV6_HEADER_LEN = 40;
const FRAGMENT_HEADER_LEN = 8;
const FRAGMENT_OFFSET_AND_MORE = 0xfff9; // 13-bit offset and the M flag; the 2 reserved bits ignored

/**
 * IPv6 (RFC 8200). Extension headers are walked to the upper layer; the TCP payload length is the payload
 * length minus the extension headers and the TCP header. A payload length of 0 means a jumbogram (the
 * hop-by-hop Jumbo Payload option gives the length) or, without that option, an offloaded packet whose
 * length is the frame's on the wire; a length larger than the wire had is capped to it. Atomic fragments
 * (offset 0, no M flag) are plain packets; real fragments go to the fragment table.
 */
export function decodeIpv6(ctx: DecodeContext, off: number): boolean {
  const buf = ctx.buf;
  const anomalies = ctx.anomalies;
  if (off + IPV6_HEADER_LEN > ctx.capEnd) {
    anomalies.truncated_ip++;
    return false;
  }
  if (buf[off]! >> 4 !== 6) {
    anomalies.bad_ip_version++;
    return false;
  }
  const out = ctx.out;
  out.ipVersion = 6;
  for (let i = 0; i < 4; i++) {
    out.src[i] = u32(buf, off + 8 + 4 * i);
    out.dst[i] = u32(buf, off + 24 + 4 * i);
  }
  let next = buf[off + 6]!;
  const start = off + IPV6_HEADER_LEN;
  // The payload length, else the jumbo length, else (offload) the frame's; never more than the wire had.
  let payloadLen = u16(buf, off + 4);
  if (payloadLen === 0 && next === IPPROTO_HOPOPTS) payloadLen = jumboPayloadLength(ctx, start);
  const onWire = ctx.wireEnd - start;
  if (payloadLen <= 0 || (payloadLen > onWire && ctx.wireKnown)) payloadLen = onWire;
  if (payloadLen > MAX_WIRE_LENGTH) {
    // A jumbo length no link carries, on a frame whose wire length is unknown (nothing capped it above).
    anomalies.bad_ip_total_length++;
    return false;
  }
  let p = start;
  for (;;) {
    p = skipIpv6Extensions(ctx, next, p, ctx.capEnd);
    if (p < 0) {
      anomalies.truncated_ipv6_ext++;
      return false;
    }
    next = ctx.nextType;
    if (next !== IPPROTO_FRAGMENT) break;
    if (p + FRAGMENT_HEADER_LEN > ctx.capEnd) {
      anomalies.truncated_ipv6_ext++;
      return false;
    }
    if ((u16(buf, p + 2) & FRAGMENT_OFFSET_AND_MORE) !== 0) {
      if (p + FRAGMENT_HEADER_LEN - start > payloadLen) {
        anomalies.bad_ip_total_length++;
        return false;
      }
      return ctx.fragments.addIpv6(ctx, off, p, payloadLen);
    }
    next = buf[p]!; // atomic fragment: nothing to reassemble, keep walking
    p += FRAGMENT_HEADER_LEN;
  }
  const extLen = p - start;
  if (extLen > payloadLen) {
    anomalies.bad_ip_total_length++;
    return false;
  }
  if (next !== IPPROTO_TCP) {
    if (isTunnel(next)) anomalies.tunnel_skipped++;
    else anomalies.not_tcp++;
    return false;
  }
  out.ipLen = IPV6_HEADER_LEN + payloadLen;
  return decodeTcpHeader(buf, p, ctx.capEnd, payloadLen - extLen, out, anomalies);
}
