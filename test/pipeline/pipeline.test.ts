import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AnomalyScorer } from '../../src/anomaly/scorer';
import type { Frame } from '../../src/capture/frame';
import { Classifier } from '../../src/classify/classifier';
import type { ClassifiedFlow } from '../../src/classify/verdict';
import { DEFAULT_FLOW_OPTIONS } from '../../src/flow/flowTable';
import { END_BUDGET, MAX_PENDING_FLOWS, Pipeline } from '../../src/pipeline/pipeline';
import { ACK, PSH, SYN, tcpFrame } from '../helpers/frames';

/**
 * The pipeline's bounds and deadlines (issue 9): what sits between the flow table and the sinks stays bounded
 * however many flows end at once, and a shutdown flush short of time skips the model or the payload-less flows.
 */

const FIXTURE = path.resolve(__dirname, '../fixtures/model/fixture.onnx');

const open: Classifier[] = [];
afterEach(async () => {
  for (const c of open.splice(0)) await c.close();
});

async function classifier(): Promise<Classifier> {
  const c = await Classifier.load({
    modelPath: FIXTURE, device: 'cpu', batchSize: 256, batchDeadlineMs: 5, unknownThreshold: 0.5, minPayloadPackets: 1, topK: 3, intraOpThreads: 1,
  });
  open.push(c);
  return c;
}

/** A pipeline whose sink keeps every record. */
function pipeline(c: Classifier | null): { p: Pipeline; out: ClassifiedFlow[] } {
  const out: ClassifiedFlow[] = [];
  const sink = { write: (b: ClassifiedFlow[]) => void out.push(...b), close: () => undefined };
  return { p: new Pipeline({ ...DEFAULT_FLOW_OPTIONS, source: 'test' }, c, [sink]), out };
}

/** Feeds `n` flows, one packet each (a SYN, or a data segment with `payload` bytes), at time ts, from 10.`net`.x.x. */
function feed(p: Pipeline, n: number, ts: number, payload = 0, net = 2): void {
  const frame = { buf: Buffer.alloc(0), off: 0, capLen: 0, wireLen: 0, ts, linkType: 1, ifIndex: 0 } as Frame;
  for (let i = 0; i < n; i++) {
    const data = tcpFrame({ src: `10.${net}.${(i >> 8) & 255}.${i & 255}`, dst: '10.9.9.9', sport: 1024 + (i % 5000), dport: 80, seq: i, flags: payload > 0 ? ACK | PSH : SYN, payload: Buffer.alloc(payload) });
    frame.buf = data;
    frame.capLen = data.length;
    frame.wireLen = data.length;
    p.onFrame(frame);
  }
}

describe('Pipeline', () => {
  it('a clock jump that makes every flow idle queues at most END_BUDGET records until settle()', async () => {
    const c = await classifier();
    const { p, out } = pipeline(c);
    feed(p, 3 * END_BUDGET, 1000, 50);
    // One packet two idle timeouts later: every flow is idle at once.
    feed(p, 1, 1000 + 2 * DEFAULT_FLOW_OPTIONS.idleTimeout, 50);
    expect(p.table.stats.ended.idle).toBe(END_BUDGET);
    expect(c.pending).toBeLessThanOrEqual(END_BUDGET);
    expect(p.table.behind).toBe(true);
    while (p.table.behind) {
      await p.settle();
      feed(p, 1, 1000 + 2 * DEFAULT_FLOW_OPTIONS.idleTimeout + 1, 50);
      expect(c.pending).toBeLessThanOrEqual(MAX_PENDING_FLOWS + END_BUDGET + 1);
    }
    await p.flush('eof');
    expect(p.table.stats.ended.idle).toBe(3 * END_BUDGET);
    expect(out).toHaveLength(3 * END_BUDGET + 1);
  });

  it('flush() past classifyUntil writes flows without the model, labelled unclassified', async () => {
    const { p, out } = pipeline(await classifier());
    feed(p, 100, 1000, 50);
    await p.flush('shutdown', { classifyUntil: 0 });
    expect(out).toHaveLength(100);
    expect(new Set(out.map((r) => r.verdict.label))).toEqual(new Set(['unclassified']));
    expect(p.skippedInference).toBe(100);
  });

  it('flush() past shedAfter ends flows without payload without a record and counts them', async () => {
    const { p, out } = pipeline(await classifier());
    feed(p, 40, 1000);
    feed(p, 10, 1000, 50, 3);
    await p.flush('shutdown', { shedAfter: 0 });
    expect(out).toHaveLength(10);
    expect(out.every((r) => r.flow.payload_packets === 1 && r.verdict.model_version !== '')).toBe(true);
    expect(p.table.stats.shed).toBe(40);
    expect(p.table.stats.ended.shutdown).toBe(50);
  });

  it('flush() past dropAfter ends every remaining flow without a record and counts them', async () => {
    const { p, out } = pipeline(await classifier());
    feed(p, 30, 1000, 50);
    await p.flush('shutdown', { dropAfter: 0 });
    expect(out).toHaveLength(0);
    expect(p.table.stats.shed).toBe(30);
  });

  it('with an anomaly model that holds flows for their context, a tick releases those whose hold is over, flush() the rest', async () => {
    const scorer = await AnomalyScorer.load({
      modelPath: path.resolve(__dirname, '../fixtures/anomaly/fixture-hold.onnx'), device: 'cpu', batchSize: 256, falsePositiveRate: null,
    });
    const out: ClassifiedFlow[] = [];
    const sink = { write: (b: ClassifiedFlow[]) => void out.push(...b), close: () => undefined };
    const p = new Pipeline({ ...DEFAULT_FLOW_OPTIONS, source: 'test' }, null, [sink], null, undefined, null, scorer);
    const idle = DEFAULT_FLOW_OPTIONS.idleTimeout;
    feed(p, 3, 1000, 50);
    // A packet an idle timeout later ends the three (last packet at 1000) and starts a fourth.
    feed(p, 1, 1000 + idle + 1, 50, 3);
    await p.settle();
    await new Promise((r) => setTimeout(r, 50));
    await scorer.drain();
    // Longer than the sink batch's delay (SINK_DELAY_MS).
    await new Promise((r) => setTimeout(r, 600));
    // Capture time so far is their own end (1000): held for the flows that end up to 5 s after them.
    expect(out).toHaveLength(0);
    expect(scorer.held).toBe(3);
    await p.tick(1000 + idle + 2);
    await scorer.drain();
    await new Promise((r) => setTimeout(r, 600));
    expect(out).toHaveLength(3);
    expect(out.every((r) => (r as { anomaly?: unknown }).anomaly !== null)).toBe(true);
    await p.flush('eof');
    expect(out).toHaveLength(4);
    expect(scorer.held).toBe(0);
    await scorer.close();
  });
});
