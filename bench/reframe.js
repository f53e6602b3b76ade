'use strict';
/**
 * Re-frames an Ethernet classic pcap under another link type (round perf44): Linux cooked capture v1 (SLL, 113, what
 * `tcpdump -i any` writes), v2 (SLL2, 276, newer libpcap) or raw IP (RAW, 101). Same packets, same timestamps, same IP
 * bytes; only the link header changes, so the flow records of the result are those of the source (raw IP drops the
 * VLAN tags, so the VLAN ID of the key becomes 0 there; frames that are not IPv4 or IPv6 are left out of a raw IP file).
 *
 *   SLL   packet type (0 host / 4 outgoing), ARPHRD_ETHER, address length 6, the source MAC (8 bytes), EtherType
 *   SLL2  EtherType, reserved, interface index 2, ARPHRD_ETHER, packet type, address length 6, the source MAC
 *   RAW   the frame from its IP header on (after any 802.1Q/802.1ad tags)
 *
 * The captured and wire lengths change by the header's difference (a frame cut inside its Ethernet header keeps what
 * the new header leaves). Used by the fast path's tests (test/fastpath, the fuzz sources) and the bench (round perf44).
 *
 * Usage: node bench/reframe.js sll|sll2|raw IN.pcap OUT.pcap
 */
const fs = require('node:fs');

const LINK = { sll: 113, sll2: 276, raw: 101 };

/** The new frame for one Ethernet frame (its captured bytes), and the change of its length; null to leave it out. */
function reframeFrame(kind, f) {
  if (kind === 'raw') {
    if (f.length < 14) return null;
    let type = f.readUInt16BE(12);
    let p = 14;
    while ((type === 0x8100 || type === 0x88a8 || type === 0x9100) && p + 4 <= f.length) {
      type = f.readUInt16BE(p + 2);
      p += 4;
    }
    if (type !== 0x0800 && type !== 0x86dd) return null;
    return { data: f.subarray(p), delta: -p };
  }
  const eth = Buffer.alloc(14);
  f.copy(eth, 0, 0, Math.min(14, f.length));
  // packet type: 4 (outgoing) when the source MAC sorts before the destination, else 0 (to this host); not read
  const outgoing = eth.compare(eth, 0, 6, 6, 12) > 0 ? 4 : 0;
  let h;
  if (kind === 'sll') {
    h = Buffer.alloc(16);
    h.writeUInt16BE(outgoing, 0);
    h.writeUInt16BE(1, 2);
    h.writeUInt16BE(6, 4);
    eth.copy(h, 6, 6, 12);
    h.writeUInt16BE(eth.readUInt16BE(12), 14);
  } else {
    h = Buffer.alloc(20);
    h.writeUInt16BE(eth.readUInt16BE(12), 0);
    h.writeUInt32BE(2, 4);
    h.writeUInt16BE(1, 8);
    h[10] = outgoing;
    h[11] = 6;
    eth.copy(h, 12, 6, 12);
  }
  const data = f.length >= 14 ? Buffer.concat([h, f.subarray(14)]) : h.subarray(0, f.length);
  return { data, delta: h.length - 14 };
}

/** The pcap bytes `src` (a classic Ethernet pcap, any byte order and resolution) re-framed as `kind`. */
function reframe(src, kind) {
  const out = [];
  reframeStream(src, kind, (b) => out.push(b));
  return Buffer.concat(out);
}

/** reframe() in pieces: `emit` gets the file header, then each record (header and frame). */
function reframeStream(src, kind, emit) {
  if (!(kind in LINK)) throw new Error(`reframe: link ${kind} is not sll, sll2 or raw`);
  const m = src.readUInt32LE(0);
  const le = m === 0xa1b2c3d4 || m === 0xa1b23c4d;
  const rd = (off) => (le ? src.readUInt32LE(off) : src.readUInt32BE(off));
  const head = Buffer.from(src.subarray(0, 24));
  if ((rd(20) & 0xffff) !== 1) throw new Error('reframe: the source is not an Ethernet pcap');
  const wr = (b, off, v) => (le ? b.writeUInt32LE(v >>> 0, off) : b.writeUInt32BE(v >>> 0, off));
  wr(head, 16, rd(16) + 6);
  wr(head, 20, LINK[kind]);
  emit(head);
  for (let at = 24; at + 16 <= src.length; ) {
    const capLen = rd(at + 8);
    if (at + 16 + capLen > src.length) break;
    const r = reframeFrame(kind, src.subarray(at + 16, at + 16 + capLen));
    if (r !== null) {
      const h = Buffer.from(src.subarray(at, at + 16));
      wr(h, 8, r.data.length);
      wr(h, 12, Math.max(0, rd(at + 12) + r.delta));
      emit(h);
      emit(r.data);
    }
    at += 16 + capLen;
  }
}

module.exports = { reframe, LINK };

if (require.main === module) {
  const [kind, input, output] = process.argv.slice(2);
  if (!kind || !input || !output) {
    console.error('usage: node bench/reframe.js sll|sll2|raw IN.pcap OUT.pcap');
    process.exit(2);
  }
  // In 256 MiB pieces of whole records (the bench capture is 1.2 GB).
  const fd = fs.openSync(input, 'r');
  const outFd = fs.openSync(output, 'w');
  const size = fs.fstatSync(fd).size;
  const header = Buffer.alloc(24);
  fs.readSync(fd, header, 0, 24, 0);
  let pos = 24;
  let first = true;
  let pending = [];
  let pendingBytes = 0;
  const flush = () => {
    if (pendingBytes > 0) fs.writeSync(outFd, Buffer.concat(pending));
    pending = [];
    pendingBytes = 0;
  };
  const piece = 256 * 1024 * 1024;
  while (pos < size) {
    const buf = Buffer.alloc(Math.min(piece, size - pos) + 24);
    header.copy(buf, 0);
    const n = fs.readSync(fd, buf, 24, buf.length - 24, pos);
    const le = header.readUInt32LE(0) === 0xa1b2c3d4 || header.readUInt32LE(0) === 0xa1b23c4d;
    // whole records only
    let end = 24;
    while (end + 16 <= 24 + n) {
      const c = le ? buf.readUInt32LE(end + 8) : buf.readUInt32BE(end + 8);
      if (end + 16 + c > 24 + n) break;
      end += 16 + c;
    }
    if (end === 24) break;
    let skipHead = !first;
    reframeStream(buf.subarray(0, end), kind, (b) => {
      if (skipHead) {
        skipHead = false;
        return;
      }
      pending.push(b);
      pendingBytes += b.length;
      if (pendingBytes > 64 * 1024 * 1024) flush();
    });
    first = false;
    pos += end - 24;
  }
  flush();
  fs.closeSync(fd);
  fs.closeSync(outFd);
}
