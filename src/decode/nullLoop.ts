import { u32, u32le } from './bytes';
import type { DecodeContext } from './decodeContext';
import { ETHERTYPE_IPV4, ETHERTYPE_IPV6 } from './etherTypes';

const FAMILY_LEN = 4;
const AF_INET = 2;
// AF_INET6 differs between the BSDs: NetBSD/OpenBSD 24, FreeBSD 28, macOS 30.
const AF_INET6_BSD = 24;
const AF_INET6_FREEBSD = 28;
const AF_INET6_DARWIN = 30;
/** Address families are small; a value above this was read in the wrong byte order. */
const FAMILY_MAX = 0xffff;

function familyToType(ctx: DecodeContext, family: number, off: number): number {
  if (family === AF_INET) ctx.nextType = ETHERTYPE_IPV4;
  else if (family === AF_INET6_BSD || family === AF_INET6_FREEBSD || family === AF_INET6_DARWIN) {
    ctx.nextType = ETHERTYPE_IPV6;
  } else {
    ctx.anomalies.unsupported_ethertype++;
    return -1;
  }
  return off + FAMILY_LEN;
}

/**
 * BSD loopback (LINKTYPE_NULL 0): a 4-byte address family in the byte order of the machine that captured,
 * which the file does not record; try little-endian and fall back to big-endian when the value is too big
 * to be a family.
 */
export function decodeNull(ctx: DecodeContext, off: number): number {
  if (off + FAMILY_LEN > ctx.capEnd) {
    ctx.anomalies.truncated_link++;
    return -1;
  }
  let family = u32le(ctx.buf, off);
  if (family > FAMILY_MAX) family = u32(ctx.buf, off);
  return familyToType(ctx, family, off);
}

/** OpenBSD loopback (LINKTYPE_LOOP 108): the same header with the family always big-endian. */
export function decodeLoop(ctx: DecodeContext, off: number): number {
  if (off + FAMILY_LEN > ctx.capEnd) {
    ctx.anomalies.truncated_link++;
    return -1;
  }
  return familyToType(ctx, u32(ctx.buf, off), off);
}
