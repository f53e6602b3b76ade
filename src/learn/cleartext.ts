import { printable } from './tlsClientHello';

/**
 * Protocols recognised from the first cleartext bytes of each side: greeting banners (SSH, SMTP, FTP, IMAP, POP3,
 * rsync) and first client messages with a fixed shape (PostgreSQL startup, MQTT CONNECT, RESP, LDAP, XMPP, git,
 * memcached, DNS over TCP). Each test is a signature that other protocols do not start with; anything else is
 * answered null. TLS and HTTP are read separately (tlsClientHello.ts, httpRequest.ts).
 */

/** Longest banner line kept for the rules' `banner` patterns. */
export const MAX_BANNER = 200;

/** The first line of b[off, end) as printable ASCII (without CR LF), or null when it is not text. */
export function firstLine(b: Uint8Array, off: number, end: number): string | null {
  let stop = off;
  const max = Math.min(end, off + MAX_BANNER);
  while (stop < max && b[stop] !== 0x0a && b[stop] !== 0x0d) stop++;
  if (stop === off) return null;
  return printable(b, off, stop);
}

/** True when b[off, end) holds a whole line (a LF within MAX_BANNER bytes). */
export function hasLine(b: Uint8Array, off: number, end: number): boolean {
  const max = Math.min(end, off + MAX_BANNER + 2);
  for (let i = off; i < max; i++) if (b[i] === 0x0a) return true;
  return false;
}

const SMTP_COMMANDS = /^(EHLO|HELO|LHLO) /i;
const FTP_COMMANDS = /^(USER|AUTH|FEAT|SYST|OPTS|PASV|EPSV|PWD|TYPE|LIST|NLST|RETR|STOR|CWD|QUIT|HOST|CLNT)\b/i;
const MEMCACHED_COMMANDS = /^(get|gets|gat|gats|set|add|replace|append|prepend|cas|delete|incr|decr|touch|stats|version|flush_all|verbosity|mn|mg|ms|md|ma|me) ?/;

/**
 * The protocol of a flow from its server greeting line, its client's first line and the raw first bytes of
 * each side (either may be empty); null when nothing matches.
 */
export function cleartextProtocol(
  server: Uint8Array,
  sLen: number,
  client: Uint8Array,
  cLen: number,
  serverLine: string | null,
  clientLine: string | null,
): string | null {
  if ((serverLine !== null && serverLine.startsWith('SSH-')) || (clientLine !== null && clientLine.startsWith('SSH-'))) return 'ssh';
  if (serverLine !== null) {
    if (/^220[ -]/.test(serverLine)) {
      if (clientLine !== null && SMTP_COMMANDS.test(clientLine)) return 'smtp';
      if (clientLine !== null && FTP_COMMANDS.test(clientLine)) return 'ftp';
      if (/\bE?SMTP\b|\bPostfix\b|\bExim\b|\bSendmail\b/i.test(serverLine)) return 'smtp';
      if (/\bFTP\b|FileZilla|vsftpd|ProFTPD|Pure-FTPd/i.test(serverLine)) return 'ftp';
      return null;
    }
    if (serverLine.startsWith('+OK')) return 'pop3';
    if (/^\* (OK|PREAUTH|BYE)\b/.test(serverLine)) return 'imap';
    if (serverLine.startsWith('@RSYNCD:')) return 'rsync';
  }
  if (clientLine !== null) {
    if (clientLine.startsWith('@RSYNCD:')) return 'rsync';
    if (/^<\?xml|^<stream:stream/.test(clientLine)) return 'xmpp';
    if (/^[0-9a-f]{4}git-(upload|receive)-pack /.test(clientLine)) return 'git';
    if (MEMCACHED_COMMANDS.test(clientLine) && /^[a-z_]+( [ -~]*)?$/.test(clientLine)) return 'memcached';
  }
  if (sLen > 0 && mysqlGreeting(server, sLen)) return 'mysql';
  if (cLen > 0) {
    if (postgresStartup(client, cLen)) return 'postgresql';
    if (mqttConnect(client, cLen)) return 'mqtt';
    if (respCommand(client, cLen)) return 'redis';
    if (ldapMessage(client, cLen)) return 'ldap';
    if (dnsQuery(client, cLen)) return 'dns';
    if (client[0] === 0x80 && cLen >= 24 && client[1]! <= 0x48) return 'memcached'; // binary protocol request magic
  }
  return null;
}

/** MySQL/MariaDB server greeting: 3-byte length, sequence 0, protocol version 10, a NUL-terminated version. */
function mysqlGreeting(b: Uint8Array, n: number): boolean {
  if (n < 8) return false;
  const len = b[0]! | (b[1]! << 8) | (b[2]! << 16);
  if (b[3] !== 0 || b[4] !== 10 || len < 20 || len > 1024) return false;
  for (let i = 5; i < Math.min(n, 5 + 60); i++) {
    if (b[i] === 0) return i > 5;
    if (b[i]! < 0x20 || b[i]! > 0x7e) return false;
  }
  return false;
}

/** PostgreSQL StartupMessage (protocol 3.0), SSLRequest or GSSENCRequest: int32 length, int32 code. */
function postgresStartup(b: Uint8Array, n: number): boolean {
  if (n < 8) return false;
  const len = ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
  const code = ((b[4]! << 24) | (b[5]! << 16) | (b[6]! << 8) | b[7]!) >>> 0;
  if (len === 8 && (code === 80877103 || code === 80877104)) return true;
  return code === 196608 && len >= 8 && len <= 10000;
}

/** MQTT CONNECT: packet type 1, a remaining length, then the protocol name "MQTT" (3.1.1/5) or "MQIsdp" (3.1). */
function mqttConnect(b: Uint8Array, n: number): boolean {
  if (n < 8 || b[0] !== 0x10) return false;
  let p = 1;
  while (p < 5 && p < n && (b[p]! & 0x80) !== 0) p++;
  p++;
  if (p + 8 > n) return false;
  const nameLen = (b[p]! << 8) | b[p + 1]!;
  const name = printable(b, p + 2, Math.min(n, p + 2 + nameLen));
  return (nameLen === 4 && name === 'MQTT') || (nameLen === 6 && name === 'MQIsdp');
}

/** A RESP array of bulk strings (`*<n>\r\n$<len>\r\n`), what Redis clients send. */
function respCommand(b: Uint8Array, n: number): boolean {
  const head = Buffer.from(b.buffer, b.byteOffset, Math.min(n, 16)).toString('latin1');
  return /^\*[1-9][0-9]*\r\n\$[0-9]+\r\n/.test(head);
}

/** An LDAPMessage: SEQUENCE, INTEGER messageID, then a bind, search, extended (StartTLS) or unbind request. */
function ldapMessage(b: Uint8Array, n: number): boolean {
  if (n < 7 || b[0] !== 0x30) return false;
  let p = 1;
  if (b[p]! & 0x80) p += 1 + (b[p]! & 0x7f);
  else p += 1;
  if (p + 3 > n || b[p] !== 0x02) return false;
  const idLen = b[p + 1]!;
  if (idLen < 1 || idLen > 4) return false;
  const op = b[p + 2 + idLen];
  return op === 0x60 || op === 0x63 || op === 0x77 || op === 0x42 || op === 0x66 || op === 0x68 || op === 0x4a || op === 0x6e;
}

/** DNS over TCP: a 2-byte length equal to the rest of the segment, one question, no answers (a query). */
function dnsQuery(b: Uint8Array, n: number): boolean {
  if (n < 14) return false;
  const len = (b[0]! << 8) | b[1]!;
  if (len !== n - 2 || len < 12) return false;
  const flags = (b[4]! << 8) | b[5]!;
  const qd = (b[6]! << 8) | b[7]!;
  const an = (b[8]! << 8) | b[9]!;
  const ns = (b[10]! << 8) | b[11]!;
  return (flags & 0x8000) === 0 && ((flags >> 11) & 0xf) === 0 && qd === 1 && an === 0 && ns === 0;
}
