import type { Anomalies } from './anomalies';
import { u16, u32 } from './bytes';
import type { PacketMeta } from './packetMeta';

const TCP_MIN_HEADER_LEN = 20;

/**
 * A TCP header at `off` in `buf` (captured up to `end`), inside an IP payload of `ipPayloadLen` bytes (from
 * the IP header). Fills the TCP fields of `out`; payloadLen = ipPayloadLen - header length with options,
 * so a capture cut by snaplen still gives the true length.
 *
 * The fixed 20-byte header must be captured (`truncated_tcp` otherwise): it holds every field PacketMeta
 * needs. Options may be cut (a SYN cut inside its options by a 68-byte snaplen is still a SYN; tshark
 * reads it too). The data offset must be >= 5 and fit the IP payload (`bad_tcp_header_length`). Shared by
 * the normal path and the fragment reassembly, which passes its copy of the fixed header. payloadOff/payloadCap
 * say where the captured payload bytes are in `buf` (the fragment path clears payloadCap: its `buf` is a copy).
 */
export function decodeTcpHeader(
  buf: Uint8Array,
  off: number,
  end: number,
  ipPayloadLen: number,
  out: PacketMeta,
  anomalies: Anomalies,
): boolean {
  if (off + TCP_MIN_HEADER_LEN > end) {
    anomalies.truncated_tcp++;
    return false;
  }
  const headerLen = (buf[off + 12]! >> 4) * 4;
  if (headerLen < TCP_MIN_HEADER_LEN || headerLen > ipPayloadLen) {
    anomalies.bad_tcp_header_length++;
    return false;
  }
  out.srcPort = u16(buf, off);
  out.dstPort = u16(buf, off + 2);
  out.seq = u32(buf, off + 4);
  out.ack = u32(buf, off + 8);
  out.flags = buf[off + 13]!;
  out.window = u16(buf, off + 14);
  const payloadLen = ipPayloadLen - headerLen;
  out.payloadLen = payloadLen;
  const payloadOff = off + headerLen;
  const captured = end - payloadOff;
  out.payloadOff = payloadOff;
  // min/max rather than nested tests: a capture starts with handshakes (captured 0), and V8 compiled this function
  // before the inner test had run, then threw the code away at the first payload (round perf16). payloadLen >= 0.
  out.payloadCap = Math.max(0, Math.min(captured, payloadLen));
  return true;
}
