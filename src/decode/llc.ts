import { u16 } from './bytes';
import type { DecodeContext } from './decodeContext';

const LLC_SNAP_SAP = 0xaa;
const LLC_UI = 0x03;
const LLC_SNAP_LEN = 8; // DSAP, SSAP, control, 3-byte OUI, 2-byte EtherType

/**
 * 802.2 LLC with a SNAP header (802.3 length-field Ethernet, FDDI, 802.11): AA AA 03, an OUI of 00-00-00
 * (RFC 1042) or 00-00-F8 (802.1H), then an EtherType. Other LLC payloads (STP, CDP, NetBIOS...) carry no
 * IP: `unsupported_ethertype`.
 */
export function decodeLlcSnap(ctx: DecodeContext, off: number): number {
  const buf = ctx.buf;
  if (off + 3 > ctx.capEnd) {
    ctx.anomalies.truncated_link++;
    return -1;
  }
  if (buf[off] !== LLC_SNAP_SAP || buf[off + 1] !== LLC_SNAP_SAP || buf[off + 2] !== LLC_UI) {
    ctx.anomalies.unsupported_ethertype++;
    return -1;
  }
  if (off + LLC_SNAP_LEN > ctx.capEnd) {
    ctx.anomalies.truncated_link++;
    return -1;
  }
  if (buf[off + 3] !== 0 || buf[off + 4] !== 0 || (buf[off + 5] !== 0 && buf[off + 5] !== 0xf8)) {
    ctx.anomalies.unsupported_ethertype++;
    return -1;
  }
  ctx.nextType = u16(buf, off + 6);
  return off + LLC_SNAP_LEN;
}
