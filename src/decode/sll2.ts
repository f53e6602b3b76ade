import { u16 } from './bytes';
import type { DecodeContext } from './decodeContext';

const SLL2_HEADER_LEN = 20; // protocol, reserved, ifindex, ARPHRD type, packet type, address length, address

/** Linux "cooked" capture v2 (LINKTYPE_LINUX_SLL2 276): the EtherType comes first. */
export function decodeSll2(ctx: DecodeContext, off: number): number {
  if (off + SLL2_HEADER_LEN > ctx.capEnd) {
    ctx.anomalies.truncated_link++;
    return -1;
  }
  ctx.nextType = u16(ctx.buf, off);
  return off + SLL2_HEADER_LEN;
}
