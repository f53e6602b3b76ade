import { decodeCmd } from './cmd';
import type { DecodeContext } from './decodeContext';
import { decodeEthernet } from './ethernet';
import {
  ETHERTYPE_CMD,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  ETHERTYPE_MPLS_MULTICAST,
  ETHERTYPE_MPLS_UNICAST,
  ETHERTYPE_PPPOE_SESSION,
  ETHERTYPE_QINQ,
  ETHERTYPE_QINQ_OLD,
  ETHERTYPE_TEB,
  ETHERTYPE_VLAN,
} from './etherTypes';
import { decodeIpv4 } from './ipv4';
import { decodeIpv6 } from './ipv6';
import { decodeMpls } from './mpls';
import { decodePppoe } from './pppoe';
import { decodeVlan } from './vlan';

/**
 * The EtherType dispatch: from the layer a link-layer module found, through any number of VLAN tags,
 * MPLS stacks, PPPoE sessions, Cisco MetaData tags and pseudowire Ethernet frames, to IPv4 or IPv6. A flat loop rather than
 * modules calling each other, so nesting depth never grows the stack; it ends because every layer moves
 * the offset forward and the offset is bounded by the captured bytes.
 */
export function decodeNetwork(ctx: DecodeContext, type: number, off: number): boolean {
  for (;;) {
    switch (type) {
      case ETHERTYPE_IPV4:
        return decodeIpv4(ctx, off);
      case ETHERTYPE_IPV6:
        return decodeIpv6(ctx, off);
      case ETHERTYPE_VLAN:
      case ETHERTYPE_QINQ:
      case ETHERTYPE_QINQ_OLD:
        off = decodeVlan(ctx, off);
        break;
      case ETHERTYPE_MPLS_UNICAST:
      case ETHERTYPE_MPLS_MULTICAST:
        off = decodeMpls(ctx, off);
        break;
      case ETHERTYPE_PPPOE_SESSION:
        off = decodePppoe(ctx, off);
        break;
      case ETHERTYPE_TEB:
        off = decodeEthernet(ctx, off);
        break;
      case ETHERTYPE_CMD:
        off = decodeCmd(ctx, off);
        break;
      default:
        ctx.anomalies.unsupported_ethertype++;
        return false;
    }
    if (off < 0) return false;
    type = ctx.nextType;
  }
}
