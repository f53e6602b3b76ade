import * as crypto from 'node:crypto';

/** Zeek's uid alphabet order: digits, upper case, lower case. */
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** 96 bits of the hash, like a Zeek uid; 62^17 > 2^96, so 17 digits always suffice (left-padded with '0'). */
const UID_DIGITS = 17;

/**
 * The flow's stable id, Zeek-style (`C` + 17 base62 digits, 96 bits): the first 12 bytes of
 * SHA-256 over the UTF-8 JSON text of
 * `[sensor, ip_version, client_ip, client_port, server_ip, server_port, vlan, first_ts_us]`
 * (first_ts_us = first_ts in integer microseconds, Math.round(first_ts * 1e6)), read as a big-endian unsigned
 * integer and written in base62 with the alphabet 0-9A-Za-z. The addresses are the written ones (pseudonyms
 * when pseudonymisation is on), so the uid can be recomputed from a record alone. An `active` interim record
 * and the flow's final record share it (same endpoints, roles and first_ts). Once per written flow, never per packet.
 */
/**
 * One-shot SHA-256 as a latin1 string (each character's code is one byte of the digest): crypto.hash (Node >= 20.12,
 * about half the cost of createHash), else createHash. A string rather than a Buffer: crypto.hash's Buffer output costs
 * an ArrayBuffer and its backing store per call, and the digest took 0.86 against 0.40 µs as a Buffer (20,000 uid
 * keys, one core; bench/HISTORY.md, round perf18).
 */
const sha256: (data: string | Uint8Array) => string =
  typeof (crypto as { hash?: unknown }).hash === 'function'
    ? (data) => (crypto as unknown as { hash(alg: string, data: string | Uint8Array, enc: 'latin1'): string }).hash('sha256', data, 'latin1')
    : (data) => crypto.createHash('sha256').update(data).digest('binary');

/** Characters a JSON string must escape; addresses (dotted, colon-hex, `anon:` + hex) never contain them. */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

function jsonString(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : '"' + s + '"';
}

function jsonNumber(n: number): string {
  return Number.isFinite(n) ? String(n) : 'null';
}

/** The key's JSON text, built as a string: exactly JSON.stringify([...]) of the documented array (any input). */
function keyText(sensorJson: string, ipVersion: number, clientIp: string, clientPort: number, serverIp: string, serverPort: number, vlan: number, firstTsUs: number): string {
  return (
    '[' + sensorJson + ',' + jsonNumber(ipVersion) + ',' + jsonString(clientIp) + ',' + jsonNumber(clientPort) + ',' +
    jsonString(serverIp) + ',' + jsonNumber(serverPort) + ',' + jsonNumber(vlan) + ',' + jsonNumber(firstTsUs) + ']'
  );
}

/**
 * The key's UTF-8 bytes are written here directly for the usual record (ASCII addresses, safe-integer numbers): the
 * same bytes as the text's, without building the string, which cost more than the hash itself (round perf12).
 */
const KEY = Buffer.alloc(512);
/** Room the key needs besides the sensor name and the two addresses: punctuation and five numbers of <= 17 characters. */
const KEY_ROOM = 8 * 2 + 5 * 17 + 8;

/** The last sensor name and its JSON text (one name per run, so this is computed once; null before the first). */
let lastSensor: string | null = null;
let lastSensorJson = '""';
/**
 * How many bytes of KEY hold the key's start for the last sensor name, `[` + its JSON text + `,` (written when the name
 * changes, so no call copies it), or -1 where that start leaves too little room in KEY (the text path then).
 */
let prefixBytes = -1;

/** The key's start for `sensorJson` into KEY; returns its length, or -1 where it leaves KEY too little room. */
function writePrefix(sensorJson: string): number {
  const bytes = Buffer.from(sensorJson, 'utf8');
  if (bytes.length + 2 + KEY_ROOM > KEY.length) return -1;
  KEY[0] = 0x5b;
  bytes.copy(KEY, 1);
  KEY[bytes.length + 1] = 0x2c;
  return bytes.length + 2;
}

/** Writes the decimal text of a safe integer (String(v)'s) at `at`; returns the next position. */
function putInteger(v: number, at: number): number {
  let n = at;
  if (v < 0) {
    KEY[n++] = 0x2d;
    v = -v;
  }
  // Two halves below 2^31 (v < 2^53 < 1e16), so the digits come from integer arithmetic.
  const hi = Math.floor(v / 1e8);
  let lo = v - hi * 1e8;
  let digits = 1;
  for (let t = hi > 0 ? hi : lo; t >= 10; t = (t / 10) | 0) digits++;
  if (hi > 0) digits += 8;
  const end = n + digits;
  const stop = hi > 0 ? end - 8 : n;
  for (let i = end - 1; i >= stop; i--) {
    const q = (lo / 10) | 0;
    KEY[i] = 0x30 + lo - q * 10;
    lo = q;
  }
  let h = hi;
  for (let i = stop - 1; i >= n; i--) {
    const q = (h / 10) | 0;
    KEY[i] = 0x30 + h - q * 10;
    h = q;
  }
  return end;
}

/** Writes `"s"` at `at` when s is ASCII needing no JSON escape; returns the next position, or -1. */
function putAscii(s: string, at: number): number {
  let n = at;
  KEY[n++] = 0x22;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c >= 0x80 || c === 0x22 || c === 0x5c) return -1;
    KEY[n++] = c;
  }
  KEY[n++] = 0x22;
  return n;
}

/** The key's bytes into KEY; returns their count, or -1 where an input needs the text path. */
function keyBytes(ipVersion: number, clientIp: string, clientPort: number, serverIp: string, serverPort: number, vlan: number, firstTsUs: number): number {
  if (
    !Number.isSafeInteger(ipVersion) || !Number.isSafeInteger(clientPort) || !Number.isSafeInteger(serverPort) ||
    !Number.isSafeInteger(vlan) || !Number.isSafeInteger(firstTsUs) ||
    prefixBytes < 0 || prefixBytes + clientIp.length + serverIp.length + KEY_ROOM > KEY.length
  ) {
    return -1;
  }
  let n = putInteger(ipVersion, prefixBytes);
  KEY[n++] = 0x2c;
  n = putAscii(clientIp, n);
  if (n < 0) return -1;
  KEY[n++] = 0x2c;
  n = putInteger(clientPort, n);
  KEY[n++] = 0x2c;
  n = putAscii(serverIp, n);
  if (n < 0) return -1;
  KEY[n++] = 0x2c;
  n = putInteger(serverPort, n);
  KEY[n++] = 0x2c;
  n = putInteger(vlan, n);
  KEY[n++] = 0x2c;
  n = putInteger(firstTsUs, n);
  KEY[n++] = 0x5d;
  return n;
}

/** KEY's first n bytes, by n: a view made once per length instead of a subarray per call. */
const KEY_VIEWS: (Buffer | undefined)[] = [];

function keyView(n: number): Buffer {
  let v = KEY_VIEWS[n];
  if (v === undefined) {
    v = KEY.subarray(0, n);
    KEY_VIEWS[n] = v;
  }
  return v;
}

/** The alphabet's character codes, and the uid's ('C' and its digits), written in place for one String.fromCharCode. */
const BASE62_CODES = Uint16Array.from(BASE62, (c) => c.charCodeAt(0));
const UID_CODES = new Uint16Array(1 + UID_DIGITS);
UID_CODES[0] = 0x43;

export function flowUid(
  sensor: string,
  ipVersion: number,
  clientIp: string,
  clientPort: number,
  serverIp: string,
  serverPort: number,
  vlan: number,
  firstTs: number,
): string {
  if (sensor !== lastSensor) {
    lastSensor = sensor;
    lastSensorJson = JSON.stringify(sensor);
    prefixBytes = writePrefix(lastSensorJson);
  }
  const firstTsUs = Math.round(firstTs * 1e6);
  const n = keyBytes(ipVersion, clientIp, clientPort, serverIp, serverPort, vlan, firstTsUs);
  const h = sha256(n >= 0 ? keyView(n) : keyText(lastSensorJson, ipVersion, clientIp, clientPort, serverIp, serverPort, vlan, firstTsUs));
  // 96 bits as four 24-bit limbs; long division by 62 keeps every intermediate below 62 * 2^24 < 2^31 (int32).
  let l0 = (h.charCodeAt(0) << 16) | (h.charCodeAt(1) << 8) | h.charCodeAt(2);
  let l1 = (h.charCodeAt(3) << 16) | (h.charCodeAt(4) << 8) | h.charCodeAt(5);
  let l2 = (h.charCodeAt(6) << 16) | (h.charCodeAt(7) << 8) | h.charCodeAt(8);
  let l3 = (h.charCodeAt(9) << 16) | (h.charCodeAt(10) << 8) | h.charCodeAt(11);
  for (let i = UID_DIGITS; i >= 1; i--) {
    let q = (l0 / 62) | 0;
    let r = l0 - q * 62;
    l0 = q;
    let cur = (r << 24) | l1;
    q = (cur / 62) | 0;
    r = cur - q * 62;
    l1 = q;
    cur = (r << 24) | l2;
    q = (cur / 62) | 0;
    r = cur - q * 62;
    l2 = q;
    cur = (r << 24) | l3;
    q = (cur / 62) | 0;
    r = cur - q * 62;
    l3 = q;
    UID_CODES[i] = BASE62_CODES[r]!;
  }
  // Eighteen arguments, not apply() over the array: 0.03 against 0.10 µs, and no argument list allocated.
  const u = UID_CODES;
  return String.fromCharCode(u[0]!, u[1]!, u[2]!, u[3]!, u[4]!, u[5]!, u[6]!, u[7]!, u[8]!, u[9]!, u[10]!, u[11]!, u[12]!, u[13]!, u[14]!, u[15]!, u[16]!, u[17]!);
}
