import { u16 } from './bytes';
import type { DecodeContext } from './decodeContext';

const VLAN_TAG_LEN = 4; // TCI (PCP, DEI, 12-bit VID), then the inner EtherType
const VID_MASK = 0x0fff;

/**
 * One 802.1Q / 802.1ad tag (any number may follow each other). The flow key uses the outermost tag's VLAN
 * ID (SPEC.md; the oracle takes tshark's first `vlan.id`), so only the first tag of a frame is recorded.
 */
export function decodeVlan(ctx: DecodeContext, off: number): number {
  if (off + VLAN_TAG_LEN > ctx.capEnd) {
    ctx.anomalies.truncated_vlan++;
    return -1;
  }
  if (ctx.tags++ === 0) ctx.vlan = u16(ctx.buf, off) & VID_MASK;
  ctx.nextType = u16(ctx.buf, off + 2);
  return off + VLAN_TAG_LEN;
}
