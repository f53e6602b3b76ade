'use strict';
/**
 * Deterministic benchmark capture: N Ethernet frames of interleaved TCP connections, written as classic pcap
 * twice in one pass, once full (1514-byte frames dominate) and once cut at a 128-byte snaplen with the true wire
 * length kept, which is what a headers-only span-port capture looks like.
 *
 * Same parameters, same bytes: every random choice comes from one seeded mulberry32 stream. The files are
 * rewritten only when missing, when their size changed, or when the parameters (stored beside them in
 * bench-*.json) changed.
 *
 * Usage: node bench/gen-capture.js [--packets N] [--out DIR] [--force]
 */
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

/**
 * Hash of this file: part of the stored parameters, so any change to the frame layout or traffic mix
 * regenerates the captures instead of benchmarking a stale file.
 */
const GENERATOR_HASH = crypto.createHash('sha256').update(fs.readFileSync(__filename)).digest('hex').slice(0, 16);

const DEFAULTS = {
  seed: 20240603,
  packets: 1_000_000,
  /** Packets per connection: handshake (3), request (1), 40 data segments, 3 pure ACKs, FIN/FIN/ACK (3). */
  packetsPerFlow: 50,
  /** Connections open at the same time; the generator picks the next packet from a random open connection. */
  concurrency: 5000,
  /** Share of connections over IPv6 and with an 802.1Q tag (independent draws). */
  ipv6Share: 0.1,
  vlanShare: 0.1,
  /** Snaplen of the headers-only variant (the sensor's live default). */
  snaplen: 128,
  /** Traffic time between packets, microseconds: uniform in [min, max] (about 100 k packets/s, 1.2 Gbit/s). */
  gapMinUs: 5,
  gapMaxUs: 15,
  startSec: 1_700_000_000,
};

/** Bytes written per fs.writeSync call: big enough that the syscall count does not matter. */
const CHUNK_BYTES = 32 * 1024 * 1024;
/** Random bytes that payloads are cut from (payload content only matters to ndpiReader, which inspects it). */
const PAYLOAD_POOL_BYTES = 4 * 1024 * 1024;
const MSS4 = 1460;
const MSS6 = 1440; // 1514-byte frames over IPv6 too
const PCAP_HEADER = 24;
const RECORD_HEADER = 16;

function mulberry32(seed) {
  let a = seed >>> 0;
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pcapHeader(snaplen) {
  const h = Buffer.alloc(PCAP_HEADER);
  h.writeUInt32LE(0xa1b2c3d4, 0);
  h.writeUInt16LE(2, 4);
  h.writeUInt16LE(4, 6);
  h.writeUInt32LE(snaplen, 16);
  h.writeUInt32LE(1, 20); // LINKTYPE_ETHERNET
  return h;
}

// Application kinds: what the first payloads look like, so ndpiReader has real work (TLS and HTTP dissection),
// and who sends the bulk data.
const KIND_TLS = 0; // :443, ClientHello, ServerHello, server sends the bulk
const KIND_HTTP = 1; // :80, GET, 200 OK, server sends the bulk
const KIND_OPAQUE = 2; // random high port, random bytes both ways (what encrypted unknown traffic looks like)
const KIND_UPLOAD = 3; // :443, ClientHello, the client sends the bulk
const KIND_NAMES = ['tls', 'http', 'opaque', 'tls-upload'];

function pickKind(r) {
  if (r < 0.55) return KIND_TLS;
  if (r < 0.75) return KIND_HTTP;
  if (r < 0.9) return KIND_OPAQUE;
  return KIND_UPLOAD;
}

function tlsClientHello(rand, host) {
  const sni = Buffer.from(host, 'ascii');
  const sniExt = Buffer.alloc(9 + sni.length);
  sniExt.writeUInt16BE(0x0000, 0); // server_name
  sniExt.writeUInt16BE(5 + sni.length, 2);
  sniExt.writeUInt16BE(3 + sni.length, 4);
  sniExt[6] = 0; // host_name
  sniExt.writeUInt16BE(sni.length, 7);
  sni.copy(sniExt, 9);
  const exts = Buffer.concat([
    sniExt,
    Buffer.from([0x00, 0x0a, 0x00, 0x08, 0x00, 0x06, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18]), // supported_groups
    Buffer.from([0x00, 0x0b, 0x00, 0x02, 0x01, 0x00]), // ec_point_formats
    Buffer.from([0x00, 0x0d, 0x00, 0x08, 0x00, 0x06, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01]), // signature_algorithms
    Buffer.from([0x00, 0x10, 0x00, 0x0b, 0x00, 0x09, 0x08, 0x68, 0x74, 0x74, 0x70, 0x2f, 0x31, 0x2e, 0x31]), // ALPN
    Buffer.from([0x00, 0x2b, 0x00, 0x05, 0x04, 0x03, 0x04, 0x03, 0x03]), // supported_versions: TLS 1.3, 1.2
  ]);
  const ciphers = [0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0x009c, 0x009d, 0x002f, 0x0035];
  const body = Buffer.alloc(2 + 32 + 1 + 2 + ciphers.length * 2 + 2 + 2 + exts.length);
  let o = 0;
  body.writeUInt16BE(0x0303, o); o += 2;
  for (let i = 0; i < 32; i++) body[o++] = (rand() * 256) | 0;
  body[o++] = 0; // session id length
  body.writeUInt16BE(ciphers.length * 2, o); o += 2;
  for (const c of ciphers) { body.writeUInt16BE(c, o); o += 2; }
  body[o++] = 1; body[o++] = 0; // compression: null
  body.writeUInt16BE(exts.length, o); o += 2;
  exts.copy(body, o);
  return tlsRecord(0x16, 0x0301, handshake(1, body));
}

/** A TLS 1.3 ServerHello (supported_versions 1.3, x25519 key share): the rest of the handshake is encrypted. */
function tlsServerHello(rand) {
  const keyShare = Buffer.alloc(4 + 4 + 32);
  keyShare.writeUInt16BE(0x0033, 0);
  keyShare.writeUInt16BE(36, 2);
  keyShare.writeUInt16BE(0x001d, 4);
  keyShare.writeUInt16BE(32, 6);
  for (let i = 0; i < 32; i++) keyShare[8 + i] = (rand() * 256) | 0;
  const exts = Buffer.concat([Buffer.from([0x00, 0x2b, 0x00, 0x02, 0x03, 0x04]), keyShare]);
  const body = Buffer.alloc(2 + 32 + 1 + 2 + 1 + 2 + exts.length);
  let o = 0;
  body.writeUInt16BE(0x0303, o); o += 2;
  for (let i = 0; i < 32; i++) body[o++] = (rand() * 256) | 0;
  body[o++] = 0;
  body.writeUInt16BE(0x1301, o); o += 2; // TLS_AES_128_GCM_SHA256
  body[o++] = 0;
  body.writeUInt16BE(exts.length, o); o += 2;
  exts.copy(body, o);
  // TLS 1.3 middlebox compatibility: ChangeCipherSpec, then application data records.
  return Buffer.concat([tlsRecord(0x16, 0x0303, handshake(2, body)), Buffer.from([0x14, 0x03, 0x03, 0x00, 0x01, 0x01])]);
}

function handshake(type, body) {
  const h = Buffer.alloc(4);
  h[0] = type;
  h.writeUIntBE(body.length, 1, 3);
  return Buffer.concat([h, body]);
}

function tlsRecord(type, version, payload) {
  const h = Buffer.alloc(5);
  h[0] = type;
  h.writeUInt16BE(version, 1);
  h.writeUInt16BE(payload.length, 3);
  return Buffer.concat([h, payload]);
}

/** Header of a TLS application-data record of `len` bytes (the bytes after it are random, like ciphertext). */
function tlsAppDataHeader(len) {
  return Buffer.from([0x17, 0x03, 0x03, (len >> 8) & 0xff, len & 0xff]);
}

/** Pure ACKs the receiver sends during the bulk transfer: one after every ACK_EVERY data segments, at most MAX_ACKS. */
const ACK_EVERY = 10;
const MAX_ACKS = 3;

/**
 * One connection's script: `packetsPerFlow` packets { fromClient, flags, len, prefix } that the writer fills in
 * with addresses, sequence numbers and payload bytes: SYN, SYN+ACK, ACK, the request, the bulk transfer in
 * full-size segments (the last one shorter) with a few pure ACKs, then FIN+ACK both ways and the last ACK.
 */
function flowScript(rand, kind, mss, packetsPerFlow, hostId) {
  const S = 0x02, A = 0x10, PA = 0x18, FA = 0x11;
  const host = `www.host${hostId}.example.com`;
  const script = [
    { fromClient: true, flags: S, len: 0, prefix: null },
    { fromClient: false, flags: S | A, len: 0, prefix: null },
    { fromClient: true, flags: A, len: 0, prefix: null },
  ];
  let req = null;
  if (kind === KIND_HTTP) {
    req = Buffer.from(`GET /object/${hostId}/${(rand() * 1e6) | 0} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: bench/1.0\r\nAccept: */*\r\n\r\n`, 'ascii');
  } else if (kind !== KIND_OPAQUE) {
    req = tlsClientHello(rand, host);
  }
  script.push({ fromClient: true, flags: PA, len: req !== null ? req.length : 64 + ((rand() * 900) | 0), prefix: req });
  const upload = kind === KIND_UPLOAD;
  const middle = packetsPerFlow - script.length - 3;
  if (upload) {
    // The server answers the ClientHello with a short ServerHello before the client uploads.
    const sh = tlsServerHello(rand);
    script.push({ fromClient: false, flags: PA, len: sh.length, prefix: sh });
  }
  let bulk = 0;
  let acks = 0;
  const end = script.length - (upload ? 1 : 0) + middle;
  while (script.length < end) {
    const remaining = end - script.length;
    if (bulk > 0 && bulk % ACK_EVERY === 0 && acks < MAX_ACKS && script[script.length - 1].len > 0 && remaining > 1) {
      script.push({ fromClient: !upload, flags: A, len: 0, prefix: null });
      acks++;
      continue;
    }
    const len = remaining === 1 ? 1 + ((rand() * (mss - 1)) | 0) : mss;
    let prefix = null;
    if (bulk === 0 && kind === KIND_HTTP) {
      prefix = Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 58000\r\n\r\n', 'ascii');
    } else if (bulk === 0 && kind === KIND_TLS) {
      const sh = tlsServerHello(rand);
      prefix = Buffer.concat([sh, tlsAppDataHeader(len - sh.length - 5)]);
    } else if (bulk === 0 && upload) {
      prefix = tlsAppDataHeader(len - 5);
    }
    script.push({ fromClient: upload, flags: PA, len, prefix });
    bulk++;
  }
  script.push({ fromClient: true, flags: FA, len: 0, prefix: null });
  script.push({ fromClient: false, flags: FA, len: 0, prefix: null });
  script.push({ fromClient: true, flags: A, len: 0, prefix: null });
  return script;
}

/** SYN/SYN+ACK options (20 bytes): MSS, SACK permitted, timestamps, NOP, window scale. */
function synOptions(buf, o, mss) {
  buf[o] = 2; buf[o + 1] = 4; buf.writeUInt16BE(mss, o + 2);
  buf[o + 4] = 4; buf[o + 5] = 2;
  buf[o + 6] = 8; buf[o + 7] = 10; buf.writeUInt32BE(0x01020304, o + 8); buf.writeUInt32BE(0, o + 12);
  buf[o + 16] = 1;
  buf[o + 17] = 3; buf[o + 18] = 3; buf[o + 19] = 7;
}

function ipv4Checksum(buf, o) {
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += buf.readUInt16BE(o + i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/**
 * Writes one frame at buf[o] and returns its length. TCP checksums are left 0 (neither the sensor nor ndpiReader
 * verifies them; computing them would dominate generation time); IPv4 header checksums are correct.
 */
function writeFrame(buf, o, flow, pkt, pool, rand) {
  const start = o;
  const c2s = pkt.fromClient;
  // Ethernet
  buf.writeUInt32BE(c2s ? 0x02000000 : 0x02000001, o); buf.writeUInt16BE(flow.id & 0xffff, o + 4);
  buf.writeUInt32BE(c2s ? 0x02000001 : 0x02000000, o + 6); buf.writeUInt16BE(flow.id & 0xffff, o + 10);
  o += 12;
  if (flow.vlan !== 0) {
    buf.writeUInt16BE(0x8100, o);
    buf.writeUInt16BE(flow.vlan, o + 2);
    o += 4;
  }
  buf.writeUInt16BE(flow.v6 ? 0x86dd : 0x0800, o);
  o += 2;
  const syn = (pkt.flags & 0x02) !== 0;
  const tcpLen = syn ? 40 : 20;
  const src = c2s ? flow.client : flow.server;
  const dst = c2s ? flow.server : flow.client;
  if (flow.v6) {
    buf.writeUInt32BE(0x60000000, o);
    buf.writeUInt16BE(tcpLen + pkt.len, o + 4);
    buf[o + 6] = 6; buf[o + 7] = 64;
    for (let i = 0; i < 4; i++) buf.writeUInt32BE(src[i], o + 8 + 4 * i);
    for (let i = 0; i < 4; i++) buf.writeUInt32BE(dst[i], o + 24 + 4 * i);
    o += 40;
  } else {
    buf[o] = 0x45; buf[o + 1] = 0;
    buf.writeUInt16BE(20 + tcpLen + pkt.len, o + 2);
    buf.writeUInt16BE(flow.ipId++ & 0xffff, o + 4);
    buf.writeUInt16BE(0x4000, o + 6);
    buf[o + 8] = 64; buf[o + 9] = 6;
    buf.writeUInt16BE(0, o + 10);
    buf.writeUInt32BE(src[0], o + 12);
    buf.writeUInt32BE(dst[0], o + 16);
    buf.writeUInt16BE(ipv4Checksum(buf, o), o + 10);
    o += 20;
  }
  // TCP
  buf.writeUInt16BE(c2s ? flow.cport : flow.sport, o);
  buf.writeUInt16BE(c2s ? flow.sport : flow.cport, o + 2);
  const seq = c2s ? flow.cseq : flow.sseq;
  const ack = c2s ? flow.sseq : flow.cseq;
  buf.writeUInt32BE(seq >>> 0, o + 4);
  buf.writeUInt32BE((pkt.flags & 0x10) !== 0 ? ack >>> 0 : 0, o + 8);
  buf[o + 12] = (tcpLen / 4) << 4;
  buf[o + 13] = pkt.flags;
  buf.writeUInt16BE(502, o + 14);
  buf.writeUInt32BE(0, o + 16);
  if (syn) synOptions(buf, o + 20, flow.mss);
  o += tcpLen;
  // Payload: the kind's prefix, then bytes cut from the random pool.
  let left = pkt.len;
  if (pkt.prefix !== null) {
    const n = Math.min(left, pkt.prefix.length);
    pkt.prefix.copy(buf, o, 0, n);
    o += n;
    left -= n;
  }
  if (left > 0) {
    const from = (rand() * (pool.length - left)) | 0;
    pool.copy(buf, o, from, from + left);
    o += left;
  }
  // Sequence space: SYN and FIN take one number each.
  const adv = pkt.len + (syn ? 1 : 0) + ((pkt.flags & 0x01) !== 0 ? 1 : 0);
  if (c2s) flow.cseq = (flow.cseq + adv) >>> 0;
  else flow.sseq = (flow.sseq + adv) >>> 0;
  return o - start;
}

function newFlow(rand, id, p) {
  const v6 = rand() < p.ipv6Share;
  const vlan = rand() < p.vlanShare ? 100 + ((rand() * 3900) | 0) : 0;
  const kind = pickKind(rand());
  // Distinct tuples: (client subnet, client port) is unique per connection id.
  const sub = Math.floor(id / 50000);
  const cport = 10000 + (id % 50000);
  const chost = 1 + ((rand() * 250) | 0);
  const shost = (rand() * 500) | 0;
  const sport = kind === KIND_HTTP ? 80 : kind === KIND_OPAQUE ? 20000 + ((rand() * 40000) | 0) : 443;
  let client, server;
  if (v6) {
    client = [0x20010db8, 0x00010000 | (sub & 0xffff), 0, chost];
    server = [0x20010db8, 0x00ff0000, 0, 0x1000 + shost];
  } else {
    client = [(10 << 24) | ((sub & 0xffff) << 8) | chost, 0, 0, 0];
    server = [(shost < 250 ? 0xcb007100 : 0xc6336400) + (shost % 250) + 1, 0, 0, 0];
  }
  const mss = v6 ? MSS6 : MSS4;
  const script = flowScript(rand, kind, mss, p.packetsPerFlow, (rand() * 200) | 0);
  return {
    id, v6, vlan, kind, client, server, cport, sport, mss, script, next: 0, ipId: (rand() * 65536) | 0,
    cseq: (rand() * 4294967296) >>> 0, sseq: (rand() * 4294967296) >>> 0,
  };
}

function sameParams(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

function fileSize(p) {
  try {
    return fs.statSync(p).size;
  } catch {
    return -1;
  }
}

/**
 * Makes sure both captures exist for these parameters; returns their descriptions
 * { full: { path, frames, bytes, payloadFrames }, snap: {...}, params, generated, seconds }.
 */
function ensureCaptures(outDir, overrides = {}, force = false) {
  const params = { generator: GENERATOR_HASH, ...DEFAULTS, ...overrides };
  const base = params.packets === 1_000_000 ? 'bench-1m' : `bench-${params.packets}`;
  const fullPath = path.join(outDir, `${base}.pcap`);
  const snapPath = path.join(outDir, `${base}-snap${params.snaplen}.pcap`);
  const metaPath = path.join(outDir, `${base}.json`);
  fs.mkdirSync(outDir, { recursive: true });
  if (!force) {
    let meta = null;
    try {
      meta = JSON.parse(fs.readFileSync(metaPath, 'utf8'));
    } catch {
      meta = null;
    }
    if (meta !== null && sameParams(meta.params, params) && fileSize(fullPath) === meta.full.bytes && fileSize(snapPath) === meta.snap.bytes) {
      return { ...meta, full: { ...meta.full, path: fullPath }, snap: { ...meta.snap, path: snapPath }, generated: false };
    }
  }
  const t0 = process.hrtime.bigint();
  const stats = generate(params, fullPath, snapPath);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const meta = {
    params,
    full: { file: path.basename(fullPath), frames: params.packets, bytes: stats.fullBytes, wireBytes: stats.wireBytes },
    snap: { file: path.basename(snapPath), frames: params.packets, bytes: stats.snapBytes, wireBytes: stats.wireBytes },
    flows: stats.flows,
    maxConcurrentFlows: stats.maxConcurrent,
    fullSizeFrames: stats.fullSize,
    kinds: stats.kinds,
    ipv6Flows: stats.v6,
    vlanFlows: stats.vlan,
    trafficSeconds: stats.trafficSeconds,
    generationSeconds: seconds,
  };
  fs.writeFileSync(metaPath, JSON.stringify(meta, null, 2) + '\n');
  return { ...meta, full: { ...meta.full, path: fullPath }, snap: { ...meta.snap, path: snapPath }, generated: true };
}

function generate(p, fullPath, snapPath) {
  const rand = mulberry32(p.seed);
  const pool = Buffer.allocUnsafe(PAYLOAD_POOL_BYTES);
  for (let i = 0; i < pool.length; i += 4) pool.writeUInt32LE((rand() * 4294967296) >>> 0, i);
  const flowsTotal = Math.ceil(p.packets / p.packetsPerFlow);
  const fullTmp = fullPath + '.tmp';
  const snapTmp = snapPath + '.tmp';
  const fdFull = fs.openSync(fullTmp, 'w');
  const fdSnap = fs.openSync(snapTmp, 'w');
  const full = Buffer.allocUnsafe(CHUNK_BYTES);
  const snap = Buffer.allocUnsafe(CHUNK_BYTES);
  let fo = 0, so = 0;
  pcapHeader(65535).copy(full, 0); fo = PCAP_HEADER;
  pcapHeader(p.snaplen).copy(snap, 0); so = PCAP_HEADER;
  let fullBytes = 0, snapBytes = 0, wireBytes = 0, fullSize = 0;
  const kinds = { tls: 0, http: 0, opaque: 0, 'tls-upload': 0 };
  let v6 = 0, vlan = 0, maxConcurrent = 0;

  const open = [];
  let started = 0;
  const start = () => {
    const f = newFlow(rand, started++, p);
    kinds[KIND_NAMES[f.kind]]++;
    if (f.v6) v6++;
    if (f.vlan !== 0) vlan++;
    open.push(f);
  };
  while (open.length < p.concurrency && started < flowsTotal) start();
  let tsUs = 0;
  for (let n = 0; n < p.packets && open.length > 0; n++) {
    if (open.length > maxConcurrent) maxConcurrent = open.length;
    const i = (rand() * open.length) | 0;
    const f = open[i];
    const pkt = f.script[f.next++];
    if (CHUNK_BYTES - fo < RECORD_HEADER + 1600) {
      fs.writeSync(fdFull, full, 0, fo); fullBytes += fo; fo = 0;
    }
    if (CHUNK_BYTES - so < RECORD_HEADER + p.snaplen) {
      fs.writeSync(fdSnap, snap, 0, so); snapBytes += so; so = 0;
    }
    tsUs += p.gapMinUs + ((rand() * (p.gapMaxUs - p.gapMinUs + 1)) | 0);
    const sec = p.startSec + Math.floor(tsUs / 1e6);
    const usec = tsUs % 1e6;
    const len = writeFrame(full, fo + RECORD_HEADER, f, pkt, pool, rand);
    full.writeUInt32LE(sec, fo); full.writeUInt32LE(usec, fo + 4);
    full.writeUInt32LE(len, fo + 8); full.writeUInt32LE(len, fo + 12);
    const cap = Math.min(len, p.snaplen);
    snap.writeUInt32LE(sec, so); snap.writeUInt32LE(usec, so + 4);
    snap.writeUInt32LE(cap, so + 8); snap.writeUInt32LE(len, so + 12);
    full.copy(snap, so + RECORD_HEADER, fo + RECORD_HEADER, fo + RECORD_HEADER + cap);
    fo += RECORD_HEADER + len;
    so += RECORD_HEADER + cap;
    wireBytes += len;
    if (len >= 1514) fullSize++;
    if (f.next === f.script.length) {
      open[i] = open[open.length - 1];
      open.pop();
      if (started < flowsTotal) start();
    }
  }
  fs.writeSync(fdFull, full, 0, fo); fullBytes += fo;
  fs.writeSync(fdSnap, snap, 0, so); snapBytes += so;
  fs.closeSync(fdFull);
  fs.closeSync(fdSnap);
  fs.renameSync(fullTmp, fullPath);
  fs.renameSync(snapTmp, snapPath);
  return { fullBytes, snapBytes, wireBytes, fullSize, kinds, v6, vlan, maxConcurrent, flows: started, trafficSeconds: tsUs / 1e6 };
}

/** A capture with a file header and no packets: running the CLI on it measures start-up and shutdown alone. */
function ensureEmptyCapture(outDir) {
  const p = path.join(outDir, 'empty.pcap');
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(p, pcapHeader(65535));
  return p;
}

module.exports = { ensureCaptures, ensureEmptyCapture, DEFAULTS, GENERATOR_HASH };

if (require.main === module) {
  const args = process.argv.slice(2);
  const overrides = {};
  let out = path.join(__dirname, 'out');
  let force = false;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--packets') overrides.packets = Number(args[++i]);
    else if (args[i] === '--out') out = args[++i];
    else if (args[i] === '--force') force = true;
    else {
      process.stderr.write(`gen-capture: unknown option ${args[i]} (options: --packets N, --out DIR, --force)\n`);
      process.exit(2);
    }
  }
  const r = ensureCaptures(out, overrides, force);
  process.stdout.write(JSON.stringify(r, null, 2) + '\n');
}
