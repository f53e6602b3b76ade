#!/usr/bin/env node
'use strict';
/**
 * Writes demo/demo.pcap.gz, the capture `sensor demo` runs on, and demo/conn.log beside it: real TCP connections (handshake, data, FIN) whose
 * payload lengths are the first four rows of each application in models/sensor.sample.csv (the bundled model's
 * lab traffic, so it has something to name), plus a small port scan that gets no answer but RSTs. Headers
 * only: every frame is cut after its TCP header (snaplen 54) and keeps its true length in the IP header, as a
 * span-port capture with a small snaplen does, so the file carries no payload and stays small.
 *
 * demo/conn.log is a conn.log in Zeek's TSV format for the same connections, for the README's join example. It
 * is written here, not by Zeek (Debian 12 has no Zeek package): the columns Zeek would fill from these packets
 * (`service` as Zeek's protocol detection names these applications, `-` where it has no analyzer), and the
 * Community ID computed by this script's own implementation of the spec, independently of the sensor's.
 *
 * Deterministic: the same files (the capture before gzip) on every run. `npm run demo:make` (after a build) rewrites it;
 * test/cli/demo.test.ts checks that it is what this script writes.
 *
 *   node scripts/make-demo.js [OUT.pcap.gz]
 */
const { createHash } = require('node:crypto');
const { readFileSync, writeFileSync, mkdtempSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const path = require('node:path');
const zlib = require('node:zlib');

const ROOT = path.resolve(__dirname, '..');
const { PcapWriter } = require(path.join(ROOT, 'dist/capture/pcapWriter'));
/** A small deterministic generator (mulberry32): the sensor's own. */
const { mulberry32: rng } = require(path.join(ROOT, 'dist/hosts/behaviourGroups'));

/** Flows per application taken from the sample. */
const PER_CLASS = 4;
/** First packet: 2026-11-23T09:00:00Z. */
const T0 = Date.UTC(2026, 10, 23, 9, 0, 0) / 1000;
const LINKTYPE_ETHERNET = 1;
const SNAPLEN = 54;
const SYN = 0x02;
const ACK = 0x10;
const PSH = 0x08;
const FIN = 0x01;
const RST = 0x04;

/** The usual server port of each application in the sample. */
const PORTS = {
  dns: 53, ftp: 21, git: 9418, http: 80, imap: 143, imaps: 993, ldap: 389, ldaps: 636, memcached: 11211, mqtt: 1883,
  mqtts: 8883, mysql: 3306, pop3: 110, pop3s: 995, postgresql: 5432, redis: 6379, rsync: 873, smtp: 25, smtps: 465,
  ssh: 22, tls: 443, xmpp: 5222,
};

/** Zeek's `service` for these applications (its analyzers; TLS-wrapped protocols are `ssl`), else none. */
const ZEEK_SERVICE = {
  dns: 'dns', ftp: 'ftp', http: 'http', imap: 'imap', imaps: 'ssl', ldap: 'ldap_tcp', ldaps: 'ssl', mqtt: 'mqtt',
  mqtts: 'ssl', mysql: 'mysql', pop3: 'pop3', pop3s: 'ssl', postgresql: 'postgresql', redis: 'redis', smtp: 'smtp',
  smtps: 'ssl', ssh: 'ssh', tls: 'ssl', xmpp: 'xmpp',
};

/** Community ID v1 (github.com/corelight/community-id-spec) of an IPv4 TCP 5-tuple, seed 0. */
function communityId(saddr, sport, daddr, dport) {
  const a = Buffer.from(ip4(saddr));
  const b = Buffer.from(ip4(daddr));
  const swap = Buffer.compare(a, b) > 0 || (Buffer.compare(a, b) === 0 && sport > dport);
  const [x, xp, y, yp] = swap ? [b, dport, a, sport] : [a, sport, b, dport];
  const buf = Buffer.alloc(2 + 4 + 4 + 2 + 2 + 2);
  buf.writeUInt16BE(0, 0);
  x.copy(buf, 2);
  y.copy(buf, 6);
  buf[10] = 6;
  buf[11] = 0;
  buf.writeUInt16BE(xp, 12);
  buf.writeUInt16BE(yp, 14);
  return '1:' + createHash('sha1').update(buf).digest('base64');
}

/** A Zeek-style uid: C + 17 characters (Zeek's are random; these come from the seeded generator). */
function zeekUid(next) {
  const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  let s = 'C';
  for (let i = 0; i < 17; i++) s += alphabet[Math.floor(next() * 62)];
  return s;
}

function ipChecksum(b, off) {
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += b.readUInt16BE(off + i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function ip4(s) {
  return s.split('.').map(Number);
}

/** Ethernet + IPv4 + TCP headers of a segment carrying `len` payload bytes (the payload itself is not written). */
function frame(src, dst, sport, dport, seq, ack, flags, len) {
  const b = Buffer.alloc(SNAPLEN);
  b.set([0x02, 0, 0, 0, 0, 0x02], 0); // destination MAC (locally administered)
  b.set([0x02, 0, 0, 0, 0, 0x01], 6);
  b.writeUInt16BE(0x0800, 12);
  b[14] = 0x45;
  b.writeUInt16BE(40 + len, 16); // total length: the true one, the payload is cut by the snaplen
  b.writeUInt16BE(0x4000, 20); // don't fragment
  b[22] = 64;
  b[23] = 6;
  b.set(ip4(src), 26);
  b.set(ip4(dst), 30);
  b.writeUInt16BE(ipChecksum(b, 14), 24);
  b.writeUInt16BE(sport, 34);
  b.writeUInt16BE(dport, 36);
  b.writeUInt32BE(seq >>> 0, 38);
  b.writeUInt32BE(ack >>> 0, 42);
  b[46] = 0x50;
  b[47] = flags;
  b.writeUInt16BE(64240, 48);
  return { data: b, wireLen: 54 + len };
}

function readSample() {
  const lines = readFileSync(path.join(ROOT, 'models/sensor.sample.csv'), 'utf8').trim().split('\n').slice(1);
  const byClass = new Map();
  for (const line of lines) {
    const [label, ...rest] = line.split(',');
    const lengths = rest.map(Number).filter((n) => n !== 0);
    if (!byClass.has(label)) byClass.set(label, []);
    if (byClass.get(label).length < PER_CLASS) byClass.get(label).push(lengths);
  }
  return byClass;
}

function main() {
  const out = path.resolve(process.argv[2] ?? path.join(ROOT, 'demo/demo.pcap.gz'));
  const next = rng(0xdec0de);
  const packets = [];
  const emit = (ts, f) => packets.push({ ts, ...f });
  let t = T0;
  let serverHost = 10;
  const servers = new Map();
  const flows = [];
  for (const [label, rows] of readSample()) {
    // The demo's applications are those of PORTS (the 22 of the first lab); newer classes and the background
    // rows (label `other`) of the sample stay out, so the demo keeps its shape when the sample grows.
    if (PORTS[label] === undefined) continue;
    servers.set(label, `10.20.0.${serverHost++}`);
    for (const lengths of rows) flows.push({ label, lengths });
  }
  // Shuffle the flows so the capture reads like a network, not a list of classes.
  for (let i = flows.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [flows[i], flows[j]] = [flows[j], flows[i]];
  }
  let sport = 40000;
  const conn = [];
  for (const { label, lengths } of flows) {
    const client = `10.10.0.${1 + Math.floor(next() * 12)}`;
    const server = servers.get(label);
    const cp = sport++;
    const sp = PORTS[label];
    let cseq = Math.floor(next() * 2 ** 32);
    let sseq = Math.floor(next() * 2 ** 32);
    let ts = t;
    const step = () => (ts += 0.0005 + next() * 0.02);
    emit(ts, frame(client, server, cp, sp, cseq, 0, SYN, 0));
    cseq++;
    emit(step(), frame(server, client, sp, cp, sseq, cseq, SYN | ACK, 0));
    sseq++;
    emit(step(), frame(client, server, cp, sp, cseq, sseq, ACK, 0));
    for (const len of lengths) {
      if (len > 0) {
        emit(step(), frame(client, server, cp, sp, cseq, sseq, ACK | PSH, len));
        cseq += len;
      } else {
        emit(step(), frame(server, client, sp, cp, sseq, cseq, ACK | PSH, -len));
        sseq -= len;
      }
    }
    emit(step(), frame(client, server, cp, sp, cseq, sseq, FIN | ACK, 0));
    cseq++;
    emit(step(), frame(server, client, sp, cp, sseq, cseq, FIN | ACK, 0));
    sseq++;
    emit(step(), frame(client, server, cp, sp, cseq, sseq, ACK, 0));
    const up = lengths.filter((l) => l > 0);
    const down = lengths.filter((l) => l < 0);
    conn.push([
      t.toFixed(6), zeekUid(next), client, cp, server, sp, 'tcp', ZEEK_SERVICE[label] ?? '-', (ts - t).toFixed(6),
      up.reduce((n, l) => n + l, 0), -down.reduce((n, l) => n + l, 0), 'SF', 3 + up.length + 1, 2 + down.length + 1,
      communityId(client, cp, server, sp),
    ]);
    t += 0.2 + next() * 2;
  }
  // A host probing closed ports: SYN, RST back. No payload, so no verdict from the model.
  for (const port of [23, 3389, 5900, 8080, 8443, 9200]) {
    const seq = Math.floor(next() * 2 ** 32);
    emit(t, frame('10.10.0.66', '10.20.0.200', 50000 + port, port, seq, 0, SYN, 0));
    emit(t + 0.0003, frame('10.20.0.200', '10.10.0.66', port, 50000 + port, 0, seq + 1, RST | ACK, 0));
    conn.push([t.toFixed(6), zeekUid(next), '10.10.0.66', 50000 + port, '10.20.0.200', port, 'tcp', '-', '0.000300', 0, 0, 'REJ', 1, 1,
      communityId('10.10.0.66', 50000 + port, '10.20.0.200', port)]);
    t += 0.05;
  }
  packets.sort((a, b) => a.ts - b.ts);

  const dir = mkdtempSync(path.join(tmpdir(), 'sensor-demo-'));
  try {
    const pcap = path.join(dir, 'demo.pcap');
    const w = new PcapWriter(pcap, LINKTYPE_ETHERNET, { snaplen: SNAPLEN });
    for (const p of packets) w.write(p.ts, p.data, p.wireLen);
    w.close();
    const bytes = readFileSync(pcap);
    writeFileSync(out, zlib.gzipSync(bytes, { level: 9 }));
    process.stdout.write(`${out}: ${packets.length} packets, ${flows.length} connections + 6 probes, ${bytes.length} bytes (${readFileSync(out).length} gzipped)\n`);
    const log = path.join(path.dirname(out), 'conn.log');
    const fields = ['ts', 'uid', 'id.orig_h', 'id.orig_p', 'id.resp_h', 'id.resp_p', 'proto', 'service', 'duration', 'orig_bytes', 'resp_bytes', 'conn_state', 'orig_pkts', 'resp_pkts', 'community_id'];
    const types = ['time', 'string', 'addr', 'port', 'addr', 'port', 'enum', 'string', 'interval', 'count', 'count', 'string', 'count', 'count', 'string'];
    const header = ['#separator \\x09', '#set_separator\t,', '#empty_field\t(empty)', '#unset_field\t-', '#path\tconn', `#fields\t${fields.join('\t')}`, `#types\t${types.join('\t')}`];
    conn.sort((a, b) => Number(a[0]) - Number(b[0]));
    writeFileSync(log, [...header, ...conn.map((r) => r.join('\t')), '#close\t-'].join('\n') + '\n');
    process.stdout.write(`${log}: ${conn.length} connections (Zeek TSV format, written by this script)\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
