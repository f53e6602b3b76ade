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
  const words = ipVersion === 4 ? 1 : 4;
  const buf = ipVersion === 4 ? INPUT_V4 : INPUT_V6;
  // Bytes written one by one (big-endian), not with Buffer.writeUInt16BE/32BE: their argument checks, inlined into
  // this function and slotRecord() by V8's optimizing compiler, made this once-per-flow function one of its
  // costliest compiles (~15 ms of CPU a run; round perf16).
  buf[0] = (seed >>> 8) & 0xff;
  buf[1] = seed & 0xff;
  let o = 2;
  for (let i = 0; i < words; i++, o += 4) putWord(buf, o, a[i] ?? 0);
  for (let i = 0; i < words; i++, o += 4) putWord(buf, o, b[i] ?? 0);
  buf[o] = IPPROTO_TCP;
  buf[o + 1] = 0;
  buf[o + 2] = (portA >>> 8) & 0xff;
  buf[o + 3] = portA & 0xff;
  buf[o + 4] = (portB >>> 8) & 0xff;
  buf[o + 5] = portB & 0xff;
  return '1:' + sha1Base64(buf);
}

/** The 32-bit word w at buf[o..o+3], big-endian. */
function putWord(buf: Buffer, o: number, w: number): void {
  buf[o] = w >>> 24;
  buf[o + 1] = (w >>> 16) & 0xff;
  buf[o + 2] = (w >>> 8) & 0xff;
  buf[o + 3] = w & 0xff;
}
