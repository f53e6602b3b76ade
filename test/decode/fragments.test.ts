import { describe, expect, it } from 'vitest';
import { FRAGMENT_RANGE_COST, FRAGMENT_SET_COST } from '../../src/decode/fragments';
import { TCP_SYN } from '../../src/decode/packetMeta';
import { Harness } from './decodeHarness';
import { type Bytes, ethernet, ext6, frag6, ipv4, ipv6, tcp } from './frames';

/** Splits an IPv4 TCP datagram's payload into Ethernet frames at the given byte offsets. */
function ipv4Fragments(payload: Bytes, cuts: number[], id = 0x4242, proto = 6): Bytes[] {
  const bounds = [0, ...cuts, payload.length];
  const frames: Bytes[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const a = bounds[i]!;
    const b = bounds[i + 1]!;
    const more = i + 2 < bounds.length;
    frames.push(ethernet(0x0800, ipv4(payload.slice(a, b), { id, proto, fragOffset: a, moreFragments: more })));
  }
  return frames;
}

/** Splits an IPv6 fragmentable part into Ethernet frames with fragment headers. */
function ipv6Fragments(fragmentable: Bytes, first: number, cuts: number[], id = 7, unfrag: Bytes = []): Bytes[] {
  const bounds = [0, ...cuts, fragmentable.length];
  const frames: Bytes[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const a = bounds[i]!;
    const b = bounds[i + 1]!;
    const more = i + 2 < bounds.length;
    const next = unfrag.length > 0 ? 0 : 44;
    const body = [...unfrag, ...frag6(first, a, more, id), ...fragmentable.slice(a, b)];
    frames.push(ethernet(0x86dd, ipv6(body, { next })));
  }
  return frames;
}

const SEGMENT = tcp({ sport: 1234, dport: 80, flags: TCP_SYN, options: [2, 4, 5, 0xb4], payload: 1000 });

describe('FragmentTable (via Decoder.decode())', () => {
  it('reassembles IPv4 fragments in order: only the last frame yields the segment', () => {
    const h = new Harness();
    const frames = ipv4Fragments(SEGMENT, [512]);
    expect(h.decode(1, frames[0]!)).toBe(false);
    expect(h.decode(1, frames[1]!)).toBe(true);
    expect(h.meta.srcPort).toBe(1234);
    expect(h.meta.flags).toBe(TCP_SYN);
    expect(h.meta.payloadLen).toBe(1000);
    expect(h.meta.ipLen).toBe(20 + 24 + 1000);
    // The payload is not in one frame: no bytes for the learn labeller, and not mistaken for a snaplen cut.
    expect(h.meta.payloadOff).toBe(-1);
    expect(h.meta.payloadCap).toBe(0);
    expect(h.counted()).toEqual({});
    expect(h.decoder.stats.fragments).toBe(2);
    expect(h.decoder.stats.fragmentsReassembled).toBe(1);
    expect(h.decoder.stats.fragmentsPending).toBe(0);
    expect(h.decoder.stats.tcp).toBe(1);
  });

  it('reassembles fragments arriving in reverse order (header from the first fragment, completed last)', () => {
    const h = new Harness();
    const frames = ipv4Fragments(SEGMENT, [256, 512, 768]).reverse();
    const results = frames.map((f) => h.decode(1, f));
    expect(results).toEqual([false, false, false, true]);
    expect(h.meta.dstPort).toBe(80);
    expect(h.meta.payloadLen).toBe(1000);
  });

  it('completes on the frame that fills the last hole, whichever it is', () => {
    const h = new Harness();
    const [a, b, c] = ipv4Fragments(SEGMENT, [496, 800]);
    expect(h.decode(1, a!)).toBe(false);
    expect(h.decode(1, c!)).toBe(false);
    expect(h.decode(1, b!)).toBe(true);
  });

  it('ignores an exact duplicate fragment (the same packet captured twice)', () => {
    const h = new Harness();
    const [a, b] = ipv4Fragments(SEGMENT, [512]);
    expect(h.decode(1, a!)).toBe(false);
    expect(h.decode(1, a!)).toBe(false);
    expect(h.decode(1, b!)).toBe(true);
    expect(h.counted()).toEqual({});
  });

  it('merges overlapping fragments, as tshark does when their bytes agree (zeek/fragmented-4.pcap)', () => {
    const h = new Harness();
    const frag = (a: number, b: number, more: boolean) =>
      ethernet(0x0800, ipv4(SEGMENT.slice(a, b), { id: 0x4242, fragOffset: a, moreFragments: more }));
    expect(h.decode(1, frag(0, 24, true))).toBe(false);
    expect(h.decode(1, frag(48, 72, true))).toBe(false);
    expect(h.decode(1, frag(72, SEGMENT.length, false))).toBe(false);
    expect(h.decode(1, frag(24, 72, true))).toBe(true);
    expect(h.meta.payloadLen).toBe(1000);
    expect(h.counted()).toEqual({});
  });

  it('drops the set on a fragment with data past the datagram end as fragment_overlap', () => {
    const h = new Harness();
    const [, last] = ipv4Fragments(SEGMENT, [512]);
    const pastEnd = ethernet(0x0800, ipv4(new Array<number>(64).fill(0), { id: 0x4242, fragOffset: 1000, moreFragments: true }));
    h.decode(1, last!);
    expect(h.decode(1, pastEnd)).toBe(false);
    expect(h.counted()).toEqual({ fragment_overlap: 1 });
    expect(h.decoder.stats.fragmentsPending).toBe(0);
  });

  it('drops the set when two last fragments disagree on the end as fragment_overlap', () => {
    const h = new Harness();
    const [, b] = ipv4Fragments(SEGMENT, [512]);
    const otherEnd = ethernet(0x0800, ipv4(SEGMENT.slice(512, 600), { id: 0x4242, fragOffset: 512 }));
    h.decode(1, b!);
    h.decode(1, otherEnd);
    expect(h.counted()).toEqual({ fragment_overlap: 1 });
  });

  it('keeps different IP IDs apart', () => {
    const h = new Harness();
    const one = ipv4Fragments(SEGMENT, [512], 1);
    const two = ipv4Fragments(tcp({ payload: 600 }), [24], 2);
    expect(h.decode(1, one[0]!)).toBe(false);
    expect(h.decode(1, two[0]!)).toBe(false);
    expect(h.decode(1, two[1]!)).toBe(true);
    expect(h.meta.payloadLen).toBe(600);
    expect(h.decode(1, one[1]!)).toBe(true);
    expect(h.meta.payloadLen).toBe(1000);
  });

  it('counts non-TCP fragments as not_tcp without keeping them, tunnels as tunnel_skipped', () => {
    const h = new Harness();
    for (const f of ipv4Fragments(new Array<number>(100).fill(0), [48], 9, 17)) h.decode(1, f);
    for (const f of ipv4Fragments(ipv4(SEGMENT), [48], 9, 4)) h.decode(1, f);
    expect(h.counted()).toEqual({ not_tcp: 2, tunnel_skipped: 2 });
    expect(h.decoder.stats.fragmentsPending).toBe(0);
  });

  it('gathers a TCP header split over 8-byte fragments (suricata frag-ip-tcp-syn.pcap)', () => {
    const h = new Harness();
    const results = ipv4Fragments(SEGMENT, [8, 16]).map((f) => h.decode(1, f));
    expect(results).toEqual([false, false, true]);
    expect(h.meta.srcPort).toBe(1234);
    expect(h.meta.flags).toBe(TCP_SYN);
    expect(h.meta.payloadLen).toBe(1000);
  });

  it('gathers a split TCP header from fragments arriving in any order', () => {
    const h = new Harness();
    const results = ipv4Fragments(SEGMENT, [8, 16])
      .reverse()
      .map((f) => h.decode(1, f));
    expect(results).toEqual([false, false, true]);
    expect(h.meta.window).toBe(65535);
  });

  it('counts a fixed TCP header the snaplen cut in a fragment as truncated_tcp when the set completes', () => {
    const h = new Harness();
    const [a, b] = ipv4Fragments(SEGMENT, [8]);
    h.decode(1, b!);
    expect(h.decode(1, a!, { capLen: 14 + 20 + 4 })).toBe(false);
    expect(h.counted()).toEqual({ truncated_tcp: 1 });
  });

  it('expireFragments() drops sets older than the timeout as fragment_timeout', () => {
    const h = new Harness({ fragmentTimeout: 30 });
    const [a, b] = ipv4Fragments(SEGMENT, [512]);
    h.decode(1, a!, { ts: 1000 });
    h.decoder.expireFragments(1029);
    expect(h.decoder.stats.fragmentsPending).toBe(1);
    h.decoder.expireFragments(1031);
    expect(h.decoder.stats.fragmentsPending).toBe(0);
    expect(h.counted()).toEqual({ fragment_timeout: 1 });
    expect(h.decode(1, b!, { ts: 1032 })).toBe(false);
  });

  it('a fragment arriving after the timeout starts a new set instead of completing the stale one', () => {
    const h = new Harness({ fragmentTimeout: 30 });
    const [a, b] = ipv4Fragments(SEGMENT, [512]);
    h.decode(1, a!, { ts: 1000 });
    expect(h.decode(1, b!, { ts: 1100 })).toBe(false);
    expect(h.counted()).toEqual({ fragment_timeout: 1 });
    expect(h.decoder.stats.fragmentsPending).toBe(1);
  });

  it('evicts the oldest sets when the memory bound is hit, as fragment_table_full', () => {
    const h = new Harness({ fragmentMemory: 2 * (FRAGMENT_SET_COST + FRAGMENT_RANGE_COST) });
    const sets = [1, 2, 3].map((id) => ipv4Fragments(SEGMENT, [512], id));
    for (const s of sets) h.decode(1, s[0]!);
    expect(h.counted()).toEqual({ fragment_table_full: 1 });
    expect(h.decoder.stats.fragmentsPending).toBe(2);
    expect(h.decode(1, sets[0]![1]!)).toBe(false); // set 1 was evicted: its last fragment starts a new set
    expect(h.decode(1, sets[2]![1]!)).toBe(true); // a set that completes is not evicted for its last range
  });

  it('reassembles IPv6 fragments with the TCP header right after the fragment header', () => {
    const h = new Harness();
    const frames = ipv6Fragments(SEGMENT, 6, [512]);
    expect(h.decode(1, frames[0]!)).toBe(false);
    expect(h.decode(1, frames[1]!)).toBe(true);
    expect(h.meta.ipVersion).toBe(6);
    expect(h.meta.payloadLen).toBe(1000);
    expect(h.meta.ipLen).toBe(40 + 1024);
  });

  it('reassembles IPv6 fragments with a hop-by-hop header before and destination options after the fragment header', () => {
    const h = new Harness();
    const fragmentable = [...ext6(6), ...SEGMENT];
    const frames = ipv6Fragments(fragmentable, 60, [504], 8, ext6(44));
    expect(h.decode(1, frames[1]!)).toBe(false);
    expect(h.decode(1, frames[0]!)).toBe(true);
    expect(h.meta.payloadLen).toBe(1000);
    expect(h.meta.ipLen).toBe(40 + 8 + 8 + 1024);
  });

  it('counts a reassembled IPv6 datagram that is not TCP behind its extension headers as fragment_not_tcp', () => {
    const h = new Harness();
    const fragmentable = [...ext6(17), ...new Array<number>(200).fill(0)];
    for (const f of ipv6Fragments(fragmentable, 60, [104])) h.decode(1, f);
    expect(h.counted()).toEqual({ fragment_not_tcp: 1 });
  });

  it('counts IPv6 fragments of UDP as not_tcp at once, without keeping them', () => {
    const h = new Harness();
    for (const f of ipv6Fragments(new Array<number>(200).fill(0), 17, [104])) h.decode(1, f);
    expect(h.counted()).toEqual({ not_tcp: 2 });
    expect(h.decoder.stats.fragmentsPending).toBe(0);
  });

  it('keeps the VLAN of the frame that completed the set', () => {
    const h = new Harness();
    const frames = ipv4Fragments(SEGMENT, [512]).map((f) => [...f.slice(0, 12), 0x81, 0x00, 0x00, 0x0c, ...f.slice(12)]);
    h.decode(1, frames[0]!);
    expect(h.decode(1, frames[1]!)).toBe(true);
    expect(h.meta.vlan).toBe(12);
  });

  it('gives back the memory of completed sets (a bound of one set serves any number of datagrams in a row)', () => {
    const h = new Harness({ fragmentMemory: FRAGMENT_SET_COST + 2 * FRAGMENT_RANGE_COST });
    let completed = 0;
    for (let id = 0; id < 50; id++) for (const f of ipv4Fragments(SEGMENT, [512], id)) if (h.decode(1, f)) completed++;
    expect(completed).toBe(50);
    expect(h.counted()).toEqual({});
  });
});
