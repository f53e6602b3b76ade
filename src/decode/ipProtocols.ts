/** IP protocol / IPv6 next-header numbers the decoder looks at. */
export const IPPROTO_HOPOPTS = 0;
export const IPPROTO_IPIP = 4; // IPv4 in IP
export const IPPROTO_TCP = 6;
export const IPPROTO_IPV6 = 41; // IPv6 in IP (6in4)
export const IPPROTO_ROUTING = 43;
export const IPPROTO_FRAGMENT = 44;
export const IPPROTO_GRE = 47;
export const IPPROTO_AH = 51;
export const IPPROTO_NONE = 59;
export const IPPROTO_DSTOPTS = 60;
export const IPPROTO_MOBILITY = 135;

/** Tunnels: SPEC.md says TCP inside them is not a flow of its own, so they are skipped as `tunnel_skipped`. */
export function isTunnel(proto: number): boolean {
  return proto === IPPROTO_IPIP || proto === IPPROTO_IPV6 || proto === IPPROTO_GRE;
}
