import { PcapWriter } from '../../src/capture/pcapWriter';
import { ipChecksum } from './synthBits';

/**
 * A deterministic capture whose TCP connections carry given payload-length sequences (e.g. the labelled rows of
 * models/lab/sample.csv, so the bundled model has something to name): per flow a handshake, one segment per
 * non-zero length (+ client to server, - server to client), and a FIN exchange. Frames are written as a span
 * port captures them, cut after the headers (the IP total length keeps the true size). Rejected (SYN, RST) and
 * unanswered (SYN only) connections are mixed in for conn_state variety.
 */
export interface SequenceFlow {
  label: string;
  lengths: number[];
}

export interface SequenceCaptureOptions {
  /** Unix seconds of the first packet. */
  start: number;
  /** Flows start evenly over this many seconds. */
  spanSeconds: number;
  /** Distinct client hosts (10.1.0.1 ...). */
  clients: number;
  /** Every Nth flow slot is a rejected connection, every Mth an unanswered one (0: none). */
  rejectEvery: number;
  unansweredEvery: number;
}

export interface ExpectedFlow {
  label: string;
  client_ip: string;
  client_port: number;
  server_ip: string;
  server_port: number;
  first_ts: number;
  conn_state: 'SF' | 'REJ' | 'S0';
  lengths: number[];
}

const LINKTYPE_ETHERNET = 1;
const ETH = 14;
const IP = 20;
const TCP = 20;
const SYN = 0x02;
const ACK = 0x10;
const PSH = 0x08;
const FIN = 0x01;
const RST = 0x04;
/** Header-only frames, as the sensor's default snaplen keeps them. */
const SNAPLEN = 128;
/** Seconds between the packets of one connection. */
const GAP = 0.001;

const SERVICE_PORTS: Record<string, number> = {
  dns: 53, ftp: 21, git: 9418, http: 80, imap: 143, imaps: 993, ldap: 389, ldaps: 636, memcached: 11211, mqtt: 1883,
  mqtts: 8883, mysql: 3306, pop3: 110, pop3s: 995, postgresql: 5432, redis: 6379, rsync: 873, smtp: 25, smtps: 465,
  ssh: 22, tls: 443, xmpp: 5222,
};

function ip(text: string): number[] {
  return text.split('.').map(Number);
}

export function writeSequenceCapture(file: string, flows: readonly SequenceFlow[], opts: SequenceCaptureOptions): ExpectedFlow[] {
  const out = new PcapWriter(file, LINKTYPE_ETHERNET, { snaplen: SNAPLEN });
  const labels = [...new Set(flows.map((f) => f.label))].sort();
  const expected: ExpectedFlow[] = [];
  let ipId = 0;
  const frame = (ts: number, src: string, dst: string, sport: number, dport: number, seq: number, ack: number, flags: number, len: number): void => {
    const f = Buffer.alloc(ETH + IP + TCP);
    f.set([0x02, 0, 0, 0, 0, 2], 0);
    f.set([0x02, 0, 0, 0, 0, 1], 6);
    f.writeUInt16BE(0x0800, 12);
    f[ETH] = 0x45;
    f.writeUInt16BE(IP + TCP + len, ETH + 2);
    f.writeUInt16BE(ipId++ & 0xffff, ETH + 4);
    f[ETH + 8] = 64;
    f[ETH + 9] = 6;
    f.set(ip(src), ETH + 12);
    f.set(ip(dst), ETH + 16);
    f.writeUInt16BE(ipChecksum(f, ETH), ETH + 10);
    const t = ETH + IP;
    f.writeUInt16BE(sport, t);
    f.writeUInt16BE(dport, t + 2);
    f.writeUInt32BE(seq >>> 0, t + 4);
    f.writeUInt32BE(ack >>> 0, t + 8);
    f[t + 12] = 5 << 4;
    f[t + 13] = flags;
    f.writeUInt16BE(65535, t + 14);
    out.write(ts, f, ETH + IP + TCP + len);
  };

  // Slots are evenly spaced; some hold a rejected or unanswered connection instead of the next flow.
  const extra = (opts.rejectEvery > 0 ? 1 / opts.rejectEvery : 0) + (opts.unansweredEvery > 0 ? 1 / opts.unansweredEvery : 0);
  const spacing = opts.spanSeconds / Math.max(1, flows.length * (1 + extra));
  let next = 0;
  for (let slot = 0; next < flows.length; slot++) {
    const ts0 = opts.start + slot * spacing;
    const client = `10.1.0.${1 + (slot % opts.clients)}`;
    const cport = 40000 + (slot % 20000);
    let cseq = (slot * 7919) >>> 0;
    let sseq = (slot * 104729) >>> 0;
    if (opts.rejectEvery > 0 && slot % opts.rejectEvery === opts.rejectEvery - 1) {
      const server = '10.2.1.1';
      frame(ts0, client, server, cport, 8080, cseq, 0, SYN, 0);
      frame(ts0 + GAP, server, client, 8080, cport, 0, cseq + 1, RST | ACK, 0);
      expected.push({ label: 'no-payload', client_ip: client, client_port: cport, server_ip: server, server_port: 8080, first_ts: ts0, conn_state: 'REJ', lengths: [] });
      continue;
    }
    if (opts.unansweredEvery > 0 && slot % opts.unansweredEvery === opts.unansweredEvery - 1) {
      const server = '10.2.1.2';
      frame(ts0, client, server, cport, 3389, cseq, 0, SYN, 0);
      expected.push({ label: 'no-payload', client_ip: client, client_port: cport, server_ip: server, server_port: 3389, first_ts: ts0, conn_state: 'S0', lengths: [] });
      continue;
    }
    const flow = flows[next++]!;
    const li = labels.indexOf(flow.label);
    const server = `10.2.0.${1 + li}`;
    const sport = SERVICE_PORTS[flow.label] ?? 10000 + li;
    let ts = ts0;
    frame(ts, client, server, cport, sport, cseq, 0, SYN, 0);
    frame((ts += GAP), server, client, sport, cport, sseq, cseq + 1, SYN | ACK, 0);
    cseq++;
    sseq++;
    frame((ts += GAP), client, server, cport, sport, cseq, sseq, ACK, 0);
    for (const len of flow.lengths) {
      if (len === 0) break;
      if (len > 0) {
        frame((ts += GAP), client, server, cport, sport, cseq, sseq, ACK | PSH, len);
        cseq = (cseq + len) >>> 0;
      } else {
        frame((ts += GAP), server, client, sport, cport, sseq, cseq, ACK | PSH, -len);
        sseq = (sseq - len) >>> 0;
      }
    }
    frame((ts += GAP), client, server, cport, sport, cseq, sseq, FIN | ACK, 0);
    frame((ts += GAP), server, client, sport, cport, sseq, cseq + 1, FIN | ACK, 0);
    frame((ts += GAP), client, server, cport, sport, cseq + 1, sseq + 1, ACK, 0);
    expected.push({ label: flow.label, client_ip: client, client_port: cport, server_ip: server, server_port: sport, first_ts: ts0, conn_state: 'SF', lengths: flow.lengths });
  }
  out.close();
  return expected;
}
