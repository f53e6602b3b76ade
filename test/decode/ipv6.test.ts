import { describe, expect, it } from 'vitest';
import { decodeOne } from './decodeHarness';
import { ethernet, ext6, frag6, ipv4, ipv6, tcp, u16be, u32be, zeros } from './frames';

function eth6(bytes: number[]) {
  return ethernet(0x86dd, bytes);
}

const SEG = tcp({ payload: 30 });

describe('decodeIpv6()', () => {
  it('decodeIpv6() walks hop-by-hop, routing, destination options and mobility headers to TCP', () => {
    const exts = [...ext6(43), ...ext6(60, zeros(14)), ...ext6(135), ...ext6(6)];
    const { ok, meta } = decodeOne(1, eth6(ipv6([...exts, ...SEG], { next: 0 })));
    expect(ok).toBe(true);
    expect(meta.payloadLen).toBe(30);
    expect(meta.ipLen).toBe(40 + 40 + 50);
  });

  it('decodeIpv6() skips AH with its 4-byte length units', () => {
    const ah = [6, 4, 0, 0, ...zeros(20)]; // (4 + 2) * 4 = 24 bytes
    const { ok, meta } = decodeOne(1, eth6(ipv6([...ah, ...SEG], { next: 51 })));
    expect(ok).toBe(true);
    expect(meta.payloadLen).toBe(30);
  });

  it('decodeIpv6() counts No Next Header (59) and UDP as not_tcp', () => {
    expect(decodeOne(1, eth6(ipv6([], { next: 59 }))).counted).toEqual({ not_tcp: 1 });
    expect(decodeOne(1, eth6(ipv6(zeros(8), { next: 17 }))).counted).toEqual({ not_tcp: 1 });
  });

  it('decodeIpv6() counts 4in6 and 6in6 as tunnel_skipped', () => {
    expect(decodeOne(1, eth6(ipv6(ipv4(SEG), { next: 4 }))).counted).toEqual({ tunnel_skipped: 1 });
    expect(decodeOne(1, eth6(ipv6(ipv6(SEG), { next: 41 }))).counted).toEqual({ tunnel_skipped: 1 });
    expect(decodeOne(1, eth6(ipv6([...ext6(41), ...ipv6(SEG)], { next: 60 }))).counted).toEqual({ tunnel_skipped: 1 });
  });

  it('decodeIpv6() uses the Jumbo Payload option when the payload length is 0', () => {
    const jumbo = 8 + 20 + 80000;
    const hbh = [6, 0, 0xc2, 4, ...u32be(jumbo)];
    const bytes = eth6(ipv6([...hbh, ...tcp()], { next: 0, payloadLength: 0 }));
    const { ok, meta } = decodeOne(1, bytes, { wireLen: 14 + 40 + jumbo });
    expect(ok).toBe(true);
    expect(meta.payloadLen).toBe(80000);
    expect(meta.ipLen).toBe(40 + jumbo);
  });

  it('decodeIpv6() finds the jumbo option after padding options', () => {
    const hbh = [6, 1, 0, 1, 2, 0, 0, 0xc2, 4, ...u32be(16 + 20 + 70000), 1, 1, 0];
    const bytes = eth6(ipv6([...hbh, ...tcp()], { next: 0, payloadLength: 0 }));
    expect(decodeOne(1, bytes, { wireLen: 14 + 40 + 16 + 20 + 70000 }).meta.payloadLen).toBe(70000);
  });

  it('decodeIpv6() uses the length on the wire when the payload length is 0 without a jumbo option', () => {
    const bytes = eth6(ipv6(tcp({ payload: 3000 }), { payloadLength: 0 }));
    const { meta } = decodeOne(1, bytes, { capLen: 200, wireLen: bytes.length });
    expect(meta.payloadLen).toBe(3000);
    expect(meta.ipLen).toBe(3060);
  });

  it('decodeIpv6() treats an atomic fragment (offset 0, M clear) as a plain packet', () => {
    const { ok, meta } = decodeOne(1, eth6(ipv6([...frag6(6, 0, false, 99), ...SEG], { next: 44 })));
    expect(ok).toBe(true);
    expect(meta.payloadLen).toBe(30);
  });

  it('decodeIpv6() counts an extension header cut by the capture as truncated_ipv6_ext', () => {
    const bytes = eth6(ipv6([...ext6(6, zeros(30)), ...SEG], { next: 60 }));
    expect(decodeOne(1, bytes, { capLen: 14 + 40 + 20 }).counted).toEqual({ truncated_ipv6_ext: 1 });
    expect(decodeOne(1, bytes, { capLen: 14 + 40 + 1 }).counted).toEqual({ truncated_ipv6_ext: 1 });
  });

  it('decodeIpv6() counts extension headers longer than the payload length as bad_ip_total_length', () => {
    const bytes = eth6(ipv6([...ext6(6, zeros(14)), ...SEG], { next: 60, payloadLength: 8 }));
    expect(decodeOne(1, bytes).counted).toEqual({ bad_ip_total_length: 1 });
  });

  it('decodeIpv6() counts a bare IPv6 header cut short as truncated_ip', () => {
    expect(decodeOne(1, eth6([0x60, ...zeros(38)])).counted).toEqual({ truncated_ip: 1 });
  });

  it('decodeIpv6() subtracts extension headers from the payload length with the snaplen cut', () => {
    const bytes = eth6(ipv6([...ext6(6), ...tcp({ payload: 1000 })], { next: 60 }));
    expect(decodeOne(1, bytes, { capLen: 14 + 40 + 8 + 20 }).meta.payloadLen).toBe(1000);
  });

  it('decodeIpv6() caps a payload length larger than the frame on the wire (tshark does the same)', () => {
    const bytes = eth6(ipv6(tcp({ payload: 30 }), { payloadLength: 1000 }));
    expect(decodeOne(1, bytes).meta.payloadLen).toBe(30);
  });

  it('decodeIpv6() believes the payload length when the source could not tell the wire length (wireLen 0)', () => {
    const bytes = eth6(ipv6(tcp({ payload: 1400 })));
    expect(decodeOne(1, bytes, { capLen: 128, wireLen: 0 }).meta.payloadLen).toBe(1400);
  });

  it('decodeIpv6() ignores the reserved bits of an atomic fragment header', () => {
    const f = [6, 0, ...u16be(0x0006), ...u32be(1)];
    expect(decodeOne(1, eth6(ipv6([...f, ...SEG], { next: 44 }))).ok).toBe(true);
  });
});
