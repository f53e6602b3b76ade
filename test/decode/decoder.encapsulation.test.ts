import { describe, expect, it } from 'vitest';
import { decodeOne, Harness } from './decodeHarness';
import { ethernet, ipv4, ipv6, MAC_DST, MAC_SRC, makeFrame, mplsLabel, pppoeSession, tcp, u16be, vlanTag, zeros } from './frames';

const V4 = ipv4(tcp({ payload: 5 }));
const V6 = ipv6(tcp({ payload: 5 }));

describe('Decoder.decode() VLAN', () => {
  it('decode() records the VLAN ID of an 802.1Q tag', () => {
    const { ok, meta } = decodeOne(1, ethernet(0x8100, [...vlanTag(42, 0x0800, 5), ...V4]));
    expect(ok).toBe(true);
    expect(meta.vlan).toBe(42);
    expect(meta.payloadLen).toBe(5);
  });

  it('decode() keeps the outermost VLAN ID of QinQ (802.1ad S-tag over C-tag)', () => {
    const { meta } = decodeOne(1, ethernet(0x88a8, [...vlanTag(10, 0x8100), ...vlanTag(20, 0x86dd), ...V6]));
    expect(meta.vlan).toBe(10);
    expect(meta.ipVersion).toBe(6);
  });

  it('decode() follows three stacked tags, including the old 0x9100 TPID', () => {
    const bytes = ethernet(0x9100, [...vlanTag(100, 0x8100), ...vlanTag(200, 0x8100), ...vlanTag(300, 0x0800), ...V4]);
    expect(decodeOne(1, bytes).meta.vlan).toBe(100);
  });

  it('decode() gives VLAN 0 for a priority tag (VID 0) and masks PCP/DEI bits out', () => {
    expect(decodeOne(1, ethernet(0x8100, [...vlanTag(0, 0x0800, 5), ...V4])).meta.vlan).toBe(0);
    expect(decodeOne(1, ethernet(0x8100, [0xf0 | 0x0f, 0xff, ...u16be(0x0800), ...V4])).meta.vlan).toBe(0xfff);
  });

  it('decode() counts a tag cut short as truncated_vlan', () => {
    expect(decodeOne(1, ethernet(0x8100, [0, 42])).counted).toEqual({ truncated_vlan: 1 });
  });
});

describe('Decoder.decode() MPLS', () => {
  it('decode() walks a label stack to bottom-of-stack, then IPv4 by the first nibble', () => {
    const { ok, meta } = decodeOne(1, ethernet(0x8847, [...mplsLabel(100, false), ...mplsLabel(200, true), ...V4]));
    expect(ok).toBe(true);
    expect(meta.payloadLen).toBe(5);
  });

  it('decode() reads IPv6 under multicast MPLS (0x8848)', () => {
    expect(decodeOne(1, ethernet(0x8848, [...mplsLabel(16, true), ...V6])).meta.ipVersion).toBe(6);
  });

  it('decode() reads MPLS inside a VLAN, keeping the VLAN ID', () => {
    const { meta } = decodeOne(1, ethernet(0x8100, [...vlanTag(7, 0x8847), ...mplsLabel(3, true), ...V4]));
    expect(meta.vlan).toBe(7);
  });

  it('decode() reads a pseudowire control word and the Ethernet frame behind it (VLAN there counts too)', () => {
    const inner = [...MAC_DST, ...MAC_SRC, ...u16be(0x8100), ...vlanTag(55, 0x0800), ...V4];
    const { ok, meta } = decodeOne(1, ethernet(0x8847, [...mplsLabel(1000, true), 0, 0, 0, 0, ...inner]));
    expect(ok).toBe(true);
    expect(meta.vlan).toBe(55);
  });

  it('decode() counts a label stack without bottom-of-stack as truncated_mpls', () => {
    expect(decodeOne(1, ethernet(0x8847, [...mplsLabel(1, false), ...mplsLabel(2, false)])).counted).toEqual({
      truncated_mpls: 1,
    });
  });

  it('decode() counts an MPLS payload that is neither IP nor a control word as unsupported_ethertype', () => {
    expect(decodeOne(1, ethernet(0x8847, [...mplsLabel(1, true), 0x11, ...zeros(30)])).counted).toEqual({
      unsupported_ethertype: 1,
    });
  });

  it('decode() survives a very deep stack of pseudowire-in-MPLS layers (decode-too-many-layers)', () => {
    let layer = ethernet(0x0800, V4);
    for (let i = 0; i < 200; i++) layer = ethernet(0x8847, [...mplsLabel(i, true), 0, 0, 0, 0, ...layer]);
    expect(decodeOne(1, layer).ok).toBe(true);
  });
});

describe('Decoder.decode() PPPoE', () => {
  it('decode() reads a PPPoE session frame carrying IPv4 (PPP 0x0021)', () => {
    const { ok, meta } = decodeOne(1, ethernet(0x8864, pppoeSession(0x0021, V4)));
    expect(ok).toBe(true);
    expect(meta.payloadLen).toBe(5);
  });

  it('decode() reads a PPPoE session frame carrying IPv6 (PPP 0x0057)', () => {
    expect(decodeOne(1, ethernet(0x8864, pppoeSession(0x0057, V6))).meta.ipVersion).toBe(6);
  });

  it('decode() reads PPPoE inside QinQ', () => {
    const bytes = ethernet(0x88a8, [...vlanTag(1000, 0x8100), ...vlanTag(2000, 0x8864), ...pppoeSession(0x0021, V4)]);
    expect(decodeOne(1, bytes).meta.vlan).toBe(1000);
  });

  it('decode() caps the IP total length by the PPPoE length (zeek/pppoe-over-qinq.pcap, like tshark)', () => {
    // PPPoE says 42 bytes (PPP protocol + a 40-byte IP packet), the IP header claims 46.
    const ip = ipv4(tcp(), { totalLength: 46 });
    const bytes = ethernet(0x8864, [0x11, 0x00, ...u16be(1), ...u16be(42), ...u16be(0x0021), ...ip, ...zeros(6)]);
    const { ok, meta } = decodeOne(1, bytes);
    expect(ok).toBe(true);
    expect(meta.payloadLen).toBe(0);
    expect(decodeOne(1, bytes, { wireLen: 0 }).meta.payloadLen).toBe(0); // the PPPoE length is a bound of its own
  });

  it('decode() counts LCP inside PPPoE as unsupported_ppp_protocol', () => {
    expect(decodeOne(1, ethernet(0x8864, pppoeSession(0xc021, [1, 1, 0, 4]))).counted).toEqual({
      unsupported_ppp_protocol: 1,
    });
  });

  it('decode() counts a PPPoE header cut short as truncated_pppoe', () => {
    expect(decodeOne(1, ethernet(0x8864, [0x11, 0, 0, 1])).counted).toEqual({ truncated_pppoe: 1 });
    expect(decodeOne(1, ethernet(0x8864, [0x11, 0, 0, 1, 0, 2, 0x00])).counted).toEqual({ truncated_pppoe: 1 });
  });

  it('decode() counts PPPoE discovery (0x8863) as unsupported_ethertype', () => {
    expect(decodeOne(1, ethernet(0x8863, zeros(20))).counted).toEqual({ unsupported_ethertype: 1 });
  });
});

describe('Decoder.decode() Ethernet', () => {
  it('decode() reads IPv4 over 802.3 + LLC/SNAP (length field < 0x0600)', () => {
    const payload = [0xaa, 0xaa, 0x03, 0, 0, 0, ...u16be(0x0800), ...V4];
    const { ok, meta } = decodeOne(1, ethernet(payload.length, payload));
    expect(ok).toBe(true);
    expect(meta.payloadLen).toBe(5);
  });

  it('decode() bounds an LLC/SNAP frame by its 802.3 length, so padding cannot count', () => {
    const payload = [0xaa, 0xaa, 0x03, 0, 0, 0, ...u16be(0x0800), ...ipv4(tcp(), { totalLength: 0 })];
    const { ok, meta } = decodeOne(1, [...ethernet(payload.length, payload), ...zeros(6)]);
    expect(ok).toBe(true);
    expect(meta.payloadLen).toBe(0);
  });

  it('decode() counts 802.3 frames with plain LLC (STP) as unsupported_ethertype', () => {
    expect(decodeOne(1, ethernet(38, [0x42, 0x42, 0x03, ...zeros(35)])).counted).toEqual({ unsupported_ethertype: 1 });
  });

  it('decode() counts ARP as unsupported_ethertype', () => {
    expect(decodeOne(1, ethernet(0x0806, zeros(28))).counted).toEqual({ unsupported_ethertype: 1 });
  });

  it('decode() counts a frame shorter than the Ethernet header as truncated_link', () => {
    expect(decodeOne(1, zeros(13)).counted).toEqual({ truncated_link: 1 });
  });

  it('decode() takes the payload length from the IP header, not from Ethernet padding', () => {
    // A 54-byte SYN padded to the 60-byte Ethernet minimum: the 6 padding bytes are not payload.
    const { meta } = decodeOne(1, [...ethernet(0x0800, ipv4(tcp())), ...zeros(6)]);
    expect(meta.payloadLen).toBe(0);
    expect(meta.ipLen).toBe(40);
  });

  it('decode() counts an IPv4 EtherType with a version 6 header as bad_ip_version', () => {
    expect(decodeOne(1, ethernet(0x0800, V6)).counted).toEqual({ bad_ip_version: 1 });
    expect(decodeOne(1, ethernet(0x86dd, V4)).counted).toEqual({ bad_ip_version: 1 });
  });
});

describe('Decoder.decode() Cisco MetaData', () => {
  // Version 1, length 1, option SGT (type 1), SGT 2, then IPv4: as TrustSec switches tag frames (mercury/tls_sgt.pcap).
  const CMD = [0x01, 0x01, 0x00, 0x01, 0x00, 0x02];

  it('decode() steps over a Cisco MetaData tag (EtherType 0x8909) to the IP packet', () => {
    const { ok, meta } = decodeOne(1, ethernet(0x8909, [...CMD, ...u16be(0x0800), ...V4]));
    expect(ok).toBe(true);
    expect(meta.payloadLen).toBe(5);
    expect(decodeOne(1, ethernet(0x8100, [...vlanTag(9, 0x8909), ...CMD, ...u16be(0x86dd), ...V6])).meta.ipVersion).toBe(6);
  });

  it('decode() counts a tag cut short as truncated_link', () => {
    expect(decodeOne(1, ethernet(0x8909, CMD)).counted).toEqual({ truncated_link: 1 });
  });
});

describe('Decoder.decode() payload position', () => {
  it('decode() says where the TCP payload is in the frame and how much of it was captured', () => {
    const bytes = ethernet(0x0800, ipv4(tcp({ payload: 5 })));
    const h = new Harness();
    const frame = makeFrame(1, bytes);
    expect(h.decoder.decode(frame, h.meta)).toBe(true);
    expect(h.meta.payloadOff).toBe(frame.off + 14 + 20 + 20);
    expect(h.meta.payloadCap).toBe(5);
    expect(decodeOne(1, bytes.slice(0, bytes.length - 2)).meta.payloadCap).toBe(3);
    expect(decodeOne(1, bytes.slice(0, bytes.length - 5)).meta.payloadCap).toBe(0);
  });
});
