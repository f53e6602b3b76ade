import { describe, expect, it } from 'vitest';
import { decodeOne } from './decodeHarness';
import { ethernet, ipv4, tcp, zeros } from './frames';

function eth4(bytes: number[]) {
  return ethernet(0x0800, bytes);
}

describe('decodeTcpHeader()', () => {
  it('decodeTcpHeader() subtracts the header with options from the IP payload', () => {
    const options = [2, 4, 5, 0xb4, 1, 3, 3, 7, 4, 2, 8, 10, ...zeros(8), 1, 1, 1, 0];
    const { meta } = decodeOne(1, eth4(ipv4(tcp({ options, payload: 77 }))));
    expect(meta.payloadLen).toBe(77);
  });

  it('decodeTcpHeader() reads 32-bit sequence numbers above 2^31 as unsigned', () => {
    const { meta } = decodeOne(1, eth4(ipv4(tcp({ seq: 0xffffffff, ack: 0x80000000 }))));
    expect(meta.seq).toBe(0xffffffff);
    expect(meta.ack).toBe(0x80000000);
  });

  it('decodeTcpHeader() keeps all eight flag bits', () => {
    expect(decodeOne(1, eth4(ipv4(tcp({ flags: 0xff })))).meta.flags).toBe(0xff);
  });

  it('decodeTcpHeader() counts a data offset below 5 as bad_tcp_header_length', () => {
    expect(decodeOne(1, eth4(ipv4(tcp({ dataOffset: 4 })))).counted).toEqual({ bad_tcp_header_length: 1 });
  });

  it('decodeTcpHeader() counts a data offset past the IP payload as bad_tcp_header_length', () => {
    // pcapplusplus/tcp-malformed.pcap: the data offset claims 28 bytes in a 20-byte segment.
    expect(decodeOne(1, eth4(ipv4(tcp({ dataOffset: 7 })))).counted).toEqual({ bad_tcp_header_length: 1 });
  });

  it('decodeTcpHeader() counts an IP payload shorter than 20 bytes as bad_tcp_header_length', () => {
    expect(decodeOne(1, [...eth4(ipv4(tcp(), { totalLength: 30 }))]).counted).toEqual({ bad_tcp_header_length: 1 });
  });

  it('decodeTcpHeader() counts a fixed header cut by the snaplen as truncated_tcp (the packet is skipped)', () => {
    const bytes = eth4(ipv4(tcp({ payload: 10 })));
    expect(decodeOne(1, bytes, { capLen: 14 + 20 + 12 }).counted).toEqual({ truncated_tcp: 1 });
  });

  it('decodeTcpHeader() reads a header whose options the snaplen cut (zeek/truncated-header.pcap SYN)', () => {
    const bytes = eth4(ipv4(tcp({ flags: 0x02, options: zeros(20), payload: 10 })));
    const { ok, meta, counted } = decodeOne(1, bytes, { capLen: 14 + 20 + 30 });
    expect(ok).toBe(true);
    expect(counted).toEqual({});
    expect(meta.flags).toBe(0x02);
    expect(meta.payloadLen).toBe(10);
  });

  it('decodeTcpHeader() accepts a header captured exactly to its end with the payload missing', () => {
    const bytes = eth4(ipv4(tcp({ options: zeros(12), payload: 500 })));
    const { ok, meta } = decodeOne(1, bytes, { capLen: 14 + 20 + 32 });
    expect(ok).toBe(true);
    expect(meta.payloadLen).toBe(500);
  });
});
