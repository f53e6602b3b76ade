import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

import { MAX_HELD } from '../../src/anomaly/contextWindow';
import { AnomalyScorer, round6 } from '../../src/anomaly/scorer';
import type { ScoredFlow } from '../../src/anomaly/scoredFlow';
import { Verdict, type ClassifiedFlow } from '../../src/classify/verdict';
import { makeFlow } from '../classify/makeFlow';

const MODEL = path.resolve(__dirname, '../fixtures/anomaly/fixture.onnx');
const V = new Verdict('http', 0.99, [], 'm', 'classified');

function cf(lengths: number[], o: Record<string, unknown> = {}): ClassifiedFlow {
  return { flow: makeFlow(lengths, o), verdict: V };
}

async function scorer(fpr: number | null = null, batchSize = 256, modelPath = MODEL): Promise<{ s: AnomalyScorer; out: ScoredFlow[][] }> {
  const s = await AnomalyScorer.load({ modelPath, device: 'cpu', batchSize, falsePositiveRate: fpr });
  const out: ScoredFlow[][] = [];
  s.onResult = (b) => out.push(b);
  return { s, out };
}

describe('round6()', () => {
  it('gives Number(x.toPrecision(6)) for float32 scores across their range, next to powers of ten, and anything else', () => {
    const ref = (x: number): number => (Number.isFinite(x) ? Number(x.toPrecision(6)) : x);
    const f32 = new Float32Array(1);
    const bits = new Uint32Array(f32.buffer);
    const bitsOf = (x: number): number => ((f32[0] = x), bits[0]!);
    const values: number[] = [0, -0, NaN, Infinity, -Infinity, 0.1, 1 / 3, 5e-324, 1e300, 999999.5, 99999.95, 0.5758445262908936];
    for (let b = bitsOf(1e-7); b <= bitsOf(1e7); b += 4099) values.push(((bits[0] = b), f32[0]!));
    for (let e = -6; e <= 6; e++) {
      const m = bitsOf(10 ** e);
      for (let b = m - 20000; b <= m + 20000; b++) values.push(((bits[0] = b), f32[0]!));
    }
    let differ = 0;
    for (const x of values) {
      if (!Object.is(round6(x), ref(x))) differ++;
      if (!Object.is(round6(-x), ref(-x))) differ++;
    }
    expect(values.length).toBeGreaterThan(600_000);
    expect(differ).toBe(0);
  });
});

describe('AnomalyScorer', () => {
  it('scores every flow with the model, flags those above the threshold of the rate, and records the rate', async () => {
    const { s, out } = await scorer();
    const plain = cf([517, -1448]);
    const rejected = cf([], { conn_state: 'REJ' });
    s.submit([plain, rejected]);
    await s.drain();
    expect(out).toHaveLength(1);
    const [a, b] = out[0]!;
    expect(a!.flow).toBe(plain.flow);
    expect(a!.verdict).toBe(V);
    // fixture score = 10 * REJ + same-shape count + log(1 + |first length|) / 100
    expect(a!.anomaly!.score).toBeCloseTo(Math.log(518) / 100, 5);
    expect(a!.anomaly).toMatchObject({ anomaly: false, fpr: 0.01 });
    expect(b!.anomaly).toMatchObject({ score: 10, anomaly: true, fpr: 0.01 });
    expect(s.stats).toMatchObject({ batches: 1, flows: 2, anomalies: 1, errors: 0 });
    expect(s.threshold).toBe(5);
    await s.close();
  });

  it('feeds the model the context of the flows scored before (repetitions of one shape add up)', async () => {
    const { s, out } = await scorer();
    const batch = Array.from({ length: 12 }, (_, i) => cf([171, -179], { first_ts: 1700000000 + i * 0.01 }));
    s.submit(batch.slice(0, 5));
    s.submit(batch.slice(5));
    await s.drain();
    const scores = out.flat().map((x) => x.anomaly!.score);
    expect(scores[0]).toBeLessThan(0.1);
    expect(scores[11]).toBeGreaterThan(10.5);
    expect(scores.every((x, i) => i === 0 || x > scores[i - 1]!)).toBe(true);
    // Flagged once more than 5 earlier flows had the same shape (threshold 5 at the default 1%).
    expect(out.flat().map((x) => x.anomaly!.anomaly)).toEqual(scores.map((x) => x > 5));
    await s.close();
  });

  it('uses the threshold of another stored rate when asked, and refuses a rate the model has none for', async () => {
    const { s, out } = await scorer(0.05);
    s.submit([cf([], { first_ts: 1, client_ip: 'a' }), ...Array.from({ length: 4 }, () => cf([40], { client_ip: 'b' }))]);
    await s.drain();
    expect(s.fpr).toBe(0.05);
    // b's flows score 0, 1, 2, 3 (+0.04): above the 5% threshold of 2 from the third one.
    expect(out[0]!.map((x) => [x.anomaly!.anomaly, x.anomaly!.fpr])).toEqual([[false, 0.05], [false, 0.05], [false, 0.05], [true, 0.05], [true, 0.05]]);
    await s.close();
    await expect(scorer(0.03)).rejects.toThrow(/anomaly.falsePositiveRate 0.03 is not one of them/);
  });

  it('flags a flow to a port with a threshold of its own above that threshold, other flows above the global one', async () => {
    // fixture-ports.onnx: port 3389 -> 20 at 1%, port 445 -> 12 at 5% only; global 5 (1%) and 2 (5%).
    const ports = path.resolve(__dirname, '../fixtures/anomaly/fixture-ports.onnx');
    const flows = (): ClassifiedFlow[] => [3389, 445, 80].map((p) => cf([], { conn_state: 'REJ', server_port: p }));
    const one = await scorer(null, 256, ports);
    expect([...one.s.portThresholds]).toEqual([[3389, 20]]);
    one.s.submit(flows());
    await one.s.drain();
    // Each scores 10: below port 3389's 20, above the global 5 for 445 (no 1% threshold of its own) and 80.
    expect(one.out[0]!.map((x) => [x.anomaly!.score, x.anomaly!.anomaly])).toEqual([[10, false], [10, true], [10, true]]);
    await one.s.close();
    const five = await scorer(0.05, 256, ports);
    expect([...five.s.portThresholds]).toEqual([[445, 12]]);
    five.s.submit(flows());
    await five.s.drain();
    expect(five.out[0]!.map((x) => x.anomaly!.anomaly)).toEqual([true, false, true]);
    await five.s.close();
  });

  it('splits a batch larger than its buffer into several inference calls, keeping the order', async () => {
    const { s, out } = await scorer(null, 3);
    const batch = Array.from({ length: 8 }, (_, i) => cf([i + 1], { client_ip: `10.0.0.${i}` }));
    s.submit(batch);
    await s.drain();
    expect(out).toHaveLength(1);
    expect(out[0]!.map((x) => x.flow)).toEqual(batch.map((x) => x.flow));
    expect(out[0]!.map((x) => x.anomaly!.score)).toEqual(batch.map((_, i) => Number((Math.log(i + 2) / 100).toPrecision(6))));
    await s.close();
  });

  it('with a model that asks for a hold, scores each flow once capture time is past it, with the flows that ended after it', async () => {
    const hold = path.resolve(__dirname, '../fixtures/anomaly/fixture-hold.onnx');
    const { s, out } = await scorer(null, 2, hold);
    expect(s.modelInfo.contextHold).toBe(5);
    const t = 1700000000;
    // Four parallel connections with one shape, then another client's flow 10 s later, then one more after 2 s.
    const burst = Array.from({ length: 4 }, (_, i) => cf([171, -179], { first_ts: t, last_ts: t + 0.5 + i * 0.1 }));
    const later = cf([40], { client_ip: '192.0.2.99', first_ts: t + 10, last_ts: t + 10 });
    const last = cf([40], { client_ip: '192.0.2.98', first_ts: t + 12, last_ts: t + 12 });
    s.submit(burst);
    await s.drain();
    expect(out).toEqual([[]]);
    expect(s.held).toBe(4);
    expect(s.pending).toBe(0);
    s.submit([later, last]);
    await s.drain();
    // The burst came out with the second batch, in order, each counting the three others (score 3 + log(172) / 100).
    expect(out[1]!.map((x) => x.flow)).toEqual(burst.map((x) => x.flow));
    for (const x of out[1]!) expect(x.anomaly!.score).toBeCloseTo(3 + Math.log(172) / 100, 4);
    expect(s.held).toBe(2);
    // Capture time moves on without a record (live): `later` is due, `last` (12 + 5 > 16) not yet.
    expect(s.advance(t + 16)).toBe(true);
    await s.drain();
    expect(out[2]!.map((x) => x.flow)).toEqual([later.flow]);
    s.flush();
    await s.drain();
    expect(out[3]!.map((x) => x.flow)).toEqual([last.flow]);
    expect(s.held).toBe(0);
    expect(s.advance(t + 100)).toBe(false);
    expect(s.stats).toMatchObject({ batches: 2, flows: 6, errors: 0 });
    await s.close();
  });

  it('counts the flows it had to score before their hold was over because too many were waiting', async () => {
    const { s, out } = await scorer(null, 256, path.resolve(__dirname, '../fixtures/anomaly/fixture-hold.onnx'));
    const t = 1700000000;
    // MAX_HELD + 10 flows ending in the same second: none is due, so the 10 oldest go out early.
    const n = MAX_HELD + 10;
    s.submit(Array.from({ length: n }, (_, i) => cf([171, -179], { client_port: 1024 + (i % 60000), first_ts: t, last_ts: t + 0.5 })));
    await s.drain();
    expect(out.flat()).toHaveLength(10);
    expect(s.held).toBe(MAX_HELD);
    expect(s.stats.heldEarly).toBe(10);
    expect(s.stats.contextEvicted).toBe(0);
    await s.close();
    expect(out.flat()).toHaveLength(n);
    expect(s.stats.heldEarly).toBe(10);
  });

  it('scores the flows still held at close()', async () => {
    const { s, out } = await scorer(null, 256, path.resolve(__dirname, '../fixtures/anomaly/fixture-hold.onnx'));
    s.submit([cf([171, -179])]);
    await s.drain();
    expect(out.flat()).toHaveLength(0);
    await s.close();
    expect(out.flat()).toHaveLength(1);
  });

  it('hands on an empty batch, and refuses work after close()', async () => {
    const { s, out } = await scorer();
    s.submit([]);
    await s.drain();
    expect(out).toEqual([[]]);
    await s.close();
    expect(() => s.submit([cf([1])])).toThrow(/after close/);
  });
});
