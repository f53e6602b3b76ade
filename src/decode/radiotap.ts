import { u16le, u32le } from './bytes';
import type { DecodeContext } from './decodeContext';
import { decodeIeee80211 } from './ieee80211';

const RADIOTAP_MIN_LEN = 8; // version, pad, length, first presence word
const PRESENT_TSFT = 1 << 0;
const PRESENT_FLAGS = 1 << 1;
const PRESENT_EXT = 1 << 31;
const TSFT_LEN = 8; // 8-byte field, 8-byte aligned
const FLAG_DATA_PAD = 0x20; // padding between the 802.11 header and the payload, to 4 bytes

/**
 * 802.11 with a radiotap header (LINKTYPE_IEEE802_11_RADIOTAP 127). Of the radiotap fields only the flags
 * byte matters (does the 802.11 header carry alignment padding?); it is the second field, after the TSFT
 * when present, so no general field walk is needed.
 */
export function decodeRadiotap(ctx: DecodeContext, off: number): number {
  const buf = ctx.buf;
  if (off + RADIOTAP_MIN_LEN > ctx.capEnd) {
    ctx.anomalies.truncated_link++;
    return -1;
  }
  const len = u16le(buf, off + 2);
  if (len < RADIOTAP_MIN_LEN || off + len > ctx.capEnd) {
    ctx.anomalies.truncated_link++;
    return -1;
  }
  const present = u32le(buf, off + 4);
  let p = off + 8; // after the first presence word; extended words follow while bit 31 is set
  for (let w = present; (w & PRESENT_EXT) !== 0 && p + 4 <= off + len; p += 4) w = u32le(buf, p);
  let flags = 0;
  if ((present & PRESENT_FLAGS) !== 0) {
    if ((present & PRESENT_TSFT) !== 0) p = off + ((p - off + 7) & ~7) + TSFT_LEN;
    if (p < off + len) flags = buf[p]!;
  }
  return decodeIeee80211(ctx, off + len, (flags & FLAG_DATA_PAD) !== 0);
}
