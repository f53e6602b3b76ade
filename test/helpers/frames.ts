import { pcapFile } from '../capture/captureBytes';
import { ethernet, ipv4, ipv6, tcp, vlanTag } from '../decode/frames';

/** Ethernet/IP/TCP frames with a real payload, so tests can prove it never leaks into any output. */

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

function ip4(s: string): [number, number, number, number] {
  const [a, b, c, d] = s.split('.').map(Number);
  return [a!, b!, c!, d!];
}

/** The 8 groups of an IPv6 address in text form (`::` expanded). */
export function v6Groups(s: string): number[] {
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const part = (x: string | undefined): number[] => (x ? x.split(':').map((g) => parseInt(g, 16)) : []);
  const h = part(head);
  const t = part(tail);
  return tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
}

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_VLAN = 0x8100;

/**
 * One Ethernet II frame (optionally 802.1Q tagged) carrying IPv4 (or IPv6, when the addresses contain ':') +
 * TCP (20-byte header) + payload.
 */
export function tcpFrame(t: TcpSpec): Buffer {
  const payload = typeof t.payload === 'string' ? Buffer.from(t.payload) : Buffer.from(t.payload ?? []);
  const segment = [...tcp({ sport: t.sport, dport: t.dport, seq: t.seq >>> 0, ack: (t.ack ?? 0) >>> 0, flags: t.flags, window: t.window ?? 65535 }), ...payload];
  const v6 = t.src.includes(':');
  const packet = v6 ? ipv6(segment, { src: v6Groups(t.src), dst: v6Groups(t.dst) }) : ipv4(segment, { src: ip4(t.src), dst: ip4(t.dst) });
  const type = v6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4;
  const frame = t.vlan === undefined ? ethernet(type, packet) : ethernet(ETHERTYPE_VLAN, [...vlanTag(t.vlan, type), ...packet]);
  return Buffer.from(frame);
}

/** Classic little-endian microsecond pcap of Ethernet frames, as bytes. */
export function pcapBytes(frames: { ts: number; data: Buffer }[], linkType = 1): Buffer {
  return pcapFile(
    { linkTypeField: linkType, snaplen: 262144 },
    frames.map((f) => {
      const sec = Math.floor(f.ts);
      return { sec, frac: Math.round((f.ts - sec) * 1e6), data: f.data };
    }),
  );
}

export const SYN = 0x02;
export const ACK = 0x10;
export const FIN = 0x01;
export const PSH = 0x08;
export const RST = 0x04;

/**
 * A complete TCP session: handshake, one segment per entry of `lengths` (a signed payload-length sequence as
 * SPEC.md writes it: `+n` client to server, `-n` server to client), then FIN both ways and the last ACK.
 * Payload bytes are filled with `marker` repeated, so tests can search the outputs for it.
 */
export function session(
  t0: number,
  client: string,
  server: string,
  cport: number,
  sport: number,
  lengths: number[],
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
  for (const len of lengths) {
    if (len > 0) c(ACK | PSH, len);
    else if (len < 0) s(ACK | PSH, -len);
  }
  c(FIN | ACK);
  s(FIN | ACK);
  c(ACK);
  return out;
}

/** session() from request/response pairs: `exchanges` of [client bytes, server bytes] (0 = no segment). */
export function conversation(
  t0: number,
  client: string,
  server: string,
  cport: number,
  sport: number,
  exchanges: [number, number][],
  marker = 'PAYLOAD-MARKER-',
): { ts: number; data: Buffer }[] {
  return session(t0, client, server, cport, sport, exchanges.flatMap(([up, down]) => [up, -down]), marker);
}
