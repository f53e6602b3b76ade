import { describe, expect, it } from 'vitest';

import { CONTEXT_COUNTERS, FlowContext, repeatedExchanges, shapeOf, type ContextSource } from '../../src/anomaly/context';

function flow(t: number, lengths: number[], o: Partial<ContextSource> = {}): ContextSource {
  return { client_ip: '10.0.0.1', server_ip: '10.0.0.9', server_port: 80, first_ts: t, last_ts: t, end_reason: 'fin', s2c_payload_bytes: 179, lengths, ...o };
}

function observe(c: FlowContext, f: ContextSource): [number, number] {
  return observe3(c, f).slice(0, 2) as [number, number];
}

function observe3(c: FlowContext, f: ContextSource): [number, number, number] {
  return observeAll(c, f).slice(0, 3) as [number, number, number];
}

function observeAll(c: FlowContext, f: ContextSource): number[] {
  const out = new Float64Array(CONTEXT_COUNTERS.length);
  c.observe(f, out);
  return [...out];
}

describe('repeatedExchanges()', () => {
  it('counts the exchanges (client run, then the server run answering it) equal to the one before, both ways', () => {
    // hydra's ssh module: banner, key exchange, then the same attempt and the same refusal until sshd closes.
    const hydra = [23, -41, -1088, 904, 48, -524, 16, 44, -44, 60, -76, 84, -76, 84, -76, 84, -76, 84, -76, 84, -76, 0, 0];
    expect(repeatedExchanges(hydra, hydra.length)).toBe(4);
    // Runs are summed: 40+44 then -76 equals 84 then -76.
    expect(repeatedExchanges([84, -76, 40, 44, -76], 5)).toBe(1);
    // A different answer, a different request, a one-way run, or nothing after the padding: no repeat.
    expect(repeatedExchanges([84, -76, 84, -77, 85, -77], 6)).toBe(0);
    expect(repeatedExchanges([84, 84, 84], 3)).toBe(0);
    expect(repeatedExchanges([84, -76, 0, 84, -76], 5)).toBe(0);
    expect(repeatedExchanges([-41, 84, -76, 84, -76], 5)).toBe(1);
    expect(repeatedExchanges([84, -76, 84, -76], 2)).toBe(0); // only the first n lengths are read
  });
});

describe('shapeOf()', () => {
  it('bins every length an IP packet can carry as 1 + floor(2 * log2 |x|), with its sign', () => {
    const bad: number[] = [];
    for (let a = 1; a < 65536 + 40; a++) {
      const b = 1 + Math.floor(2 * Math.log2(a));
      if (shapeOf([a]) !== String.fromCharCode(64 + b) || shapeOf([-a]) !== String.fromCharCode(64 - b)) bad.push(a);
    }
    expect(bad).toEqual([]);
  });

  it('bins each length to a half octave with its direction, up to the zero padding', () => {
    expect(shapeOf([171, -179, 0, 0])).toBe(shapeOf([168, -175])); // 2^7.5 = 181 is the next bin edge
    expect(shapeOf([171, -179])).not.toBe(shapeOf([171, -190]));
    expect(shapeOf([171, -179])).not.toBe(shapeOf([171, 179]));
    expect(shapeOf([171, -179])).not.toBe(shapeOf([73, -179]));
    expect(shapeOf([171, -179])).not.toBe(shapeOf([171, -179, 40]));
    expect(shapeOf([])).toBe('');
  });
});

describe('FlowContext', () => {
  it('counts earlier flows of the same client and service, and those of the same shape, before adding the flow', () => {
    const c = new FlowContext();
    expect(observe(c, flow(100, [171, -179]))).toEqual([0, 0]);
    // The same shape one second later: each earlier flow weighs exp(-1/60) and exp(-1/300).
    const [pair, shape] = observe(c, flow(101, [170, -179]));
    expect(pair).toBeCloseTo(Math.exp(-1 / 60), 9);
    expect(shape).toBeCloseTo(Math.exp(-1 / 300), 9);
    // Another shape: the pair counts both, the shape none.
    expect(observe(c, flow(101, [517, -1448, -900]))[1]).toBe(0);
    // Another service or client: nothing.
    expect(observe(c, flow(101, [170, -179], { server_port: 8080 }))).toEqual([0, 0]);
    expect(observe(c, flow(101, [170, -179], { client_ip: '10.0.0.2' }))).toEqual([0, 0]);
  });

  it('counts earlier flows of the same client and service whose server sent as many payload bytes, in any packet order', () => {
    const c = new FlowContext();
    expect(observe3(c, flow(100, [23, -41, 84, -76], { s2c_payload_bytes: 2229 }))[2]).toBe(0);
    // The same refusal with two packets swapped on the wire: another shape, the same answer.
    const [, shape, answer] = observe3(c, flow(101, [-41, 23, 84, -76], { s2c_payload_bytes: 2229 }));
    expect(shape).toBe(0);
    expect(answer).toBeCloseTo(Math.exp(-1 / 300), 9);
    // Another answer size, or the same size from another service: nothing.
    expect(observe3(c, flow(101, [23, -41, 84, -76], { s2c_payload_bytes: 2230 }))[2]).toBe(0);
    expect(observe3(c, flow(101, [23, -41, 84, -76], { s2c_payload_bytes: 2229, server_port: 2222 }))[2]).toBe(0);
  });

  it('lets a password guesser\'s identical attempts add up, and forgets them with time', () => {
    const c = new FlowContext();
    let last: [number, number] = [0, 0];
    for (let i = 0; i < 300; i++) last = observe(c, flow(1000 + i * 0.1, [171, -179]));
    expect(last[1]).toBeGreaterThan(250);
    // An hour later the count has decayed to almost nothing.
    expect(observe(c, flow(4600, [171, -179]))[1]).toBeLessThan(0.01);
  });

  it('weighs flows written out of time order by their distance in time, either way', () => {
    const c = new FlowContext();
    observe(c, flow(10_000, [171, -179]));
    // A flow from an hour earlier (another capture file read later) barely sees it.
    expect(observe(c, flow(6400, [171, -179]))[1]).toBeLessThan(1e-5);
    // And is added with the weight it has at the latest start, not as a fresh count.
    expect(observe(c, flow(10_000, [171, -179]))[1]).toBeCloseTo(1, 4);
  });

  it('does not count interim active records (the final record counts the flow once)', () => {
    const c = new FlowContext();
    observe(c, flow(100, [171, -179], { end_reason: 'active' }));
    expect(observe(c, flow(100, [171, -179]))).toEqual([0, 0]);
  });

  it('counts earlier flows of the same client and service that repeated an exchange at least twice', () => {
    const c = new FlowContext();
    const retry = [23, -41, 84, -76, 84, -76, 84, -76];
    const once = [23, -41, 84, -76, 84, -76];
    expect(observeAll(c, flow(100, retry))[3]).toBe(0);
    // A flow that repeated only once does not count; the one before it did.
    expect(observeAll(c, flow(101, once))[3]).toBeCloseTo(Math.exp(-1 / 300), 9);
    expect(observeAll(c, flow(102, retry))[3]).toBeCloseTo(Math.exp(-2 / 300), 9);
    expect(observeAll(c, flow(102, retry, { server_port: 22 }))[3]).toBe(0);
  });

  it('keeps at most maxKeys keys per counter, dropping the least recently updated', () => {
    const c = new FlowContext(3);
    for (let i = 0; i < 5; i++) observe(c, flow(100, [10], { client_ip: `10.0.0.${i}` }));
    expect(c.evicted).toBe(6); // two pair keys, two shape keys and two answer keys (no flow repeated an exchange)
    expect(observe(c, flow(100, [10], { client_ip: '10.0.0.0' }))).toEqual([0, 0]);
    expect(observe(c, flow(100, [10], { client_ip: '10.0.0.4' }))[0]).toBe(1);
  });

  it('counts an update as a use: the key updated last is kept, the one left alone longest is dropped', () => {
    const c = new FlowContext(2);
    const at = (ip: string): ContextSource => flow(100, [10], { client_ip: ip });
    observe(c, at('10.0.0.1'));
    observe(c, at('10.0.0.2'));
    expect(observe(c, at('10.0.0.1'))[0]).toBe(1); // 10.0.0.1 updated again: now the younger of the two
    observe(c, at('10.0.0.3')); // a third key: 10.0.0.2 goes
    expect(c.evicted).toBe(3); // one pair key, one shape key, one answer key
    expect(observe(c, at('10.0.0.1'))[0]).toBe(2); // kept, with both of its flows
    expect(observe(c, at('10.0.0.2'))[0]).toBe(0); // dropped
  });

  it('keeps and drops the keys a text-keyed LRU would: the same counters, at count() and read later, and the same evictions', () => {
    // The counters as they were keyed before round perf30: one text per key (`pair`, `pair shape`, `pair bytes`), the
    // recency order a Map's insertion order, a read looking each key up by its text.
    class TextCounter {
      readonly m = new Map<string, { t: number; v: number }>();
      evicted = 0;
      constructor(private readonly max: number) {}
      bump(key: string, t: number, tau: number): void {
        let d = this.m.get(key);
        if (d !== undefined) this.m.delete(key);
        else d = { t, v: -0 };
        if (t >= d.t) {
          d.v = d.v * Math.exp(-(t - d.t) / tau) + 1;
          d.t = t;
        } else d.v += Math.exp(-(d.t - t) / tau);
        this.m.set(key, d);
        if (this.m.size > this.max) {
          this.m.delete(this.m.keys().next().value!);
          this.evicted++;
        }
      }
      value(key: string, t: number, tau: number, self: boolean): number {
        const d = this.m.get(key);
        if (d === undefined) return 0;
        let v = d.v * Math.exp(-Math.abs(t - d.t) / tau);
        if (self) v -= Math.exp((-2 * Math.max(0, d.t - t)) / tau);
        return v > 1e-9 ? v : 0;
      }
    }
    let seed = 11;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const shapes = [[100, -200], [10, -20, 10, -20, 10, -20], [50], [60, -70, 60, -70, 60, -70], [], [300, -65535, 10]];
    let dropped = 0;
    for (const max of [0, 1, 2, 3, 5, 8, 30]) {
      const c = new FlowContext(max);
      const ref = { pair: new TextCounter(max), shape: new TextCounter(max), answer: new TextCounter(max), retries: new TextCounter(max) };
      const waiting: { f: ContextSource; k: ReturnType<FlowContext['keysOf']> }[] = [];
      const out = new Float64Array(CONTEXT_COUNTERS.length);
      const check = (f: ContextSource, k: ReturnType<FlowContext['keysOf']>): void => {
        c.read(f, k, out);
        const pair = `${f.client_ip} ${f.server_ip} ${f.server_port}`;
        const counted = f.end_reason !== 'active';
        const retry = counted && repeatedExchanges(f.lengths, f.lengths.length) >= 2;
        expect([...out]).toEqual([
          ref.pair.value(pair, f.first_ts, 60, counted),
          ref.shape.value(`${pair} ${shapeOf(f.lengths)}`, f.first_ts, 300, counted),
          ref.answer.value(`${pair} ${f.s2c_payload_bytes}`, f.first_ts, 300, counted),
          ref.retries.value(pair, f.first_ts, 300, retry),
        ]);
      };
      for (let i = 0; i < 600; i++) {
        const lengths = [...shapes[rand(shapes.length)]!, 0, 0];
        const f = flow(1000 + i * 0.7 - rand(5), lengths, {
          client_ip: `10.0.0.${rand(3)}`,
          server_port: [80, 22][rand(2)]!,
          s2c_payload_bytes: [0, 179, 200, -0, 0.5][rand(5)]!,
          end_reason: rand(10) === 0 ? 'active' : 'fin',
        });
        const k = c.keysOf(f);
        c.count(f, k);
        if (f.end_reason !== 'active') {
          const pair = `${f.client_ip} ${f.server_ip} ${f.server_port}`;
          ref.pair.bump(pair, f.first_ts, 60);
          ref.shape.bump(`${pair} ${shapeOf(f.lengths)}`, f.first_ts, 300);
          ref.answer.bump(`${pair} ${f.s2c_payload_bytes}`, f.first_ts, 300);
          if (repeatedExchanges(f.lengths, f.lengths.length) >= 2) ref.retries.bump(pair, f.first_ts, 300);
        }
        waiting.push({ f, k });
        // Read some flows at once, others after more flows were counted (their keys perhaps dropped, or back anew).
        while (waiting.length > rand(6)) {
          const w = waiting.splice(rand(waiting.length), 1)[0]!;
          check(w.f, w.k);
        }
        expect(c.evicted).toBe(ref.pair.evicted + ref.shape.evicted + ref.answer.evicted + ref.retries.evicted);
      }
      dropped += c.evicted;
    }
    expect(dropped).toBeGreaterThan(1000);
  });
});
