import { describe, expect, it } from 'vitest';
import { TCP_ACK, TCP_PSH, TCP_SYN } from '../../src/decode/packetMeta';
import { decodeOne } from './decodeHarness';
import {
  ethernet,
  ipv4,
  ipv6,
  MAC_DST,
  MAC_SRC,
  nflog,
  nflogTlv,
  sll,
  sll2,
  tcp,
  u16be,
  u16le,
  u32be,
  u32le,
  zeros,
} from './frames';

const SEGMENT = tcp({ sport: 51000, dport: 80, seq: 0xfffffff0, ack: 7, flags: TCP_PSH | TCP_ACK, window: 512, payload: 10 });
const V4 = ipv4(SEGMENT);
const V6 = ipv6(SEGMENT);

describe('Decoder.decode() link types', () => {
  it('decode() reads Ethernet/IPv4/TCP into every PacketMeta field', () => {
    const { ok, meta, counted } = decodeOne(1, ethernet(0x0800, V4), { ts: 1234.5 });
    expect(ok).toBe(true);
    expect(counted).toEqual({});
    expect(meta.ts).toBe(1234.5);
    expect(meta.ipVersion).toBe(4);
    expect(meta.vlan).toBe(0);
    expect([...meta.src]).toEqual([0x0a000001, 0, 0, 0]);
    expect([...meta.dst]).toEqual([0x0a000002, 0, 0, 0]);
    expect(meta.srcPort).toBe(51000);
    expect(meta.dstPort).toBe(80);
    expect(meta.seq).toBe(0xfffffff0);
    expect(meta.ack).toBe(7);
    expect(meta.flags).toBe(TCP_PSH | TCP_ACK);
    expect(meta.window).toBe(512);
    expect(meta.payloadLen).toBe(10);
    expect(meta.ipLen).toBe(50);
  });

  it('decode() reads Ethernet/IPv6/TCP with all four address words', () => {
    const { ok, meta } = decodeOne(1, ethernet(0x86dd, V6));
    expect(ok).toBe(true);
    expect(meta.ipVersion).toBe(6);
    expect([...meta.src]).toEqual([0x20010db8, 0, 0, 1]);
    expect([...meta.dst]).toEqual([0x20010db8, 0, 0, 2]);
    expect(meta.payloadLen).toBe(10);
    expect(meta.ipLen).toBe(70);
  });

  it('decode() reads Linux SLL (113) with the protocol at byte 14', () => {
    expect(decodeOne(113, sll(0x0800, V4)).meta.payloadLen).toBe(10);
    expect(decodeOne(113, sll(0x86dd, V6)).ok).toBe(true);
  });

  it('decode() reads Linux SLL2 (276) with the protocol at byte 0', () => {
    const { ok, meta } = decodeOne(276, sll2(0x0800, V4));
    expect(ok).toBe(true);
    expect(meta.dstPort).toBe(80);
  });

  it('decode() counts a short SLL/SLL2 header as truncated_link', () => {
    expect(decodeOne(113, zeros(15)).counted).toEqual({ truncated_link: 1 });
    expect(decodeOne(276, zeros(19)).counted).toEqual({ truncated_link: 1 });
  });

  it('decode() reads BSD null (0) families in either byte order', () => {
    expect(decodeOne(0, [...u32le(2), ...V4]).ok).toBe(true);
    expect(decodeOne(0, [...u32be(2), ...V4]).ok).toBe(true);
    for (const family of [24, 28, 30]) {
      expect(decodeOne(0, [...u32le(family), ...V6]).meta.ipVersion).toBe(6);
      expect(decodeOne(0, [...u32be(family), ...V6]).meta.ipVersion).toBe(6);
    }
  });

  it('decode() counts an unknown null family as unsupported_ethertype', () => {
    expect(decodeOne(0, [...u32le(7), ...V4]).counted).toEqual({ unsupported_ethertype: 1 });
  });

  it('decode() reads OpenBSD loop (108) with a big-endian family only', () => {
    expect(decodeOne(108, [...u32be(2), ...V4]).ok).toBe(true);
    expect(decodeOne(108, [...u32be(24), ...V6]).ok).toBe(true);
    expect(decodeOne(108, [...u32le(2), ...V4]).counted).toEqual({ unsupported_ethertype: 1 });
  });

  it('decode() reads raw IP (12, 14, 101) by the version nibble', () => {
    for (const lt of [12, 14, 101]) {
      expect(decodeOne(lt, V4).meta.ipVersion).toBe(4);
      expect(decodeOne(lt, V6).meta.ipVersion).toBe(6);
    }
    expect(decodeOne(101, [0x50, ...zeros(39)]).counted).toEqual({ bad_ip_version: 1 });
  });

  it('decode() takes only IPv4 on LINKTYPE_IPV4 (228) and only IPv6 on LINKTYPE_IPV6 (229)', () => {
    expect(decodeOne(228, V4).ok).toBe(true);
    expect(decodeOne(229, V6).ok).toBe(true);
    expect(decodeOne(228, V6).counted).toEqual({ bad_ip_version: 1 });
    expect(decodeOne(229, V4).counted).toEqual({ bad_ip_version: 1 });
  });

  it('decode() reads PPP (9) with and without FF 03, with 2- and 1-byte protocols', () => {
    expect(decodeOne(9, [0xff, 0x03, ...u16be(0x0021), ...V4]).ok).toBe(true);
    expect(decodeOne(9, [...u16be(0x0021), ...V4]).ok).toBe(true);
    expect(decodeOne(9, [0xff, 0x03, ...u16be(0x0057), ...V6]).ok).toBe(true);
    expect(decodeOne(9, [0x21, ...V4]).ok).toBe(true);
    expect(decodeOne(9, [0xff, 0x03, 0x57, ...V6]).ok).toBe(true);
  });

  it('decode() counts PPP control protocols (LCP) as unsupported_ppp_protocol', () => {
    expect(decodeOne(9, [0xff, 0x03, ...u16be(0xc021), 1, 1, 0, 4]).counted).toEqual({ unsupported_ppp_protocol: 1 });
  });

  it('decode() reads PPP in HDLC framing (50), and Cisco HDLC framing on the same link type', () => {
    expect(decodeOne(50, [0xff, 0x03, ...u16be(0x0021), ...V4]).ok).toBe(true);
    expect(decodeOne(50, [0x0f, 0x00, ...u16be(0x0800), ...V4]).ok).toBe(true);
  });

  it('decode() reads Cisco HDLC (104)', () => {
    expect(decodeOne(104, [0x0f, 0x00, ...u16be(0x0800), ...V4]).meta.payloadLen).toBe(10);
    expect(decodeOne(104, [0x8f, 0x00, ...u16be(0x8035), ...zeros(20)]).counted).toEqual({ unsupported_ethertype: 1 });
  });

  it('decode() finds the NFLOG (239) payload TLV after other padded TLVs', () => {
    const prefix = nflogTlv(1, [0x08, 0x00, 3, 0]); // packet header
    const prefix2 = nflogTlv(10, [...u16be(0), 0x65, 0x74, 0x68]); // 3-byte value: padded
    const { ok, meta } = decodeOne(239, nflog(2, [...prefix, ...prefix2, ...nflogTlv(9, V4)]));
    expect(ok).toBe(true);
    expect(meta.payloadLen).toBe(10);
    expect(decodeOne(239, nflog(10, nflogTlv(9, V6))).meta.ipVersion).toBe(6);
  });

  it('decode() counts an NFLOG TLV shorter than its header as bad_nflog', () => {
    expect(decodeOne(239, nflog(2, [...u16le(2), ...u16le(9), ...V4])).counted).toEqual({ bad_nflog: 1 });
  });

  it('decode() counts an NFLOG TLV longer than the record as bad_nflog', () => {
    // zeek/nflog-bad-tlv-len.pcap: a 256-byte TLV in a 12-byte record.
    expect(decodeOne(239, [2, 0, 0, 0, 0x00, 0x01, 0x01, 0x00, 0, 0, 0, 0]).counted).toEqual({ bad_nflog: 1 });
  });

  it('decode() counts an NFLOG record cut by the snaplen before the payload TLV as truncated_link', () => {
    const bytes = nflog(2, [...nflogTlv(1, zeros(8)), ...nflogTlv(9, V4)]);
    expect(decodeOne(239, bytes, { capLen: 10 }).counted).toEqual({ truncated_link: 1 });
  });

  it('decode() counts an NFLOG record without payload TLV as unsupported_ethertype', () => {
    expect(decodeOne(239, nflog(2, nflogTlv(1, zeros(4)))).counted).toEqual({ unsupported_ethertype: 1 });
  });

  it('decode() bounds the NFLOG payload to its TLV, so the TLVs after it do not count', () => {
    const bytes = nflog(2, [...nflogTlv(9, ipv4(tcp(), { totalLength: 0 })), ...nflogTlv(11, zeros(8))]);
    const { ok, meta } = decodeOne(239, bytes);
    expect(ok).toBe(true);
    expect(meta.payloadLen).toBe(0);
  });

  it('decode() reads FDDI (10) with LLC/SNAP', () => {
    const fddi = [0x50, ...MAC_DST, ...MAC_SRC, 0xaa, 0xaa, 0x03, 0, 0, 0, ...u16be(0x0800), ...V4];
    expect(decodeOne(10, fddi).meta.payloadLen).toBe(10);
  });

  it('decode() reads IP over InfiniBand (242): two 20-byte addresses, EtherType, reserved', () => {
    expect(decodeOne(242, [...zeros(40), ...u16be(0x0800), 0, 0, ...V4]).ok).toBe(true);
    expect(decodeOne(242, [...zeros(40), ...u16be(0x0806), 0, 0, ...zeros(28)]).counted).toEqual({ unsupported_ethertype: 1 });
  });

  it('decode() reads Linux ARCNET (129) RFC 1201, RFC 1051 and exception frames', () => {
    expect(decodeOne(129, [0xbe, 0x50, 0xc0, 0x00, 0xd4, 0x00, 0x01, 0x6b, ...V4]).ok).toBe(true);
    expect(decodeOne(129, [0xbe, 0x50, 0xc0, 0x00, 0xf0, ...V4]).ok).toBe(true);
    expect(decodeOne(129, [0xbe, 0x50, 0xc0, 0x00, 0xd4, 0xff, 0, 0, 0xd4, 0x01, 0x00, 0x6b, ...V4]).ok).toBe(true);
    expect(decodeOne(129, [0xbe, 0x50, 0xc0, 0x00, 0xc4, 0x00, 0x01, 0x6b, ...V6]).meta.ipVersion).toBe(6);
  });

  it('decode() skips an ARCNET continuation piece (even split flag): it holds no IP header', () => {
    expect(decodeOne(129, [0xbe, 0x50, 0xc0, 0x00, 0xd4, 0x02, 0x01, 0x6b, ...zeros(40)]).counted).toEqual({
      unsupported_ethertype: 1,
    });
  });

  const WLAN_DATA_TODS = [0x08, 0x01, 0x00, 0x00, ...MAC_DST, ...MAC_SRC, ...MAC_DST, 0x10, 0x00];
  const SNAP_IPV4 = [0xaa, 0xaa, 0x03, 0, 0, 0, ...u16be(0x0800)];

  it('decode() reads 802.11 data frames behind radiotap (127)', () => {
    const radiotap = [0, 0, ...u16le(8), ...u32le(0)];
    expect(decodeOne(127, [...radiotap, ...WLAN_DATA_TODS, ...SNAP_IPV4, ...V4]).meta.payloadLen).toBe(10);
  });

  it('decode() finds the radiotap flags after TSFT and extended presence words, and honours data padding', () => {
    // present: TSFT, flags, ext; second word 0. Fields start at 12, TSFT aligned to 16, flags at 24.
    const radiotap = [0, 0, ...u16le(26), ...u32le(0x80000003), ...u32le(0), ...zeros(4), ...zeros(8), 0x20, 0];
    const qos = [0x88, 0x01, 0, 0, ...MAC_DST, ...MAC_SRC, ...MAC_DST, 0x10, 0x00, 0x00, 0x00]; // 26 bytes
    const bytes = [...radiotap, ...qos, 0, 0, ...SNAP_IPV4, ...V4]; // 2 pad bytes to reach 28
    expect(decodeOne(127, bytes).ok).toBe(true);
  });

  it('decode() skips encrypted and non-data 802.11 frames as unsupported_ethertype', () => {
    const radiotap = [0, 0, ...u16le(8), ...u32le(0)];
    const protectedData = [0x08, 0x41, ...WLAN_DATA_TODS.slice(2)];
    expect(decodeOne(127, [...radiotap, ...protectedData, ...zeros(40)]).counted).toEqual({ unsupported_ethertype: 1 });
    const beacon = [0x80, 0x00, ...WLAN_DATA_TODS.slice(2)];
    expect(decodeOne(127, [...radiotap, ...beacon, ...zeros(40)]).counted).toEqual({ unsupported_ethertype: 1 });
  });

  it('decode() counts a link type it does not know as unsupported_link_type', () => {
    expect(decodeOne(147, V4).counted).toEqual({ unsupported_link_type: 1 });
  });

  it('decode() ignores the flag bits above the 16-bit link type (pcap FCS/reserved bits)', () => {
    expect(decodeOne(0x30000001, ethernet(0x0800, V4)).ok).toBe(true);
  });

  it('decode() reads nothing past capLen even when the buffer holds more bytes', () => {
    const bytes = ethernet(0x0800, V4);
    expect(decodeOne(1, bytes, { capLen: 13 }).counted).toEqual({ truncated_link: 1 });
    expect(decodeOne(1, bytes, { capLen: 33 }).counted).toEqual({ truncated_ip: 1 });
  });

  it('decode() handles an empty frame on every supported link type without throwing', () => {
    for (const lt of [0, 1, 9, 10, 12, 14, 50, 101, 104, 108, 113, 127, 129, 228, 229, 239, 242, 276]) {
      const r = decodeOne(lt, []);
      expect(r.ok).toBe(false);
      expect(Object.values(r.counted).reduce((a, b) => (a ?? 0) + (b ?? 0), 0)).toBe(1);
    }
  });

  it('decode() reads the SYN flag of a handshake segment', () => {
    const { meta } = decodeOne(1, ethernet(0x0800, ipv4(tcp({ flags: TCP_SYN, options: [2, 4, 5, 0xb4] }))));
    expect(meta.flags).toBe(TCP_SYN);
    expect(meta.payloadLen).toBe(0);
  });
});
