import { createHash } from 'node:crypto';

/** TCP's IP protocol number, the only transport this sensor follows. */
const IPPROTO_TCP = 6;

/**
 * Community ID v1 (https://github.com/corelight/community-id-spec) of a TCP flow whose endpoints are already
 * in the spec's order (A is the lesser address/port). Called once per written record, never per packet.
 * Words are the 32-bit address words (IPv4: word 0 only).
 */
export function communityId(ipVersion: number, a: ArrayLike<number>, portA: number, b: ArrayLike<number>, portB: number, seed = 0): string {
  const addrBytes = ipVersion === 4 ? 4 : 16;
  const buf = Buffer.alloc(2 + 2 * addrBytes + 2 + 4);
  let o = 0;
  buf.writeUInt16BE(seed & 0xffff, o);
  o += 2;
  for (const words of [a, b]) {
    for (let i = 0; i < addrBytes / 4; i++) {
      buf.writeUInt32BE((words[i] ?? 0) >>> 0, o);
      o += 4;
    }
  }
  buf[o++] = IPPROTO_TCP;
  buf[o++] = 0;
  buf.writeUInt16BE(portA, o);
  buf.writeUInt16BE(portB, o + 2);
  return '1:' + createHash('sha1').update(buf).digest('base64');
}
