import { writeFileSync } from 'node:fs';

import { ACK, pcapBytes, RST, session, SYN, tcpFrame } from './frames';

/**
 * A deterministic capture whose TCP connections carry given payload-length sequences (e.g. the labelled rows of
 * models/sensor.sample.csv, so the bundled model has something to name): one session() per flow (handshake, one
 * segment per non-zero length, FIN exchange), evenly spaced in time, with rejected (SYN, RST) and unanswered
 * (SYN only) connections mixed in for conn_state variety.
 */
export interface SequenceFlow {
  label: string;
  lengths: number[];
}

export interface SequenceCaptureOptions {
  /** Unix seconds of the first packet. */
  start: number;
  /** Flows start evenly over about this many seconds. */
  spanSeconds: number;
  /** Distinct client hosts (10.1.0.1 ...). */
  clients: number;
  /** Every Nth slot is a rejected connection, every Mth an unanswered one (0: none). */
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
  /** The sequence as the sensor records it: the non-zero entries up to the first zero (zeros are padding). */
  lengths: number[];
}

const SERVICE_PORTS: Record<string, number> = {
  dns: 53, ftp: 21, git: 9418, http: 80, imap: 143, imaps: 993, ldap: 389, ldaps: 636, memcached: 11211, mqtt: 1883,
  mqtts: 8883, mysql: 3306, pop3: 110, pop3s: 995, postgresql: 5432, redis: 6379, rsync: 873, smtp: 25, smtps: 465,
  ssh: 22, tls: 443, xmpp: 5222,
};
const REJECTING = { ip: '10.2.1.1', port: 8080 };
const SILENT = { ip: '10.2.1.2', port: 3389 };

export function writeSequenceCapture(file: string, flows: readonly SequenceFlow[], opts: SequenceCaptureOptions): ExpectedFlow[] {
  const labels = [...new Set(flows.map((f) => f.label))].sort();
  const frames: { ts: number; data: Buffer }[] = [];
  const expected: ExpectedFlow[] = [];
  const extra = (opts.rejectEvery > 0 ? 1 / opts.rejectEvery : 0) + (opts.unansweredEvery > 0 ? 1 / opts.unansweredEvery : 0);
  const spacing = opts.spanSeconds / Math.max(1, flows.length * (1 + extra));
  let next = 0;
  for (let slot = 0; next < flows.length; slot++) {
    const ts = opts.start + slot * spacing;
    const client = `10.1.0.${1 + (slot % opts.clients)}`;
    const cport = 40000 + (slot % 20000);
    if (opts.rejectEvery > 0 && slot % opts.rejectEvery === opts.rejectEvery - 1) {
      const { ip, port } = REJECTING;
      frames.push({ ts, data: tcpFrame({ src: client, dst: ip, sport: cport, dport: port, seq: 1000, flags: SYN }) });
      frames.push({ ts: ts + 0.001, data: tcpFrame({ src: ip, dst: client, sport: port, dport: cport, seq: 0, ack: 1001, flags: RST | ACK }) });
      expected.push({ label: 'no-payload', client_ip: client, client_port: cport, server_ip: ip, server_port: port, first_ts: ts, conn_state: 'REJ', lengths: [] });
      continue;
    }
    if (opts.unansweredEvery > 0 && slot % opts.unansweredEvery === opts.unansweredEvery - 1) {
      const { ip, port } = SILENT;
      frames.push({ ts, data: tcpFrame({ src: client, dst: ip, sport: cport, dport: port, seq: 1000, flags: SYN }) });
      expected.push({ label: 'no-payload', client_ip: client, client_port: cport, server_ip: ip, server_port: port, first_ts: ts, conn_state: 'S0', lengths: [] });
      continue;
    }
    const flow = flows[next++]!;
    const li = labels.indexOf(flow.label);
    const server = `10.2.0.${1 + li}`;
    const sport = SERVICE_PORTS[flow.label] ?? 10000 + li;
    const end = flow.lengths.indexOf(0);
    const lengths = end < 0 ? flow.lengths : flow.lengths.slice(0, end);
    frames.push(...session(ts, client, server, cport, sport, lengths));
    expected.push({ label: flow.label, client_ip: client, client_port: cport, server_ip: server, server_port: sport, first_ts: ts, conn_state: 'SF', lengths });
  }
  writeFileSync(file, pcapBytes(frames));
  return expected;
}
