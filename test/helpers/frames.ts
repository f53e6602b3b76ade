/** Builds Ethernet/IPv4/TCP frames for tests (with a real payload, so tests can prove it never leaks). */

export interface TcpSpec {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  seq: number;
  ack?: number;
  flags: number;
  payload?: Uint8Array | string;
  window?: number;
  vlan?: number;
}

function ip4(s: string): number[] {
  return s.split('.').map(Number);
}

/** One Ethernet II frame (optionally 802.1Q tagged) carrying IPv4 + TCP (20-byte header) + payload. */
export function tcpFrame(t: TcpSpec): Buffer {
  const payload = typeof t.payload === 'string' ? Buffer.from(t.payload) : Buffer.from(t.payload ?? []);
  const vlanLen = t.vlan !== undefined ? 4 : 0;
  const buf = Buffer.alloc(14 + vlanLen + 20 + 20 + payload.length);
  let o = 0;
  buf.set([0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 6], 0);
  o = 12;
  if (t.vlan !== undefined) {
    buf.writeUInt16BE(0x8100, o);
    buf.writeUInt16BE(t.vlan & 0xfff, o + 2);
    o += 4;
  }
  buf.writeUInt16BE(0x0800, o);
  o += 2;
  buf[o] = 0x45;
  buf.writeUInt16BE(40 + payload.length, o + 2);
  buf[o + 8] = 64;
  buf[o + 9] = 6;
  buf.set(ip4(t.src), o + 12);
  buf.set(ip4(t.dst), o + 16);
  o += 20;
  buf.writeUInt16BE(t.sport, o);
  buf.writeUInt16BE(t.dport, o + 2);
  buf.writeUInt32BE(t.seq >>> 0, o + 4);
  buf.writeUInt32BE((t.ack ?? 0) >>> 0, o + 8);
  buf[o + 12] = 5 << 4;
  buf[o + 13] = t.flags;
  buf.writeUInt16BE(t.window ?? 65535, o + 14);
  o += 20;
  buf.set(payload, o);
  return buf;
}

/** Classic little-endian microsecond pcap of Ethernet frames, as bytes. */
export function pcapBytes(frames: { ts: number; data: Buffer }[], linkType = 1): Buffer {
  const parts: Buffer[] = [];
  const h = Buffer.alloc(24);
  h.writeUInt32LE(0xa1b2c3d4, 0);
  h.writeUInt16LE(2, 4);
  h.writeUInt16LE(4, 6);
  h.writeUInt32LE(262144, 16);
  h.writeUInt32LE(linkType, 20);
  parts.push(h);
  for (const f of frames) {
    const r = Buffer.alloc(16);
    const sec = Math.floor(f.ts);
    r.writeUInt32LE(sec, 0);
    r.writeUInt32LE(Math.round((f.ts - sec) * 1e6), 4);
    r.writeUInt32LE(f.data.length, 8);
    r.writeUInt32LE(f.data.length, 12);
    parts.push(r, f.data);
  }
  return Buffer.concat(parts);
}

export const SYN = 0x02;
export const ACK = 0x10;
export const FIN = 0x01;
export const PSH = 0x08;
export const RST = 0x04;

/**
 * A complete TCP conversation: handshake, then `exchanges` of [client bytes, server bytes], then FIN both ways.
 * Payload bytes are filled with `marker` repeated, so tests can search the outputs for it.
 */
export function conversation(
  t0: number,
  client: string,
  server: string,
  cport: number,
  sport: number,
  exchanges: [number, number][],
  marker = 'PAYLOAD-MARKER-',
): { ts: number; data: Buffer }[] {
  const out: { ts: number; data: Buffer }[] = [];
  let ts = t0;
  let cseq = 1000;
  let sseq = 50000;
  const fill = (n: number): Buffer => Buffer.from(marker.repeat(Math.ceil(n / marker.length)).slice(0, n));
  const c = (flags: number, n = 0): void => {
    out.push({ ts, data: tcpFrame({ src: client, dst: server, sport: cport, dport: sport, seq: cseq, ack: sseq, flags, payload: fill(n) }) });
    cseq += n + (flags & (SYN | FIN) ? 1 : 0);
    ts += 0.001;
  };
  const s = (flags: number, n = 0): void => {
    out.push({ ts, data: tcpFrame({ src: server, dst: client, sport, dport: cport, seq: sseq, ack: cseq, flags, payload: fill(n) }) });
    sseq += n + (flags & (SYN | FIN) ? 1 : 0);
    ts += 0.001;
  };
  c(SYN);
  s(SYN | ACK);
  c(ACK);
  for (const [up, down] of exchanges) {
    if (up > 0) c(ACK | PSH, up);
    if (down > 0) s(ACK | PSH, down);
  }
  c(FIN | ACK);
  s(FIN | ACK);
  c(ACK);
  return out;
}
