'use strict';
/**
 * The one capture generator of the repository, and its one seeded random generator: the benchmark capture
 * (bench/gen-capture.js) and the tests' replay captures (test/helpers/synthCapture.ts) are both written here.
 *
 * writeCaptures() interleaves TCP connections as Ethernet frames in a classic pcap file (and, optionally, a copy
 * cut at a snaplen with the true wire length kept, as a headers-only span-port capture looks). Each connection is
 * a script of packets { fromClient, flags, len, prefix } made by the caller's newFlow(); the writer fills in
 * addresses, sequence numbers, options and payload bytes. Same arguments, same bytes: every choice comes from
 * the one seeded stream, in a fixed order.
 */
const fs = require('node:fs');

/** mulberry32: a small, fast, seeded generator of floats in [0, 1). */
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

/** Bytes written per fs.writeSync call: big enough that the syscall count does not matter. */
const CHUNK_BYTES = 32 * 1024 * 1024;
const PCAP_HEADER = 24;
const RECORD_HEADER = 16;
/** The largest frame writeFrame() makes (Ethernet + VLAN + IPv6 + TCP with options + a 1460-byte payload). */
const MAX_FRAME = 1600;

const SYN = 0x02;
const ACK = 0x10;
const FIN = 0x01;

function pcapHeader(snaplen) {
  const h = Buffer.alloc(PCAP_HEADER);
  h.writeUInt32LE(0xa1b2c3d4, 0);
  h.writeUInt16LE(2, 4);
  h.writeUInt16LE(4, 6);
  h.writeUInt32LE(snaplen, 16);
  h.writeUInt32LE(1, 20); // LINKTYPE_ETHERNET
  return h;
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
 * Writes one frame at buf[o] and returns its length. MAC addresses are locally administered ones no interface
 * has (02:00:00:00:..), so replayed frames are never taken for the host's own. TCP checksums are left 0 (the
 * sensor and ndpiReader do not verify them; computing them would dominate generation time); IPv4 header
 * checksums are correct.
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
  const syn = (pkt.flags & SYN) !== 0;
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
  buf.writeUInt32BE((pkt.flags & ACK) !== 0 ? ack >>> 0 : 0, o + 8);
  buf[o + 12] = (tcpLen / 4) << 4;
  buf[o + 13] = pkt.flags;
  buf.writeUInt16BE(502, o + 14);
  buf.writeUInt32BE(0, o + 16);
  if (syn) synOptions(buf, o + 20, flow.mss);
  o += tcpLen;
  // Payload: the script's prefix, then bytes cut from the random pool.
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
  const adv = pkt.len + (syn ? 1 : 0) + ((pkt.flags & FIN) !== 0 ? 1 : 0);
  if (c2s) flow.cseq = (flow.cseq + adv) >>> 0;
  else flow.sseq = (flow.sseq + adv) >>> 0;
  return o - start;
}

/** `n` random bytes from the stream: what payloads are cut from. */
function payloadPool(rand, n) {
  const pool = Buffer.allocUnsafe(n);
  for (let i = 0; i < pool.length; i += 4) pool.writeUInt32LE((rand() * 4294967296) >>> 0, i);
  return pool;
}

/**
 * Writes the capture(s). Options:
 * - rand: the seeded stream (mulberry32); pool: payload bytes (payloadPool()).
 * - packets: the frame budget. Connections start while the packets of the started ones (their scripts) are
 *   fewer than the budget; with `finishFlows` every started connection is written to its end (so the file may
 *   hold a few more frames than the budget), without it the file ends at exactly `packets` frames.
 * - concurrency: connections open at once; the next frame comes from a random open connection.
 * - newFlow(id): connection `id` as { id, v6, vlan, client, server (4 address words each, IPv4 in word 0),
 *   cport, sport, mss, cseq, sseq, ipId, script: [{ fromClient, flags, len, prefix (Buffer or null) }] }.
 * - onStart(flow): called for each started connection (counting kinds and the like).
 * - startSec, gapMinUs, gapMaxUs: timestamps start at startSec and advance by a uniform gap per frame.
 * - fullPath; snapPath and snaplen (optional): the headers-only copy.
 * Returns { frames, flows, fullBytes, snapBytes, wireBytes, fullSize, maxConcurrent, trafficSeconds }.
 */
function writeCaptures(o) {
  const { rand, pool, packets, concurrency, newFlow, startSec, gapMinUs, gapMaxUs, fullPath } = o;
  const snapPath = o.snapPath ?? null;
  const snaplen = o.snaplen ?? 65535;
  const fullTmp = fullPath + '.tmp';
  const snapTmp = snapPath !== null ? snapPath + '.tmp' : null;
  const fdFull = fs.openSync(fullTmp, 'w');
  const fdSnap = snapTmp !== null ? fs.openSync(snapTmp, 'w') : -1;
  const full = Buffer.allocUnsafe(CHUNK_BYTES);
  const snap = snapTmp !== null ? Buffer.allocUnsafe(CHUNK_BYTES) : null;
  let fo = 0, so = 0;
  pcapHeader(65535).copy(full, 0); fo = PCAP_HEADER;
  if (snap !== null) { pcapHeader(snaplen).copy(snap, 0); so = PCAP_HEADER; }
  let fullBytes = 0, snapBytes = 0, wireBytes = 0, fullSize = 0, maxConcurrent = 0;

  const open = [];
  let started = 0;
  let committed = 0;
  const start = () => {
    const f = newFlow(started++);
    committed += f.script.length;
    if (o.onStart) o.onStart(f);
    f.next = 0;
    open.push(f);
  };
  while (open.length < concurrency && committed < packets) start();
  let tsUs = 0;
  let n = 0;
  for (; open.length > 0 && (o.finishFlows || n < packets); n++) {
    if (open.length > maxConcurrent) maxConcurrent = open.length;
    const i = (rand() * open.length) | 0;
    const f = open[i];
    const pkt = f.script[f.next++];
    if (CHUNK_BYTES - fo < RECORD_HEADER + MAX_FRAME) {
      fs.writeSync(fdFull, full, 0, fo); fullBytes += fo; fo = 0;
    }
    if (snap !== null && CHUNK_BYTES - so < RECORD_HEADER + snaplen) {
      fs.writeSync(fdSnap, snap, 0, so); snapBytes += so; so = 0;
    }
    tsUs += gapMinUs + ((rand() * (gapMaxUs - gapMinUs + 1)) | 0);
    const sec = startSec + Math.floor(tsUs / 1e6);
    const usec = tsUs % 1e6;
    const len = writeFrame(full, fo + RECORD_HEADER, f, pkt, pool, rand);
    full.writeUInt32LE(sec, fo); full.writeUInt32LE(usec, fo + 4);
    full.writeUInt32LE(len, fo + 8); full.writeUInt32LE(len, fo + 12);
    if (snap !== null) {
      const cap = Math.min(len, snaplen);
      snap.writeUInt32LE(sec, so); snap.writeUInt32LE(usec, so + 4);
      snap.writeUInt32LE(cap, so + 8); snap.writeUInt32LE(len, so + 12);
      full.copy(snap, so + RECORD_HEADER, fo + RECORD_HEADER, fo + RECORD_HEADER + cap);
      so += RECORD_HEADER + cap;
    }
    fo += RECORD_HEADER + len;
    wireBytes += len;
    if (len >= 1514) fullSize++;
    if (f.next === f.script.length) {
      open[i] = open[open.length - 1];
      open.pop();
      if (committed < packets) start();
    }
  }
  fs.writeSync(fdFull, full, 0, fo); fullBytes += fo;
  fs.closeSync(fdFull);
  fs.renameSync(fullTmp, fullPath);
  if (snap !== null) {
    fs.writeSync(fdSnap, snap, 0, so); snapBytes += so;
    fs.closeSync(fdSnap);
    fs.renameSync(snapTmp, snapPath);
  }
  return { frames: n, flows: started, fullBytes, snapBytes, wireBytes, fullSize, maxConcurrent, trafficSeconds: tsUs / 1e6 };
}

/** Payload bytes of each packet of a 'data' flood. */
const FLOOD_DATA_BYTES = 100;

/**
 * A flood (issue 9's reliability campaign): `packets` frames, each a connection of its own from 10.x.y.z:1024-1279
 * (x.y.z from the connection number) to 10.99.0.1:80, `gapUs` of traffic time apart (default 10: 100k packets/s,
 * all within the idle timeout). `syn` (default): bare SYNs, what the campaign fed the sensor (at the default table
 * size the second million evicts); `ack`: bare ACKs (midstream flows); `data`: PSH+ACK with 100 payload bytes, so
 * every flow has a sequence entry and goes through the model. Same arguments, same bytes.
 */
function writeFlood(file, packets, opts = {}) {
  const kind = opts.kind ?? 'syn';
  const gapUs = opts.gapUs ?? 10;
  const rand = mulberry32(0xf100d);
  const flags = kind === 'syn' ? 0x02 : kind === 'ack' ? 0x10 : 0x18;
  const len = kind === 'data' ? FLOOD_DATA_BYTES : 0;
  return writeCaptures({
    rand,
    pool: payloadPool(rand, 4096),
    packets,
    concurrency: 1,
    newFlow: (id) => ({
      id,
      v6: false,
      vlan: 0,
      client: [(0x0a000000 + (id >>> 8)) >>> 0, 0, 0, 0],
      server: [0x0a630001, 0, 0, 0],
      cport: 1024 + (id & 0xff),
      sport: 80,
      mss: 1460,
      cseq: (rand() * 0x100000000) >>> 0,
      sseq: 0,
      ipId: id & 0xffff,
      script: [{ fromClient: true, flags, len, prefix: null }],
    }),
    startSec: 1_700_000_000,
    gapMinUs: gapUs,
    gapMaxUs: gapUs,
    fullPath: file,
  });
}

module.exports = { mulberry32, payloadPool, pcapHeader, writeCaptures, writeFlood, writeFrame, PCAP_HEADER };
