import { performance } from 'node:perf_hooks';

import type { FlowRecord } from '../flow/flowRecord';
import type { Device, SessionLogger } from './deviceSession';
import { LatencyHistogram } from '../metrics/latencyHistogram';
import type { ModelInfo } from './modelContract';
import { openModel } from './openModel';
import { ort, type OrtSession } from './ortBinding';
import { verdictFromRow } from './topK';
import { Verdict, type Classified } from './verdict';

export { ModelContractError, type ModelInfo } from './modelContract';
export { loadModelInfo } from './openModel';

export interface ClassifierOptions {
  modelPath: string;
  device: Device;
  /** Flows per inference call (default 256). */
  batchSize: number;
  /** A batch closes this long after its first flow even when not full (default 5 ms). */
  batchDeadlineMs: number;
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
}

const SILENT: SessionLogger = { warn() {}, info() {} };

function check(ok: boolean, msg: string): void {
  if (!ok) throw new RangeError(`Classifier: ${msg}`);
}

function validate(o: ClassifierOptions): void {
  check(typeof o.modelPath === 'string' && o.modelPath !== '', 'modelPath must be the path of an .onnx file');
  check(o.device === 'auto' || o.device === 'cpu' || o.device === 'cuda', `device must be 'auto', 'cpu' or 'cuda', not '${String(o.device)}'`);
  check(Number.isInteger(o.batchSize) && o.batchSize >= 1, `batchSize must be an integer >= 1, not ${o.batchSize}`);
  check(Number.isFinite(o.batchDeadlineMs) && o.batchDeadlineMs >= 0, `batchDeadlineMs must be a number >= 0, not ${o.batchDeadlineMs}`);
  check(o.unknownThreshold === null || (o.unknownThreshold >= 0 && o.unknownThreshold <= 1), `unknownThreshold must be from 0 to 1 or null, not ${o.unknownThreshold}`);
  check(Number.isInteger(o.minPayloadPackets) && o.minPayloadPackets >= 0, `minPayloadPackets must be an integer >= 0, not ${o.minPayloadPackets}`);
  check(Number.isInteger(o.topK) && o.topK >= 1, `topK must be an integer >= 1, not ${o.topK}`);
  if (o.intraOpThreads !== undefined) {
    check(Number.isInteger(o.intraOpThreads) && o.intraOpThreads >= 1, `intraOpThreads must be an integer >= 1, not ${o.intraOpThreads}`);
  }
}

/**
 * Batched ONNX classification of finished flows. One inference runs at a time (ORT already spreads one run
 * over its intra-op threads), over one input buffer allocated at load; batches queue behind it in order.
 */
export class Classifier<T extends Classifiable = FlowRecord> {
  /** Called once per batch with its verdicts, in submission order. Set it before the first submit(). */
  onResult: (batch: Classified<T>[]) => void = () => {};

  /** Why CUDA was not used when it was tried (device 'auto' or 'cuda' on a host without it), else null. */
  cudaError: string | null = null;

  readonly stats: { batches: number; flows: number; errors: number };
  /** Batch latencies (seconds), one observation per batch. */
  readonly latency: LatencyHistogram;

  /** The unknown rule in force: the threshold, and a 1 for each background class. */
  readonly unknownThreshold: number;
  private readonly background: Uint8Array | null;
  private readonly L: number;
  private readonly input: Float32Array;
  private open: T[] = [];
  private openSince = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly closed: Batch<T>[] = [];
  private running: Promise<void> | null = null;
  private pendingCount = 0;
  private failure: unknown = null;
  private isClosed = false;

  private constructor(
    readonly modelInfo: ModelInfo,
    private readonly session: OrtSession,
    private readonly inputName: string,
    private readonly outputName: string,
    private readonly opts: ClassifierOptions,
    private readonly logger: SessionLogger,
  ) {
    this.L = modelInfo.sequenceLength;
    this.input = new Float32Array(opts.batchSize * this.L);
    this.stats = { batches: 0, flows: 0, errors: 0 };
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
    const m = await openModel(opts.modelPath, opts.device, opts.intraOpThreads, logger);
    const c = new Classifier<T>(m.info, m.session, m.inputName, m.outputName, opts, logger);
    c.cudaError = m.cudaError;
    return c;
  }

  /** Flows queued or in flight. */
  get pending(): number {
    return this.pendingCount;
  }

  submit(flow: T): void {
    if (this.isClosed) throw new Error('Classifier.submit() after close(): create a new Classifier');
    if (this.open.length === 0) {
      this.openSince = performance.now();
      this.timer = setTimeout(this.onDeadline, this.opts.batchDeadlineMs);
    }
    this.open.push(flow);
    this.pendingCount++;
    if (this.open.length >= this.opts.batchSize) this.closeBatch();
  }

  /** Runs every queued flow and waits for all inference in flight; rejects with the first onResult error. */
  async drain(): Promise<void> {
    if (this.open.length > 0) this.closeBatch();
    while (this.running !== null) await this.running;
    if (this.failure !== null) {
      const e = this.failure;
      this.failure = null;
      throw e;
    }
  }

  async close(): Promise<void> {
    if (this.isClosed) return;
    try {
      await this.drain();
    } finally {
      this.isClosed = true;
      await this.session.release();
    }
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
    this.closed.push({ flows: this.open, since: this.openSince });
    this.open = [];
    if (this.running === null) this.running = this.pump();
  }

  /**
   * Runs closed batches one after another. `running` is cleared in the same synchronous step that finds the
   * queue empty, so a batch closed at any later moment starts a new pump instead of being stranded.
   */
  private async pump(): Promise<void> {
    let batch = this.closed.shift();
    while (batch !== undefined) {
      await this.runBatch(batch);
      batch = this.closed.shift();
    }
    this.running = null;
  }

  private async runBatch(batch: Batch<T>): Promise<void> {
    const { flows } = batch;
    const { minPayloadPackets, topK } = this.opts;
    const { unknownThreshold, background } = this;
    const L = this.L;
    const rowOf = new Int32Array(flows.length);
    let rows = 0;
    for (let i = 0; i < flows.length; i++) {
      const flow = flows[i]!;
      if (flow.payload_packets < minPayloadPackets) {
        rowOf[i] = -1;
        continue;
      }
      // The record's length may differ from the model's: copy what fits and zero the rest of the row.
      const base = rows * L;
      const lengths = flow.lengths;
      const n = Math.min(L, lengths.length);
      for (let j = 0; j < n; j++) this.input[base + j] = lengths[j]!;
      this.input.fill(0, base + n, base + L);
      rowOf[i] = rows++;
    }

    let probs: Float32Array | null = null;
    if (rows > 0) probs = await this.infer(rows);
    // Even a batch the model never sees is answered after a tick, so onResult never runs inside submit().
    else await Promise.resolve();

    const { classes, version } = this.modelInfo;
    const K = classes.length;
    const out: Classified<T>[] = new Array(flows.length);
    for (let i = 0; i < flows.length; i++) {
      const row = rowOf[i]!;
      let verdict: Verdict;
      if (row < 0) verdict = new Verdict(NO_PAYLOAD, 0, [], '', 'no-payload');
      else if (probs === null) verdict = new Verdict(CLASSIFY_ERROR, 0, [], version, 'classify-error');
      else verdict = verdictFromRow(probs, row * K, classes, topK, unknownThreshold, version, background);
      out[i] = { flow: flows[i]!, verdict };
    }

    this.stats.batches++;
    this.stats.flows += flows.length;
    this.pendingCount -= flows.length;
    this.latency.observe((performance.now() - batch.since) / 1000);
    try {
      this.onResult(out);
    } catch (e) {
      // Keep classifying: the error is handed to the next drain() caller rather than lost or crashing the loop.
      if (this.failure === null) this.failure = e;
    }
  }

  /** One ORT run over the first `rows` rows of the input buffer; null (and a warning) when it fails. */
  private async infer(rows: number): Promise<Float32Array | null> {
    const K = this.modelInfo.classes.length;
    try {
      const feeds = { [this.inputName]: new ort.Tensor('float32', this.input.subarray(0, rows * this.L), [rows, this.L]) };
      const result = await this.session.run(feeds);
      const t = result[this.outputName];
      if (t === undefined || t.type !== 'float32' || t.dims.length !== 2 || t.dims[0] !== rows || t.dims[1] !== K) {
        throw new Error(`output '${this.outputName}' came back as [${t?.dims.join(', ') ?? ''}], expected [${rows}, ${K}]`);
      }
      return t.data as Float32Array;
    } catch (e) {
      this.stats.errors++;
      const msg = (e instanceof Error ? e.message : String(e)).split('\n')[0];
      this.logger.warn(`model ${this.modelInfo.path}: inference failed for a batch of ${rows} flows, labelled '${CLASSIFY_ERROR}': ${msg}`);
      return null;
    }
  }
}
