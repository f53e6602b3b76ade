import { describe, expect, it } from 'vitest';
import { PacketMeta, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from '../../src/decode/packetMeta';
import { communityId } from '../../src/flow/communityId';
import { FlowRecord } from '../../src/flow/flowRecord';
import { DEFAULT_FLOW_OPTIONS, FlowTable, FlowTableOptions, warmUpFlowTable } from '../../src/flow/flowTable';

function ip4(s: string): number {
  return s.split('.').reduce((acc, x) => acc * 256 + Number(x), 0);
}

/** A table that collects its records. */
function table(opts: Partial<FlowTableOptions> = {}): { t: FlowTable; out: FlowRecord[] } {
  const out: FlowRecord[] = [];
  const t = new FlowTable({ ...DEFAULT_FLOW_OPTIONS, source: 'test', ...opts }, (r) => out.push(r));
  return { t, out };
}

const meta = new PacketMeta();
/** Feeds one IPv4 segment "a:ap > b:bp" to the table. */
function seg(t: FlowTable, ts: number, from: string, to: string, flags: number, len = 0, seq = 0, extra: Partial<{ vlan: number; window: number }> = {}): void {
  const [a, ap] = from.split(':');
  const [b, bp] = to.split(':');
  meta.ts = ts;
  meta.ipVersion = 4;
  meta.vlan = extra.vlan ?? 0;
  meta.src.fill(0);
  meta.dst.fill(0);
  meta.src[0] = ip4(a!);
  meta.dst[0] = ip4(b!);
  meta.srcPort = Number(ap);
  meta.dstPort = Number(bp);
  meta.flags = flags;
  meta.payloadLen = len;
  meta.seq = seq >>> 0;
  meta.ack = 0;
  meta.window = extra.window ?? 65535;
  meta.ipLen = 40 + len;
  t.packet(meta);
}

const C = '10.0.0.1:40000';
const S = '10.0.0.2:443';

/** A complete connection: handshake, request, two response segments, FIN both ways. */
function fullConnection(t: FlowTable, t0: number): void {
  seg(t, t0, C, S, TCP_SYN, 0, 1000);
  seg(t, t0 + 0.01, S, C, TCP_SYN | TCP_ACK, 0, 5000);
  seg(t, t0 + 0.02, C, S, TCP_ACK, 0, 1001);
  seg(t, t0 + 0.03, C, S, TCP_ACK | TCP_PSH, 100, 1001);
  seg(t, t0 + 0.04, S, C, TCP_ACK, 1448, 5001);
  seg(t, t0 + 0.05, S, C, TCP_ACK | TCP_PSH, 552, 6449);
  seg(t, t0 + 0.06, C, S, TCP_ACK | TCP_FIN, 0, 1101);
  seg(t, t0 + 0.07, S, C, TCP_ACK | TCP_FIN, 0, 7001);
  seg(t, t0 + 0.08, C, S, TCP_ACK, 0, 1102);
}

describe('FlowTable', () => {
  it('warms up on a throwaway table that runs every end reason of the timers, the limit and the flush, and retransmissions', () => {
    const st = warmUpFlowTable({ ...DEFAULT_FLOW_OPTIONS, source: 'x' });
    for (const r of ['fin', 'rst', 'idle', 'active', 'eof', 'evicted'] as const) expect(st.ended[r]).toBeGreaterThan(0);
    expect(st.retransSkipped).toBeGreaterThan(0);
    // The first real table starts from nothing.
    const t = new FlowTable({ ...DEFAULT_FLOW_OPTIONS, source: 'x' }, () => {});
    expect(t.size).toBe(0);
    expect(t.stats.packets).toBe(0);
  });

  it('packet() follows a full connection and ends it fin after the grace period', () => {
    const { t, out } = table();
    fullConnection(t, 1000);
    expect(out).toHaveLength(0); // still in the FIN grace period
    t.advance(1000.08 + 5.01);
    expect(out).toHaveLength(1);
    const r = out[0]!;
    expect(r.client_ip).toBe('10.0.0.1');
    expect(r.client_port).toBe(40000);
    expect(r.server_ip).toBe('10.0.0.2');
    expect(r.server_port).toBe(443);
    expect(r.lengths.slice(0, 4)).toEqual([100, -1448, -552, 0]);
    expect(r.lengths).toHaveLength(30);
    expect(r.payload_packets).toBe(3);
    expect(r.end_reason).toBe('fin');
    expect(r.conn_state).toBe('SF');
    expect(r.history).toBe('ShADdFf'); // the server never sent a pure ACK: no 'a'
    expect(r.c2s_packets).toBe(5);
    expect(r.s2c_packets).toBe(4);
    expect(r.c2s_payload_bytes).toBe(100);
    expect(r.s2c_payload_bytes).toBe(2000);
    expect(r.c2s_bytes).toBe(5 * 40 + 100);
    expect(r.midstream).toBe(false);
    expect(r.first_ts).toBe(1000);
    expect(r.last_ts).toBeCloseTo(1000.08, 6);
    expect(r.duration).toBeCloseTo(0.08, 6);
    expect(r.community_id).toBe(communityId(4, [ip4('10.0.0.1')], 40000, [ip4('10.0.0.2')], 443));
  });

  it('packet() skips retransmitted payload by default and counts it', () => {
    const { t, out } = table();
    seg(t, 1, C, S, TCP_SYN, 0, 1);
    seg(t, 2, C, S, TCP_ACK, 100, 2);
    seg(t, 3, C, S, TCP_ACK, 100, 2); // retransmission: same sequence number
    seg(t, 4, C, S, TCP_ACK, 50, 102);
    t.flush('eof');
    expect(out[0]!.lengths.slice(0, 3)).toEqual([100, 50, 0]);
    expect(out[0]!.retrans_skipped).toBe(1);
    expect(out[0]!.history).toContain('T');
    expect(out[0]!.end_reason).toBe('eof');
    expect(t.stats.retransSkipped).toBe(1);
  });

  it('packet() counts every payload segment when skipRetransmissions is off', () => {
    const { t, out } = table({ skipRetransmissions: false });
    seg(t, 1, C, S, TCP_SYN, 0, 1);
    seg(t, 2, C, S, TCP_ACK, 100, 2);
    seg(t, 3, C, S, TCP_ACK, 100, 2);
    t.flush('eof');
    expect(out[0]!.lengths.slice(0, 3)).toEqual([100, 100, 0]);
    expect(out[0]!.retrans_skipped).toBe(0);
  });

  it('packet() treats sequence numbers modulo 2^32', () => {
    const { t, out } = table();
    seg(t, 1, C, S, TCP_ACK, 10, 0xfffffff0);
    seg(t, 2, C, S, TCP_ACK, 10, 0xfffffffa); // after
    seg(t, 3, C, S, TCP_ACK, 10, 0x00000004); // after, wrapped
    seg(t, 4, C, S, TCP_ACK, 10, 0xfffffffa); // before: retransmission
    t.flush('eof');
    expect(out[0]!.lengths.slice(0, 4)).toEqual([10, 10, 10, 0]);
  });

  it('packet() makes the first sender the client of a flow first seen mid-stream', () => {
    const { t, out } = table();
    seg(t, 1, S, C, TCP_ACK, 500, 1);
    seg(t, 2, C, S, TCP_ACK, 20, 1);
    t.flush('shutdown');
    const r = out[0]!;
    expect(r.client_ip).toBe('10.0.0.2');
    expect(r.client_port).toBe(443);
    expect(r.midstream).toBe(true);
    expect(r.lengths.slice(0, 2)).toEqual([500, -20]);
    expect(r.conn_state).toBe('OTH');
    expect(r.end_reason).toBe('shutdown');
  });

  it('packet() makes the receiver of a SYN+ACK the client when the SYN was not seen', () => {
    const { t, out } = table();
    seg(t, 1, S, C, TCP_SYN | TCP_ACK, 0, 1);
    seg(t, 2, C, S, TCP_ACK, 30, 1);
    t.flush('eof');
    expect(out[0]!.client_ip).toBe('10.0.0.1');
    expect(out[0]!.lengths[0]).toBe(30);
    expect(out[0]!.midstream).toBe(false);
  });

  it('packet() starts a new flow for a SYN after the flow closed (port reuse)', () => {
    const { t, out } = table();
    fullConnection(t, 10);
    seg(t, 11, C, S, TCP_SYN, 0, 90000); // within the grace period
    seg(t, 11.1, C, S, TCP_ACK, 7, 90001);
    t.flush('eof');
    expect(out).toHaveLength(2);
    expect(out[0]!.end_reason).toBe('fin');
    expect(out[0]!.payload_packets).toBe(3);
    expect(out[1]!.lengths[0]).toBe(7);
    expect(out[1]!.end_reason).toBe('eof');
  });

  it('flush() keeps fin for a flow that closed and was waiting out its grace period', () => {
    const { t, out } = table();
    fullConnection(t, 10);
    seg(t, 10.5, '10.0.0.7:5000', S, TCP_ACK, 5, 1);
    t.flush('eof');
    expect(out.map((r) => r.end_reason).sort()).toEqual(['eof', 'fin']);
  });

  it('keeps fin / rst for a closed flow that the idle timer reaches first (a gap in the capture, or idleTimeout <= finGrace)', () => {
    // Issue 9 item 9: the flow closed cleanly, but the next packet (or tick) comes after the idle timeout.
    const gap = table();
    fullConnection(gap.t, 10);
    seg(gap.t, 300, '10.0.0.7:5000', S, TCP_SYN, 0, 1);
    expect(gap.out.map((r) => r.end_reason)).toEqual(['fin']);
    const live = table({ idleTimeout: 2, finGrace: 5 });
    fullConnection(live.t, 10);
    seg(live.t, 10.1, '10.0.0.8:5000', S, TCP_SYN, 0, 1);
    seg(live.t, 10.2, '10.0.0.8:5000', S, TCP_RST, 0, 2);
    live.t.advance(20);
    expect(live.out.map((r) => r.end_reason).sort()).toEqual(['fin', 'rst']);
    // Port reuse after the idle timeout: the closed flow still ends fin.
    const reuse = table({ idleTimeout: 2, finGrace: 5 });
    fullConnection(reuse.t, 10);
    seg(reuse.t, 14, C, S, TCP_SYN, 0, 90000);
    expect(reuse.out.map((r) => r.end_reason)).toEqual(['fin']);
  });

  it('packet() ends a flow rst and marks a rejected attempt REJ', () => {
    const { t, out } = table();
    seg(t, 1, C, S, TCP_SYN, 0, 1);
    seg(t, 1.1, S, C, TCP_RST | TCP_ACK, 0, 0);
    t.advance(10);
    expect(out).toHaveLength(1);
    expect(out[0]!.end_reason).toBe('rst');
    expect(out[0]!.conn_state).toBe('REJ');
    expect(out[0]!.history).toBe('Sr');
  });

  it('packet() ends a flow idle after the idle timeout and starts a mid-stream flow', () => {
    const { t, out } = table();
    seg(t, 1, C, S, TCP_SYN, 0, 1);
    seg(t, 2, C, S, TCP_ACK, 10, 2);
    seg(t, 200, C, S, TCP_ACK, 10, 12);
    t.flush('eof');
    expect(out.map((r) => r.end_reason)).toEqual(['idle', 'eof']);
    expect(out[1]!.midstream).toBe(true);
  });

  it('advance() ends idle flows even when no packet arrives (live mode)', () => {
    const { t, out } = table({ idleTimeout: 30 });
    seg(t, 100, C, S, TCP_SYN, 0, 1);
    t.advance(120);
    expect(out).toHaveLength(0);
    t.advance(131);
    expect(out).toHaveLength(1);
    expect(out[0]!.end_reason).toBe('idle');
    expect(out[0]!.conn_state).toBe('S0');
    expect(t.size).toBe(0);
  });

  it('packet() writes an interim active record and keeps roles and sequence', () => {
    const { t, out } = table({ activeTimeout: 100 });
    seg(t, 0, C, S, TCP_SYN, 0, 1);
    let seq = 2;
    for (let ts = 10; ts <= 150; ts += 10) {
      seg(t, ts, C, S, TCP_ACK, 10, seq);
      seq += 10;
    }
    t.flush('eof');
    expect(out.map((r) => r.end_reason)).toEqual(['active', 'eof']);
    expect(out[0]!.payload_packets).toBe(10);
    expect(out[1]!.payload_packets).toBe(15);
    expect(out[1]!.client_ip).toBe('10.0.0.1');
    expect(out[1]!.first_ts).toBe(0);
  });

  it('packet() evicts the least recently seen flow at the table limit', () => {
    const { t, out } = table({ maxFlows: 2 });
    seg(t, 1, '10.0.0.1:1', S, TCP_SYN);
    seg(t, 2, '10.0.0.1:2', S, TCP_SYN);
    seg(t, 3, '10.0.0.1:1', S, TCP_ACK, 5, 1); // flow 1 is now the most recent
    seg(t, 4, '10.0.0.1:3', S, TCP_SYN);
    expect(out).toHaveLength(1);
    expect(out[0]!.client_port).toBe(2);
    expect(out[0]!.end_reason).toBe('evicted');
    expect(t.size).toBe(2);
  });

  it('packet() keeps flows on different VLANs apart', () => {
    const { t, out } = table();
    seg(t, 1, C, S, TCP_ACK, 5, 1, { vlan: 10 });
    seg(t, 1, C, S, TCP_ACK, 6, 1, { vlan: 20 });
    t.flush('eof');
    expect(out).toHaveLength(2);
    expect(out.map((r) => r.vlan).sort()).toEqual([10, 20]);
  });

  it('packet() keeps only the first L entries and pads to L', () => {
    const { t, out } = table({ length: 4 });
    for (let i = 0; i < 6; i++) seg(t, i, C, S, TCP_ACK, 10 + i, 1 + i * 100);
    t.flush('eof');
    expect(out[0]!.lengths).toEqual([10, 11, 12, 13]);
    const { t: t2, out: out2 } = table({ length: 4 });
    seg(t2, 1, C, S, TCP_ACK, 9, 1);
    t2.flush('eof');
    expect(out2[0]!.lengths).toEqual([9, 0, 0, 0]);
  });

  it('packet() follows thousands of concurrent flows without mixing them', () => {
    const { t, out } = table();
    for (let i = 0; i < 5000; i++) seg(t, 1, `10.1.${i >> 8}.${i & 255}:${1024 + i}`, S, TCP_SYN, 0, 1);
    for (let i = 0; i < 5000; i++) seg(t, 2, S, `10.1.${i >> 8}.${i & 255}:${1024 + i}`, TCP_ACK, i + 1, 1);
    expect(t.size).toBe(5000);
    t.flush('eof');
    expect(out).toHaveLength(5000);
    for (const r of out) expect(r.lengths[0]).toBe(-(r.client_port - 1024 + 1));
  });
});

describe('FlowTable end budget and stepped flush (bounded queues)', () => {
  /** `n` half-open connections from distinct client ports, one packet each, at time t0. */
  function synFlood(t: FlowTable, n: number, t0: number): void {
    for (let i = 0; i < n; i++) seg(t, t0 + i * 1e-6, `10.1.${(i >> 8) & 255}.${i & 255}:${1024 + (i % 1000)}`, S, TCP_SYN, 0, i);
  }

  it('advance() past the idle timeout ends at most the budget, says it is behind, and goes on after allowEnds()', () => {
    const { t, out } = table();
    synFlood(t, 1000, 100);
    t.allowEnds(300);
    t.advance(100 + DEFAULT_FLOW_OPTIONS.idleTimeout + 10);
    expect(out).toHaveLength(300);
    expect(t.behind).toBe(true);
    // Without a new budget nothing more ends, however often the clock moves.
    t.advance(100 + DEFAULT_FLOW_OPTIONS.idleTimeout + 20);
    expect(out).toHaveLength(300);
    t.allowEnds(300);
    t.advance(100 + DEFAULT_FLOW_OPTIONS.idleTimeout + 20);
    expect(out).toHaveLength(600);
    t.allowEnds(Infinity);
    t.advance(100 + DEFAULT_FLOW_OPTIONS.idleTimeout + 21);
    expect(out).toHaveLength(1000);
    expect(t.behind).toBe(false);
    expect(out.every((r) => r.end_reason === 'idle')).toBe(true);
    expect(t.size).toBe(0);
  });

  it('a packet after a clock jump sweeps within the budget; the rest follow at later packets once allowed', () => {
    const { t, out } = table();
    synFlood(t, 500, 100);
    t.allowEnds(100);
    seg(t, 100 + DEFAULT_FLOW_OPTIONS.idleTimeout + 5, C, S, TCP_SYN, 0, 1);
    expect(out).toHaveLength(100);
    t.allowEnds(1000);
    seg(t, 100 + DEFAULT_FLOW_OPTIONS.idleTimeout + 5.1, C, S, TCP_ACK, 0, 2);
    expect(out).toHaveLength(500);
    expect(t.size).toBe(1);
  });

  it('flush(reason, max) ends at most max flows per call, least recently seen first, and returns what is left', () => {
    const { t, out } = table();
    synFlood(t, 250, 100);
    expect(t.flush('eof', 100)).toBe(150);
    expect(out.map((r) => r.client_port)).toEqual(Array.from({ length: 100 }, (_, i) => 1024 + i));
    expect(t.flush('eof', 100)).toBe(50);
    expect(t.flush('eof', 100)).toBe(0);
    expect(out).toHaveLength(250);
    expect(t.stats.ended.eof).toBe(250);
  });

  it('flush(reason, max, shed) ends flows without payload (or all) without a record and counts them', () => {
    const { t, out } = table();
    synFlood(t, 10, 100);
    fullConnection(t, 200); // closed by FIN, waiting out its grace: keeps its reason
    seg(t, 201, '10.0.0.9:5000', S, TCP_ACK | TCP_PSH, 300, 1);
    expect(t.flush('shutdown', Infinity, 'no-payload')).toBe(0);
    expect(out.map((r) => [r.end_reason, r.payload_packets])).toEqual([
      ['fin', 3],
      ['shutdown', 1],
    ]);
    expect(t.stats.shed).toBe(10);
    expect(t.stats.ended).toMatchObject({ shutdown: 11, fin: 1 });
    synFlood(t, 5, 300);
    seg(t, 301, '10.0.0.9:5001', S, TCP_ACK | TCP_PSH, 300, 1);
    expect(t.flush('shutdown', Infinity, 'all')).toBe(0);
    expect(out).toHaveLength(2);
    expect(t.stats.shed).toBe(16);
  });
});
