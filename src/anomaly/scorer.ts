import type { Device, SessionLogger } from '../classify/deviceSession';
import { ort, type OrtSession } from '../classify/ortBinding';
import type { ClassifiedFlow } from '../classify/verdict';
import { openAnomalyModel, portThresholdsFor, thresholdFor, type AnomalyModelInfo } from './anomalyModel';
import { CONTEXT_COUNTERS, FlowContext } from './context';
import { FeatureExtractor } from './features';
import { AnomalyScore, type ScoredFlow } from './scoredFlow';

export interface ScorerOptions {
  modelPath: string;
  device: Device;
  /** Rows per inference call: batches handed in larger than this run in several calls (default 256). */
  batchSize: number;
  /** The false-positive rate whose threshold flags flows; null = the model's default. */
  falsePositiveRate: number | null;
  intraOpThreads?: number;
  logger?: SessionLogger;
}

const SILENT: SessionLogger = { warn() {}, info() {} };

/** Scores keep 6 significant digits: float32 holds about 7, and records stay short. */
function round6(x: number): number {
  return Number.isFinite(x) ? Number(x.toPrecision(6)) : x;
}

/**
 * Anomaly scores for batches of classified flows, batched like the classifier: each batch the classifier hands
 * on is scored in one inference call (several when larger than batchSize) over one input buffer allocated at
 * load; batches are scored one at a time and handed on in the order they came.
 */
export class AnomalyScorer {
  /** Called once per batch with the scored flows, in submission order. Set it before the first submit(). */
  onResult: (batch: ScoredFlow[]) => void = () => {};

  readonly stats = { batches: 0, flows: 0, anomalies: 0, errors: 0 };
  /** The threshold for `fpr`: a flow is flagged above it, or above its server port's (portThresholds) where the model has one. */
  readonly threshold: number;
  readonly fpr: number;
  /** Server port -> threshold for `fpr` (models/ANOMALY.md "Model contract", `anomaly_port_thresholds`). */
  readonly portThresholds: ReadonlyMap<number, number>;

  private readonly input: Float32Array;
  private readonly features: FeatureExtractor;
  /** The context counters of the flows scored so far (null when the model reads none). */
  private readonly context: FlowContext | null;
  private readonly ctx = new Float64Array(CONTEXT_COUNTERS.length);
  private readonly queue: ClassifiedFlow[][] = [];
  private running: Promise<void> | null = null;
  private pendingCount = 0;
  private failure: unknown = null;
  private isClosed = false;

  private constructor(
    readonly modelInfo: AnomalyModelInfo,
    private readonly session: OrtSession,
    private readonly inputName: string,
    private readonly outputName: string,
    private readonly batchSize: number,
    fpr: number | null,
    private readonly logger: SessionLogger,
  ) {
    const t = thresholdFor(modelInfo, fpr);
    this.threshold = t.threshold;
    this.fpr = t.fpr;
    this.portThresholds = portThresholdsFor(modelInfo, t.fpr);
    this.features = new FeatureExtractor(modelInfo.sequenceLength, modelInfo.counters);
    this.context = this.features.needsContext ? new FlowContext() : null;
    this.input = new Float32Array(batchSize * this.features.width);
  }

  /** Loads and checks the model. Throws ModelContractError (one line) when it is refused. */
  static async load(opts: ScorerOptions): Promise<AnomalyScorer> {
    if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) throw new RangeError(`AnomalyScorer: batchSize must be an integer >= 1, not ${opts.batchSize}`);
    const logger = opts.logger ?? SILENT;
    const m = await openAnomalyModel(opts.modelPath, opts.device, opts.intraOpThreads, logger);
    try {
      return new AnomalyScorer(m.info, m.session, m.inputName, m.outputName, opts.batchSize, opts.falsePositiveRate, logger);
    } catch (e) {
      await m.session.release();
      throw e;
    }
  }

  /** Flows queued or being scored. */
  get pending(): number {
    return this.pendingCount;
  }

  submit(batch: ClassifiedFlow[]): void {
    if (this.isClosed) throw new Error('AnomalyScorer.submit() after close(): create a new AnomalyScorer');
    this.queue.push(batch);
    this.pendingCount += batch.length;
    if (this.running === null) this.running = this.pump();
  }

  /** Waits until every submitted batch was handed on; rejects with the first onResult error. */
  async drain(): Promise<void> {
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

  private async pump(): Promise<void> {
    let batch = this.queue.shift();
    while (batch !== undefined) {
      await this.runBatch(batch);
      batch = this.queue.shift();
    }
    this.running = null;
  }

  private async runBatch(batch: ClassifiedFlow[]): Promise<void> {
    const out: ScoredFlow[] = new Array(batch.length);
    const W = this.features.width;
    for (let from = 0; from < batch.length; from += this.batchSize) {
      const to = Math.min(batch.length, from + this.batchSize);
      for (let i = from; i < to; i++) {
        const f = batch[i]!.flow;
        if (this.context !== null) this.context.observe(f, this.ctx);
        this.features.fill(f, this.ctx, this.input, (i - from) * W);
      }
      const scores = await this.infer(to - from);
      for (let i = from; i < to; i++) {
        const cf = batch[i]!;
        let a: AnomalyScore | null = null;
        if (scores !== null) {
          const s = scores[i - from]!;
          a = new AnomalyScore(round6(s), s > (this.portThresholds.get(cf.flow.server_port) ?? this.threshold), this.fpr);
          if (a.anomaly) this.stats.anomalies++;
        }
        out[i] = { flow: cf.flow, verdict: cf.verdict, anomaly: a };
      }
    }
    if (batch.length === 0) await Promise.resolve();
    this.stats.batches++;
    this.stats.flows += batch.length;
    this.pendingCount -= batch.length;
    try {
      this.onResult(out);
    } catch (e) {
      if (this.failure === null) this.failure = e;
    }
  }

  /** One ORT run over the first `rows` rows; null (and a warning) when it fails, so the flows are still written. */
  private async infer(rows: number): Promise<Float32Array | null> {
    const W = this.features.width;
    try {
      const feeds = { [this.inputName]: new ort.Tensor('float32', this.input.subarray(0, rows * W), [rows, W]) };
      const t = (await this.session.run(feeds))[this.outputName];
      if (t === undefined || t.type !== 'float32' || t.dims[0] !== rows) {
        throw new Error(`output '${this.outputName}' came back as [${t?.dims.join(', ') ?? ''}], expected [${rows}]`);
      }
      return t.data as Float32Array;
    } catch (e) {
      this.stats.errors++;
      const msg = (e instanceof Error ? e.message : String(e)).split('\n')[0];
      this.logger.warn(`anomaly model ${this.modelInfo.path}: scoring failed for a batch of ${rows} flows, written without a score: ${msg}`);
      return null;
    }
  }
}
