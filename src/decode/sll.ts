import { u16 } from './bytes';
import type { DecodeContext } from './decodeContext';

const SLL_HEADER_LEN = 16; // packet type, ARPHRD type, address length, 8-byte address, protocol
const SLL_PROTOCOL_OFFSET = 14;

/**
 * Linux "cooked" capture v1 (LINKTYPE_LINUX_SLL 113, `tcpdump -i any`): the protocol at byte 14 is an
 * EtherType for the frames that matter here; Linux-internal values below 0x0600 (802.2, CAN...) end up as
 * `unsupported_ethertype` in the dispatch.
 */
export function decodeSll(ctx: DecodeContext, off: number): number {
  if (off + SLL_HEADER_LEN > ctx.capEnd) {
    ctx.anomalies.truncated_link++;
    return -1;
  }
  ctx.nextType = u16(ctx.buf, off + SLL_PROTOCOL_OFFSET);
  return off + SLL_HEADER_LEN;
}
