import type { Frame } from '../../../src/capture/frame';

/**
 * Counts what the live tests assert on, straight from the frame bytes (Ethernet, one optional VLAN tag,
 * IPv4, TCP): enough to check that real TCP frames arrive intact, without depending on the decoder.
 */
export class TcpCounter {
  frames = 0;
  tcp = 0;
  /** SYN without ACK to `port` (one per connection opened to it). */
  synsTo = 0;
  fins = 0;
  maxCapLen = 0;
  minTs = Infinity;
  maxTs = 0;
  /** Frames whose capLen exceeds a known wireLen (0 = unknown) or runs past the buffer: must stay 0. */
  badLengths = 0;
  linkType = -1;

  constructor(private readonly port: number) {}

  readonly onFrame = (f: Frame): void => {
    this.frames++;
    this.linkType = f.linkType;
    if ((f.wireLen !== 0 && f.capLen > f.wireLen) || f.off + f.capLen > f.buf.length) this.badLengths++;
    if (f.capLen > this.maxCapLen) this.maxCapLen = f.capLen;
    if (f.ts < this.minTs) this.minTs = f.ts;
    if (f.ts > this.maxTs) this.maxTs = f.ts;
    const b = f.buf;
    let o = f.off + 12;
    let type = b.readUInt16BE(o);
    if (type === 0x8100) {
      o += 4;
      type = b.readUInt16BE(o);
    }
    o += 2;
    if (type !== 0x0800 || b[o + 9] !== 6) return;
    this.tcp++;
    const t = o + (b[o]! & 0x0f) * 4;
    const flags = b[t + 13]!;
    if ((flags & 0x12) === 0x02 && b.readUInt16BE(t + 2) === this.port) this.synsTo++;
    if (flags & 0x01) this.fins++;
  };
}
