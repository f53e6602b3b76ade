/**
 * A minimal pcap / pcapng walker for the decoder's capture tests: reads the whole file and calls back
 * with one reused Frame per packet record, stopping quietly at the first damaged record (damaged files
 * are part of the corpus; reading them well is the capture stage's job, not what these tests check).
 */
import { readFileSync } from 'node:fs';
import { Frame } from '../../src/capture/frame';

const PCAP_MICRO = 0xa1b2c3d4;
const PCAP_NANO = 0xa1b23c4d;
const PCAPNG_SHB = 0x0a0d0d0a;
const PCAPNG_BYTE_ORDER = 0x1a2b3c4d;
const PCAPNG_IDB = 1;
const PCAPNG_OPB = 2;
const PCAPNG_SPB = 3;
const PCAPNG_EPB = 6;
const IF_TSRESOL = 9;

export interface WalkResult {
  frames: number;
  /** Why the walk stopped early, or null at a clean end of file. */
  stopped: string | null;
}

export function walkCapture(path: string, onFrame: (f: Frame) => void): WalkResult {
  const buf = readFileSync(path);
  if (buf.length < 4) return { frames: 0, stopped: 'shorter than a magic number' };
  const le = buf.readUInt32LE(0);
  if (le === PCAPNG_SHB) return walkPcapng(buf, onFrame);
  return walkPcap(buf, onFrame);
}

function walkPcap(buf: Buffer, onFrame: (f: Frame) => void): WalkResult {
  if (buf.length < 24) return { frames: 0, stopped: 'pcap header cut short' };
  const magicLe = buf.readUInt32LE(0);
  const magicBe = buf.readUInt32BE(0);
  let little: boolean;
  let nano: boolean;
  if (magicLe === PCAP_MICRO || magicLe === PCAP_NANO) {
    little = true;
    nano = magicLe === PCAP_NANO;
  } else if (magicBe === PCAP_MICRO || magicBe === PCAP_NANO) {
    little = false;
    nano = magicBe === PCAP_NANO;
  } else {
    return { frames: 0, stopped: 'not a capture file' };
  }
  const r32 = (o: number) => (little ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const frame = new Frame();
  frame.buf = buf;
  frame.linkType = r32(20);
  let off = 24;
  let frames = 0;
  while (off + 16 <= buf.length) {
    const capLen = r32(off + 8);
    if (off + 16 + capLen > buf.length) return { frames, stopped: `record at ${off} runs past the end` };
    frame.ts = r32(off) + r32(off + 4) / (nano ? 1e9 : 1e6);
    frame.off = off + 16;
    frame.capLen = capLen;
    frame.wireLen = r32(off + 12);
    onFrame(frame);
    frames++;
    off += 16 + capLen;
  }
  return { frames, stopped: off === buf.length ? null : 'trailing bytes' };
}

function walkPcapng(buf: Buffer, onFrame: (f: Frame) => void): WalkResult {
  const frame = new Frame();
  frame.buf = buf;
  const linkTypes: number[] = [];
  const tsUnits: number[] = [];
  let little = true;
  let off = 0;
  let frames = 0;
  const r32 = (o: number) => (little ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const r16 = (o: number) => (little ? buf.readUInt16LE(o) : buf.readUInt16BE(o));
  while (off + 12 <= buf.length) {
    if (buf.readUInt32LE(off) === PCAPNG_SHB) {
      little = buf.readUInt32LE(off + 8) === PCAPNG_BYTE_ORDER;
      linkTypes.length = 0;
      tsUnits.length = 0;
    }
    const type = r32(off);
    const len = r32(off + 4);
    if (len < 12 || len % 4 !== 0 || off + len > buf.length) return { frames, stopped: `bad block length at ${off}` };
    const body = off + 8;
    const end = off + len - 4;
    if (type === PCAPNG_IDB && body + 8 <= end) {
      linkTypes.push(r16(body));
      tsUnits.push(idbTimeUnit(buf, body + 8, end, r16));
    } else if (type === PCAPNG_EPB || type === PCAPNG_OPB) {
      const iface = type === PCAPNG_EPB ? r32(body) : r16(body);
      const capLen = r32(body + 12);
      if (body + 20 + capLen > end || iface >= linkTypes.length) return { frames, stopped: `bad packet block at ${off}` };
      const unit = tsUnits[iface]!;
      frame.linkType = linkTypes[iface]!;
      frame.ifIndex = iface;
      frame.ts = (r32(body + 4) * 2 ** 32 + r32(body + 8)) * unit;
      frame.off = body + 20;
      frame.capLen = capLen;
      frame.wireLen = r32(body + 16);
      onFrame(frame);
      frames++;
    } else if (type === PCAPNG_SPB && linkTypes.length > 0) {
      const wireLen = r32(body);
      frame.linkType = linkTypes[0]!;
      frame.ifIndex = 0;
      frame.off = body + 4;
      frame.capLen = Math.min(wireLen, end - body - 4);
      frame.wireLen = wireLen;
      onFrame(frame);
      frames++;
    }
    off += len;
  }
  return { frames, stopped: off === buf.length ? null : 'trailing bytes' };
}

/** Seconds per timestamp unit from the IDB's if_tsresol option (default microseconds). */
function idbTimeUnit(buf: Buffer, off: number, end: number, r16: (o: number) => number): number {
  while (off + 4 <= end) {
    const code = r16(off);
    const len = r16(off + 2);
    if (code === 0) break;
    if (code === IF_TSRESOL && len >= 1 && off + 5 <= end) {
      const v = buf[off + 4]!;
      return v & 0x80 ? 2 ** -(v & 0x7f) : 10 ** -(v & 0x7f);
    }
    off += 4 + ((len + 3) & ~3);
  }
  return 1e-6;
}
