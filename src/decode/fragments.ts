import type { Anomalies } from './anomalies';
import { u16, u32 } from './bytes';
import type { DecodeContext } from './decodeContext';
import {
  FragmentSet,
  RANGE_CONFLICT,
  UPPER_NOT_TCP,
  UPPER_TCP,
  UPPER_TRUNCATED_EXT,
  UPPER_TUNNEL,
  UPPER_UNKNOWN,
} from './fragmentSet';
import {
  IPPROTO_AH,
  IPPROTO_DSTOPTS,
  IPPROTO_HOPOPTS,
  IPPROTO_MOBILITY,
  IPPROTO_ROUTING,
  IPPROTO_TCP,
  isTunnel,
} from './ipProtocols';
import { skipIpv6Extensions } from './ipv6Extensions';
import { decodeTcpHeader } from './tcp';

/**
 * Memory charged per fragment set whatever its size: the object, its key string, the ranges array and the
 * header copy, rounded up. The bound is what matters (a flood of first fragments must not grow the heap
 * without limit), not the exact byte count.
 */
export const FRAGMENT_SET_COST = 512;
/** Memory charged per separate byte range a set keeps (fragments that touch are merged into one). */
export const FRAGMENT_RANGE_COST = 16;

const IPV4_MF = 0x2000;
const IPV4_OFFSET_MASK = 0x1fff; // in 8-byte units
const IPV6_HEADER_LEN = 40;
const IPV6_FRAGMENT_HEADER_LEN = 8;
const IPV6_OFFSET_MASK = 0xfff8; // already in bytes: the 13-bit offset in 8-byte units sits above 3 flag bits
const IPV6_M = 0x0001;

/**
 * IP fragment reassembly, metadata only (SPEC.md: a TCP segment carried in fragments counts once, with the
 * reassembled length). Fragments are matched by (src, dst, IP ID, protocol) for IPv4 and (src, dst,
 * identification) for IPv6; a set keeps the byte ranges it has seen and a copy of the fixed TCP header.
 * When the last hole closes, the completing frame yields one PacketMeta for the datagram. This is the rare
 * path: it allocates (a key string per fragment, a set per datagram).
 */
export class FragmentTable {
  /** Sets in insertion order, so the first entry is the oldest (eviction walks from there). */
  private readonly sets = new Map<string, FragmentSet>();
  private used = 0;
  /** Frames that carried a fragment of a TCP (or not yet known) datagram. */
  fragments = 0;
  /** Datagrams reassembled into a TCP segment. */
  reassembled = 0;

  constructor(
    private readonly anomalies: Anomalies,
    private readonly timeout: number,
    private readonly memory: number,
  ) {}

  /** Fragment sets waiting for more fragments. */
  get pending(): number {
    return this.sets.size;
  }

  /** Bytes charged to pending sets. */
  get memoryUsed(): number {
    return this.used;
  }

  /**
   * An IPv4 fragment of a TCP datagram at `off` with `ipLen` bytes of IP packet (header included); ctx.out
   * already holds its addresses.
   */
  addIpv4(ctx: DecodeContext, off: number, headerLen: number, ipLen: number): boolean {
    const buf = ctx.buf;
    const word = u16(buf, off + 6);
    const key = `4 ${u32(buf, off + 12)} ${u32(buf, off + 16)} ${u16(buf, off + 4)} ${buf[off + 9]!}`;
    const start = (word & IPV4_OFFSET_MASK) * 8;
    const more = (word & IPV4_MF) !== 0;
    return this.add(ctx, key, start, off + headerLen, ipLen - headerLen, more, IPPROTO_TCP, headerLen);
  }

  /**
   * An IPv6 fragment: `frag` is the offset of the fragment header, `payloadLen` the packet's IPv6 payload
   * length. The fragment header's next-header names the first header of the fragmentable part.
   */
  addIpv6(ctx: DecodeContext, off: number, frag: number, payloadLen: number): boolean {
    const buf = ctx.buf;
    const next = buf[frag]!;
    if (next !== IPPROTO_TCP && !isIpv6Extension(next)) {
      if (isTunnel(next)) this.anomalies.tunnel_skipped++;
      else this.anomalies.not_tcp++;
      return false;
    }
    const word = u16(buf, frag + 2);
    const a = off + 8; // source and destination addresses: 8 words
    const key =
      `6 ${u32(buf, a)} ${u32(buf, a + 4)} ${u32(buf, a + 8)} ${u32(buf, a + 12)} ` +
      `${u32(buf, a + 16)} ${u32(buf, a + 20)} ${u32(buf, a + 24)} ${u32(buf, a + 28)} ${u32(buf, frag + 4)}`;
    const dataOff = frag + IPV6_FRAGMENT_HEADER_LEN;
    const dataLen = payloadLen - (dataOff - off - IPV6_HEADER_LEN);
    // The reassembled datagram keeps the unfragmentable headers but not the fragment header itself.
    const ipHeaderLen = frag - off;
    const more = (word & IPV6_M) !== 0;
    return this.add(ctx, key, word & IPV6_OFFSET_MASK, dataOff, dataLen, more, next, ipHeaderLen);
  }

  /** Drops the sets whose first fragment is more than the timeout older than `now`, as fragment_timeout. */
  expire(now: number): void {
    for (const set of this.sets.values()) {
      if (now - set.firstTs > this.timeout) {
        this.remove(set);
        this.anomalies.fragment_timeout++;
      }
    }
  }

  /**
   * Adds fragment data [start, start + dataLen), found at `dataOff` in the frame; `first` is the protocol
   * the fragmentable part starts with. True when this fragment completed a TCP datagram.
   */
  private add(
    ctx: DecodeContext,
    key: string,
    start: number,
    dataOff: number,
    dataLen: number,
    more: boolean,
    first: number,
    ipHeaderLen: number,
  ): boolean {
    this.fragments++;
    let set = this.sets.get(key);
    if (set !== undefined && ctx.ts - set.firstTs > this.timeout) {
      this.remove(set);
      this.anomalies.fragment_timeout++;
      set = undefined;
    }
    if (set === undefined) {
      set = new FragmentSet(key, ctx.ts);
      // TCP right behind the IP/fragment header: known now. Behind IPv6 extension headers: known from offset 0.
      if (first === IPPROTO_TCP) set.upper = UPPER_TCP;
      this.sets.set(key, set);
      this.used += FRAGMENT_SET_COST;
    }
    const rangesBefore = set.ranges.length;
    if (set.addRange(start, start + dataLen, more) === RANGE_CONFLICT) {
      this.remove(set);
      this.anomalies.fragment_overlap++;
      return false;
    }
    this.used += ((set.ranges.length - rangesBefore) / 2) * FRAGMENT_RANGE_COST;
    if (start === 0) {
      set.ipHeaderLen = ipHeaderLen;
      if (set.upper === UPPER_UNKNOWN) this.findUpperLayer(ctx, set, dataOff, dataLen, first);
    }
    if (set.upper === UPPER_TCP) {
      // Only the captured part of the fragment can be copied; a byte the snaplen cut stays missing.
      const captured = Math.max(0, Math.min(dataLen, ctx.capEnd - dataOff));
      set.copyTcpHeader(ctx.buf, dataOff, start, captured);
    }
    if (set.isComplete()) {
      this.remove(set);
      return this.finish(ctx, set);
    }
    this.evictWhileOverMemory();
    return false;
  }

  /** Walks the IPv6 extension headers at the start of the offset-0 fragment to the upper-layer protocol. */
  private findUpperLayer(ctx: DecodeContext, set: FragmentSet, dataOff: number, dataLen: number, first: number): void {
    const end = Math.min(ctx.capEnd, dataOff + dataLen);
    const p = skipIpv6Extensions(ctx, first, dataOff, end);
    if (p < 0) set.upper = UPPER_TRUNCATED_EXT;
    else if (ctx.nextType === IPPROTO_TCP) {
      set.upper = UPPER_TCP;
      set.extLen = p - dataOff;
    } else set.upper = isTunnel(ctx.nextType) ? UPPER_TUNNEL : UPPER_NOT_TCP;
  }

  /** The datagram is whole: one PacketMeta from the copied header and the reassembled length. */
  private finish(ctx: DecodeContext, set: FragmentSet): boolean {
    const a = this.anomalies;
    switch (set.upper) {
      case UPPER_TCP: {
        if (!set.hasTcpHeader()) {
          a.truncated_tcp++; // a header byte was cut by the snaplen or arrived before its place was known
          return false;
        }
        const out = ctx.out;
        const header = set.tcpHeader;
        if (!decodeTcpHeader(header, 0, header.length, set.total - set.extLen, out, a)) return false;
        // The payload is spread over the fragments, not in the frame's buffer: the labeller gets no bytes
        // (payloadOff -1 says why, so it is not mistaken for a cut by the snaplen).
        out.payloadOff = -1;
        out.payloadCap = 0;
        out.ipLen = set.ipHeaderLen + set.total;
        this.reassembled++;
        return true;
      }
      case UPPER_TUNNEL:
        a.tunnel_skipped++;
        return false;
      case UPPER_NOT_TCP:
        a.fragment_not_tcp++;
        return false;
      default:
        a.truncated_ipv6_ext++;
        return false;
    }
  }

  /** Evicts the oldest sets (possibly the one just added to) while over the memory bound. */
  private evictWhileOverMemory(): void {
    while (this.used > this.memory) {
      const oldest = this.sets.values().next().value as FragmentSet;
      this.remove(oldest);
      this.anomalies.fragment_table_full++;
    }
  }

  private remove(set: FragmentSet): void {
    if (this.sets.delete(set.key)) this.used -= FRAGMENT_SET_COST + FRAGMENT_RANGE_COST * (set.ranges.length / 2);
  }
}

/** IPv6 extension headers that may sit between the fragment header and TCP. */
function isIpv6Extension(next: number): boolean {
  return (
    next === IPPROTO_HOPOPTS ||
    next === IPPROTO_ROUTING ||
    next === IPPROTO_DSTOPTS ||
    next === IPPROTO_MOBILITY ||
    next === IPPROTO_AH
  );
}
