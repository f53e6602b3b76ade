import { describe, expect, it } from 'vitest';
import { newAnomalies } from '../../src/decode/anomalies';
import { Decoder } from '../../src/decode/decoder';
import { Harness } from './decodeHarness';
import { ethernet, ipv4, ipv6, sll, tcp, zeros } from './frames';

describe('Decoder', () => {
  it('new Decoder() refuses a fragment timeout that is not a positive number of seconds', () => {
    expect(() => new Decoder(newAnomalies(), { fragmentTimeout: 0 })).toThrow(/fragmentTimeout must be a positive/);
    expect(() => new Decoder(newAnomalies(), { fragmentTimeout: Number.NaN })).toThrow(/fragmentTimeout/);
    expect(() => new Decoder(newAnomalies(), { fragmentTimeout: Infinity })).toThrow(/fragmentTimeout/);
  });

  it('new Decoder() refuses a fragment memory that is not a whole number of bytes', () => {
    expect(() => new Decoder(newAnomalies(), { fragmentMemory: -1 })).toThrow(/fragmentMemory must be a whole number/);
    expect(() => new Decoder(newAnomalies(), { fragmentMemory: 1.5 })).toThrow(/fragmentMemory/);
  });

  it('decode() counts frames, TCP segments and frames per link type', () => {
    const h = new Harness();
    h.decode(1, ethernet(0x0800, ipv4(tcp())));
    h.decode(1, ethernet(0x0806, zeros(28)));
    h.decode(113, sll(0x86dd, ipv6(tcp())));
    h.decode(200, zeros(10));
    const s = h.decoder.stats;
    expect(s.frames).toBe(4);
    expect(s.tcp).toBe(2);
    expect([...s.linkTypes]).toEqual([
      [1, 2],
      [113, 1],
      [200, 1],
    ]);
    expect(h.counted()).toEqual({ unsupported_ethertype: 1, unsupported_link_type: 1 });
  });

  it('decode() reuses the caller\'s PacketMeta, overwriting every field of the previous segment', () => {
    const h = new Harness();
    h.decode(1, ethernet(0x8100, [0, 9, 0x86, 0xdd, ...ipv6(tcp({ payload: 9, flags: 0x11 }))]));
    expect(h.meta.vlan).toBe(9);
    h.decode(1, ethernet(0x0800, ipv4(tcp({ payload: 3, flags: 0x10 }))), { ts: 5 });
    const m = h.meta;
    expect([m.ts, m.ipVersion, m.vlan, m.payloadLen, m.flags]).toEqual([5, 4, 0, 3, 0x10]);
    expect([...m.src]).toEqual([0x0a000001, 0, 0, 0]);
    expect([...m.dst]).toEqual([0x0a000002, 0, 0, 0]);
  });
});
