/** What the datagram carries, as far as its fragments have told so far. */
export const UPPER_UNKNOWN = 0; // IPv6 with extension headers after the fragment header: offset 0 not seen yet
export const UPPER_TCP = 1; // TCP, starting `extLen` bytes into the fragmentable part
export const UPPER_NOT_TCP = 2; // another protocol behind IPv6 extension headers
export const UPPER_TUNNEL = 3; // a tunnel (IP-in-IP, 6in4, GRE) behind IPv6 extension headers
export const UPPER_TRUNCATED_EXT = 4; // an IPv6 extension header is not whole in the offset-0 fragment

/** Result of FragmentSet.addRange. */
export const RANGE_ADDED = 0;
export const RANGE_CONFLICT = 1; // contradicts the datagram's end (two different last fragments, data past the end)

/** Bytes of the TCP header a set keeps: the fixed part, everything PacketMeta needs (options are not read). */
export const TCP_FIXED_HEADER_LEN = 20;
const ALL_HEADER_BYTES = (1 << TCP_FIXED_HEADER_LEN) - 1;

/**
 * One datagram being reassembled. Metadata only: the byte ranges covered so far, the datagram's end once
 * the last fragment is seen, and a copy of the 20-byte fixed TCP header, gathered from whichever fragments
 * hold it (never a payload byte: the fixed header is header whatever the data offset says).
 */
export class FragmentSet {
  /** Flat list of [start, end) pairs covered, sorted, merged where they touch or overlap. */
  readonly ranges: number[] = [];
  /** End of the datagram (the last fragment's end), -1 until the fragment without M arrives. */
  total = -1;
  upper = UPPER_UNKNOWN;
  /** Offset of the TCP header in the fragmentable part (IPv6 extension headers after the fragment header). */
  extLen = 0;
  /**
   * IP header bytes in front of the fragmentable part in the reassembled datagram: IPv4 IHL*4, IPv6 40 plus
   * the unfragmentable extension headers (the fragment header itself is gone after reassembly).
   */
  ipHeaderLen = -1;
  /** The fixed TCP header, and a bit per byte of it copied so far. */
  readonly tcpHeader = Buffer.alloc(TCP_FIXED_HEADER_LEN);
  private tcpHeaderHave = 0;

  constructor(
    readonly key: string,
    /** Capture time of the set's first fragment; the timeout counts from it. */
    readonly firstTs: number,
  ) {}

  /**
   * Records fragment data [start, end); `more` is the More Fragments flag. Overlaps are merged, as tshark
   * does when the overlapping bytes agree: the bytes are not kept, so they cannot be compared.
   */
  addRange(start: number, end: number, more: boolean): number {
    const r = this.ranges;
    if (!more) {
      if (this.total >= 0 && this.total !== end) return RANGE_CONFLICT;
      if (r.length > 0 && r[r.length - 1]! > end) return RANGE_CONFLICT;
      this.total = end;
    } else if (this.total >= 0 && end > this.total) {
      return RANGE_CONFLICT;
    }
    if (start === end) return RANGE_ADDED;
    // Find the pairs [i, j) that touch [start, end) and replace them with their union.
    let i = 0;
    while (i < r.length && r[i + 1]! < start) i += 2;
    let j = i;
    while (j < r.length && r[j]! <= end) {
      if (r[j]! < start) start = r[j]!;
      if (r[j + 1]! > end) end = r[j + 1]!;
      j += 2;
    }
    r.splice(i, j - i, start, end);
    return RANGE_ADDED;
  }

  /** True when the last fragment was seen and one range covers [0, total). */
  isComplete(): boolean {
    return this.total >= 0 && this.ranges.length === 2 && this.ranges[0] === 0 && this.ranges[1] === this.total;
  }

  /**
   * Copies the part of fragment data [start, start + len), found at `src[srcOff]`, that falls into the
   * fixed TCP header. Bytes already copied keep their first value.
   */
  copyTcpHeader(src: Uint8Array, srcOff: number, start: number, len: number): void {
    const from = Math.max(start, this.extLen);
    const to = Math.min(start + len, this.extLen + TCP_FIXED_HEADER_LEN);
    for (let p = from; p < to; p++) {
      const bit = 1 << (p - this.extLen);
      if ((this.tcpHeaderHave & bit) !== 0) continue;
      this.tcpHeader[p - this.extLen] = src[srcOff + p - start]!;
      this.tcpHeaderHave |= bit;
    }
  }

  /** True when every byte of the fixed TCP header was copied. */
  hasTcpHeader(): boolean {
    return this.tcpHeaderHave === ALL_HEADER_BYTES;
  }
}
