/**
 * LINKTYPE_ values (tcpdump.org/linktypes.html) the decoder understands. A capture source hands them over
 * in Frame.linkType; anything not listed here is counted as `unsupported_link_type`.
 */
export const LINKTYPE_NULL = 0; // BSD loopback: 4-byte address family in the capturing host's byte order
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_PPP = 9; // PPP, optional 0xFF 0x03 address/control, then the protocol
export const LINKTYPE_FDDI = 10; // FDDI MAC header, then 802.2 LLC/SNAP
export const LINKTYPE_RAW_OLD12 = 12; // raw IP on most systems (DLT_RAW's old number)
export const LINKTYPE_RAW_OLD14 = 14; // raw IP (DLT_RAW's number on some BSDs)
export const LINKTYPE_PPP_HDLC = 50; // PPP in HDLC-like framing, or Cisco HDLC framing
export const LINKTYPE_RAW = 101; // raw IP, version from the first nibble
export const LINKTYPE_C_HDLC = 104; // Cisco HDLC: address, control, EtherType
export const LINKTYPE_LOOP = 108; // OpenBSD loopback: address family big-endian
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IEEE802_11_RADIOTAP = 127;
export const LINKTYPE_ARCNET_LINUX = 129;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_NFLOG = 239;
export const LINKTYPE_IPOIB = 242;
export const LINKTYPE_LINUX_SLL2 = 276;

/**
 * The pcap file header and the pcapng IDB keep the link type in the low 16 bits; the upper bits are flags
 * (FCS length) or reserved, and fuzzed files set them. The decoder looks at the low 16 bits only.
 */
export const LINKTYPE_MASK = 0xffff;
