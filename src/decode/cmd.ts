import { u16 } from './bytes';
import type { DecodeContext } from './decodeContext';

/** Cisco MetaData header after its EtherType: version, length, option type/length, SGT, then the inner EtherType. */
const CMD_LEN = 8;

/**
 * Cisco MetaData (EtherType 0x8909), the tag TrustSec switches put on frames to carry a Security Group Tag.
 * Fixed layout as Wireshark's `cmd` dissector reads it: 6 bytes of metadata, then the EtherType of what follows.
 */
export function decodeCmd(ctx: DecodeContext, off: number): number {
  if (off + CMD_LEN > ctx.capEnd) {
    ctx.anomalies.truncated_link++;
    return -1;
  }
  ctx.nextType = u16(ctx.buf, off + 6);
  return off + CMD_LEN;
}
