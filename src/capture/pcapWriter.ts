import { closeSync, openSync, writeSync } from 'node:fs';
import { PCAP_MAGIC_MICRO, PCAP_MAGIC_NANO } from './captureMagic';

/** Writes are gathered into a buffer this big, so that a benchmark file of millions of packets takes few syscalls. */
const WRITE_BUFFER_SIZE = 1024 * 1024;
const FILE_HEADER_LENGTH = 24;
const RECORD_HEADER_LENGTH = 16;
const DEFAULT_SNAPLEN = 262144;

/**
 * Writes a classic little-endian pcap (µs, or ns with `nanosecond`), for tests and the benchmark
 * generator. Frames longer than the snaplen are cut to it, keeping their wire length.
 */
export class PcapWriter {
  private readonly fd: number;
  private readonly nanosecond: boolean;
  private readonly snaplen: number;
  private readonly out = Buffer.allocUnsafe(WRITE_BUFFER_SIZE);
  private used = 0;
  private closed = false;

  constructor(path: string, linkType: number, opts?: { nanosecond?: boolean; snaplen?: number }) {
    this.nanosecond = opts?.nanosecond ?? false;
    this.snaplen = opts?.snaplen ?? DEFAULT_SNAPLEN;
    if (!Number.isInteger(linkType) || linkType < 0 || linkType > 0xffffffff) {
      throw new Error(`PcapWriter: link type ${linkType} is not a 32-bit unsigned integer`);
    }
    if (!Number.isInteger(this.snaplen) || this.snaplen <= 0) {
      throw new Error(`PcapWriter: snaplen ${this.snaplen} must be a positive integer`);
    }
    this.fd = openSync(path, 'w');
    const h = this.out;
    h.writeUInt32LE(this.nanosecond ? PCAP_MAGIC_NANO : PCAP_MAGIC_MICRO, 0);
    h.writeUInt16LE(2, 4);
    h.writeUInt16LE(4, 6);
    h.writeInt32LE(0, 8); // thiszone
    h.writeUInt32LE(0, 12); // sigfigs
    h.writeUInt32LE(this.snaplen, 16);
    h.writeUInt32LE(linkType, 20);
    this.used = FILE_HEADER_LENGTH;
  }

  /** Appends one record stamped `tsSeconds` (unix seconds, fraction kept to the µs or ns). */
  write(tsSeconds: number, frame: Uint8Array, wireLen = frame.length): void {
    if (this.closed) throw new Error('PcapWriter: write() after close()');
    const units = this.nanosecond ? 1e9 : 1e6;
    let sec = Math.floor(tsSeconds);
    let frac = Math.round((tsSeconds - sec) * units);
    if (frac >= units) {
      sec += 1;
      frac -= units;
    }
    const capLen = Math.min(frame.length, this.snaplen);
    if (this.used + RECORD_HEADER_LENGTH + capLen > this.out.length) this.flush();
    if (RECORD_HEADER_LENGTH + capLen > this.out.length) throw new Error(`PcapWriter: frame of ${capLen} bytes exceeds the write buffer`);
    const o = this.used;
    this.out.writeUInt32LE(sec >>> 0, o);
    this.out.writeUInt32LE(frac, o + 4);
    this.out.writeUInt32LE(capLen, o + 8);
    this.out.writeUInt32LE(wireLen >>> 0, o + 12);
    this.out.set(frame.subarray(0, capLen), o + RECORD_HEADER_LENGTH);
    this.used = o + RECORD_HEADER_LENGTH + capLen;
  }

  /** Flushes and closes the file; further writes throw. */
  close(): void {
    if (this.closed) return;
    this.flush();
    closeSync(this.fd);
    this.closed = true;
  }

  private flush(): void {
    let off = 0;
    while (off < this.used) off += writeSync(this.fd, this.out, off, this.used - off);
    this.used = 0;
  }
}
