import { setFlagsFromString } from 'node:v8';
import { Worker } from 'node:worker_threads';

import { awaitWorkerReady } from '../classify/modelWorker';
import { FirstFailure } from '../classify/queueEnd';
import { helperThread } from '../config/helperThreads';
import type { ClassifiedFlow } from '../classify/verdict';
import { packBatch } from '../sink/recordPack';
import type { AnomalyModelInfo } from './anomalyModel';
import { Fifo } from './fifo';
import { AnomalyScorer, type ScorerOptions } from './scorer';
import { AnomalyScore, type ScoredFlow } from './scoredFlow';
import type { ScorerReply, ScorerRequest, ScorerWorkerData } from './scorerWorker';
import { workerEntry } from '../startup/bundle';

/** The compiled worker: its bundle when this process runs from the start-up bundle, else dist/ (src/startup/bundle.ts). */
const WORKER = workerEntry('anomaly', 'scorerWorker');

/**
 * How far past its live data a V8 heap may grow before its next full collection, in percent, for every thread of the
 * process once scoring has a thread of its own. V8's default grows a heap up to 4x its live data when collections
 * are cheap: the context counters leaving the capture thread did not shrink its heap (live ~20 MB after a full
 * collection, ~105 MB committed in the CI flood), and the scoring thread's heap (the counters, ~40-57 MB live)
 * came on top: +80-90 MB peak RSS. At 100 (2x, V8's own cap on memory-constrained devices) with the young
 * generation below, the CI flood peaks at 467-477 MB threaded against 554-561 MB; 50 (1.5x) saved 0-30 MB more
 * but cost the 2M-SYN flood 7.3 s more CPU than no cap, against 3.9 s at 100 (README "Design notes", round perf5).
 */
const HEAP_GROWING_PERCENT = 100;

/**
 * The scoring thread's young generation, in MB (V8's default is up to 3 x 16 MB semi-spaces, as on the capture
 * thread): what it allocates per batch (the unpacked records, the scores) dies within the batch, and its lasting
 * data (the context counters) lives in the old generation. 25 MB less peak RSS in the CI flood (462 against
 * 487 MB, 2 runs each, load 5-7), no difference in CPU on the 1M bench capture (capture thread 0.85 s against 0.86 s,
 * process 3.12 s against 3.17 s, medians of 5 alternating runs at load 5-5.8).
 */
const YOUNG_GENERATION_MB = 8;

/** What the pipeline, the CLI and the daemon use of an anomaly scorer, on this thread or in a worker thread. */
export type FlowScorer = Pick<
  AnomalyScorer,
  'onResult' | 'pending' | 'held' | 'submit' | 'flush' | 'advance' | 'drain' | 'close' | 'stats' | 'threshold' | 'fpr' | 'modelInfo'
>;

/**
 * Loads the anomaly model in a worker thread (ScorerThread) where this process may use more than one CPU (as the
 * classifier does), else on this thread (AnomalyScorer); `thread` overrides the choice.
 */
export function loadScorer(opts: ScorerOptions & { thread?: boolean }): Promise<FlowScorer> {
  const { thread, ...rest } = opts;
  return (thread ?? helperThread('anomaly')) ? ScorerThread.load(rest) : AnomalyScorer.load(rest);
}

/**
 * The anomaly scorer in a worker thread (scorerWorker.ts runs an AnomalyScorer): submit() packs the batch
 * (recordPack.ts, ~1 µs per flow) and posts it; the worker keeps the context counters, fills the features and runs
 * the model, and answers each batch, in order, with its scores. On the capture thread scoring cost ~30 µs per flow
 * (context lookups, features, inference: README "Design notes", "Anomaly scoring can leave the capture thread").
 * The scores are the worker's AnomalyScorer's, so the same as on this thread. Back-pressure is the caller's, as
 * with AnomalyScorer: `pending` counts the flows handed over and not yet answered.
 */
export class ScorerThread implements FlowScorer {
  onResult: (batch: ScoredFlow[]) => void = () => {};
  stats = { batches: 0, flows: 0, anomalies: 0, errors: 0, heldEarly: 0, heldEarlyRetry: 0, contextEvicted: 0 };
  /** Flows sent and not yet handed on, oldest first. */
  private readonly waiting = new Fifo<ClassifiedFlow>();
  /** The flows of each request sent and not yet answered. */
  private readonly unanswered: number[] = [];
  private pendingCount = 0;
  private waiters: (() => void)[] = [];
  private readonly failure = new FirstFailure();
  /** Set when the worker stopped other than by close(): later batches are handed on without a score. */
  private stopped: string | null = null;
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly worker: Worker,
    readonly modelInfo: AnomalyModelInfo,
    readonly threshold: number,
    readonly fpr: number,
    private readonly logger: NonNullable<ScorerOptions['logger']>,
  ) {
    worker.on('message', (m: ScorerReply) => this.onMessage(m));
    const fail = (why: string): void => {
      if (this.stopped !== null || this.closing !== null) return;
      this.stopped = `the anomaly scoring thread stopped (${why})`;
      this.logger.warn(`anomaly model ${modelInfo.path}: ${this.stopped}; flows are written without a score`);
      // The flows in flight are handed on without a score, in order.
      this.unanswered.length = 0;
      this.pendingCount = 0;
      this.answer(this.waiting.length, null);
    };
    worker.on('error', (e) => fail(e.message));
    worker.on('exit', (code) => fail(`exit code ${code}`));
    worker.unref();
  }

  /** Starts the worker, which loads and checks the model; rejects with its ModelContractError (one line). */
  static load(opts: ScorerOptions): Promise<ScorerThread> {
    const { logger: given, ...rest } = opts;
    const logger = given ?? { warn() {}, info() {} };
    const workerData: ScorerWorkerData = rest;
    // V8 flags are the process's: this caps the growth of the capture thread's heap and every worker's.
    setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
    const worker = new Worker(WORKER, { workerData, resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB } });
    return awaitWorkerReady<ScorerReply>(worker, logger, `anomaly model ${opts.modelPath}`, 'the scoring thread').then(
      (m) => new ScorerThread(worker, m.info, m.threshold, m.fpr, logger),
    );
  }

  /** Flows of the requests not yet answered (not those the worker holds back after answering). */
  get pending(): number {
    return this.pendingCount;
  }

  /** Flows the worker answered a request for and still holds for their context (AnomalyScorer.held). */
  get held(): number {
    return this.waiting.length - this.pendingCount;
  }

  submit(batch: ClassifiedFlow[]): void {
    if (this.closing !== null) throw new Error('ScorerThread.submit() after close(): create a new scorer');
    for (const cf of batch) this.waiting.push(cf);
    if (this.stopped !== null) {
      this.answer(batch.length, null);
      return;
    }
    this.request({ kind: 'score', batch: packBatch(batch) }, batch.length);
  }

  flush(): void {
    if (this.stopped === null && this.closing === null) this.request({ kind: 'flush' }, 0);
  }

  advance(now: number): boolean {
    if (this.stopped !== null || this.closing !== null || this.waiting.length === 0) return false;
    this.request({ kind: 'advance', now }, 0);
    return true;
  }

  private request(req: ScorerRequest, flows: number): void {
    this.unanswered.push(flows);
    this.pendingCount += flows;
    this.worker.ref();
    this.post(req);
  }

  /**
   * Waits until every request was answered (flows still held stay: flush() first to have them all); rejects with
   * the first onResult error.
   */
  async drain(): Promise<void> {
    while (this.unanswered.length > 0) await new Promise<void>((resolve) => this.waiters.push(resolve));
    this.failure.rethrow();
  }

  async close(): Promise<void> {
    if (this.closing === null) {
      this.closing = (async () => {
        try {
          this.flush();
          await this.drain();
        } finally {
          if (this.stopped === null) {
            await new Promise<void>((resolve) => {
              this.worker.ref();
              this.worker.once('exit', () => resolve());
              this.post({ kind: 'close' });
            });
          }
        }
      })();
    }
    return this.closing;
  }

  private post(req: ScorerRequest): void {
    if (req.kind === 'score') this.worker.postMessage(req, [req.batch.num.buffer as ArrayBuffer]);
    else this.worker.postMessage(req);
  }

  private onMessage(m: ScorerReply): void {
    if (m.kind !== 'scored' || this.unanswered.length === 0) return;
    this.pendingCount -= this.unanswered.shift()!;
    this.stats = m.stats;
    this.answer(m.n, m.out);
  }

  /** Hands the `n` oldest flows waiting on with the worker's scores (`out`), or without a score (null). */
  private answer(n: number, out: Float64Array | null): void {
    const scored: ScoredFlow[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const cf = this.waiting.at(i)!;
      const a = out !== null && out[3 * i] === 1 ? new AnomalyScore(out[3 * i + 1]!, out[3 * i + 2] === 1, this.fpr) : null;
      scored[i] = { flow: cf.flow, verdict: cf.verdict, anomaly: a };
    }
    this.waiting.drop(n);
    if (this.unanswered.length === 0) this.worker.unref();
    try {
      this.onResult(scored);
    } catch (e) {
      this.failure.keep(e);
    }
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
