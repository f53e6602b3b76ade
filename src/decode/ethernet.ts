import { u16 } from './bytes';
import type { DecodeContext } from './decodeContext';
import { ETHERTYPE_MIN } from './etherTypes';
import { decodeLlcSnap } from './llc';

const ETHERNET_HEADER_LEN = 14; // destination MAC, source MAC, EtherType/length

/**
 * Ethernet II: the EtherType at byte 12 names the next layer. A value below 0x0600 is an 802.3 length and
 * 802.2 LLC follows (IP over LLC/SNAP appears in real traces, e.g. zeek/snap-tcp.pcap). The frame's
 * trailing padding or FCS is never looked at: lengths come from the IP header.
 */
export function decodeEthernet(ctx: DecodeContext, off: number): number {
  if (off + ETHERNET_HEADER_LEN > ctx.capEnd) {
    ctx.anomalies.truncated_link++;
    return -1;
  }
  const type = u16(ctx.buf, off + 12);
  if (type < ETHERTYPE_MIN) {
    ctx.limit(off + ETHERNET_HEADER_LEN + type); // an 802.3 length: the LLC frame ends there, padding follows
    return decodeLlcSnap(ctx, off + ETHERNET_HEADER_LEN);
  }
  ctx.nextType = type;
  return off + ETHERNET_HEADER_LEN;
}
