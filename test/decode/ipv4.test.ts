import { describe, expect, it } from 'vitest';
import { decodeOne } from './decodeHarness';
import { ethernet, ipv4, ipv6, tcp, zeros } from './frames';

function eth4(bytes: number[]) {
  return ethernet(0x0800, bytes);
}

describe('decodeIpv4()', () => {
  it('decodeIpv4() skips IP options using IHL', () => {
    const { ok, meta } = decodeOne(1, eth4(ipv4(tcp({ payload: 100 }), { options: [0x94, 0x04, 0, 0] })));
    expect(ok).toBe(true);
    expect(meta.payloadLen).toBe(100);
    expect(meta.ipLen).toBe(144);
  });

  it('decodeIpv4() counts IHL < 5 as bad_ip_header_length', () => {
    expect(decodeOne(1, eth4(ipv4(tcp(), { ihl: 4 }))).counted).toEqual({ bad_ip_header_length: 1 });
    expect(decodeOne(1, eth4(ipv4(tcp(), { ihl: 0 }))).counted).toEqual({ bad_ip_header_length: 1 });
  });

  it('decodeIpv4() counts a total length below the header length as bad_ip_header_length', () => {
    expect(decodeOne(1, eth4(ipv4(tcp(), { ihl: 6, totalLength: 20, options: [1, 1, 1, 1] }))).counted).toEqual({
      bad_ip_header_length: 1,
    });
  });

  it('decodeIpv4() counts a header (or its options) cut by the capture as truncated_ip', () => {
    expect(decodeOne(1, eth4(zeros(19).fill(0x45, 0, 1))).counted).toEqual({ truncated_ip: 1 });
    expect(decodeOne(1, eth4(ipv4([], { ihl: 15 }))).counted).toEqual({ truncated_ip: 1 });
  });

  it('decodeIpv4() takes the payload length from the total length when the snaplen cut the payload', () => {
    const bytes = eth4(ipv4(tcp({ payload: 1400 })));
    const { ok, meta } = decodeOne(1, bytes, { capLen: 14 + 40 });
    expect(ok).toBe(true);
    expect(meta.payloadLen).toBe(1400);
    expect(meta.ipLen).toBe(1440);
  });

  it('decodeIpv4() uses the length on the wire when the total length is 0 (TSO / BIG TCP)', () => {
    const bytes = eth4(ipv4(tcp({ payload: 2000 }), { totalLength: 0 }));
    expect(decodeOne(1, bytes).meta.payloadLen).toBe(2000);
    // The same packet captured with a 96-byte snaplen: the wire length still gives the size.
    const cut = decodeOne(1, bytes, { capLen: 96, wireLen: bytes.length });
    expect(cut.meta.payloadLen).toBe(2000);
    expect(cut.meta.ipLen).toBe(2040);
  });

  it('decodeIpv4() caps a total length larger than the frame on the wire (zeek/reassembly.pcap, like tshark)', () => {
    const bytes = eth4(ipv4(tcp({ payload: 1440 }), { totalLength: 1500 }));
    const { meta } = decodeOne(1, bytes);
    expect(meta.payloadLen).toBe(1440);
    expect(meta.ipLen).toBe(1480);
  });

  it('decodeIpv4() believes the total length when the source could not tell the wire length (wireLen 0)', () => {
    const bytes = eth4(ipv4(tcp({ payload: 1400 })));
    const { meta } = decodeOne(1, bytes, { capLen: 96, wireLen: 0 });
    expect(meta.payloadLen).toBe(1400);
    // With total length 0 and no wire length, the captured bytes are all there is.
    const tso = eth4(ipv4(tcp({ payload: 500 }), { totalLength: 0 }));
    expect(decodeOne(1, tso, { wireLen: 0 }).meta.payloadLen).toBe(500);
  });

  it('decodeIpv4() counts non-TCP protocols as not_tcp', () => {
    expect(decodeOne(1, eth4(ipv4(zeros(8), { proto: 17 }))).counted).toEqual({ not_tcp: 1 });
    expect(decodeOne(1, eth4(ipv4(zeros(8), { proto: 1 }))).counted).toEqual({ not_tcp: 1 });
  });

  it('decodeIpv4() skips IP-in-IP, 6in4 and GRE as tunnel_skipped (SPEC: tunnels are not flows)', () => {
    expect(decodeOne(1, eth4(ipv4(ipv4(tcp()), { proto: 4 }))).counted).toEqual({ tunnel_skipped: 1 });
    expect(decodeOne(1, eth4(ipv4(ipv6(tcp()), { proto: 41 }))).counted).toEqual({ tunnel_skipped: 1 });
    expect(decodeOne(1, eth4(ipv4([0, 0, 0x08, 0, ...ipv4(tcp())], { proto: 47 }))).counted).toEqual({
      tunnel_skipped: 1,
    });
  });

  it('decodeIpv4() ignores the DF flag (not a fragment)', () => {
    expect(decodeOne(1, eth4(ipv4(tcp({ payload: 3 }), { dontFragment: true }))).meta.payloadLen).toBe(3);
  });
});
