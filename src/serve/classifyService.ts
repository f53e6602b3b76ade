import { Classifier, type ClassifierOptions, type ModelInfo } from '../classify/classifier';
import type { Classified, Verdict } from '../classify/verdict';

/** One request's rows on their way through the classifier. */
class Ticket {
  readonly verdicts: Verdict[];
  left: number;
  constructor(
    n: number,
    readonly resolve: (v: Verdict[]) => void,
  ) {
    this.verdicts = new Array<Verdict>(n);
    this.left = n;
  }
}

/** One posted sequence as the classifier sees it: the same two fields it reads from a flow record. */
class Row {
  constructor(
    readonly lengths: number[],
    readonly payload_packets: number,
    readonly ticket: Ticket,
    readonly index: number,
  ) {}
}

/** Too many sequences are already waiting for the model: the request is refused (503) rather than queued. */
export class ClassifierBusyError extends Error {
  override name = 'ClassifierBusyError';
}

/** Entries of a sequence that are payload packets: the non-zero ones (zeros are padding, SPEC.md). */
function payloadPackets(lengths: readonly number[]): number {
  let n = 0;
  for (const v of lengths) if (v !== 0) n++;
  return n;
}

/**
 * POST /v1/classify's engine: the sensor's own Classifier (same model contract, same no-payload and unknown
 * rules, same top-k), fed with posted sequences. Concurrent requests share its batches: every row goes into the
 * classifier's open batch, which closes when full or at its deadline, so many small requests make one
 * inference call. Each request waits for its own rows only.
 */
export class ClassifyService {
  /** Sequences classified since start (Prometheus). */
  sequences = 0;
  private classifier: Classifier<Row>;

  private constructor(
    classifier: Classifier<Row>,
    private opts: ClassifierOptions,
    /** Rows queued or in flight above which a request is refused with 503 (bounds memory under overload). */
    readonly maxQueued: number,
  ) {
    this.classifier = classifier;
  }

  static async open(opts: ClassifierOptions, maxQueued: number): Promise<ClassifyService> {
    return new ClassifyService(await ClassifyService.load(opts), opts, maxQueued);
  }

  private static async load(opts: ClassifierOptions): Promise<Classifier<Row>> {
    const c = await Classifier.load<Row>(opts);
    c.onResult = deliver;
    return c;
  }

  get modelInfo(): ModelInfo {
    return this.classifier.modelInfo;
  }

  get options(): ClassifierOptions {
    return this.opts;
  }

  /** The threshold of the unknown rule in force (the config's, else the model's own, else the default). */
  get unknownThreshold(): number {
    return this.classifier.unknownThreshold;
  }

  get stats(): Classifier<Row>['stats'] {
    return this.classifier.stats;
  }

  /** Verdicts for `rows` (each already checked to be the model's sequence length), in order. */
  classify(rows: number[][]): Promise<Verdict[]> {
    const c = this.classifier;
    if (c.pending + rows.length > this.maxQueued) {
      return Promise.reject(new ClassifierBusyError(`classifier busy: ${c.pending} sequences queued (limit ${this.maxQueued}); retry shortly`));
    }
    if (rows.length === 0) return Promise.resolve([]);
    this.sequences += rows.length;
    return new Promise<Verdict[]>((resolve) => {
      const ticket = new Ticket(rows.length, resolve);
      for (let i = 0; i < rows.length; i++) {
        const lengths = rows[i]!;
        c.submit(new Row(lengths, payloadPackets(lengths), ticket, i));
      }
    });
  }

  /**
   * Swaps in another model (the sensor's SIGHUP): rows already queued finish on the old one. Throws
   * ModelContractError, and keeps the running model, when the new one is refused.
   */
  async reload(opts: ClassifierOptions): Promise<void> {
    const next = await ClassifyService.load(opts);
    const old = this.classifier;
    this.classifier = next;
    this.opts = opts;
    await old.close();
  }

  async close(): Promise<void> {
    await this.classifier.close();
  }
}

function deliver(batch: Classified<Row>[]): void {
  for (const { flow: row, verdict } of batch) {
    const t = row.ticket;
    t.verdicts[row.index] = verdict;
    if (--t.left === 0) t.resolve(t.verdicts);
  }
}
