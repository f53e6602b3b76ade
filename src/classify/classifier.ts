import { performance } from 'node:perf_hooks';

import type { FlowRecord } from '../flow/flowRecord';
import type { Device, SessionLogger } from './deviceSession';

import { helperThread } from '../config/helperThreads';
import { InferenceThread } from './inferenceThread';
import { InlineRunner, type ModelRunner } from './modelRunner';
import { LatencyHistogram } from '../metrics/latencyHistogram';
import type { ModelInfo } from './modelContract';
import { verdictFromRow } from './topK';
import { Verdict, type Classified } from './verdict';
import { CloseOnce, FirstFailure } from './queueEnd';
import { Answer, DEFAULT_VERDICT_CACHE, FLOWS_PER_ROW_BATCH, MAX_VERDICT_CACHE, VerdictMemo } from './verdictMemo';

export { ModelContractError } from './contractError';
export type { ModelInfo } from './modelContract';

/**
 * Contract check only: loads the model in an inference thread, checks it and ends the thread. The daemon uses it
 * to validate a model before swapping it in on reload. Throws ModelContractError (one line) when it is refused.
 */
export async function loadModelInfo(path: string): Promise<ModelInfo> {
  const thread = await InferenceThread.open(path, 'cpu', 1, SILENT);
  await thread.close();
  return thread.info;
}

export interface ClassifierOptions {
  modelPath: string;
  device: Device;
  /** Flows per inference call (default 256). */
  batchSize: number;
  /**
   * A batch closes this long after its first flow even when not full (default 5 ms); null: never on the clock, only at
   * batchSize flows or on drain(). Offline runs use null: the bundled int8 model scales each batch's activations by
   * that batch's range, so a flow's scores depend on which flows share its batch, and a deadline on the wall clock
   * would make that depend on the machine's load.
   */
  batchDeadlineMs: number | null;
  /**
   * Below this top probability the label is 'unknown'; null: the model's own `unknown_threshold` metadata, or
   * DEFAULT_UNKNOWN_THRESHOLD for a model without one.
   */
  unknownThreshold: number | null;
  /** Flows with fewer payload entries are labelled 'no-payload' without the model (default 1). */
  minPayloadPackets: number;
  /** Classes kept per verdict (default 3). */
  topK: number;
  intraOpThreads?: number;
  /**
   * Slots of the verdict memo (src/classify/verdictMemo.ts; rounded up to a power of two): a flow whose model row
   * equals one the model has answered, or will answer in an earlier batch, gets that verdict without a row of its
   * own. 0 turns it off (every payload flow is a row, batches close at batchSize flows); default
   * DEFAULT_VERDICT_CACHE.
   */
  verdictCache?: number;
  /**
   * Run the model in its own worker thread (InferenceThread) rather than on the thread that submits flows.
   * Default: when this process may use more than one CPU (os.availableParallelism(), which follows taskset and
   * cgroup CPU sets): on one CPU a thread only adds switching and a second copy of the runtime.
   * SENSOR_THREADS_OFF=inference turns the default off (src/config/helperThreads.ts).
   */
  thread?: boolean;
  logger?: SessionLogger;
  /**
   * Where batch latencies go (seconds from a batch's first flow to its verdicts). The daemon passes one that
   * outlives a model reload and is registered with its Prometheus endpoint; by default the classifier has its own.
   */
  latency?: LatencyHistogram;
}

/** Name of the inference latency histogram (Prometheus). */
export const INFERENCE_LATENCY_METRIC = 'sensor_inference_batch_duration_seconds';

export function inferenceLatencyHistogram(): LatencyHistogram {
  return new LatencyHistogram(INFERENCE_LATENCY_METRIC, 'Seconds from an inference batch\'s first flow to its verdicts (batch deadline and inference)');
}

/** Threshold for a model without `unknown_threshold` metadata when the config sets none. */
export const DEFAULT_UNKNOWN_THRESHOLD = 0.5;

/** Label for flows that the no-payload rule answers without the model. */
export const NO_PAYLOAD = 'no-payload';
/** The verdict of every flow the no-payload rule answers (shared: verdicts are never changed once made). */
const NO_PAYLOAD_VERDICT = new Verdict(NO_PAYLOAD, 0, [], '', 'no-payload');

/** Label for flows whose batch failed in onnxruntime; the record is still written. */
export const CLASSIFY_ERROR = 'classify-error';

/**
 * What the classifier reads from an item: its sequence and how many entries are payload. A FlowRecord from the
 * flow table is one; `sensor serve` submits sequences posted to it (src/serve) through the same rule.
 */
export type Classifiable = Pick<FlowRecord, 'lengths' | 'payload_packets'>;

interface Batch<T> {
  flows: T[];
  /** performance.now() when its first flow was queued. */
  since: number;
  /** With the verdict memo: each flow's answer (null for flows the no-payload rule answers); else null. */
  answers: (Answer | null)[] | null;
}

/** rowOf's marks for flows without a model row: the no-payload rule's, and the verdict memo's. */
const NO_ROW = -1;
const REUSED = -2;

/** A flow and its verdict as answer() hands them on: made with `new`, not as an object literal (see answer()). */
class Item<T> implements Classified<T> {
  constructor(
    public flow: T,
    public verdict: Verdict,
  ) {}
}

/** A closed batch on its way through the model, in submission order. */
interface InFlight<T> {
  batch: Batch<T>;
  /** Model row of each flow; NO_ROW for flows the no-payload rule answers, REUSED for those the memo answers. */
  rowOf: Int32Array;
  rows: number;
  /** The batch buffer (input rows, then output rows), or null while the worker holds it. */
  buf: ArrayBuffer | null;
  done: boolean;
  /** One line when inference failed for the batch. */
  error: string | null;
}

/**
 * Batches handed to the inference thread at once. Two would keep it busy (one running, one queued); four leave
 * room for a verdict delivery that takes longer than a batch. Each holds one buffer of batchSize x (L + K) floats.
 */
export const MAX_BATCHES_IN_FLIGHT = 4;

const SILENT: SessionLogger = { warn() {}, info() {} };

function check(ok: boolean, msg: string): void {
  if (!ok) throw new RangeError(`Classifier: ${msg}`);
}

function validate(o: ClassifierOptions): void {
  check(typeof o.modelPath === 'string' && o.modelPath !== '', 'modelPath must be the path of an .onnx file');
  check(o.device === 'auto' || o.device === 'cpu' || o.device === 'cuda', `device must be 'auto', 'cpu' or 'cuda', not '${String(o.device)}'`);
  check(Number.isInteger(o.batchSize) && o.batchSize >= 1, `batchSize must be an integer >= 1, not ${o.batchSize}`);
  check(
    o.batchDeadlineMs === null || (Number.isFinite(o.batchDeadlineMs) && o.batchDeadlineMs >= 0),
    `batchDeadlineMs must be a number >= 0 or null, not ${o.batchDeadlineMs}`,
  );
  check(o.unknownThreshold === null || (o.unknownThreshold >= 0 && o.unknownThreshold <= 1), `unknownThreshold must be from 0 to 1 or null, not ${o.unknownThreshold}`);
  check(Number.isInteger(o.minPayloadPackets) && o.minPayloadPackets >= 0, `minPayloadPackets must be an integer >= 0, not ${o.minPayloadPackets}`);
  check(Number.isInteger(o.topK) && o.topK >= 1, `topK must be an integer >= 1, not ${o.topK}`);
  if (o.thread !== undefined) check(typeof o.thread === 'boolean', `thread must be true or false, not ${String(o.thread)}`);
  if (o.verdictCache !== undefined) {
    check(Number.isInteger(o.verdictCache) && o.verdictCache >= 0 && o.verdictCache <= MAX_VERDICT_CACHE, `verdictCache must be an integer from 0 to ${MAX_VERDICT_CACHE}, not ${o.verdictCache}`);
  }
  if (o.intraOpThreads !== undefined) {
    check(Number.isInteger(o.intraOpThreads) && o.intraOpThreads >= 1, `intraOpThreads must be an integer >= 1, not ${o.intraOpThreads}`);
  }
}

/**
 * Batched ONNX classification of finished flows. Where the process has more than one CPU the model runs in its
 * own worker thread (InferenceThread), so the thread that submits flows (capture, decode, flow table) goes on while
 * a batch is inferred; on one CPU it runs on the submitting thread (InlineRunner). Batches close at batchSize flows
 * or batchDeadlineMs after their first flow (when it is not null), up to MAX_BATCHES_IN_FLIGHT are handed over at once, each in a buffer
 * of its own (that travels to the worker and back), and verdicts are delivered in submission order, one onResult
 * call per batch.
 */
export class Classifier<T extends Classifiable = FlowRecord> {
  /** Called once per batch with its verdicts, in submission order. Set it before the first submit(). */
  onResult: (batch: Classified<T>[]) => void = () => {};

  /** Why CUDA was not used when it was tried (device 'auto' or 'cuda' on a host without it), else null. */
  cudaError: string | null = null;

  /** `reused`: flows answered by the verdict memo without a model row of their own (counted in `flows` too). */
  readonly stats: { batches: number; flows: number; errors: number; reused: number };
  /** Batch latencies (seconds), one observation per batch. */
  readonly latency: LatencyHistogram;

  /** The unknown rule in force: the threshold, and a 1 for each background class. */
  readonly unknownThreshold: number;
  private readonly background: Uint8Array | null;
  private readonly L: number;
  private readonly K: number;
  /** Batch buffers not with the worker: batchSize rows of L input floats, then batchSize rows of K outputs. */
  private readonly free: ArrayBuffer[] = [];
  private open: T[] = [];
  /** With the memo: the open batch's answers (Batch.answers) and how many of its flows take a model row. */
  private openAnswers: (Answer | null)[] = [];
  private openRows = 0;
  /** Flows at which a batch closes even with fewer than batchSize model rows. */
  private readonly maxFlows: number;
  private readonly memo: VerdictMemo | null;
  /** One row, built at submit() for the memo's look-up, and its bit patterns. */
  private readonly row: Float32Array;
  private readonly rowBits: Int32Array;
  private openSince = 0;
  private timer: NodeJS.Timeout | null = null;
  /** Closed batches waiting for a free buffer. */
  private readonly closed: Batch<T>[] = [];
  /** Batches with the worker or answered, oldest first; delivered from the front. */
  private readonly inFlight: InFlight<T>[] = [];
  private deliveryQueued = false;
  private idleWaiters: (() => void)[] = [];
  private pendingCount = 0;
  private readonly failure = new FirstFailure();
  private readonly end = new CloseOnce();

  private constructor(
    readonly modelInfo: ModelInfo,
    private readonly runner: ModelRunner,
    private readonly opts: ClassifierOptions,
    private readonly logger: SessionLogger,
  ) {
    this.L = modelInfo.sequenceLength;
    this.K = modelInfo.classes.length;
    for (let i = 0; i < MAX_BATCHES_IN_FLIGHT; i++) this.free.push(this.newBuffer());
    this.stats = { batches: 0, flows: 0, errors: 0, reused: 0 };
    const slots = opts.verdictCache ?? DEFAULT_VERDICT_CACHE;
    this.memo = slots > 0 ? new VerdictMemo(2 ** Math.ceil(Math.log2(slots)), this.L) : null;
    this.maxFlows = this.memo !== null ? opts.batchSize * FLOWS_PER_ROW_BATCH : opts.batchSize;
    this.row = new Float32Array(this.L);
    this.rowBits = new Int32Array(this.row.buffer);
    this.latency = opts.latency ?? inferenceLatencyHistogram();
    this.unknownThreshold = opts.unknownThreshold ?? modelInfo.unknownThreshold ?? DEFAULT_UNKNOWN_THRESHOLD;
    if (modelInfo.backgroundClasses.length > 0) {
      this.background = new Uint8Array(modelInfo.classes.length);
      for (const c of modelInfo.backgroundClasses) this.background[modelInfo.classes.indexOf(c)] = 1;
    } else {
      this.background = null;
    }
  }

  /** Loads and checks the model. Throws ModelContractError (one line) on a model that breaks the contract. */
  static async load<T extends Classifiable = FlowRecord>(opts: ClassifierOptions): Promise<Classifier<T>> {
    validate(opts);
    const logger = opts.logger ?? SILENT;
    const threaded = opts.thread ?? helperThread('inference');
    const runner = await (threaded ? InferenceThread : InlineRunner).open(opts.modelPath, opts.device, opts.intraOpThreads, logger);
    const c = new Classifier<T>(runner.info, runner, opts, logger);
    c.cudaError = runner.cudaError;
    return c;
  }

  /** Flows queued or in flight. */
  get pending(): number {
    return this.pendingCount;
  }

  submit(flow: T): void {
    if (this.end.closed) throw new Error('Classifier.submit() after close(): create a new Classifier');
    if (this.open.length === 0) {
      this.openSince = performance.now();
      if (this.opts.batchDeadlineMs !== null) this.timer = setTimeout(this.onDeadline, this.opts.batchDeadlineMs);
    }
    this.open.push(flow);
    this.pendingCount++;
    const { memo } = this;
    if (memo === null) this.openRows++;
    else if (flow.payload_packets < this.opts.minPayloadPackets) this.openAnswers.push(null);
    else {
      copyRow(this.row, 0, flow.lengths, this.L);
      const h = memo.hash(this.rowBits);
      const known = memo.get(this.rowBits, h);
      if (known !== null) this.openAnswers.push(known);
      else {
        this.openAnswers.push(memo.add(this.rowBits, h));
        this.openRows++;
      }
    }
    if (this.openRows >= this.opts.batchSize || this.open.length >= this.maxFlows) this.closeBatch();
  }

  /** Runs every queued flow and waits for all inference in flight; rejects with the first onResult error. */
  async drain(): Promise<void> {
    if (this.open.length > 0) this.closeBatch();
    while (this.closed.length > 0 || this.inFlight.length > 0) {
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
    this.failure.rethrow();
  }

  close(): Promise<void> {
    return this.end.close(() => this.drain(), () => this.runner.close());
  }

  private newBuffer(): ArrayBuffer {
    // batchSize model rows at most: openRows closes the batch there, and without the memo at batchSize flows.
    return new ArrayBuffer(this.opts.batchSize * (this.L + this.K) * 4);
  }

  private readonly onDeadline = (): void => {
    this.timer = null;
    if (this.open.length > 0) this.closeBatch();
  };

  private closeBatch(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.closed.push({ flows: this.open, since: this.openSince, answers: this.memo !== null ? this.openAnswers : null });
    this.open = [];
    if (this.memo !== null) this.openAnswers = [];
    this.openRows = 0;
    this.dispatch();
  }

  /** Hands closed batches to the worker while buffers are free. */
  private dispatch(): void {
    while (this.closed.length > 0 && this.free.length > 0) {
      const batch = this.closed.shift()!;
      const buf = this.free.pop()!;
      const entry = this.fill(batch, buf);
      this.inFlight.push(entry);
      if (entry.rows === 0) {
        // No row for the model: answered as soon as the batches before it are, but never inside submit().
        entry.done = true;
        this.queueDelivery();
        continue;
      }
      entry.buf = null;
      void this.runner.run(buf, entry.rows, this.opts.batchSize * this.L).then((r) => {
        entry.buf = r.buf.byteLength > 0 ? r.buf : this.newBuffer();
        entry.error = r.error;
        entry.done = true;
        this.deliver();
      });
    }
  }

  /** Copies the batch's model rows into the buffer's input rows (no-payload flows get none). */
  private fill(batch: Batch<T>, buf: ArrayBuffer): InFlight<T> {
    const { flows, answers } = batch;
    const { minPayloadPackets } = this.opts;
    const L = this.L;
    const input = new Float32Array(buf, 0, this.opts.batchSize * L);
    const rowOf = new Int32Array(flows.length);
    let rows = 0;
    for (let i = 0; i < flows.length; i++) {
      const flow = flows[i]!;
      if (flow.payload_packets < minPayloadPackets) {
        rowOf[i] = NO_ROW;
        continue;
      }
      if (answers !== null) {
        // The first flow with the row takes it into its batch; the rest wait for its verdict (delivered in order).
        const a = answers[i]!;
        if (a.placed) {
          rowOf[i] = REUSED;
          continue;
        }
        a.placed = true;
      }
      copyRow(input, rows * L, flow.lengths, L);
      rowOf[i] = rows++;
    }
    return { batch, rowOf, rows, buf, done: false, error: null };
  }

  private queueDelivery(): void {
    if (this.deliveryQueued) return;
    this.deliveryQueued = true;
    queueMicrotask(() => {
      this.deliveryQueued = false;
      this.deliver();
    });
  }

  /** Delivers the answered batches at the front, in order, then refills the worker and wakes drain(). */
  private deliver(): void {
    while (this.inFlight.length > 0 && this.inFlight[0]!.done) {
      const entry = this.inFlight.shift()!;
      this.answer(entry);
      this.free.push(entry.buf!);
    }
    this.dispatch();
    if (this.closed.length === 0 && this.inFlight.length === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private answer(entry: InFlight<T>): void {
    const { flows, since } = entry.batch;
    const { topK } = this.opts;
    const { unknownThreshold, background } = this;
    const { classes, version } = this.modelInfo;
    const K = this.K;
    let probs: Float32Array | null = null;
    if (entry.rows > 0) {
      if (entry.error === null) probs = new Float32Array(entry.buf!, this.opts.batchSize * this.L * 4, entry.rows * K);
      else {
        this.stats.errors++;
        this.logger.warn(`model ${this.modelInfo.path}: inference failed for a batch of ${entry.rows} flows, labelled '${CLASSIFY_ERROR}': ${entry.error}`);
      }
    }
    // The rule verdicts are the same for every flow they answer: one object each (no sink changes a verdict).
    const failed = probs === null ? new Verdict(CLASSIFY_ERROR, 0, [], version, 'classify-error') : null;
    const { rowOf } = entry;
    const { answers } = entry.batch;
    const { memo } = this;
    let reused = 0;
    // map() and a constructor rather than `new Array(n)` and object literals: no allocation site whose pretenuring
    // would throw this function's optimized code away (Item, topK.ts's Score).
    const out: Classified<T>[] = flows.map((flow, i) => {
      const row = rowOf[i]!;
      let verdict: Verdict;
      if (row === NO_ROW) verdict = NO_PAYLOAD_VERDICT;
      else if (row === REUSED) {
        // Its answer's row came first (this batch or an earlier one, answered before it): the verdict is there.
        verdict = answers![i]!.verdict!;
        reused++;
      } else {
        verdict = failed ?? verdictFromRow(probs!, row * K, classes, topK, unknownThreshold, version, background);
        if (answers !== null) {
          const a = answers[i]!;
          a.verdict = verdict;
          // A failed batch's verdict serves the flows already waiting for it, not later ones.
          if (failed !== null) memo!.forget(a);
        }
      }
      return new Item(flow, verdict);
    });
    this.stats.reused += reused;

    this.stats.batches++;
    this.stats.flows += flows.length;
    this.pendingCount -= flows.length;
    this.latency.observe((performance.now() - since) / 1000);
    try {
      this.onResult(out);
    } catch (e) {
      // Keep classifying: the error is handed to the next drain() caller rather than lost or crashing the loop.
      this.failure.keep(e);
    }
  }
}

/**
 * Writes a flow's lengths as model row `target[base .. base + L)`. The record's length may differ from the
 * model's: what fits is copied and the rest of the row zeroed.
 */
function copyRow(target: Float32Array, base: number, lengths: readonly number[], L: number): void {
  if (lengths.length === L) {
    // The usual case (the flow table pads to the model's length): one copy by the typed array itself, each value
    // converted to float32 as an element store converts it, and no loop here for V8 to compile on the stack.
    target.set(lengths, base);
  } else {
    const n = Math.min(L, lengths.length);
    for (let j = 0; j < n; j++) target[base + j] = lengths[j]!;
    target.fill(0, base + n, base + L);
  }
}
