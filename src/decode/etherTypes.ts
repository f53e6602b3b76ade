/** EtherType values the decoder follows (network.ts dispatches on these). */
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_IPV6 = 0x86dd;
export const ETHERTYPE_VLAN = 0x8100; // 802.1Q C-tag
export const ETHERTYPE_QINQ = 0x88a8; // 802.1ad S-tag
export const ETHERTYPE_QINQ_OLD = 0x9100; // pre-standard QinQ S-tag
export const ETHERTYPE_MPLS_UNICAST = 0x8847;
export const ETHERTYPE_MPLS_MULTICAST = 0x8848;
export const ETHERTYPE_PPPOE_SESSION = 0x8864;
/** Cisco MetaData: a Security Group Tag, then the inner EtherType (cmd.ts). */
export const ETHERTYPE_CMD = 0x8909;
/** Transparent Ethernet Bridging: an Ethernet frame follows (MPLS pseudowires use it here). */
export const ETHERTYPE_TEB = 0x6558;
/** Smallest EtherType; an Ethernet type/length field below it is an 802.3 length and LLC follows. */
export const ETHERTYPE_MIN = 0x0600;
