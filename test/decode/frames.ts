/**
 * Byte builders for decoder tests: each returns plain byte arrays so a test reads as the layers of the
 * frame it builds. Checksums are left 0 (the decoder never looks at them).
 */
import { Frame } from '../../src/capture/frame';

export type Bytes = number[];

export function u16be(v: number): Bytes {
  return [(v >>> 8) & 0xff, v & 0xff];
}

export function u32be(v: number): Bytes {
  return [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
}

export function u16le(v: number): Bytes {
  return [v & 0xff, (v >>> 8) & 0xff];
}

export function u32le(v: number): Bytes {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}

export function zeros(n: number): Bytes {
  return new Array<number>(n).fill(0);
}

export interface TcpFields {
  sport?: number;
  dport?: number;
  seq?: number;
  ack?: number;
  flags?: number;
  window?: number;
  /** TCP options, padded by the caller to a multiple of 4. */
  options?: Bytes;
  /** Data offset in 32-bit words; by default 5 + options/4. */
  dataOffset?: number;
  /** Payload length (bytes filled with 0x61 'a'). */
  payload?: number;
}

export function tcp(f: TcpFields = {}): Bytes {
  const options = f.options ?? [];
  const doff = f.dataOffset ?? 5 + options.length / 4;
  return [
    ...u16be(f.sport ?? 40000),
    ...u16be(f.dport ?? 443),
    ...u32be(f.seq ?? 1000),
    ...u32be(f.ack ?? 2000),
    doff << 4,
    f.flags ?? 0x18,
    ...u16be(f.window ?? 65535),
    0,
    0,
    0,
    0,
    ...options,
    ...new Array<number>(f.payload ?? 0).fill(0x61),
  ];
}

export interface Ipv4Fields {
  src?: [number, number, number, number];
  dst?: [number, number, number, number];
  proto?: number;
  id?: number;
  /** Fragment offset in bytes (a multiple of 8). */
  fragOffset?: number;
  moreFragments?: boolean;
  dontFragment?: boolean;
  /** Total length override (default header + payload). */
  totalLength?: number;
  /** Header length in 32-bit words override (default 5 + options/4). */
  ihl?: number;
  options?: Bytes;
  version?: number;
}

export function ipv4(payload: Bytes, f: Ipv4Fields = {}): Bytes {
  const options = f.options ?? [];
  const ihl = f.ihl ?? 5 + options.length / 4;
  const total = f.totalLength ?? 20 + options.length + payload.length;
  const flagsOffset =
    (f.moreFragments === true ? 0x2000 : 0) | (f.dontFragment === true ? 0x4000 : 0) | ((f.fragOffset ?? 0) / 8);
  return [
    ((f.version ?? 4) << 4) | (ihl & 0x0f),
    0,
    ...u16be(total),
    ...u16be(f.id ?? 0x1234),
    ...u16be(flagsOffset),
    64,
    f.proto ?? 6,
    0,
    0,
    ...(f.src ?? [10, 0, 0, 1]),
    ...(f.dst ?? [10, 0, 0, 2]),
    ...options,
    ...payload,
  ];
}

/** 16 address bytes from 8 groups. */
export function v6(groups: number[]): Bytes {
  return groups.flatMap((g) => u16be(g));
}

export const V6_SRC = [0x2001, 0xdb8, 0, 0, 0, 0, 0, 1];
export const V6_DST = [0x2001, 0xdb8, 0, 0, 0, 0, 0, 2];

export interface Ipv6Fields {
  next?: number;
  /** Payload length override (default: the payload's length). */
  payloadLength?: number;
  src?: number[];
  dst?: number[];
  version?: number;
}

/** An IPv6 header followed by `payload` (extension headers included in it by the caller). */
export function ipv6(payload: Bytes, f: Ipv6Fields = {}): Bytes {
  return [
    (f.version ?? 6) << 4,
    0,
    0,
    0,
    ...u16be(f.payloadLength ?? payload.length),
    f.next ?? 6,
    64,
    ...v6(f.src ?? V6_SRC),
    ...v6(f.dst ?? V6_DST),
    ...payload,
  ];
}

/** A generic IPv6 extension header (hop-by-hop, routing, destination options, mobility): 8 * (len + 1) bytes. */
export function ext6(next: number, body: Bytes = zeros(6)): Bytes {
  const total = 2 + body.length;
  if (total % 8 !== 0) throw new Error(`extension header must be a multiple of 8 bytes, got ${total}`);
  return [next, total / 8 - 1, ...body];
}

/** An IPv6 fragment header. */
export function frag6(next: number, offset: number, more: boolean, id: number): Bytes {
  return [next, 0, ...u16be(offset | (more ? 1 : 0)), ...u32be(id)];
}

export const MAC_DST = [0x00, 0x11, 0x22, 0x33, 0x44, 0x55];
export const MAC_SRC = [0x00, 0x66, 0x77, 0x88, 0x99, 0xaa];

export function ethernet(type: number, payload: Bytes): Bytes {
  return [...MAC_DST, ...MAC_SRC, ...u16be(type), ...payload];
}

/** A VLAN tag (TPID is the caller's EtherType before it): TCI then the inner EtherType. */
export function vlanTag(vid: number, innerType: number, pcp = 0): Bytes {
  return [...u16be((pcp << 13) | vid), ...u16be(innerType)];
}

export function mplsLabel(label: number, bottom: boolean): Bytes {
  return u32be((label << 12) | (bottom ? 0x100 : 0) | 64);
}

export function pppoeSession(pppProtocol: number, payload: Bytes): Bytes {
  return [0x11, 0x00, ...u16be(0x0001), ...u16be(payload.length + 2), ...u16be(pppProtocol), ...payload];
}

export function sll(protocol: number, payload: Bytes): Bytes {
  return [...u16be(0), ...u16be(1), ...u16be(6), ...MAC_SRC, 0, 0, ...u16be(protocol), ...payload];
}

export function sll2(protocol: number, payload: Bytes): Bytes {
  return [...u16be(protocol), 0, 0, ...u32be(2), ...u16be(1), 0, 6, ...MAC_SRC, 0, 0, ...payload];
}

/** An NFLOG TLV, padded to 4 bytes. */
export function nflogTlv(type: number, value: Bytes): Bytes {
  const len = 4 + value.length;
  const pad = (4 - (len % 4)) % 4;
  return [...u16le(len), ...u16le(type), ...value, ...zeros(pad)];
}

export function nflog(family: number, tlvs: Bytes): Bytes {
  return [family, 0, 0, 0, ...tlvs];
}

export interface FrameOptions {
  /** Captured bytes (default: all). */
  capLen?: number;
  /** Length on the wire (default: the byte count). */
  wireLen?: number;
  ts?: number;
}

/**
 * A Frame whose bytes sit at a non-zero offset inside a larger buffer with garbage around them, as in a
 * capture source's read buffer, so a decoder that ignores `off` or reads past capLen fails the tests.
 */
export function makeFrame(linkType: number, bytes: Bytes, o: FrameOptions = {}): Frame {
  const pre = 7;
  const buf = Buffer.alloc(pre + bytes.length + 64, 0xee);
  Buffer.from(bytes).copy(buf, pre);
  const f = new Frame();
  f.buf = buf;
  f.off = pre;
  f.capLen = o.capLen ?? bytes.length;
  f.wireLen = o.wireLen ?? bytes.length;
  f.ts = o.ts ?? 1700000000.5;
  f.linkType = linkType;
  return f;
}
