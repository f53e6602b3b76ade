import type { Device, SessionLogger } from '../classify/deviceSession';
import { ort, type OrtSession } from '../classify/ortBinding';
import { CloseOnce, FirstFailure } from '../classify/queueEnd';
import type { ClassifiedFlow } from '../classify/verdict';
import { openAnomalyModel, portThresholdsFor, thresholdFor, type AnomalyModelInfo } from './anomalyModel';
import { CONTEXT_COUNTERS } from './context';
import { ContextWindow, MAX_HELD } from './contextWindow';
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

/** 10^k for k = 0..11 (each exact). */
const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11];

/**
 * Scores keep 6 significant digits: float32 holds about 7, and records stay short. The value of
 * Number(x.toPrecision(6)), without the string for a float32 x (every score) with 1e-6 <= |x| < 1e6: then
 * |x| * 10^k for the k that gives six digits before the point is exact (24 + 26 bits), so Math.round() picks the
 * digits toPrecision picks (the nearest, a tie upwards in magnitude), and n / 10^k of two exact numbers is the double
 * nearest to n * 10^-k, which is what parsing the text gives. Anything else goes through the text.
 */
export function round6(x: number): number {
  const a = Math.abs(x);
  if (a >= 1e-6 && a < 1e6 && Math.fround(x) === x) {
    let k = 5 - Math.floor(Math.log10(a));
    // log10 may be off by one next to a power of ten: six digits is 1e5 <= m < 1e6.
    let m = a * POW10[k]!;
    if (m < 1e5 && k < 11) m = a * POW10[++k]!;
    else if (m >= 1e6 && k > 0) m = a * POW10[--k]!;
    if (m >= 1e5 && m < 1e6) {
      const r = Math.round(m) / POW10[k]!;
      return x < 0 ? -r : r;
    }
  }
  return Number.isFinite(x) ? Number(x.toPrecision(6)) : x;
}

/** What the scorer's queue holds: a batch to count and score, the end of a capture file (null), or a capture time. */
type Step = ClassifiedFlow[] | null | number;

/**
 * Anomaly scores for batches of classified flows, batched like the classifier: the flows due are scored in one
 * inference call (several when more than batchSize) over one input buffer allocated at load, and handed on in the
 * order they came. A model that reads context counters (context.ts) may ask for a hold (`anomaly_context_hold`,
 * contextWindow.ts): each flow is then counted when it comes and scored once capture time is that many seconds
 * past its end, so a batch's flows are handed on with a later batch (or at flush()).
 */
export class AnomalyScorer {
  /**
   * Called once per submit(), flush() and advance() that queued a step, with the flows it released, scored, in
   * submission order (all of the batch's with a model without a hold). Set it before the first submit().
   */
  onResult: (batch: ScoredFlow[]) => void = () => {};

  /**
   * Batches and flows scored, flows flagged, failed batches; with a context hold, flows scored before their hold was
   * over because ContextWindow's MAX_HELD flows were waiting (`heldEarly`), and context keys dropped to keep memory
   * bounded (`contextEvicted`): under either, the context counters saw less than the model expects.
   */
  readonly stats = { batches: 0, flows: 0, anomalies: 0, errors: 0, heldEarly: 0, heldEarlyRetry: 0, contextEvicted: 0 };
  /** The threshold for `fpr`: a flow is flagged above it, or above its server port's (portThresholds) where the model has one. */
  readonly threshold: number;
  readonly fpr: number;
  /** Server port -> threshold for `fpr` (models/ANOMALY.md "Model contract", `anomaly_port_thresholds`). */
  readonly portThresholds: ReadonlyMap<number, number>;

  private readonly input: Float32Array;
  private readonly features: FeatureExtractor;
  /** The context counters of the flows counted so far and the flows waiting for their hold (null when the model reads none). */
  private readonly window: ContextWindow<ClassifiedFlow> | null;
  private readonly ctx = new Float64Array(CONTEXT_COUNTERS.length);
  private readonly queue: Step[] = [];
  /** The rows of the inference call being filled. */
  private readonly rows: ClassifiedFlow[];
  private filled = 0;
  /** A batch scored without context, being taken from. */
  private direct: ClassifiedFlow[] = [];
  private directHead = 0;
  private running: Promise<void> | null = null;
  private pendingCount = 0;
  private readonly failure = new FirstFailure();
  private readonly end = new CloseOnce();

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
    this.window = this.features.needsContext ? new ContextWindow<ClassifiedFlow>(modelInfo.contextHold, MAX_HELD, undefined, modelInfo.contextRetryHold) : null;
    this.input = new Float32Array(batchSize * this.features.width);
    this.rows = new Array<ClassifiedFlow>(batchSize);
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

  /** Flows queued or being scored, not counting those waiting for their hold (`held`). */
  get pending(): number {
    return this.pendingCount;
  }

  /** Flows counted and waiting for their hold (at most MAX_HELD). */
  get held(): number {
    return this.window?.held ?? 0;
  }

  submit(batch: ClassifiedFlow[]): void {
    this.step(batch, batch.length);
  }

  /** Scores every flow still held once the batches before are in: the end of a capture file or of the input. */
  flush(): void {
    this.step(null, 0);
  }

  /**
   * Moves capture time on to `now` without a record (live capture's table clock), releasing flows whose hold is
   * over. Whether it queued a step (one onResult call): not when nothing is held or queued.
   */
  advance(now: number): boolean {
    if (this.window === null || this.window.hold === 0 || (this.window.held === 0 && this.queue.length === 0)) return false;
    this.step(now, 0);
    return true;
  }

  private step(s: Step, flows: number): void {
    if (this.end.closed) throw new Error('AnomalyScorer used after close(): create a new AnomalyScorer');
    this.queue.push(s);
    this.pendingCount += flows;
    if (this.running === null) this.running = this.pump();
  }

  /**
   * Waits until every submitted batch was taken in and the flows due handed on (flows still held stay: flush()
   * first to have them all); rejects with the first onResult error.
   */
  async drain(): Promise<void> {
    while (this.running !== null) await this.running;
    this.failure.rethrow();
  }

  close(): Promise<void> {
    return this.end.close(
      () => {
        this.flush();
        return this.drain();
      },
      () => this.session.release(),
    );
  }

  private async pump(): Promise<void> {
    while (this.queue.length > 0) await this.runStep(this.queue.shift()!);
    this.running = null;
  }

  /**
   * Takes a step in (counts a batch's flows one at a time, each followed by the flows it made due; ends a file;
   * moves the clock), scoring the flows due batchSize at a time, and hands them on.
   */
  private async runStep(s: Step): Promise<void> {
    const all = s === null;
    let taken = 0;
    const out: ScoredFlow[] = [];
    if (Array.isArray(s)) {
      taken = s.length;
      if (this.window === null) {
        this.direct = s;
        this.directHead = 0;
      } else {
        // The counting runs in takeIn(), a plain method, until the rows are full: scoring awaits, and an async
        // function's loop is compiled with its resume points, a larger graph (round perf17).
        for (let i = 0; i < s.length; ) {
          i = this.takeIn(s, i);
          if (this.filled === this.batchSize) {
            await this.scoreRows(out);
            while (this.takeDue(false)) await this.scoreRows(out);
          }
        }
      }
    } else if (s !== null) this.window?.advance(s);
    while (this.takeDue(all)) await this.scoreRows(out);
    await this.scoreRows(out);
    if (all) this.window?.endOfInput();
    if (out.length === 0) await Promise.resolve();
    if (taken > 0) this.stats.batches++;
    this.stats.flows += out.length;
    if (this.window !== null) {
      this.stats.heldEarly = this.window.releasedEarly;
      this.stats.heldEarlyRetry = this.window.releasedEarlyRetry;
      this.stats.contextEvicted = this.window.evicted;
    }
    this.pendingCount -= taken;
    try {
      this.onResult(out);
    } catch (e) {
      this.failure.keep(e);
    }
  }

  /**
   * Counts the flows of `s` from `i` on, each followed by the flows it made due, until a flow's release filled the
   * rows (this.filled === batchSize); the index after the last flow counted.
   */
  private takeIn(s: ClassifiedFlow[], i: number): number {
    const w = this.window!;
    while (i < s.length) {
      const cf = s[i++]!;
      w.add(cf, cf.flow);
      if (this.takeDue(false)) break;
    }
    return i;
  }

  /** Fills input rows with the flows due; true when the rows are full (more may be due). */
  private takeDue(all: boolean): boolean {
    const W = this.features.width;
    while (this.filled < this.batchSize) {
      const cf = this.next(all);
      if (cf === undefined) return false;
      this.features.fill(cf.flow, this.ctx, this.input, this.filled * W);
      this.rows[this.filled++] = cf;
    }
    return true;
  }

  /** Scores the rows filled and appends their flows to `out`. */
  private async scoreRows(out: ScoredFlow[]): Promise<void> {
    const n = this.filled;
    if (n === 0) return;
    const scores = await this.infer(n);
    for (let i = 0; i < n; i++) {
      const cf = this.rows[i]!;
      let a: AnomalyScore | null = null;
      if (scores !== null) {
        const v = scores[i]!;
        a = new AnomalyScore(round6(v), v > (this.portThresholds.get(cf.flow.server_port) ?? this.threshold), this.fpr);
        if (a.anomaly) this.stats.anomalies++;
      }
      out.push({ flow: cf.flow, verdict: cf.verdict, anomaly: a });
    }
    this.filled = 0;
  }

  /** The next flow due, its context counters in this.ctx (zeros for a model that reads none). */
  private next(all: boolean): ClassifiedFlow | undefined {
    if (this.window !== null) return this.window.next(this.ctx, all);
    if (this.directHead < this.direct.length) return this.direct[this.directHead++];
    this.direct = [];
    this.directHead = 0;
    return undefined;
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
