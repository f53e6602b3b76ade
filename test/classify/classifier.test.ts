import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

import { Classifier, CLASSIFY_ERROR, DEFAULT_UNKNOWN_THRESHOLD, ModelContractError, NO_PAYLOAD, type ClassifierOptions } from '../../src/classify/classifier';
import type { ClassifiedFlow, Verdict } from '../../src/classify/verdict';
import { FLOWS_PER_ROW_BATCH } from '../../src/classify/verdictMemo';
import { mulberry32 } from '../../bench/synth';
import { KNOWN_FLOWS, SHIPPED_MODEL, UNKNOWN_THRESHOLD } from '../helpers/shippedModel';
import { AMBIGUOUS, DOWNLOAD, INTERACTIVE, makeFlow, UPLOAD } from './makeFlow';

const MODELS = path.resolve(__dirname, '../fixtures/model');
const FIXTURE = path.join(MODELS, 'fixture.onnx');

const open: Classifier[] = [];
afterEach(async () => {
  for (const c of open.splice(0)) await c.close();
});

function options(over: Partial<ClassifierOptions> = {}): ClassifierOptions {
  return {
    modelPath: FIXTURE,
    device: 'cpu',
    batchSize: 256,
    batchDeadlineMs: 5,
    unknownThreshold: 0.5,
    minPayloadPackets: 1,
    topK: 3,
    intraOpThreads: 1,
    // The batching tests below count rows and flows without the verdict memo; 'Classifier verdict memo' turns it on.
    verdictCache: 0,
    ...over,
  };
}

async function load(over: Partial<ClassifierOptions> = {}): Promise<{ c: Classifier; batches: ClassifiedFlow[][] }> {
  const c = await Classifier.load(options(over));
  open.push(c);
  const batches: ClassifiedFlow[][] = [];
  c.onResult = (b) => batches.push(b);
  return { c, batches };
}

async function classify(lengths: number[][], over: Partial<ClassifierOptions> = {}): Promise<ClassifiedFlow[]> {
  const { c, batches } = await load(over);
  for (const l of lengths) c.submit(makeFlow(l));
  await c.drain();
  return batches.flat();
}

describe('Classifier verdicts', () => {
  it('labels the fixture shapes as the fixture model defines them', async () => {
    const out = await classify([UPLOAD, DOWNLOAD, INTERACTIVE]);
    expect(out.map((r) => r.verdict.label)).toEqual(['bulk-upload', 'bulk-download', 'interactive']);
    expect(out[0]!.verdict.confidence).toBeGreaterThan(0.99);
    expect(out[0]!.verdict.model_version).toBe('fixture-1');
  });

  it('keeps the top-k classes, best first, with their probabilities', async () => {
    const [r] = await classify([INTERACTIVE], { topK: 2 });
    const topk = r!.verdict.topk;
    expect(topk.map((s) => s.label)).toEqual(['interactive', expect.any(String)]);
    expect(topk[0]!.p).toBe(r!.verdict.confidence);
    expect(topk[0]!.p).toBeGreaterThan(topk[1]!.p);
    const all = (await classify([INTERACTIVE], { topK: 10 }))[0]!.verdict.topk;
    expect(all).toHaveLength(3); // k is capped at the number of classes
    expect(all.reduce((s, x) => s + x.p, 0)).toBeCloseTo(1, 5);
  });

  it("labels 'unknown' below the threshold and keeps the top-k either way", async () => {
    const [low] = await classify([AMBIGUOUS]);
    expect(low!.verdict.label).toBe('unknown');
    expect(low!.verdict.confidence).toBeCloseTo(0.484, 3);
    expect(low!.verdict.topk.map((s) => s.label).sort()).toEqual(['bulk-download', 'bulk-upload', 'interactive']);
    const [passes] = await classify([AMBIGUOUS], { unknownThreshold: 0.4 });
    expect(['bulk-upload', 'bulk-download']).toContain(passes!.verdict.label);
  });

  it("applies the model's unknown rule: its background classes, and its own threshold unless the config sets one", async () => {
    const BG = path.join(MODELS, 'fixture-background.onnx');
    // `interactive` is a background class there: its flows are 'unknown' with the class kept in top-k
    const { c } = await load({ modelPath: BG, unknownThreshold: null });
    expect(c.unknownThreshold).toBe(0.3);
    const out = await classify([UPLOAD, INTERACTIVE, AMBIGUOUS], { modelPath: BG, unknownThreshold: null });
    expect(out.map((r) => r.verdict.label)).toEqual(['bulk-upload', 'unknown', expect.stringMatching(/^bulk-/)]);
    expect(out[1]!.verdict.topk[0]!.label).toBe('interactive');
    // the config's threshold wins over the model's: 0.5 turns the ambiguous flow (top p ~0.48) unknown again
    const strict = await classify([AMBIGUOUS], { modelPath: BG, unknownThreshold: 0.5 });
    expect(strict[0]!.verdict.label).toBe('unknown');
    // a model without the key, and no config value: the default
    const { c: plain } = await load({ unknownThreshold: null });
    expect(plain.unknownThreshold).toBe(DEFAULT_UNKNOWN_THRESHOLD);
  });

  it("answers 'no-payload' without the model below minPayloadPackets", async () => {
    const out = await classify([[], [100], [100, -200, 300], UPLOAD], { minPayloadPackets: 3 });
    // Three payload packets reach the model (small mean size: interactive); fewer do not.
    expect(out.map((r) => r.verdict.label)).toEqual([NO_PAYLOAD, NO_PAYLOAD, 'interactive', 'bulk-upload']);
    expect(out[0]!.verdict).toEqual({ label: NO_PAYLOAD, confidence: 0, topk: [], model_version: '', status: 'no-payload' });
  });

  it('runs no model at all for a batch of no-payload flows, still answering asynchronously', async () => {
    const { c, batches } = await load({ batchSize: 2 });
    c.submit(makeFlow([]));
    c.submit(makeFlow([]));
    expect(batches).toHaveLength(0); // never inside submit()
    await c.drain();
    expect(batches.flat().map((r) => r.verdict.label)).toEqual([NO_PAYLOAD, NO_PAYLOAD]);
  });

  it("pads or truncates the record's lengths to the model's sequence length", async () => {
    // The L = 20 model sees only the first 20 entries: 20 uploads then 10 big downloads reads as an upload.
    const mixed = [...new Array<number>(20).fill(1448), ...new Array<number>(10).fill(-60000)];
    const l20 = await classify([mixed], { modelPath: path.join(MODELS, 'fixture-l20.onnx') });
    const l30 = await classify([mixed]);
    expect(l20[0]!.verdict.label).toBe('bulk-upload');
    expect(l30[0]!.verdict.label).toBe('bulk-download');
    // A record shorter than the model's L (lengths of 5 entries) is zero padded.
    const short = makeFlow(new Array<number>(5).fill(-1448));
    short.lengths = short.lengths.slice(0, 5);
    const { c, batches } = await load();
    c.submit(short);
    await c.drain();
    expect(batches[0]![0]!.verdict.label).toBe('bulk-download');
  });

  it('classifies a flow the same whatever else is in its batch (no stale rows from the reused buffer)', async () => {
    const alone = (await classify([INTERACTIVE]))[0]!.verdict;
    const { c, batches } = await load({ batchSize: 4 });
    for (const l of [UPLOAD, UPLOAD, UPLOAD, UPLOAD]) c.submit(makeFlow(l)); // fills every row with 1448s
    await c.drain();
    const short = makeFlow([50, -50]);
    c.submit(makeFlow(INTERACTIVE));
    c.submit(short);
    await c.drain();
    expect(batches[1]![0]!.verdict).toEqual(alone);
    expect(batches[1]![1]!.verdict.label).toBe('interactive');
  });
});

describe('Classifier batching', () => {
  it('closes a batch when batchSize flows are queued, without waiting for the deadline', async () => {
    const { c, batches } = await load({ batchSize: 4, batchDeadlineMs: 60_000 });
    for (let i = 0; i < 8; i++) c.submit(makeFlow(UPLOAD));
    expect(c.pending).toBe(8);
    await new Promise((r) => setTimeout(r, 200));
    expect(batches.map((b) => b.length)).toEqual([4, 4]);
    expect(c.pending).toBe(0);
    c.submit(makeFlow(UPLOAD)); // the third batch waits for its (long) deadline or drain()
    await new Promise((r) => setTimeout(r, 50));
    expect(batches).toHaveLength(2);
    expect(c.pending).toBe(1);
    await c.drain();
    expect(batches.map((b) => b.length)).toEqual([4, 4, 1]);
  });

  it('closes a batch on the deadline after its first flow', async () => {
    const { c, batches } = await load({ batchSize: 1000, batchDeadlineMs: 20 });
    c.submit(makeFlow(UPLOAD));
    c.submit(makeFlow(DOWNLOAD));
    await new Promise((r) => setTimeout(r, 5));
    c.submit(makeFlow(INTERACTIVE));
    expect(batches).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 150));
    expect(batches.map((b) => b.map((r) => r.verdict.label))).toEqual([['bulk-upload', 'bulk-download', 'interactive']]);
    expect(c.stats.batches).toBe(1);
    // One batch of >= 20 ms: in a bucket starting at 10 ms or later (the histogram keeps buckets, not values).
    expect(await c.latency.count()).toBe(1);
    expect((await c.latency.percentilesMs()).p50).toBeGreaterThanOrEqual(10);
  });

  it('without a deadline (offline runs) closes a batch only when full or on drain, whatever the time', async () => {
    const { c, batches } = await load({ batchSize: 4, batchDeadlineMs: null });
    c.submit(makeFlow(UPLOAD));
    c.submit(makeFlow(DOWNLOAD));
    await new Promise((r) => setTimeout(r, 60));
    expect(batches).toHaveLength(0);
    expect(c.pending).toBe(2);
    c.submit(makeFlow(INTERACTIVE));
    c.submit(makeFlow(UPLOAD));
    c.submit(makeFlow(DOWNLOAD));
    await new Promise((r) => setTimeout(r, 60));
    expect(batches.map((b) => b.length)).toEqual([4]);
    await c.drain();
    expect(batches.map((b) => b.length)).toEqual([4, 1]);
    expect(c.stats.batches).toBe(2);
  });

  it('rejects a negative deadline with a one-line error', async () => {
    await expect(Classifier.load(options({ batchDeadlineMs: -1 }))).rejects.toThrow(/batchDeadlineMs must be a number >= 0 or null, not -1/);
  });

  it('delivers verdicts in submission order across many batches, one onResult call per batch', async () => {
    const { c, batches } = await load({ batchSize: 7, batchDeadlineMs: 1 });
    const flows = Array.from({ length: 100 }, (_, i) => makeFlow(i % 3 === 0 ? UPLOAD : i % 3 === 1 ? DOWNLOAD : []));
    for (const [i, f] of flows.entries()) {
      c.submit(f);
      if (i % 10 === 0) await new Promise((r) => setTimeout(r, 2)); // let some deadlines fire mid-stream
    }
    await c.drain();
    const out = batches.flat();
    expect(out.map((r) => r.flow)).toEqual(flows);
    expect(out.every((r, i) => r.flow === flows[i])).toBe(true);
    expect(out.map((r) => r.verdict.label)).toEqual(flows.map((_, i) => ['bulk-upload', 'bulk-download', NO_PAYLOAD][i % 3]));
    expect(batches.every((b) => b.length >= 1 && b.length <= 7)).toBe(true);
    expect(c.stats.flows).toBe(100);
    expect(c.stats.batches).toBe(batches.length);
    const { p50, p99 } = await c.latency.percentilesMs();
    expect(p99).toBeGreaterThanOrEqual(p50);
    expect(await c.latency.count()).toBe(batches.length);
  });

  it('hands an onResult error to the next drain() and keeps classifying', async () => {
    const { c } = await load({ batchSize: 1 });
    const seen: string[] = [];
    c.onResult = (b) => {
      seen.push(b[0]!.verdict.label);
      if (seen.length === 1) throw new Error('sink is full');
    };
    c.submit(makeFlow(UPLOAD));
    c.submit(makeFlow(DOWNLOAD));
    await expect(c.drain()).rejects.toThrow('sink is full');
    expect(seen).toEqual(['bulk-upload', 'bulk-download']);
    await expect(c.drain()).resolves.toBeUndefined();
  });

  it('refuses submit() after close() and close() drains first', async () => {
    const { c, batches } = await load({ batchDeadlineMs: 60_000 });
    c.submit(makeFlow(UPLOAD));
    await c.close();
    expect(batches.flat()).toHaveLength(1);
    expect(() => c.submit(makeFlow(UPLOAD))).toThrow(/after close/);
    await c.close(); // twice is harmless
  });

  it('validates its options with messages that name the option', async () => {
    await expect(Classifier.load(options({ batchSize: 0 }))).rejects.toThrow('Classifier: batchSize must be an integer >= 1, not 0');
    await expect(Classifier.load(options({ unknownThreshold: 2 }))).rejects.toThrow('unknownThreshold must be from 0 to 1');
    await expect(Classifier.load(options({ device: 'gpu' as 'cpu' }))).rejects.toThrow("device must be 'auto', 'cpu' or 'cuda', not 'gpu'");
  });
});

describe('Classifier devices', () => {
  function recorder(): { warn: string[]; info: string[]; logger: { warn(m: string): void; info(m: string): void } } {
    const warn: string[] = [];
    const info: string[] = [];
    return { warn, info, logger: { warn: (m) => warn.push(m), info: (m) => info.push(m) } };
  }

  it("device 'cuda' falls back to CPU with one warning that says how to enable CUDA (where the host has no CUDA)", async (ctx) => {
    const log = recorder();
    const { c } = await load({ device: 'cuda', logger: log.logger });
    if (c.modelInfo.device === 'cuda') ctx.skip('this host has a working CUDA execution provider: nothing to fall back from (the CUDA test below runs)');
    expect(c.modelInfo.device).toBe('cpu');
    expect(log.warn).toHaveLength(1);
    expect(log.warn[0]).toMatch(/^CUDA execution provider not available \(.+\); classifying on CPU: /);
    expect(log.warn[0]).toContain('ONNXRUNTIME_NODE_INSTALL=cuda12');
    expect(log.warn[0]).toContain("set classify.device to 'cpu'");
    c.submit(makeFlow(UPLOAD));
    await c.drain();
  });

  it("device 'auto' falls back quietly: no log line, the reason kept for the caller's one 'model loaded' line", async () => {
    const log = recorder();
    const { c } = await load({ device: 'auto', logger: log.logger });
    expect(log.warn).toEqual([]);
    expect(log.info).toEqual([]);
    if (c.modelInfo.device === 'cpu') expect(c.cudaError).toMatch(/\S/);
    else expect(c.cudaError).toBeNull();
  });

  it("device 'cuda' runs the shipped model on the GPU with the CPU's verdicts on the known flows (where the host has CUDA)", async (ctx) => {
    const log = recorder();
    const opts = { modelPath: SHIPPED_MODEL, unknownThreshold: UNKNOWN_THRESHOLD, logger: log.logger };
    const gpu = await load({ ...opts, device: 'cuda' });
    if (gpu.c.modelInfo.device !== 'cuda') {
      ctx.skip(`no CUDA execution provider on this host (${log.warn[0] ?? 'no warning'})`);
    }
    expect(log.warn).toEqual([]);
    const cpu = await load({ ...opts, device: 'cpu' });
    for (const { c } of [gpu, cpu]) {
      for (const f of KNOWN_FLOWS) c.submit(makeFlow(f.lengths));
      await c.drain();
    }
    const onGpu = gpu.batches.flat().map((r) => r.verdict);
    const onCpu = cpu.batches.flat().map((r) => r.verdict);
    console.log(`CUDA: ${onGpu.map((v, i) => `${KNOWN_FLOWS[i]!.label} -> ${v.label} ${v.confidence} (cpu ${onCpu[i]!.confidence})`).join('; ')}`);
    expect(onGpu.map((v) => v.label)).toEqual(KNOWN_FLOWS.map((f) => f.label));
    onGpu.forEach((v, i) => expect(v.confidence).toBeCloseTo(onCpu[i]!.confidence, 4));
  });

  it("device 'cpu' never tries CUDA", async () => {
    const log = recorder();
    const { c } = await load({ device: 'cpu', logger: log.logger });
    expect(c.modelInfo.device).toBe('cpu');
    expect(log.warn).toEqual([]);
    expect(log.info.some((m) => m.includes('CUDA'))).toBe(false);
  });
});

describe('Classifier inference failures', () => {
  it("labels a failed batch 'classify-error', warns once per batch and keeps going", async () => {
    // This model passes the two-row load probe but reshapes every output to [2, N*K/2] (a batch size of 2 baked in
    // at export): a batch of 4 comes back [2, 6], a batch of 2 is fine.
    const warn: string[] = [];
    const { c, batches } = await load({
      modelPath: path.join(MODELS, 'broken/batch-two-only.onnx'),
      batchSize: 4,
      logger: { warn: (m) => warn.push(m), info() {} },
    });
    for (const seq of [UPLOAD, DOWNLOAD, UPLOAD, DOWNLOAD]) c.submit(makeFlow(seq));
    await c.drain();
    c.submit(makeFlow(UPLOAD)); // a batch of two still works
    c.submit(makeFlow(DOWNLOAD));
    await c.drain();
    expect(batches.map((b) => b.map((r) => r.verdict.label))).toEqual([
      [CLASSIFY_ERROR, CLASSIFY_ERROR, CLASSIFY_ERROR, CLASSIFY_ERROR],
      ['bulk-upload', 'bulk-download'],
    ]);
    expect(batches[0]![0]!.verdict.model_version).toBe('fixture-1');
    expect(c.stats.errors).toBe(1);
    expect(warn).toHaveLength(1);
    expect(warn[0]).toMatch(/inference failed for a batch of 4 flows, labelled 'classify-error': output 'probabilities' came back as \[2, 6\], expected \[4, 3\]/);
  });
});

describe('Classifier verdict memo', () => {
  /** Deterministic shapes, many repeated: the four fixture shapes, no-payload flows and short random sequences. */
  function mix(n: number, seed: number): number[][] {
    const rand = mulberry32(seed);
    const shapes = [UPLOAD, DOWNLOAD, INTERACTIVE, AMBIGUOUS, []];
    return Array.from({ length: n }, () => {
      const r = rand();
      if (r < 0.7) return shapes[Math.floor(rand() * shapes.length)]!;
      return Array.from({ length: 1 + Math.floor(rand() * 3) }, () => Math.round((rand() - 0.5) * 3000));
    });
  }

  function expectSameVerdicts(a: ClassifiedFlow[], b: ClassifiedFlow[]): void {
    expect(a.map((r) => [r.verdict.label, r.verdict.status, r.verdict.topk.map((t) => t.label)])).toEqual(
      b.map((r) => [r.verdict.label, r.verdict.status, r.verdict.topk.map((t) => t.label)]),
    );
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]!.verdict.confidence - b[i]!.verdict.confidence)).toBeLessThan(1e-5);
  }

  it('gives every flow the verdict the model gives its row, with a model row only for the first of each sequence', async () => {
    // The fixture model is float32 throughout: a row's scores depend on its batch only in the last bits (onnxruntime's
    // kernels sum in another order for another batch size), so memo on and off give the same labels and top-k.
    const seqs = mix(600, 7);
    const off = await classify(seqs, { batchSize: 16, batchDeadlineMs: null });
    const { c, batches } = await load({ batchSize: 16, batchDeadlineMs: null, verdictCache: 4096 });
    for (const l of seqs) c.submit(makeFlow(l));
    await c.drain();
    const on = batches.flat();
    expect(on.map((r) => r.flow.lengths)).toEqual(off.map((r) => r.flow.lengths));
    expectSameVerdicts(on, off);
    const distinct = new Set(seqs.filter((l) => l.length > 0).map((l) => makeFlow(l).lengths.join(','))).size;
    const withPayload = seqs.filter((l) => l.length > 0).length;
    expect(c.stats.reused).toBe(withPayload - distinct);
    expect(c.stats.flows).toBe(600);
    // A repeated sequence shares its first flow's verdict object, in its own batch and in later ones.
    const first = new Map<string, Verdict>();
    for (const r of on) {
      if (r.verdict.label === NO_PAYLOAD) continue;
      const key = r.flow.lengths.join(',');
      if (!first.has(key)) first.set(key, r.verdict);
      expect(r.verdict).toBe(first.get(key));
    }
  });

  it('closes a batch at batchSize model rows, or at FLOWS_PER_ROW_BATCH x batchSize flows when they repeat', async () => {
    const { c, batches } = await load({ batchSize: 4, batchDeadlineMs: null, verdictCache: 64 });
    for (const l of [UPLOAD, UPLOAD, DOWNLOAD, UPLOAD, INTERACTIVE, [], DOWNLOAD, AMBIGUOUS]) c.submit(makeFlow(l));
    await new Promise((r) => setTimeout(r, 50));
    // The fourth distinct row closes the first batch; the repeats and the no-payload flow ride in it.
    expect(batches.map((b) => b.length)).toEqual([8]);
    for (let i = 0; i < 4 * FLOWS_PER_ROW_BATCH; i++) c.submit(makeFlow(i % 2 === 0 ? UPLOAD : DOWNLOAD));
    await new Promise((r) => setTimeout(r, 50));
    expect(batches.map((b) => b.length)).toEqual([8, 4 * FLOWS_PER_ROW_BATCH]);
    expect(c.stats.reused).toBe(3 + 4 * FLOWS_PER_ROW_BATCH);
    await c.drain();
  });

  it('tells rows apart by all their values, not by their hash', async () => {
    const seqs = mix(300, 11);
    const off = await classify(seqs, { batchSize: 8, batchDeadlineMs: null });
    const { c, batches } = await load({ batchSize: 8, batchDeadlineMs: null, verdictCache: 1 });
    // Every row hashes alike and lands in the one slot: only the comparison of the rows keeps the verdicts right.
    (c as unknown as { memo: { hash(): number } }).memo.hash = () => 12345;
    for (const l of seqs) c.submit(makeFlow(l));
    await c.drain();
    expectSameVerdicts(batches.flat(), off);
    expect(c.stats.reused).toBeGreaterThan(0);
  });

  it("answers the repeats of a failed batch's rows 'classify-error' too, and infers the sequence again afterwards", async () => {
    const { c, batches } = await load({
      modelPath: path.join(MODELS, 'broken/batch-two-only.onnx'),
      batchSize: 4,
      batchDeadlineMs: null,
      verdictCache: 64,
      logger: { warn() {}, info() {} },
    });
    for (const seq of [UPLOAD, UPLOAD, DOWNLOAD, INTERACTIVE, AMBIGUOUS]) c.submit(makeFlow(seq)); // four rows: fails
    await c.drain();
    c.submit(makeFlow(UPLOAD)); // a batch of two rows works
    c.submit(makeFlow(DOWNLOAD));
    await c.drain();
    expect(batches.map((b) => b.map((r) => r.verdict.label))).toEqual([
      [CLASSIFY_ERROR, CLASSIFY_ERROR, CLASSIFY_ERROR, CLASSIFY_ERROR, CLASSIFY_ERROR],
      ['bulk-upload', 'bulk-download'],
    ]);
    expect(c.stats.errors).toBe(1);
    expect(c.stats.reused).toBe(1);
  });

  it('validates its size with a message that names the option', async () => {
    await expect(Classifier.load(options({ verdictCache: -1 }))).rejects.toThrow(/Classifier: verdictCache must be an integer from 0 to 1048576, not -1/);
    await expect(Classifier.load(options({ verdictCache: 1.5 }))).rejects.toThrow(/verdictCache must be an integer/);
  });
});

// The tests above run where the classifier puts the model by default (a worker thread on a host with more than one
// CPU); these pin each place and compare them.
describe('Classifier in a worker thread and on the calling thread', () => {
  it('gives the same verdicts batch for batch in both places', async () => {
    const shapes = [UPLOAD, DOWNLOAD, INTERACTIVE, AMBIGUOUS, [], UPLOAD];
    const inWorker = await classify(shapes, { thread: true, batchSize: 4 });
    const inline = await classify(shapes, { thread: false, batchSize: 4 });
    expect(inWorker.map((r) => r.verdict)).toEqual(inline.map((r) => r.verdict));
    expect(inWorker.map((r) => r.verdict.label).slice(0, 3)).toEqual(['bulk-upload', 'bulk-download', 'interactive']);
  });

  it('answers classify-error for batches in flight and after the inference thread died, and still closes', async () => {
    const warn: string[] = [];
    const { c, batches } = await load({ thread: true, batchSize: 2, logger: { warn: (m) => warn.push(m), info() {} } });
    c.submit(makeFlow(UPLOAD));
    c.submit(makeFlow(DOWNLOAD));
    await c.drain();
    // The worker behind the classifier (a private field): end it as a crash would.
    await (c as unknown as { runner: { worker: { terminate(): Promise<number> } } }).runner.worker.terminate();
    c.submit(makeFlow(UPLOAD));
    c.submit(makeFlow([]));
    await c.drain();
    expect(batches.map((b) => b.map((r) => r.verdict.label))).toEqual([
      ['bulk-upload', 'bulk-download'],
      [CLASSIFY_ERROR, NO_PAYLOAD],
    ]);
    expect(c.stats.errors).toBe(1);
    expect(warn[0]).toMatch(/inference failed for a batch of 1 flows, labelled 'classify-error': the inference thread stopped \(exit code 1\)/);
  });

  it('refuses a broken model with the same one-line error as on the calling thread', async () => {
    const broken = path.join(MODELS, 'broken/missing-classes.onnx');
    const inWorker = await Classifier.load(options({ modelPath: broken, thread: true })).catch((e: Error) => e);
    const inline = await Classifier.load(options({ modelPath: broken, thread: false })).catch((e: Error) => e);
    expect(inWorker).toBeInstanceOf(ModelContractError);
    expect((inWorker as Error).message).toBe((inline as Error).message);
    expect((inWorker as Error).message).toMatch(/metadata 'classes' is missing/);
  });
});
