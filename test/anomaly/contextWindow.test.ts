import { describe, expect, it } from 'vitest';

import { CONTEXT_COUNTERS, FlowContext, type ContextSource } from '../../src/anomaly/context';
import { ContextWindow } from '../../src/anomaly/contextWindow';

/** A flow of 10.0.0.1 to 10.0.0.9:80 that started at t and ended at end. */
function flow(t: number, end: number, o: Partial<ContextSource> = {}): ContextSource {
  return { client_ip: '10.0.0.1', server_ip: '10.0.0.9', server_port: 80, first_ts: t, last_ts: end, end_reason: 'fin', s2c_payload_bytes: 179, lengths: [171, -179], ...o };
}

/** Adds the flows one at a time, taking what each makes due, then everything at the end: [flow index, counters]. */
function run(w: ContextWindow<number>, flows: ContextSource[]): [number, number[]][] {
  const out: [number, number[]][] = [];
  const ctx = new Float64Array(CONTEXT_COUNTERS.length);
  const take = (all: boolean): void => {
    for (let i = w.next(ctx, all); i !== undefined; i = w.next(ctx, all)) out.push([i, [...ctx]]);
  };
  flows.forEach((f, i) => {
    w.add(i, f);
    take(false);
  });
  take(true);
  return out;
}

describe('ContextWindow', () => {
  it('with no hold, reads each flow right after it came: the counters of the flows before it (FlowContext.observe)', () => {
    const flows = [flow(100, 100.2), flow(100.1, 100.3), flow(100.1, 100.3, { s2c_payload_bytes: 5 }), flow(130, 131, { lengths: [517, -1448] })];
    const c = new FlowContext();
    const expected = flows.map((f) => {
      const out = new Float64Array(CONTEXT_COUNTERS.length);
      c.observe(f, out);
      return [...out];
    });
    const got = run(new ContextWindow<number>(0, 100), flows);
    expect(got.map((x) => x[0])).toEqual([0, 1, 2, 3]);
    got.forEach(([, ctx], i) => ctx.forEach((v, k) => expect(v).toBeCloseTo(expected[i]![k]!, 12)));
    expect(got[0]![1]).toEqual([0, 0, 0, 0]);
  });

  it('with a hold, counts the flows that ended up to `hold` seconds after a flow, not the flow itself, and keeps the order', () => {
    // Four connections opened at once (a password guesser's parallel tasks), then one of another client 20 s later,
    // then one more of the first.
    const flows = [flow(100, 100.5), flow(100, 100.6), flow(100, 100.7), flow(100, 100.8), flow(120, 120.5, { client_ip: '10.0.0.2' }), flow(160, 161)];
    const got = run(new ContextWindow<number>(5, 100), flows);
    expect(got.map((x) => x[0])).toEqual([0, 1, 2, 3, 4, 5]);
    // The first sees the three others (same start: weight 1 each) where it saw nothing without a hold.
    for (let i = 0; i < 4; i++) {
      expect(got[i]![1][0]).toBeCloseTo(3, 9); // ctx_pair_flows
      expect(got[i]![1][1]).toBeCloseTo(3, 9); // ctx_pair_same_shape
      expect(got[i]![1][2]).toBeCloseTo(3, 9); // ctx_pair_same_answer
    }
    expect(got[4]![1]).toEqual([0, 0, 0, 0]);
    // The last was read at the end of input: the four before it, 60 s away.
    expect(got[5]![1][0]).toBeCloseTo(4 * Math.exp(-60 / 60), 9);
  });

  it('releases a flow once a later record is `hold` seconds past its end, or advance() moves the clock there', () => {
    const w = new ContextWindow<number>(5, 100);
    const ctx = new Float64Array(CONTEXT_COUNTERS.length);
    w.add(0, flow(100, 101));
    w.add(1, flow(102, 105.9));
    expect(w.next(ctx, false)).toBeUndefined();
    expect(w.held).toBe(2);
    w.add(2, flow(103, 106));
    expect(w.next(ctx, false)).toBe(0);
    expect(w.next(ctx, false)).toBeUndefined();
    w.advance(111);
    expect(w.next(ctx, false)).toBe(1);
    expect(w.next(ctx, false)).toBe(2);
    expect(w.held).toBe(0);
  });

  it('holds at most maxHeld flows: beyond, the oldest is released at once and counted', () => {
    const w = new ContextWindow<number>(5, 2);
    const ctx = new Float64Array(CONTEXT_COUNTERS.length);
    w.add(0, flow(100, 100));
    w.add(1, flow(100, 100));
    expect(w.next(ctx, false)).toBeUndefined();
    w.add(2, flow(100, 100));
    expect(w.next(ctx, false)).toBe(0);
    expect(w.next(ctx, false)).toBeUndefined();
    expect(w.releasedEarly).toBe(1);
    expect(w.held).toBe(2);
  });

  it('does not count interim active records, and restarts capture time at endOfInput()', () => {
    const w = new ContextWindow<number>(5, 100);
    const got = run(w, [flow(100, 130, { end_reason: 'active' }), flow(100, 101), flow(100, 101)]);
    expect(got.map((x) => x[1][0])).toEqual([2, 1, 1].map((v) => expect.closeTo(v, 9)));
    w.endOfInput();
    // A file earlier in time than the one before: its flows wait for their own clock.
    const ctx = new Float64Array(CONTEXT_COUNTERS.length);
    w.add(9, flow(50, 51, { client_ip: '10.0.0.2' }));
    expect(w.next(ctx, false)).toBeUndefined();
  });
  it('with a retry hold, a flow that repeated an exchange waits longer and sees the next burst; the others keep the short hold', () => {
    // hydra's ssh module: each connection repeats the same attempt and refusal, 4 tasks in bursts about 33 s apart.
    const retry = { server_port: 22, lengths: [21, -21, 48, -52, 96, -64, 96, -64, 96, -64], s2c_payload_bytes: 265 };
    const burst = (t: number): ContextSource[] => [0, 1, 2, 3].map(() => flow(t, t + 3, retry));
    const other = flow(101, 102, { client_ip: '10.0.0.2' });
    const flows = [...burst(100), other, ...burst(133), flow(170, 171, { client_ip: '10.0.0.3' })];
    const got = run(new ContextWindow<number>(5, 100, undefined, 40, 100), flows);
    // The flow without a repeated exchange leaves after 5 s, before the first burst, which waited for the second.
    expect(got.map((x) => x[0]).slice(0, 2)).toEqual([4, 0]);
    const first = got.find((x) => x[0] === 0)![1];
    // ctx_pair_retries: its 3 siblings and the next burst (read from the value kept at the later start, 33 s away:
    // the siblings weigh exp(-66 / 300) each there, context.ts Decayed).
    expect(first[3]).toBeCloseTo(3 * Math.exp(-66 / 300) + 4 * Math.exp(-33 / 300), 9);
    // With the short hold alone, the first burst sees its 3 siblings and only the first record of the next burst
    // (the record that moved capture time past its hold, counted before the release).
    const short = run(new ContextWindow<number>(5, 100), flows).find((x) => x[0] === 0)![1];
    expect(short[3]).toBeCloseTo(3 * Math.exp(-66 / 300) + Math.exp(-33 / 300), 9);
    expect(got).toHaveLength(flows.length);
  });

  it('holds at most maxRetryHeld flows on the retry hold: beyond, the oldest is released at once and counted apart', () => {
    const retry = { lengths: [21, -21, 96, -64, 96, -64, 96, -64] };
    const w = new ContextWindow<number>(5, 100, undefined, 40, 2);
    const ctx = new Float64Array(CONTEXT_COUNTERS.length);
    w.add(0, flow(100, 100, retry));
    w.add(1, flow(100, 100, retry));
    w.add(2, flow(100, 100));
    expect(w.retryHeld).toBe(2);
    expect(w.next(ctx, false)).toBeUndefined();
    w.add(3, flow(100, 100, retry));
    expect(w.next(ctx, false)).toBe(0);
    expect(w.next(ctx, false)).toBeUndefined();
    expect(w.releasedEarlyRetry).toBe(1);
    expect(w.releasedEarly).toBe(0);
    expect(w.held).toBe(3);
    w.advance(106);
    expect(w.next(ctx, false)).toBe(2);
    expect(w.next(ctx, false)).toBeUndefined();
    w.advance(141);
    expect([w.next(ctx, false), w.next(ctx, false)]).toEqual([1, 3]);
  });

  it('reads a held flow from the counters as they are when it is released, also when its keys were dropped meanwhile', () => {
    // maxKeys 1: each new pair drops the other pair's keys. Flow 0 (pair A) is held while flow 1 (pair B) drops A's
    // keys and flow 2 (A again, 1 s later) makes them anew; flow 0 then reads the new entries, as a lookup of its keys
    // does (the entries count() kept for it were dropped), less its own weight as always.
    const w = new ContextWindow<number>(5, 100, 1);
    const ctx = new Float64Array(CONTEXT_COUNTERS.length);
    w.add(0, flow(100, 100.5));
    w.add(1, flow(100.5, 101, { client_ip: '10.0.0.2' }));
    w.add(2, flow(101, 101.5));
    expect(w.next(ctx, false)).toBeUndefined();
    w.advance(106);
    expect(w.next(ctx, false)).toBe(0);
    expect(ctx[0]).toBeCloseTo(Math.exp(-1 / 60) - Math.exp(-2 / 60), 12);
    expect(ctx[1]).toBeCloseTo(Math.exp(-1 / 300) - Math.exp(-2 / 300), 12);
    expect(ctx[2]).toBeCloseTo(Math.exp(-1 / 300) - Math.exp(-2 / 300), 12);
    expect(ctx[3]).toBe(0);
    // Flow 1's keys were dropped by flow 2: nothing to read.
    expect(w.next(ctx, false)).toBe(1);
    expect([...ctx]).toEqual([0, 0, 0, 0]);
    expect(w.evicted).toBe(6);
  });
});

describe('warmUpContextWindow()', () => {
  it('takes a throwaway window through every branch: keys dropped, both queues full, every flow released', async () => {
    const { warmUpContextWindow } = await import('../../src/anomaly/contextWindow');
    const r = warmUpContextWindow();
    expect(r.evicted).toBeGreaterThan(0);
    expect(r.releasedEarly).toBeGreaterThan(0);
    expect(r.releasedEarlyRetry).toBeGreaterThan(0);
    expect(r.released).toBe(24);
  });
});
