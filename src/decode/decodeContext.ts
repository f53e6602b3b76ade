import type { Anomalies } from './anomalies';
import type { FragmentTable } from './fragments';
import { PacketMeta } from './packetMeta';

const EMPTY = Buffer.alloc(0);

/**
 * Longest packet a frame or an IP length may claim: twice the largest super-packet Linux builds by GRO/GSO
 * (BIG TCP, 512 KiB), which a capture taken on a host can contain. A length past it (a pcap original length
 * of 0xffffffff, a fuzzed jumbo payload option) cannot have been on a wire; it is counted, never turned into a
 * multi-gigabyte payload length.
 */
export const MAX_WIRE_LENGTH = 1024 * 1024;

/**
 * The state one frame's decoding shares between the protocol modules, reused for every frame (like the
 * `Packet` Zeek's analyzers pass along). Each module reads `buf` between its offset and `capEnd`, writes
 * what it found into `out`, and, for link and encapsulation layers, leaves the next layer's EtherType in
 * `nextType` and returns the next layer's offset (or -1 after counting an anomaly).
 */
export class DecodeContext {
  /** The frame's buffer (the capture source's; valid only during decode()). */
  buf: Buffer = EMPTY;
  /** One past the last captured byte of the current layer. */
  capEnd = 0;
  /**
   * One past the last byte the packet had on the wire (>= capEnd), tshark's "reported length". The IP
   * header gives lengths, but never more than the wire had (a bogus total length is capped here, as tshark
   * does), and where the IP header gives none (IPv4 total length 0, IPv6 payload length 0 without a jumbo
   * option: segmentation offload) this is the size; unlike the captured length it stays right when a
   * snaplen cut the capture.
   */
  wireEnd = 0;
  /**
   * False while the frame's wire length is unknown (Frame.wireLen 0: a live source that only learns the
   * captured length). wireEnd is then capEnd, good enough for the offload case but not a bound: a total
   * length past it is believed. An outer length field (PPPoE, 802.3, NFLOG TLV) makes it known.
   */
  wireKnown = false;
  /** Timestamp of the current frame (fragment sets age with it). */
  ts = 0;
  /** VLAN tags seen so far in this frame; the first one fills `vlan`. */
  tags = 0;
  /** VLAN ID of the outermost tag, 0 when untagged. */
  vlan = 0;
  /** EtherType of the layer that starts at the offset the last module returned. */
  nextType = 0;
  /** Where the TCP/IP fields go; the caller's object, set for every frame (Decoder.decode() sets every field above). */
  out: PacketMeta = new PacketMeta();

  constructor(
    readonly anomalies: Anomalies,
    readonly fragments: FragmentTable,
  ) {}

  /**
   * Narrows the current layer to end at `end` (a length field of an outer layer: PPPoE, 802.3, an NFLOG
   * TLV). Like tshark, inner lengths are then capped by it; it never widens the layer.
   */
  limit(end: number): void {
    if (end < this.wireEnd || !this.wireKnown) {
      this.wireEnd = end;
      this.wireKnown = true;
    }
    if (end < this.capEnd) this.capEnd = end;
  }
}
