/**
 * Integer reads straight from a frame buffer. The caller checks the bounds first (every decoder compares
 * its offset with DecodeContext.capEnd before it reads), so these only assemble bytes: no checks, no
 * allocation, small enough for V8 to inline.
 */

/** Big-endian (network order) unsigned 16-bit value at `i`. */
export function u16(buf: Uint8Array, i: number): number {
  return (buf[i]! << 8) | buf[i + 1]!;
}

/** Little-endian unsigned 16-bit value at `i` (NFLOG TLVs). */
export function u16le(buf: Uint8Array, i: number): number {
  return buf[i]! | (buf[i + 1]! << 8);
}

/** Big-endian unsigned 32-bit value at `i` (always >= 0; a plain `<<` would make the top bit a sign). */
export function u32(buf: Uint8Array, i: number): number {
  return buf[i]! * 0x1000000 + ((buf[i + 1]! << 16) | (buf[i + 2]! << 8) | buf[i + 3]!);
}

/** Little-endian unsigned 32-bit value at `i`. */
export function u32le(buf: Uint8Array, i: number): number {
  return buf[i + 3]! * 0x1000000 + ((buf[i + 2]! << 16) | (buf[i + 1]! << 8) | buf[i]!);
}
