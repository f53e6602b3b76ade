import { hostName } from './tlsClientHello';

/**
 * The server name of an HTTP/1.x request, from the first bytes the client sent: the Host header, else the
 * authority of an absolute request target (`GET http://host/ HTTP/1.1`, `CONNECT host:443 HTTP/1.1`).
 */

/** The bytes do not start with an HTTP/1.x request line. */
export const NOT_HTTP = 0;
/** A request starts here but its header block is not complete yet. */
export const NEED_MORE = 1;
/** The request line and headers were read (or as far as the bytes go, when `final`). */
export const HTTP_REQUEST = 2;

/** Methods of RFC 9110 and WebDAV; a request starts with one of them and a space. */
const METHODS = [
  'GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE',
  'PROPFIND', 'PROPPATCH', 'MKCOL', 'COPY', 'MOVE', 'LOCK', 'UNLOCK', 'REPORT', 'SEARCH',
].map((m) => Buffer.from(m + ' ', 'latin1'));
/** A header block longer than this is not waited for (servers commonly refuse more than 8 KiB). */
const MAX_HEADER_BYTES = 8192;

function startsWith(b: Uint8Array, off: number, end: number, prefix: Uint8Array): boolean {
  if (end - off < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (b[off + i] !== prefix[i]) return false;
  return true;
}

/** Length of the method and its space when b[off..] starts an HTTP request, else 0. */
export function httpMethodLength(b: Uint8Array, off: number, end: number): number {
  for (const m of METHODS) if (startsWith(b, off, end, m)) return m.length;
  return 0;
}

/** The host of "host", "host:port", "[v6]:port" (lower case, no port), or null when it is not a usable name. */
export function authorityHost(text: string): string | null {
  let t = text.trim();
  if (t.startsWith('[')) return null; // an IPv6 literal names no service
  const at = t.lastIndexOf('@');
  if (at >= 0) t = t.slice(at + 1);
  const colon = t.indexOf(':');
  if (colon >= 0) t = t.slice(0, colon);
  return hostName(Buffer.from(t, 'latin1'), 0, t.length);
}

/**
 * Reads the request at b[off, end). On HTTP_REQUEST `out.host` is the name (null when the request names none);
 * NEED_MORE while the header block is incomplete, unless `final`.
 */
export function readHttpRequest(b: Uint8Array, off: number, end: number, final: boolean, out: { host: string | null }): number {
  const m = httpMethodLength(b, off, end);
  if (m === 0) return NOT_HTTP;
  const limit = Math.min(end, off + MAX_HEADER_BYTES);
  const text = Buffer.from(b.buffer, b.byteOffset + off, limit - off).toString('latin1');
  const lines = text.split('\n');
  const requestLine = lines[0]!.replace(/\r$/, '');
  const complete = lines.length > 1;
  if (!complete) return final || limit - off >= MAX_HEADER_BYTES ? answer(out, null) : NEED_MORE;
  const parts = requestLine.split(' ');
  if (parts.length < 3 || !/^HTTP\/1\.[0-9]$/.test(parts[parts.length - 1]!)) return NOT_HTTP;
  const method = parts[0]!;
  const target = parts[1]!;
  let fromTarget: string | null = null;
  if (method === 'CONNECT') fromTarget = authorityHost(target);
  else {
    const abs = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/([^/?#]*)/.exec(target);
    if (abs !== null) fromTarget = authorityHost(abs[1]!);
  }
  // Header lines up to the empty line that ends the block; the last element may be a partial line.
  for (let i = 1; i < lines.length - 1; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    if (line === '') return answer(out, fromTarget);
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === 'host') return answer(out, authorityHost(line.slice(colon + 1)) ?? fromTarget);
  }
  if (final || limit - off >= MAX_HEADER_BYTES) return answer(out, fromTarget);
  return NEED_MORE;
}

function answer(out: { host: string | null }, host: string | null): number {
  out.host = host;
  return HTTP_REQUEST;
}
