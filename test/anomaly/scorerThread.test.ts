import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

import { AnomalyScorer } from '../../src/anomaly/scorer';
import type { ScoredFlow } from '../../src/anomaly/scoredFlow';
import { loadScorer, ScorerThread, type FlowScorer } from '../../src/anomaly/scorerThread';
import { Verdict, type ClassifiedFlow } from '../../src/classify/verdict';
import { makeFlow } from '../classify/makeFlow';

const MODEL = path.resolve(__dirname, '../fixtures/anomaly/fixture.onnx');
const V = new Verdict('http', 0.99, [], 'm', 'classified');

function cf(lengths: number[], o: Record<string, unknown> = {}): ClassifiedFlow {
  return { flow: makeFlow(lengths, o), verdict: V };
}

/** A mix that exercises the context counters (repeated shapes and answers of one pair) and the plain features. */
function flows(): ClassifiedFlow[] {
  const out: ClassifiedFlow[] = [];
  for (let i = 0; i < 700; i++) {
    const pair = i % 7;
    const lengths = i % 3 === 0 ? [171, -179] : [(i % 50) + 1, -(i % 13) - 1, 40];
    out.push(
      cf(i % 11 === 0 ? [] : lengths, {
        client_ip: `10.0.0.${pair}`,
        server_port: 22 + (i % 2),
        first_ts: 1700000000 + i * 0.5,
        conn_state: i % 11 === 0 ? 'REJ' : 'SF',
        s2c_payload_bytes: (i % 4) * 100,
      }),
    );
  }
  return out;
}

async function scoreAll(s: FlowScorer, batches: ClassifiedFlow[][]): Promise<ScoredFlow[]> {
  const out: ScoredFlow[] = [];
  s.onResult = (b) => out.push(...b);
  for (const b of batches) s.submit(b);
  await s.drain();
  return out;
}

describe('ScorerThread (the anomaly scorer in a worker thread)', () => {
  it('gives the same scores, flags and counters as AnomalyScorer on this thread, in submission order', async () => {
    const all = flows();
    const batches = [all.slice(0, 5), all.slice(5, 300), [], all.slice(300)];
    const inline = await AnomalyScorer.load({ modelPath: MODEL, device: 'cpu', batchSize: 64, falsePositiveRate: null });
    const thread = await ScorerThread.load({ modelPath: MODEL, device: 'cpu', batchSize: 64, falsePositiveRate: null });
    expect(thread.threshold).toBe(inline.threshold);
    expect(thread.fpr).toBe(inline.fpr);
    expect(thread.modelInfo).toEqual(inline.modelInfo);
    const a = await scoreAll(inline, batches);
    const b = await scoreAll(thread, batches);
    expect(b.map((x) => x.flow)).toEqual(all.map((x) => x.flow));
    expect(b.map((x) => x.verdict)).toEqual(all.map((x) => x.verdict));
    expect(b.map((x) => x.anomaly)).toEqual(a.map((x) => x.anomaly));
    // The context counters made some flows anomalous and some not.
    expect(b.some((x) => x.anomaly!.anomaly)).toBe(true);
    expect(b.some((x) => !x.anomaly!.anomaly)).toBe(true);
    expect(thread.stats).toEqual(inline.stats);
    expect(thread.pending).toBe(0);
    await inline.close();
    await thread.close();
    expect(() => thread.submit([cf([1])])).toThrow(/after close/);
  });

  it('with a model that asks for a hold, hands on the same flows at the same steps as AnomalyScorer, and all of them at flush()', async () => {
    const hold = path.resolve(__dirname, '../fixtures/anomaly/fixture-hold.onnx');
    const all = flows().map((x) => {
      x.flow.last_ts = x.flow.first_ts + 1;
      return x;
    });
    const inline = await AnomalyScorer.load({ modelPath: hold, device: 'cpu', batchSize: 64, falsePositiveRate: null });
    const thread = await ScorerThread.load({ modelPath: hold, device: 'cpu', batchSize: 64, falsePositiveRate: null });
    const steps = async (s: FlowScorer): Promise<{ sizes: number[]; out: ScoredFlow[] }> => {
      const sizes: number[] = [];
      const out: ScoredFlow[] = [];
      s.onResult = (b) => {
        sizes.push(b.length);
        out.push(...b);
      };
      s.submit(all.slice(0, 300));
      s.submit(all.slice(300));
      await s.drain();
      expect(s.held).toBe(10); // the flows of the last 5 s (one every 0.5 s)
      expect(s.advance(all[699]!.flow.last_ts + 3)).toBe(true);
      await s.drain();
      s.flush();
      await s.drain();
      expect(s.held).toBe(0);
      return { sizes, out };
    };
    const a = await steps(inline);
    const b = await steps(thread);
    expect(b.sizes).toEqual(a.sizes);
    expect(b.sizes).toEqual([290, 400, 6, 4]);
    expect(b.out.map((x) => x.flow)).toEqual(all.map((x) => x.flow));
    expect(b.out.map((x) => x.anomaly)).toEqual(a.out.map((x) => x.anomaly));
    expect(thread.stats).toEqual(inline.stats);
    await inline.close();
    await thread.close();
  });

  it('refuses a model the contract refuses with the same one-line error as on this thread', async () => {
    const load = (thread: boolean): Promise<FlowScorer> =>
      loadScorer({ modelPath: MODEL, device: 'cpu', batchSize: 8, falsePositiveRate: 0.03, thread });
    const inline = await load(false).catch((e: Error) => e);
    const inThread = await load(true).catch((e: Error) => e);
    expect(inline).toBeInstanceOf(Error);
    expect(inThread).toBeInstanceOf(Error);
    expect((inThread as Error).name).toBe((inline as Error).name);
    expect((inThread as Error).message).toBe((inline as Error).message);
  });

  it('an error thrown by onResult comes back from drain(), and later batches still arrive', async () => {
    const s = await loadScorer({ modelPath: MODEL, device: 'cpu', batchSize: 8, falsePositiveRate: null, thread: true });
    let calls = 0;
    s.onResult = () => {
      calls++;
      if (calls === 1) throw new Error('sink broke');
    };
    s.submit([cf([1])]);
    s.submit([cf([2])]);
    await expect(s.drain()).rejects.toThrow('sink broke');
    expect(calls).toBe(2);
    await s.close();
  });
});
