/** TCP flag bits as in the TCP header's flags byte. */
export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;
export const TCP_ECE = 0x40;
export const TCP_CWR = 0x80;

/**
 * What the decoder extracts from one TCP/IP frame; the only thing the flow table sees.
 * One instance is reused for every packet. Addresses stay as 32-bit words (network order values):
 * IPv4 uses word 0 only, words 1..3 are 0; IPv6 uses all four.
 */
export class PacketMeta {
  ts = 0;
  ipVersion = 4;
  /** Outermost VLAN ID, 0 when untagged. */
  vlan = 0;
  readonly src = new Uint32Array(4);
  readonly dst = new Uint32Array(4);
  srcPort = 0;
  dstPort = 0;
  /** TCP sequence number (unsigned 32-bit). */
  seq = 0;
  /** TCP acknowledgement number (unsigned 32-bit). */
  ack = 0;
  /** TCP flags byte (TCP_FIN | TCP_SYN | ...). */
  flags = 0;
  /** TCP window field (unscaled). */
  window = 0;
  /** TCP payload length from the IP header (SPEC.md), not from the captured bytes. */
  payloadLen = 0;
  /** IP-layer length of the packet (IPv4 total length / 40 + IPv6 payload length), for byte counters. */
  ipLen = 0;
  /**
   * Where the TCP payload starts in the frame's buffer (Frame.buf), and how many of its bytes were captured
   * (at most payloadLen; 0 when a snaplen cut them, and payloadOff -1 when the segment was reassembled from IP
   * fragments, whose bytes are not in one frame). Only the
   * learn labeller reads the bytes, during the packet's callback (src/learn); nothing else looks at them.
   */
  payloadOff = 0;
  payloadCap = 0;

  constructor() {
    // An acknowledgement number passes 2^30, past V8's small integers, so the field turns into a double at the first
    // such packet; with the offline fast path (round perf31) JavaScript decodes only a flow's first and last packets,
    // and that first came after decode, decodeIpv4, decodeTcpHeader, FlowTable.packet and open were optimized, which
    // the map change then threw away (round perf36). A double from the start (a store of 0.5 makes the representation
    // a double; 0 then keeps it), as FileSource.consumed (round perf16); seq, a double already after the flow table's
    // warm-up, likewise.
    this.seq = 0.5;
    this.seq = 0;
    this.ack = 0.5;
    this.ack = 0;
  }
}
