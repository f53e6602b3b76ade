import type { Frame } from '../capture/frame';
import type { Anomalies } from './anomalies';
import { decodeArcnet } from './arcnet';
import { decodeChdlc } from './chdlc';
import { DecodeContext, MAX_WIRE_LENGTH } from './decodeContext';
import { decodeEthernet } from './ethernet';
import { decodeFddi } from './fddi';
import { FragmentTable } from './fragments';
import { decodeIpoib } from './ipoib';
import {
  LINKTYPE_ARCNET_LINUX,
  LINKTYPE_C_HDLC,
  LINKTYPE_ETHERNET,
  LINKTYPE_FDDI,
  LINKTYPE_IEEE802_11_RADIOTAP,
  LINKTYPE_IPOIB,
  LINKTYPE_IPV4,
  LINKTYPE_IPV6,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_LINUX_SLL2,
  LINKTYPE_LOOP,
  LINKTYPE_MASK,
  LINKTYPE_NFLOG,
  LINKTYPE_NULL,
  LINKTYPE_PPP,
  LINKTYPE_PPP_HDLC,
  LINKTYPE_RAW,
  LINKTYPE_RAW_OLD12,
  LINKTYPE_RAW_OLD14,
} from './linkTypes';
import { decodeNetwork } from './network';
import { decodeNflog } from './nflog';
import { decodeLoop, decodeNull } from './nullLoop';
import type { PacketMeta } from './packetMeta';
import { decodePpp, decodePppHdlc } from './ppp';
import { decodeRadiotap } from './radiotap';
import { decodeRawIp, RAW_ANY, RAW_IPV4_ONLY, RAW_IPV6_ONLY } from './rawIp';
import { decodeSll } from './sll';
import { decodeSll2 } from './sll2';

export interface DecoderOptions {
  /** Seconds a fragment set may wait for its missing fragments (default 30, like Linux ipfrag_time). */
  fragmentTimeout?: number;
  /** Memory bound of the fragment table in bytes (default 16 MiB). */
  fragmentMemory?: number;
}

export const DEFAULT_FRAGMENT_TIMEOUT = 30;
export const DEFAULT_FRAGMENT_MEMORY = 16 * 1024 * 1024;

/** Decoder counters, for the stats line and the `--pcap` summary. */
export class DecoderStats {
  /** Frames handed to decode(). */
  frames = 0;
  /** Frames that produced a TCP segment (reassembled datagrams included). */
  tcp = 0;

  constructor(private readonly fragmentTable: FragmentTable) {}

  /** Frames that carried an IP fragment of a TCP datagram. */
  get fragments(): number {
    return this.fragmentTable.fragments;
  }

  /** Fragmented datagrams reassembled into one TCP segment. */
  get fragmentsReassembled(): number {
    return this.fragmentTable.reassembled;
  }

  /** Fragment sets waiting for more fragments. */
  get fragmentsPending(): number {
    return this.fragmentTable.pending;
  }
  /** Frames of the link type of the last frame not yet added to `linkTypes`: counted here, without a Map lookup per frame. */
  private run = 0;
  private runType = -1;
  private readonly perLink = new Map<number, number>();

  /** Frames seen per link type (LINKTYPE_ number), in the order the link types were first seen. */
  get linkTypes(): ReadonlyMap<number, number> {
    this.settle();
    return this.perLink;
  }

  /** Link type of the frames counted last (-1 before the first). */
  get lastLinkType(): number {
    return this.runType;
  }

  /**
   * Counts `n` TCP frames of the last link type decoded by the offline fast path (src/fastpath/), as n calls of
   * decode() that returned true would have.
   */
  addFastFrames(n: number): void {
    this.frames += n;
    this.tcp += n;
    this.run += n;
  }

  /** Counts a frame of `linkType` (Decoder.decode, per frame: a compare and an increment while the type stays). */
  countLink(linkType: number): void {
    if (linkType !== this.runType) this.switchLink(linkType);
    this.run++;
  }

  private switchLink(linkType: number): void {
    this.settle();
    this.runType = linkType;
    // Entered now, so that the map keeps the order in which link types were first seen.
    if (!this.perLink.has(linkType)) this.perLink.set(linkType, 0);
  }

  private settle(): void {
    if (this.run === 0) return;
    this.perLink.set(this.runType, (this.perLink.get(this.runType) ?? 0) + this.run);
    this.run = 0;
  }
}

/**
 * One frame in, one PacketMeta out (Zeek's packet_analysis in miniature): the link type picks a link-layer
 * module, EtherTypes lead through VLAN/MPLS/PPPoE to IP, IP to TCP. Every module reads the frame's bytes
 * in place after a bounds check; what cannot be used is counted in `anomalies` under a stable name.
 */
export class Decoder {
  readonly stats: DecoderStats;
  private readonly ctx: DecodeContext;
  private readonly fragments: FragmentTable;

  constructor(
    private readonly anomalies: Anomalies,
    opts: DecoderOptions = {},
  ) {
    const timeout = opts.fragmentTimeout ?? DEFAULT_FRAGMENT_TIMEOUT;
    const memory = opts.fragmentMemory ?? DEFAULT_FRAGMENT_MEMORY;
    if (!(timeout > 0) || !Number.isFinite(timeout)) {
      throw new RangeError(`fragmentTimeout must be a positive number of seconds, got ${timeout}`);
    }
    if (!Number.isInteger(memory) || memory < 0) {
      throw new RangeError(
        `fragmentMemory must be a whole number of bytes >= 0 (0 disables reassembly), got ${memory}`,
      );
    }
    this.fragments = new FragmentTable(anomalies, timeout, memory);
    this.stats = new DecoderStats(this.fragments);
    this.ctx = new DecodeContext(anomalies, this.fragments);
  }

  /**
   * Decodes one frame. Returns true when `out` now describes a TCP segment (every field set), false when
   * the frame was skipped, the reason counted in the anomalies. Never throws; allocates nothing except on
   * the fragment path. `frame.wireLen` matters: IP lengths are capped at it (as tshark does) and taken from
   * it where the IP header says 0 (offload); a source that cannot tell the wire length passes 0, and then
   * IP header lengths are believed as they are.
   */
  decode(frame: Frame, out: PacketMeta): boolean {
    // native/fastpath/fast_path.cc (Decode) mirrors this for Ethernet, VLAN, IPv4, IPv6 and TCP without anomalies.
    const stats = this.stats;
    stats.frames++;
    const linkType = frame.linkType & LINKTYPE_MASK;
    stats.countLink(linkType);
    // A wire length no link carries (a fuzzed pcap original length) is counted and then treated as unknown, as for
    // a source that cannot tell: the IP header's lengths are believed, and an offload length of 0 takes the captured
    // bytes, never the bogus wire length (which gave 4 GB payloads). tshark also reads such frames.
    let wireLen = frame.wireLen;
    if (wireLen > MAX_WIRE_LENGTH) {
      this.anomalies.bad_wire_length++;
      wireLen = 0;
    }
    // Points the context at this frame: bytes [off, off + capLen) of the frame's buffer, wireLen bytes on the wire (0
    // when the source cannot tell). Written out here, not a method of the context: V8 did not inline that call (its
    // inlining budget went to decodeEthernet) and it took ~7 ms of a one-core run's profile; passing the timestamp to it
    // also boxed a double per frame (round perf15; this round perf16).
    const ctx = this.ctx;
    const buf = frame.buf;
    let off = frame.off;
    ctx.ts = frame.ts;
    ctx.buf = buf;
    // A source never hands out more than its buffer holds, but a bad record length must not make us read past it
    // (Buffer reads past the end give undefined, which would turn into NaN lengths).
    const capEnd = Math.min(off + frame.capLen, buf.length);
    ctx.capEnd = capEnd;
    ctx.wireKnown = wireLen > 0;
    ctx.wireEnd = Math.max(capEnd, off + wireLen);
    ctx.tags = 0;
    ctx.vlan = 0;
    ctx.nextType = 0;
    ctx.out = out;
    switch (linkType) {
      case LINKTYPE_ETHERNET:
        off = decodeEthernet(ctx, off);
        break;
      case LINKTYPE_LINUX_SLL:
        off = decodeSll(ctx, off);
        break;
      case LINKTYPE_LINUX_SLL2:
        off = decodeSll2(ctx, off);
        break;
      case LINKTYPE_RAW:
      case LINKTYPE_RAW_OLD12:
      case LINKTYPE_RAW_OLD14:
        off = decodeRawIp(ctx, off, RAW_ANY);
        break;
      case LINKTYPE_IPV4:
        off = decodeRawIp(ctx, off, RAW_IPV4_ONLY);
        break;
      case LINKTYPE_IPV6:
        off = decodeRawIp(ctx, off, RAW_IPV6_ONLY);
        break;
      case LINKTYPE_NULL:
        off = decodeNull(ctx, off);
        break;
      case LINKTYPE_LOOP:
        off = decodeLoop(ctx, off);
        break;
      case LINKTYPE_PPP:
        off = decodePpp(ctx, off);
        break;
      case LINKTYPE_PPP_HDLC:
        off = decodePppHdlc(ctx, off);
        break;
      case LINKTYPE_NFLOG:
        off = decodeNflog(ctx, off);
        break;
      case LINKTYPE_C_HDLC:
        off = decodeChdlc(ctx, off);
        break;
      case LINKTYPE_FDDI:
        off = decodeFddi(ctx, off);
        break;
      case LINKTYPE_IPOIB:
        off = decodeIpoib(ctx, off);
        break;
      case LINKTYPE_ARCNET_LINUX:
        off = decodeArcnet(ctx, off);
        break;
      case LINKTYPE_IEEE802_11_RADIOTAP:
        off = decodeRadiotap(ctx, off);
        break;
      default:
        this.anomalies.unsupported_link_type++;
        return false;
    }
    if (off < 0 || !decodeNetwork(ctx, ctx.nextType, off)) return false;
    out.ts = frame.ts;
    out.vlan = ctx.vlan;
    stats.tcp++;
    return true;
  }

  /** Drops fragment sets older than the timeout relative to `now` (unix s); counted as fragment_timeout. */
  expireFragments(now: number): void {
    this.fragments.expire(now);
  }
}
