/**
 * Byte builders for inline test captures: classic pcap records and pcapng blocks, in either byte
 * order, with every length field settable so that damaged files can be written on purpose.
 */

export interface PcapRecordSpec {
  sec: number;
  frac: number;
  data: Uint8Array;
  /** Original length; defaults to data.length. */
  wireLen?: number;
  /** Captured length field; defaults to data.length (set it to lie about the length). */
  capLen?: number;
}

export interface PcapFileSpec {
  littleEndian?: boolean;
  nanosecond?: boolean;
  /** Whole 32-bit link-type field (upper bits included). */
  linkTypeField?: number;
  snaplen?: number;
  versionMinor?: number;
}

/** A classic pcap file header. */
export function pcapHeader(spec: PcapFileSpec = {}): Buffer {
  const le = spec.littleEndian ?? true;
  const b = Buffer.alloc(24);
  const magic = spec.nanosecond === true ? 0xa1b23c4d : 0xa1b2c3d4;
  w32(b, 0, magic, le);
  w16(b, 4, 2, le);
  w16(b, 6, spec.versionMinor ?? 4, le);
  w32(b, 16, spec.snaplen ?? 65535, le);
  w32(b, 20, spec.linkTypeField ?? 1, le);
  return b;
}

/** One classic pcap record: 16-byte header and the data. */
export function pcapRecord(r: PcapRecordSpec, littleEndian = true): Buffer {
  const h = Buffer.alloc(16);
  w32(h, 0, r.sec, littleEndian);
  w32(h, 4, r.frac, littleEndian);
  w32(h, 8, r.capLen ?? r.data.length, littleEndian);
  w32(h, 12, r.wireLen ?? r.data.length, littleEndian);
  return Buffer.concat([h, r.data]);
}

/** A whole classic pcap file. */
export function pcapFile(spec: PcapFileSpec, records: PcapRecordSpec[]): Buffer {
  const le = spec.littleEndian ?? true;
  return Buffer.concat([pcapHeader(spec), ...records.map((r) => pcapRecord(r, le))]);
}

/** Option TLVs (code, value) padded to 4, followed by opt_endofopt. */
export function pcapngOptions(opts: Array<[number, Uint8Array]>, le = true): Buffer {
  if (opts.length === 0) return Buffer.alloc(0);
  const parts: Buffer[] = [];
  for (const [code, value] of opts) {
    const h = Buffer.alloc(4);
    w16(h, 0, code, le);
    w16(h, 2, value.length, le);
    parts.push(h, Buffer.from(value), Buffer.alloc(pad4(value.length) - value.length));
  }
  parts.push(Buffer.alloc(4));
  return Buffer.concat(parts);
}

/** A pcapng block: type, total length, body padded to 4, total length again. */
export function pcapngBlock(type: number, body: Uint8Array, le = true, lengthOverride?: { leading?: number; trailing?: number }): Buffer {
  const padded = pad4(body.length);
  const total = 12 + padded;
  const b = Buffer.alloc(total);
  w32(b, 0, type, le);
  w32(b, 4, lengthOverride?.leading ?? total, le);
  b.set(body, 8);
  w32(b, total - 4, lengthOverride?.trailing ?? total, le);
  return b;
}

/** Section Header Block, version 1.0, section length unknown (-1). */
export function shb(le = true): Buffer {
  const body = Buffer.alloc(16);
  w32(body, 0, 0x1a2b3c4d, le);
  w16(body, 4, 1, le);
  w16(body, 6, 0, le);
  body.fill(0xff, 8, 16);
  return pcapngBlock(0x0a0d0d0a, body, le);
}

/** Interface Description Block. */
export function idb(linkType: number, snaplen = 0, options: Array<[number, Uint8Array]> = [], le = true): Buffer {
  const fixed = Buffer.alloc(8);
  w16(fixed, 0, linkType, le);
  w32(fixed, 4, snaplen, le);
  return pcapngBlock(1, Buffer.concat([fixed, pcapngOptions(options, le)]), le);
}

export interface PacketBlockSpec {
  ifId: number;
  /** Timestamp in ticks of the interface's resolution, as a bigint (split into high/low words). */
  ticks: bigint;
  data: Uint8Array;
  wireLen?: number;
  capLen?: number;
  options?: Array<[number, Uint8Array]>;
}

/** Enhanced Packet Block. */
export function epb(p: PacketBlockSpec, le = true): Buffer {
  return pcapngBlock(6, packetBody(p, false, le), le);
}

/** Obsolete Packet Block (type 2): 16-bit interface id and drops count. */
export function opb(p: PacketBlockSpec, le = true): Buffer {
  return pcapngBlock(2, packetBody(p, true, le), le);
}

/** Simple Packet Block: original length and data only. */
export function spb(data: Uint8Array, wireLen: number, le = true): Buffer {
  const h = Buffer.alloc(4);
  w32(h, 0, wireLen, le);
  return pcapngBlock(3, Buffer.concat([h, data]), le);
}

function packetBody(p: PacketBlockSpec, obsolete: boolean, le: boolean): Buffer {
  const h = Buffer.alloc(20);
  if (obsolete) {
    w16(h, 0, p.ifId, le);
    w16(h, 2, 0, le);
  } else {
    w32(h, 0, p.ifId, le);
  }
  w32(h, 4, Number(p.ticks >> 32n), le);
  w32(h, 8, Number(p.ticks & 0xffffffffn), le);
  w32(h, 12, p.capLen ?? p.data.length, le);
  w32(h, 16, p.wireLen ?? p.data.length, le);
  const data = Buffer.concat([Buffer.from(p.data), Buffer.alloc(pad4(p.data.length) - p.data.length)]);
  return Buffer.concat([h, data, pcapngOptions(p.options ?? [], le)]);
}

/** if_tsoffset value: signed 64-bit seconds in the section's byte order. */
export function int64Bytes(v: bigint, le = true): Buffer {
  const b = Buffer.alloc(8);
  if (le) b.writeBigInt64LE(v);
  else b.writeBigInt64BE(v);
  return b;
}

/** `n` bytes counting up from `start` (mod 256), so a frame's bytes say where they came from. */
export function bytesFrom(start: number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (start + i) & 0xff;
  return b;
}

function pad4(n: number): number {
  return (n + 3) & ~3;
}

function w16(b: Buffer, off: number, v: number, le: boolean): void {
  if (le) b.writeUInt16LE(v, off);
  else b.writeUInt16BE(v, off);
}

function w32(b: Buffer, off: number, v: number, le: boolean): void {
  if (le) b.writeUInt32LE(v >>> 0, off);
  else b.writeUInt32BE(v >>> 0, off);
}
