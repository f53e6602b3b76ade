import * as crypto from 'node:crypto';

/** TCP's IP protocol number, the only transport this sensor follows. */
const IPPROTO_TCP = 6;

/** The hash input of an IPv4 / IPv6 flow (seed, two addresses, protocol, pad, two ports), reused for every flow. */
const INPUT_V4 = Buffer.alloc(2 + 2 * 4 + 2 + 4);
const INPUT_V6 = Buffer.alloc(2 + 2 * 16 + 2 + 4);

/** One-shot SHA-1 in base64 (crypto.hash, Node >= 20.12: about half the cost of createHash), else createHash. */
const sha1Base64: (data: Buffer) => string =
  typeof (crypto as { hash?: unknown }).hash === 'function'
    ? (data) => (crypto as unknown as { hash(alg: string, data: Buffer, enc: 'base64'): string }).hash('sha1', data, 'base64')
    : (data) => crypto.createHash('sha1').update(data).digest('base64');

/**
 * Community ID v1 (https://github.com/corelight/community-id-spec) of a TCP flow whose endpoints are already
 * in the spec's order (A is the lesser address/port). Called once per written record, never per packet.
 * Words are the 32-bit address words (IPv4: word 0 only).
 */
export function communityId(ipVersion: number, a: ArrayLike<number>, portA: number, b: ArrayLike<number>, portB: number, seed = 0): string {
  const addrBytes = ipVersion === 4 ? 4 : 16;
  const buf = ipVersion === 4 ? INPUT_V4 : INPUT_V6;
  let o = 0;
  buf.writeUInt16BE(seed & 0xffff, o);
  o += 2;
  for (let i = 0; i < addrBytes / 4; i++, o += 4) buf.writeUInt32BE((a[i] ?? 0) >>> 0, o);
  for (let i = 0; i < addrBytes / 4; i++, o += 4) buf.writeUInt32BE((b[i] ?? 0) >>> 0, o);
  buf[o++] = IPPROTO_TCP;
  buf[o++] = 0;
  buf.writeUInt16BE(portA, o);
  buf.writeUInt16BE(portB, o + 2);
  return '1:' + sha1Base64(buf);
}
