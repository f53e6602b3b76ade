/**
 * The first bytes that identify a capture file, shared by the file reader (to pick a parser) and by
 * `listCaptures` (to pick the capture files out of a directory).
 */

/** Classic pcap, microsecond timestamps, as the bytes appear in a big-endian file. */
export const PCAP_MAGIC_MICRO = 0xa1b2c3d4;
/** Classic pcap, nanosecond timestamps (the libpcap 1.5+ variant). */
export const PCAP_MAGIC_NANO = 0xa1b23c4d;
/** pcapng Section Header Block type; a palindrome, so it reads the same in both byte orders. */
export const PCAPNG_SHB_TYPE = 0x0a0d0d0a;
/** gzip member header, ID1 ID2 (RFC 1952). */
const GZIP_ID = 0x1f8b;

/** What the first bytes of a file say it is. */
export type CaptureKind = 'pcap' | 'pcapng' | 'gzip';

/** Bytes needed to tell the kinds apart. */
export const MAGIC_BYTES = 4;

/**
 * Names the kind of capture whose first bytes are buf[0, len), or null when they match no capture
 * format (or are too few). Only gzip can be told from fewer than 4 bytes.
 */
export function captureKind(buf: Uint8Array, len: number): CaptureKind | null {
  if (len >= 2 && buf[0] === GZIP_ID >>> 8 && buf[1] === (GZIP_ID & 0xff)) return 'gzip';
  if (len < MAGIC_BYTES) return null;
  const magic = magicNumber(buf);
  if (magic === PCAPNG_SHB_TYPE) return 'pcapng';
  if (magic === PCAP_MAGIC_MICRO || magic === PCAP_MAGIC_NANO) return 'pcap';
  const swapped = byteSwap32(magic);
  if (swapped === PCAP_MAGIC_MICRO || swapped === PCAP_MAGIC_NANO) return 'pcap';
  return null;
}

/** The first 4 bytes as a big-endian number (as they are written in hex dumps and messages). */
export function magicNumber(buf: Uint8Array): number {
  return (((buf[0] ?? 0) << 24) | ((buf[1] ?? 0) << 16) | ((buf[2] ?? 0) << 8) | (buf[3] ?? 0)) >>> 0;
}

/** `0x` and 8 hex digits, for error messages. */
export function formatMagic(magic: number): string {
  return `0x${magic.toString(16).padStart(8, '0')}`;
}

function byteSwap32(x: number): number {
  return (((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24)) >>> 0;
}
