import { PcapWriter } from '../../src/capture/pcapWriter';
import { ACK, FIN, PSH, SYN, tcpFrame } from '../helpers/frames';

/** Handshake bytes and whole TCP sessions for the labeller's tests (full payload, like a learn capture). */

const u16 = (v: number): number[] => [(v >> 8) & 0xff, v & 0xff];
const u24 = (v: number): number[] => [(v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff];

function ext(type: number, body: number[]): number[] {
  return [...u16(type), ...u16(body.length), ...body];
}

/**
 * A TLS 1.2/1.3-style ClientHello record: `sni` in a server_name extension (none when null), `alpn` offered,
 * `padding` bytes of a padding extension (to make it span several segments), extension order as given.
 */
export function clientHello(sni: string | null, alpn: string[] = [], padding = 0, sniLast = false): Buffer {
  const exts: number[][] = [];
  if (sni !== null) {
    const name = [...Buffer.from(sni, 'latin1')];
    exts.push(ext(0, [...u16(name.length + 3), 0, ...u16(name.length), ...name]));
  }
  if (alpn.length > 0) {
    const list = alpn.flatMap((a) => [a.length, ...Buffer.from(a, 'latin1')]);
    exts.push(ext(16, [...u16(list.length), ...list]));
  }
  exts.push(ext(43, [4, 0x03, 0x04, 0x03, 0x03])); // supported_versions
  if (padding > 0) exts.push(ext(21, new Array<number>(padding).fill(0)));
  if (sniLast && sni !== null) exts.push(exts.shift()!);
  const extBytes = exts.flat();
  const body = [
    0x03, 0x03, ...new Array<number>(32).fill(7), // version, random
    32, ...new Array<number>(32).fill(9), // session id
    ...u16(6), 0x13, 0x01, 0x13, 0x02, 0xc0, 0x2f, // cipher suites
    1, 0, // compression
    ...u16(extBytes.length), ...extBytes,
  ];
  const hs = [1, ...u24(body.length), ...body];
  return Buffer.from([0x16, 0x03, 0x01, ...u16(hs.length), ...hs]);
}

/** A ServerHello-sized opaque server answer (contents do not matter to the labeller). */
export function serverBytes(n: number, fill = 0x42): Buffer {
  return Buffer.alloc(n, fill);
}

export type Message = ['c' | 's', Buffer | string];

export interface SessionSpec {
  t0: number;
  client: string;
  server: string;
  cport: number;
  sport: number;
  messages: Message[];
  /** Largest payload per segment (default 1448): longer messages are split like TCP does. */
  mss?: number;
  /** Leave out the handshake (a flow first seen mid-stream). */
  midstream?: boolean;
}

/** Frames of a whole TCP session: SYN, SYN+ACK, ACK, the messages (split at the MSS), FIN both ways. */
export function session(s: SessionSpec): { ts: number; data: Buffer }[] {
  const out: { ts: number; data: Buffer }[] = [];
  const mss = s.mss ?? 1448;
  let ts = s.t0;
  let cseq = 1000;
  let sseq = 70000;
  const c = (flags: number, payload: Buffer = Buffer.alloc(0)): void => {
    out.push({ ts, data: tcpFrame({ src: s.client, dst: s.server, sport: s.cport, dport: s.sport, seq: cseq, ack: sseq, flags, payload }) });
    cseq += payload.length + (flags & (SYN | FIN) ? 1 : 0);
    ts += 0.001;
  };
  const v = (flags: number, payload: Buffer = Buffer.alloc(0)): void => {
    out.push({ ts, data: tcpFrame({ src: s.server, dst: s.client, sport: s.sport, dport: s.cport, seq: sseq, ack: cseq, flags, payload }) });
    sseq += payload.length + (flags & (SYN | FIN) ? 1 : 0);
    ts += 0.001;
  };
  if (!s.midstream) {
    c(SYN);
    v(SYN | ACK);
    c(ACK);
  }
  for (const [dir, m] of s.messages) {
    const bytes = typeof m === 'string' ? Buffer.from(m, 'latin1') : m;
    for (let off = 0; off < bytes.length; off += mss) (dir === 'c' ? c : v)(ACK | PSH, bytes.subarray(off, off + mss));
  }
  c(FIN | ACK);
  v(FIN | ACK);
  c(ACK);
  return out;
}

/** Writes frames (sorted by time) to a classic pcap, cut at `snaplen` when given. */
export function writePcap(path: string, frames: { ts: number; data: Buffer }[], snaplen?: number): void {
  const w = new PcapWriter(path, 1, snaplen !== undefined ? { snaplen } : undefined);
  for (const f of [...frames].sort((a, b) => a.ts - b.ts)) w.write(f.ts, f.data);
  w.close();
}

/** Client and server messages of well-known protocols, as a real session starts. */
export const SESSIONS = {
  https: (sni: string, alpn: string[] = ['h2', 'http/1.1']): Message[] => [
    ['c', clientHello(sni, alpn)],
    ['s', serverBytes(1448)],
    ['s', serverBytes(1200)],
    ['c', serverBytes(80, 0x17)],
    ['c', serverBytes(300, 0x17)],
    ['s', serverBytes(900, 0x17)],
  ],
  http: (host: string): Message[] => [
    ['c', `GET /index.html HTTP/1.1\r\nUser-Agent: test\r\nHost: ${host}\r\nAccept: */*\r\n\r\n`],
    ['s', 'HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n' + 'x'.repeat(2000)],
  ],
  ssh: (): Message[] => [
    ['s', 'SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n'],
    ['c', 'SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n'],
    ['c', serverBytes(1500, 0x14)],
    ['s', serverBytes(1100, 0x14)],
  ],
  smtp: (): Message[] => [
    ['s', '220 mail.example.org ESMTP Postfix\r\n'],
    ['c', 'EHLO client.example.org\r\n'],
    ['s', '250-mail.example.org\r\n250-STARTTLS\r\n250 8BITMIME\r\n'],
    ['c', 'MAIL FROM:<a@example.org>\r\n'],
    ['s', '250 2.1.0 Ok\r\n'],
  ],
  smtpStarttls: (sni: string): Message[] => [
    ['s', '220 mail.example.org ESMTP Postfix\r\n'],
    ['c', 'EHLO client.example.org\r\n'],
    ['s', '250-mail.example.org\r\n250 STARTTLS\r\n'],
    ['c', 'STARTTLS\r\n'],
    ['s', '220 2.0.0 Ready to start TLS\r\n'],
    ['c', clientHello(sni)],
    ['s', serverBytes(1300)],
  ],
  ftp: (): Message[] => [
    ['s', '220 (vsFTPd 3.0.3)\r\n'],
    ['c', 'USER anonymous\r\n'],
    ['s', '331 Please specify the password.\r\n'],
  ],
  imap: (): Message[] => [
    ['s', '* OK [CAPABILITY IMAP4rev1] Dovecot ready.\r\n'],
    ['c', 'a1 LOGIN user pass\r\n'],
    ['s', 'a1 OK Logged in\r\n'],
  ],
  pop3: (): Message[] => [
    ['s', '+OK Dovecot ready.\r\n'],
    ['c', 'USER u\r\n'],
    ['s', '+OK\r\n'],
  ],
};

/** The sessions of the generated services capture: what each is, and the label sensor learn must give it. */
export const SPECS: { label: string; name: string | null; sport: number; messages: Message[]; mss?: number; midstream?: boolean }[] = [
  { label: 'github', name: 'api.github.com', sport: 443, messages: SESSIONS.https('api.github.com') },
  { label: 'example.co.uk', name: 'www.example.co.uk', sport: 443, messages: SESSIONS.https('www.example.co.uk', ['http/1.1']) },
  // A ClientHello of ~2 KiB (a post-quantum key share) in two segments, its server_name in the second.
  { label: 'example.org', name: 'cdn.bigtls.example.org', sport: 443, messages: [['c', clientHello('cdn.bigtls.example.org', ['h2'], 1900, true)], ['s', serverBytes(1448)]] },
  { label: 'wikipedia', name: 'en.wikipedia.org', sport: 80, messages: SESSIONS.http('en.wikipedia.org:80') },
  { label: 'example.net', name: 'plain.example.net', sport: 8080, messages: SESSIONS.http('plain.example.net') },
  { label: 'ssh', name: null, sport: 22, messages: SESSIONS.ssh() },
  { label: 'smtp', name: null, sport: 25, messages: SESSIONS.smtp() },
  { label: 'smtp', name: 'mail.example.org', sport: 587, messages: SESSIONS.smtpStarttls('mail.example.org') },
  { label: 'ftp', name: null, sport: 21, messages: SESSIONS.ftp() },
  { label: 'imap', name: null, sport: 143, messages: SESSIONS.imap() },
  { label: 'pop3', name: null, sport: 110, messages: SESSIONS.pop3() },
  { label: 'imaps', name: 'imap.example.org', sport: 993, messages: SESSIONS.https('imap.example.org', []) },
];
/** Flows that must not become rows: no handshake to read, and one seen mid-stream. */
export const UNNAMED = [
  { sport: 9000, messages: [['c', serverBytes(100, 0x01)], ['s', serverBytes(200, 0x02)]] as Message[] },
  { sport: 443, messages: SESSIONS.https('mid.example.com'), midstream: true as boolean },
];


/** The services capture: every SPECS session (client 10.1.0.<i+1>), then the UNNAMED ones (client 10.2.0.<i+1>). */
export function writeServicesCapture(file: string): void {
  const frames = [
    ...SPECS.flatMap((s, i) => session({ t0: 1750000000 + i, client: `10.1.0.${i + 1}`, server: '192.0.2.10', cport: 40000 + i, sport: s.sport, messages: s.messages })),
    ...UNNAMED.map((u, i) =>
      session({ t0: 1750000100 + i, client: `10.2.0.${i + 1}`, server: '192.0.2.20', cport: 41000 + i, sport: u.sport, messages: u.messages, midstream: u.midstream === true }),
    ).flat(),
  ];
  writePcap(file, frames);
}
