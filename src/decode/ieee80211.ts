import type { DecodeContext } from './decodeContext';
import { decodeLlcSnap } from './llc';

const WLAN_HEADER_LEN = 24; // frame control, duration, 3 addresses, sequence control
const WLAN_ADDR4_LEN = 6; // present when both To DS and From DS are set
const WLAN_QOS_LEN = 2;
const WLAN_HTC_LEN = 4; // QoS data frames with the Order bit carry an HT control field
const FC_TYPE_DATA = 2;
const FC_SUBTYPE_NULL = 0x4; // subtype bit: no data
const FC_SUBTYPE_QOS = 0x8; // subtype bit: QoS control present
const FC_TO_DS = 0x01;
const FC_FROM_DS = 0x02;
const FC_PROTECTED = 0x40;
const FC_ORDER = 0x80;
const QOS_AMSDU = 0x80; // in the first QoS control byte

/**
 * An 802.11 data frame carrying LLC/SNAP. Management/control frames, null data, encrypted frames and
 * A-MSDU aggregates hold no IP packet this decoder can read: `unsupported_ethertype`.
 */
export function decodeIeee80211(ctx: DecodeContext, off: number, dataPad: boolean): number {
  const buf = ctx.buf;
  if (off + WLAN_HEADER_LEN > ctx.capEnd) {
    ctx.anomalies.truncated_link++;
    return -1;
  }
  const fc0 = buf[off]!;
  const fc1 = buf[off + 1]!;
  const subtype = fc0 >> 4;
  if (((fc0 >> 2) & 3) !== FC_TYPE_DATA || (subtype & FC_SUBTYPE_NULL) !== 0 || (fc1 & FC_PROTECTED) !== 0) {
    ctx.anomalies.unsupported_ethertype++;
    return -1;
  }
  let len = WLAN_HEADER_LEN;
  if ((fc1 & (FC_TO_DS | FC_FROM_DS)) === (FC_TO_DS | FC_FROM_DS)) len += WLAN_ADDR4_LEN;
  if ((subtype & FC_SUBTYPE_QOS) !== 0) {
    if (off + len + WLAN_QOS_LEN > ctx.capEnd) {
      ctx.anomalies.truncated_link++;
      return -1;
    }
    if ((buf[off + len]! & QOS_AMSDU) !== 0) {
      ctx.anomalies.unsupported_ethertype++;
      return -1;
    }
    len += WLAN_QOS_LEN;
    if ((fc1 & FC_ORDER) !== 0) len += WLAN_HTC_LEN;
  }
  if (dataPad) len = (len + 3) & ~3;
  return decodeLlcSnap(ctx, off + len);
}
