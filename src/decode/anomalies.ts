/**
 * Named counters for input the decoder skipped or could not use. The names are stable: they appear in
 * the stats log line, in the `sensor --pcap` summary and in tests.
 */
export const ANOMALY_NAMES = [
  'unsupported_link_type', // frame on a link type the decoder does not handle
  'bad_wire_length', // frame whose length on the wire (pcap original length) no link carries; decoded as if unknown
  'truncated_link', // link-layer header cut short
  'unsupported_ethertype', // Ethernet/SLL/etc. payload that is not IPv4/IPv6 (ARP, LLDP, ...); not an error
  'truncated_vlan', // 802.1Q/802.1ad tag cut short
  'truncated_mpls', // MPLS label stack cut short or no bottom-of-stack
  'truncated_pppoe', // PPPoE/PPP header cut short
  'unsupported_ppp_protocol', // PPP protocol other than IPv4/IPv6
  'bad_nflog', // NFLOG TLV malformed
  'truncated_ip', // fewer captured bytes than the minimal IP header
  'bad_ip_version', // IP version nibble does not match the link-layer type
  'bad_ip_header_length', // IPv4 IHL < 5 or larger than the total length
  'bad_ip_total_length', // IPv4 total length / IPv6 payload length smaller than the headers it claims
  'truncated_ipv6_ext', // IPv6 extension header cut short or malformed
  'not_tcp', // IP payload other than TCP (UDP, ICMP, tunnels...); not an error
  'tunnel_skipped', // IP-in-IP / GRE etc. left undecoded on purpose (SPEC: tunnels are not flows)
  'truncated_tcp', // TCP header cut short by the capture
  'bad_tcp_header_length', // TCP data offset < 5 or past the IP payload
  'fragment_overlap', // IP fragments that overlap or disagree
  'fragment_timeout', // fragment sets dropped unfinished after the timeout
  'fragment_table_full', // fragment sets dropped because the memory bound was hit
  'fragment_not_tcp', // reassembled datagram that is not TCP
] as const;

export type AnomalyName = (typeof ANOMALY_NAMES)[number];

/** Counters keyed by anomaly name; a plain object with every key present so it stays monomorphic. */
export type Anomalies = Record<AnomalyName, number>;

export function newAnomalies(): Anomalies {
  const a = {} as Anomalies;
  for (const n of ANOMALY_NAMES) a[n] = 0;
  return a;
}

/** Anomalies that describe damaged or hostile input (as opposed to traffic we simply do not follow). */
export const DAMAGE_ANOMALIES: ReadonlySet<AnomalyName> = new Set<AnomalyName>([
  'bad_wire_length',
  'truncated_link',
  'truncated_vlan',
  'truncated_mpls',
  'truncated_pppoe',
  'bad_nflog',
  'truncated_ip',
  'bad_ip_version',
  'bad_ip_header_length',
  'bad_ip_total_length',
  'truncated_ipv6_ext',
  'truncated_tcp',
  'bad_tcp_header_length',
  'fragment_overlap',
]);
