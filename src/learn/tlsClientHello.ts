/**
 * The server name (SNI) and ALPN offer of a TLS ClientHello, read from the first bytes the client sent.
 *
 *   TLSPlaintext: type 22 (handshake) | version 3.x | length (2) | fragment
 *   Handshake:    type 1 (client_hello) | length (3) | version (2) | random (32) | session_id <0..32>
 *                 | cipher_suites <2..2^16-2> | compression_methods <1..2^8-1> | extensions <0..2^16-1>
 *   Extension 0 (server_name, RFC 6066): list length (2) | name type 0 (host_name) | length (2) | name
 *   Extension 16 (ALPN, RFC 7301): list length (2) | (length (1) | protocol)*
 *
 * A ClientHello may span several TLS records and several TCP segments: the records' fragments are joined until
 * the handshake message is whole or the bytes run out. Every read is bounds-checked; what cannot be parsed is
 * answered NOT_TLS (not a ClientHello) or, with the bytes seen so far, a partial result.
 */

/** The bytes do not start with a TLS handshake record holding a ClientHello. */
export const NOT_TLS = 0;
/** A ClientHello starts here but its extensions are not all there yet: call again with more bytes. */
export const NEED_MORE = 1;
/** The ClientHello was read (whole, or as far as the bytes go when `final`). */
export const CLIENT_HELLO = 2;

export interface ClientHello {
  /** host_name of the server_name extension (lower case, trailing dot removed), or null when absent. */
  sni: string | null;
  /** ALPN protocol names offered, in order. */
  alpn: string[];
}

const CONTENT_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;
const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;
const SNI_HOST_NAME = 0;
/** RFC 8446: a record fragment is at most 2^14 bytes (plus expansion in older versions). */
const MAX_RECORD = 16384 + 2048;
/** Longest DNS name (RFC 1035). */
const MAX_NAME = 253;

/** True when the bytes at `off` look like the header of a TLS handshake record carrying a ClientHello. */
export function looksLikeClientHello(b: Uint8Array, off: number, end: number): boolean {
  if (end - off < 6) return false;
  const len = (b[off + 3]! << 8) | b[off + 4]!;
  return b[off] === CONTENT_HANDSHAKE && b[off + 1] === 3 && b[off + 2]! <= 4 && len > 0 && len <= MAX_RECORD && b[off + 5] === HANDSHAKE_CLIENT_HELLO;
}

/**
 * Reads the ClientHello that starts at `off` (a TLS record header) in b[off, end). An incomplete message gives
 * NEED_MORE (with `out` filled as far as the bytes go), or CLIENT_HELLO when `final` (no more bytes will come).
 */
export function readClientHello(b: Uint8Array, off: number, end: number, final: boolean, out: ClientHello): number {
  if (!looksLikeClientHello(b, off, end)) return NOT_TLS;
  // Join the handshake fragments of consecutive handshake records.
  const parts: Uint8Array[] = [];
  let have = 0;
  let want = -1;
  let p = off;
  let whole = false;
  while (p + 5 <= end) {
    if (b[p] !== CONTENT_HANDSHAKE || b[p + 1] !== 3) break;
    const len = (b[p + 3]! << 8) | b[p + 4]!;
    if (len === 0 || len > MAX_RECORD) break;
    const from = p + 5;
    const to = Math.min(end, from + len);
    parts.push(b.subarray(from, to));
    have += to - from;
    if (want < 0 && have >= 4) {
      const first = concat(parts, have);
      want = 4 + ((first[1]! << 16) | (first[2]! << 8) | first[3]!);
    }
    if (want >= 0 && have >= want) {
      whole = true;
      break;
    }
    if (to < from + len) break; // the record itself is cut: wait for more bytes
    p = to;
  }
  const msg = concat(parts, have);
  if (msg.length < 4 || msg[0] !== HANDSHAKE_CLIENT_HELLO) return NOT_TLS;
  const msgEnd = Math.min(msg.length, want);
  out.sni = null;
  out.alpn = [];
  const listRead = walk(msg, 4, msgEnd, out);
  return whole || listRead || final ? CLIENT_HELLO : NEED_MORE;
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(total);
  let o = 0;
  for (const part of parts) {
    out.set(part, o);
    o += part.length;
  }
  return out;
}

/** Walks the ClientHello body to its extensions; true when the extension list was read to its end. */
function walk(m: Uint8Array, p: number, end: number, out: ClientHello): boolean {
  p += 2 + 32; // legacy_version, random
  if (p + 1 > end) return false;
  p += 1 + m[p]!; // session id
  if (p + 2 > end) return false;
  p += 2 + ((m[p]! << 8) | m[p + 1]!); // cipher suites
  if (p + 1 > end) return false;
  p += 1 + m[p]!; // compression methods
  if (p + 2 > end) return false;
  const extEnd = Math.min(end, p + 2 + ((m[p]! << 8) | m[p + 1]!));
  const listWhole = p + 2 + ((m[p]! << 8) | m[p + 1]!) <= end;
  p += 2;
  while (p + 4 <= extEnd) {
    const type = (m[p]! << 8) | m[p + 1]!;
    const len = (m[p + 2]! << 8) | m[p + 3]!;
    const body = p + 4;
    if (body + len > extEnd) return false;
    if (type === EXT_SERVER_NAME) out.sni = serverName(m, body, body + len);
    else if (type === EXT_ALPN) out.alpn = alpn(m, body, body + len);
    p = body + len;
  }
  return listWhole;
}

function serverName(m: Uint8Array, p: number, end: number): string | null {
  if (p + 2 > end) return null;
  const listEnd = Math.min(end, p + 2 + ((m[p]! << 8) | m[p + 1]!));
  p += 2;
  while (p + 3 <= listEnd) {
    const type = m[p]!;
    const len = (m[p + 1]! << 8) | m[p + 2]!;
    p += 3;
    if (p + len > listEnd) return null;
    if (type === SNI_HOST_NAME) return hostName(m, p, p + len);
    p += len;
  }
  return null;
}

function alpn(m: Uint8Array, p: number, end: number): string[] {
  const names: string[] = [];
  if (p + 2 > end) return names;
  const listEnd = Math.min(end, p + 2 + ((m[p]! << 8) | m[p + 1]!));
  p += 2;
  while (p + 1 <= listEnd) {
    const len = m[p]!;
    p += 1;
    if (len === 0 || p + len > listEnd) break;
    const name = printable(m, p, p + len);
    if (name !== null) names.push(name);
    p += len;
  }
  return names;
}

/**
 * A DNS name from bytes: letters, digits, '-', '_' and '.', at most 253 characters, lower-cased, one trailing
 * dot removed; null for anything else (a name with other bytes is not something to label a flow with).
 */
export function hostName(m: Uint8Array, p: number, end: number): string | null {
  if (end <= p || end - p > MAX_NAME + 1) return null;
  let s = '';
  for (let i = p; i < end; i++) {
    let c = m[i]!;
    const ok = (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x2d || c === 0x2e || c === 0x5f;
    if (!ok) return null;
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    s += String.fromCharCode(c);
  }
  if (s.endsWith('.')) s = s.slice(0, -1);
  return s === '' || s.startsWith('.') || s.includes('..') ? null : s;
}

/** Printable ASCII text or null. */
export function printable(m: Uint8Array, p: number, end: number): string | null {
  let s = '';
  for (let i = p; i < end; i++) {
    const c = m[i]!;
    if (c < 0x20 || c > 0x7e) return null;
    s += String.fromCharCode(c);
  }
  return s;
}
