import { describe, expect, it } from 'vitest';
import { PacketMeta, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from '../../src/decode/packetMeta';
import { INDEX_TAG_SHIFT } from '../../src/flow/flowIndex';
import { flowKeyHash, K } from '../../src/flow/flowKey';
import { FlowRecord } from '../../src/flow/flowRecord';
import { INITIAL_INDEX_BUCKETS, INITIAL_SLOTS } from '../../src/flow/flowStore';
import { DEFAULT_FLOW_OPTIONS, FlowTable, FlowTableOptions } from '../../src/flow/flowTable';

// The mechanics of the slot-based table (flowStore.ts, flowIndex.ts): slot reuse, growth, collisions, the lazy
// recency list and eviction. Endpoints are given as numbers (IPv4 address, port) so thousands of flows are cheap.

function table(opts: Partial<FlowTableOptions> = {}): { t: FlowTable; out: FlowRecord[] } {
  const out: FlowRecord[] = [];
  const t = new FlowTable({ ...DEFAULT_FLOW_OPTIONS, source: 'test', ...opts }, (r) => out.push(r));
  return { t, out };
}

const meta = new PacketMeta();
/** Feeds one IPv4 segment src:sp > dst:dp (addresses as 32-bit numbers). */
function seg(t: FlowTable, ts: number, src: number, sp: number, dst: number, dp: number, flags: number, len = 0, seq = 0): void {
  meta.ts = ts;
  meta.ipVersion = 4;
  meta.vlan = 0;
  meta.src.fill(0);
  meta.dst.fill(0);
  meta.src[0] = src;
  meta.dst[0] = dst;
  meta.srcPort = sp;
  meta.dstPort = dp;
  meta.flags = flags;
  meta.payloadLen = len;
  meta.seq = seq >>> 0;
  meta.ack = 0;
  meta.window = 1000;
  meta.ipLen = 40 + len;
  t.packet(meta);
}

const CLIENT = 0x0a090001; // 10.9.0.1
const SERVER = 0x0a090002; // 10.9.0.2, greater than CLIENT: the client is endpoint A of the key

/** The hash the table computes for CLIENT:port -> SERVER:443 (the key words of flowKey.ts, A = the client). */
function keyHash(port: number): number {
  const k = new Int32Array(K.Words);
  k[K.VersionVlan] = 4 << 16;
  k[K.AddrA] = CLIENT;
  k[K.AddrB] = SERVER;
  k[K.Ports] = (port << 16) | 443;
  return flowKeyHash(k, 0);
}

function byPort(out: FlowRecord[]): Map<number, FlowRecord[]> {
  const m = new Map<number, FlowRecord[]>();
  for (const r of out) (m.get(r.client_port) ?? m.set(r.client_port, []).get(r.client_port)!).push(r);
  return m;
}

describe('FlowTable slots', () => {
  it('packet() skips a stale grace-queue entry after the slot is reused by the same key (generation check)', () => {
    const { t, out } = table();
    seg(t, 10, CLIENT, 40000, SERVER, 443, TCP_SYN, 0, 1);
    seg(t, 10.01, SERVER, 443, CLIENT, 40000, TCP_SYN | TCP_ACK, 0, 1);
    seg(t, 10.02, CLIENT, 40000, SERVER, 443, TCP_ACK | TCP_PSH, 100, 2);
    seg(t, 10.03, CLIENT, 40000, SERVER, 443, TCP_ACK | TCP_FIN, 0, 102);
    seg(t, 10.04, SERVER, 443, CLIENT, 40000, TCP_ACK | TCP_FIN, 0, 2);
    // Port reuse within the grace period: the closed flow ends now, the new one takes its freed slot.
    seg(t, 11, CLIENT, 40000, SERVER, 443, TCP_SYN, 0, 5000);
    expect(out.map((r) => r.end_reason)).toEqual(['fin']);
    // The closed flow's grace entry expires here; it names the reused slot and must be skipped.
    t.advance(10.04 + 5 + 1);
    expect(out).toHaveLength(1);
    expect(t.size).toBe(1);
    seg(t, 17, CLIENT, 40000, SERVER, 443, TCP_ACK | TCP_PSH, 7, 5001);
    t.flush('eof');
    expect(out).toHaveLength(2);
    expect(out[1]!.end_reason).toBe('eof');
    expect(out[1]!.lengths.slice(0, 2)).toEqual([7, 0]);
    expect(out[1]!.first_ts).toBe(11);
  });

  it('packet() keeps reused slots apart from stale entries across thousands of RST-closed flows', () => {
    const { t, out } = table();
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      const ts = i * 0.01; // 200 s in all: grace entries expire throughout
      const port = 1024 + (i % 60000);
      const client = CLIENT + 16 + Math.floor(i / 60000);
      seg(t, ts, client, port, SERVER, 443, TCP_SYN, 0, 1);
      seg(t, ts + 0.001, SERVER, 443, client, port, TCP_RST | TCP_ACK);
      seg(t, ts + 0.002, client, port, SERVER, 443, TCP_SYN, 0, 1000); // reuses the freed slot
      seg(t, ts + 0.003, client, port, SERVER, 443, TCP_ACK | TCP_PSH, 1 + (i % 500), 1001);
    }
    // Flows older than the idle timeout have ended idle; the rest end at eof. None ended early as `rst`.
    t.flush('eof');
    const reasons = out.reduce<Record<string, number>>((acc, r) => ({ ...acc, [r.end_reason]: (acc[r.end_reason] ?? 0) + 1 }), {});
    expect(reasons['rst']).toBe(n);
    expect((reasons['idle'] ?? 0) + (reasons['eof'] ?? 0)).toBe(n);
    for (const r of out) {
      if (r.end_reason === 'rst') expect(r.payload_packets).toBe(0);
      else expect(r.lengths[0]).toBe(1 + ((r.client_port - 1024) % 500));
    }
  });

  it('packet() keeps every flow intact while the table grows past its initial capacity', () => {
    const { t, out } = table();
    const n = 3 * INITIAL_SLOTS + 17;
    // First segment of every flow, then a second one after all of them exist (so after the growth).
    for (let i = 0; i < n; i++) seg(t, 1, CLIENT, 1024 + i, SERVER, 443, TCP_ACK | TCP_PSH, 1 + (i % 1000), 1);
    expect(t.size).toBe(n);
    for (let i = 0; i < n; i++) seg(t, 2, SERVER, 443, CLIENT, 1024 + i, TCP_ACK | TCP_PSH, 2000 + (i % 1000), 1);
    expect(t.size).toBe(n);
    t.flush('eof');
    expect(out).toHaveLength(n);
    for (const r of out) {
      const i = r.client_port - 1024;
      expect(r.lengths.slice(0, 3)).toEqual([1 + (i % 1000), -(2000 + (i % 1000)), 0]);
      expect(r.c2s_packets + r.s2c_packets).toBe(2);
    }
  });

  it("packet()'s key hash agrees with flowKeyHash() for IPv6, VLAN and addresses above 2^31, across the index's rehash", () => {
    // packet() writes the hash out (round perf16); the index places entries again with flowKeyHash() when it grows, so
    // a flow whose two hashes differ would not be found after the growth and would open a second flow.
    const t = new FlowTable({ ...DEFAULT_FLOW_OPTIONS, source: 'test' }, () => {});
    const n = 2 * INITIAL_SLOTS + 5;
    const send = (i: number, fromClient: boolean): void => {
      meta.ts = 1;
      meta.ipVersion = i % 2 === 0 ? 6 : 4;
      meta.vlan = i % 3 === 0 ? 4094 : 0;
      const c = fromClient ? meta.src : meta.dst;
      const s = fromClient ? meta.dst : meta.src;
      c.fill(0);
      s.fill(0);
      c[0] = 0xfd000000 + i;
      s[0] = 0xc0a80001;
      if (meta.ipVersion === 6) {
        c[1] = 0x80000000 | i;
        c[3] = 0xffffffff - i;
        s[2] = 0x9abcdef0;
        s[3] = 0xfedcba98;
      }
      meta.srcPort = fromClient ? 40000 + (i % 20000) : 65535;
      meta.dstPort = fromClient ? 65535 : 40000 + (i % 20000);
      meta.flags = TCP_ACK | TCP_PSH;
      meta.payloadLen = 10;
      meta.ipLen = 50;
      meta.seq = i;
      t.packet(meta);
    };
    for (let i = 0; i < n; i++) send(i, true);
    for (let i = 0; i < n; i++) send(i, false);
    expect(t.stats.flowsCreated).toBe(n);
    expect(t.size).toBe(n);
  });

  it('packet() finds flows whose keys share a hash bucket and tag, before and after one of them ends', () => {
    // Ports whose keys land in the same bucket of a new table's index with the same tag: only the key
    // comparison tells them apart. Also ports in that bucket with other tags.
    const groups = new Map<number, number[]>();
    for (let port = 1024; port < 65536; port++) {
      const h = keyHash(port);
      const g = ((h & (INITIAL_INDEX_BUCKETS - 1)) << 5) | (h >>> INDEX_TAG_SHIFT);
      (groups.get(g) ?? groups.set(g, []).get(g)!).push(port);
    }
    const same = [...groups.values()].sort((a, b) => b.length - a.length)[0]!;
    expect(same.length).toBeGreaterThanOrEqual(3);
    const bucket = keyHash(same[0]!) & (INITIAL_INDEX_BUCKETS - 1);
    const neighbours: number[] = [];
    for (let port = 1024; port < 65536 && neighbours.length < 4; port++) {
      if (!same.includes(port) && (keyHash(port) & (INITIAL_INDEX_BUCKETS - 1)) === bucket) neighbours.push(port);
    }
    const ports = [...same, ...neighbours];

    const { t, out } = table();
    ports.forEach((p, i) => seg(t, 1, CLIENT, p, SERVER, 443, TCP_ACK | TCP_PSH, 100 + i, 1));
    expect(t.size).toBe(ports.length);
    // End the first one inserted (the head of the probe run): the others must still be found.
    seg(t, 2, SERVER, 443, CLIENT, ports[0]!, TCP_RST | TCP_ACK);
    t.advance(2 + 5 + 1);
    expect(out.map((r) => [r.client_port, r.end_reason])).toEqual([[ports[0], 'rst']]);
    ports.slice(1).forEach((p, i) => seg(t, 9, SERVER, 443, CLIENT, p, TCP_ACK | TCP_PSH, 500 + i, 1));
    t.flush('eof');
    const recs = byPort(out);
    ports.slice(1).forEach((p, i) => {
      expect(recs.get(p)).toHaveLength(1);
      expect(recs.get(p)![0]!.lengths.slice(0, 3)).toEqual([100 + i + 1, -(500 + i), 0]);
    });
  });

  it('packet() finds each of 200,000 concurrent flows', () => {
    const { t, out } = table();
    const n = 200_000;
    const client = (i: number): number => CLIENT + 256 + Math.floor(i / 50000);
    for (let i = 0; i < n; i++) seg(t, 1, client(i), 1024 + (i % 50000), SERVER, 443, TCP_SYN, 0, 1);
    expect(t.size).toBe(n);
    for (let i = 0; i < n; i++) seg(t, 2, SERVER, 443, client(i), 1024 + (i % 50000), TCP_ACK | TCP_PSH, 1 + (i % 1400), 1);
    expect(t.size).toBe(n);
    expect(t.stats.flowsCreated).toBe(n);
    t.flush('eof');
    expect(out).toHaveLength(n);
    let wrong = 0;
    for (const r of out) {
      const i = (Number(r.client_ip.split('.')[3]) - 1) * 50000 + (r.client_port - 1024);
      if (r.lengths[0] !== -(1 + (i % 1400)) || r.payload_packets !== 1) wrong++;
    }
    expect(wrong).toBe(0);
  });

  it('sweep() never ends idle a flow seen every 0.5 s, though it moves in the recency list only once a second', () => {
    const { t, out } = table({ idleTimeout: 10 });
    seg(t, 0, CLIENT, 1, SERVER, 443, TCP_SYN, 0, 1);
    for (let ts = 0.5; ts <= 60; ts += 0.5) {
      seg(t, ts, CLIENT, 1, SERVER, 443, TCP_ACK, 0, 2);
      t.advance(ts + 0.25);
    }
    expect(out).toHaveLength(0);
    t.advance(60 + 10 + 0.1);
    expect(out).toHaveLength(1);
    expect(out[0]!.end_reason).toBe('idle');
    expect(out[0]!.last_ts).toBe(60);
    expect(out[0]!.c2s_packets).toBe(121);
  });

  it('sweep() ends a flow idle with its last_ts once it is quiet for the idle timeout', () => {
    const { t, out } = table({ idleTimeout: 10 });
    // Seen at 0, 0.3, 0.6: all within a second of its creation, so it never moved in the recency list.
    for (const ts of [0, 0.3, 0.6]) seg(t, ts, CLIENT, 1, SERVER, 443, TCP_ACK, 0, 1);
    t.advance(10.5); // 10.5 s after its move time, but only 9.9 s after it was last seen
    expect(out).toHaveLength(0);
    t.advance(0.6 + 10 + 1);
    expect(out).toHaveLength(1);
    expect(out[0]!.end_reason).toBe('idle');
    expect(out[0]!.last_ts).toBe(0.6);
  });

  it('sweep() ends an idle flow that sits behind a flow that only looks idle', () => {
    const { t, out } = table({ idleTimeout: 10 });
    // P: created at 0, seen until 0.9 (never moved: its move time stays 0). Q: one packet at 0.5.
    // The list order is P, Q; at 10.6 P looks idle (move time 0) but is not, and Q is.
    seg(t, 0, CLIENT, 1, SERVER, 443, TCP_ACK, 0, 1);
    seg(t, 0.5, CLIENT, 2, SERVER, 443, TCP_ACK, 0, 1);
    seg(t, 0.9, CLIENT, 1, SERVER, 443, TCP_ACK, 0, 1);
    t.advance(10.6);
    expect(out.map((r) => [r.client_port, r.last_ts])).toEqual([[2, 0.5]]);
    t.advance(11);
    expect(out.map((r) => [r.client_port, r.last_ts])).toEqual([[2, 0.5], [1, 0.9]]);
  });

  it('packet() evicts the least recently seen flow at the limit when flows are seen more than a second apart', () => {
    const { t, out } = table({ maxFlows: 3 });
    seg(t, 0, CLIENT, 1, SERVER, 443, TCP_SYN);
    seg(t, 2, CLIENT, 2, SERVER, 443, TCP_SYN);
    seg(t, 4, CLIENT, 3, SERVER, 443, TCP_SYN);
    seg(t, 6, CLIENT, 1, SERVER, 443, TCP_ACK); // flow 1 is now the most recent
    seg(t, 8, CLIENT, 4, SERVER, 443, TCP_SYN);
    seg(t, 10, CLIENT, 5, SERVER, 443, TCP_SYN);
    expect(out.map((r) => [r.client_port, r.end_reason])).toEqual([
      [2, 'evicted'],
      [3, 'evicted'],
    ]);
    expect(t.size).toBe(3);
    expect(t.stats.ended.evicted).toBe(2);
  });

  it('packet() evicts by move time: a flow seen again within a second of its last move keeps its place', () => {
    // Documents the bound of RECENCY_MOVE_INTERVAL (flowTable.ts): flow 1 was seen at 0.5, after flow 2 (0.2),
    // but it has not moved since 0, so it is the one evicted.
    const { t, out } = table({ maxFlows: 2 });
    seg(t, 0, CLIENT, 1, SERVER, 443, TCP_SYN);
    seg(t, 0.2, CLIENT, 2, SERVER, 443, TCP_SYN);
    seg(t, 0.5, CLIENT, 1, SERVER, 443, TCP_ACK);
    seg(t, 0.6, CLIENT, 3, SERVER, 443, TCP_SYN);
    expect(out.map((r) => [r.client_port, r.end_reason, r.last_ts])).toEqual([[1, 'evicted', 0.5]]);
  });

  it('packet() keeps the direction of entries past the first 32 and lengths up to 2^32 - 1', () => {
    const { t, out } = table({ length: 40 });
    seg(t, 0, CLIENT, 1, SERVER, 443, TCP_SYN, 0, 1);
    let cseq = 2;
    let sseq = 1;
    for (let i = 0; i < 40; i++) {
      if (i % 2 === 1) {
        seg(t, 1 + i * 0.01, SERVER, 443, CLIENT, 1, TCP_ACK, 10 + i, sseq);
        sseq += 10 + i;
      } else {
        seg(t, 1 + i * 0.01, CLIENT, 1, SERVER, 443, TCP_ACK, 10 + i, cseq);
        cseq += 10 + i;
      }
    }
    seg(t, 2, SERVER, 443, CLIENT, 2, TCP_ACK, 0xffffffff, 7); // an IPv6 jumbogram could say this much
    t.flush('eof');
    const seq = byPort(out).get(1)![0]!.lengths;
    expect(seq).toEqual(Array.from({ length: 40 }, (_, i) => (i % 2 === 1 ? -(10 + i) : 10 + i)));
    expect(byPort(out).get(443)![0]!.lengths[0]).toBe(0xffffffff);
  });

  it('constructor rejects a sequence length the slots cannot count', () => {
    expect(() => table({ length: 70000 })).toThrow(/sequence length 70000 must be an integer from 0 to 65535/);
  });
});
