import type { DecodeContext } from './decodeContext';
import { decodeLlcSnap } from './llc';

const FDDI_HEADER_LEN = 13; // frame control, destination MAC, source MAC

/** FDDI (LINKTYPE_FDDI 10): the MAC header, then 802.2 LLC/SNAP with the EtherType. */
export function decodeFddi(ctx: DecodeContext, off: number): number {
  if (off + FDDI_HEADER_LEN > ctx.capEnd) {
    ctx.anomalies.truncated_link++;
    return -1;
  }
  return decodeLlcSnap(ctx, off + FDDI_HEADER_LEN);
}
