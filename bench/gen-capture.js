'use strict';
/**
 * Deterministic benchmark capture: N Ethernet frames of interleaved TCP connections, written as classic pcap
 * twice in one pass, once full (1514-byte frames dominate) and once cut at a 128-byte snaplen with the true wire
 * length kept, which is what a headers-only span-port capture looks like.
 *
 * Same parameters, same bytes: every random choice comes from one seeded mulberry32 stream; the frames are
 * written by bench/synth.js, the repository's one capture generator (the tests' replay captures use it too).
 * The files are rewritten only when missing, when their size changed, or when the parameters (stored beside them
 * in bench-*.json) changed.
 *
 * Usage: node bench/gen-capture.js [--packets N] [--out DIR] [--force]
 */
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { mulberry32, payloadPool, pcapHeader, writeCaptures } = require('./synth');

/**
 * Hash of this file and the frame writer: part of the stored parameters, so any change to the frame layout or
 * traffic mix regenerates the captures instead of benchmarking a stale file.
 */
const GENERATOR_HASH = crypto
  .createHash('sha256')
  .update(fs.readFileSync(__filename))
  .update(fs.readFileSync(require.resolve('./synth')))
  .digest('hex')
  .slice(0, 16);

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

/** Random bytes that payloads are cut from (payload content only matters to ndpiReader, which inspects it). */
const PAYLOAD_POOL_BYTES = 4 * 1024 * 1024;
const MSS4 = 1460;
const MSS6 = 1440; // 1514-byte frames over IPv6 too

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
  const pool = payloadPool(rand, PAYLOAD_POOL_BYTES);
  const kinds = { tls: 0, http: 0, opaque: 0, 'tls-upload': 0 };
  let v6 = 0, vlan = 0;
  const stats = writeCaptures({
    rand,
    pool,
    packets: p.packets,
    concurrency: p.concurrency,
    newFlow: (id) => newFlow(rand, id, p),
    onStart: (f) => {
      kinds[KIND_NAMES[f.kind]]++;
      if (f.v6) v6++;
      if (f.vlan !== 0) vlan++;
    },
    startSec: p.startSec,
    gapMinUs: p.gapMinUs,
    gapMaxUs: p.gapMaxUs,
    fullPath,
    snapPath,
    snaplen: p.snaplen,
  });
  return { ...stats, kinds, v6, vlan };
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
