import { hostname } from 'node:os';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { FlowScorer } from '../anomaly/scorerThread';
import type { ScoredFlow } from '../anomaly/scoredFlow';
import type { Frame, FrameHandler } from '../capture/frame';
import type { Classifier } from '../classify/classifier';
import { ClassifiedFlow, Verdict } from '../classify/verdict';
import { Anomalies, newAnomalies } from '../decode/anomalies';
import { Decoder } from '../decode/decoder';
import { PacketMeta } from '../decode/packetMeta';
import type { FlowRecord } from '../flow/flowRecord';
import { FlowTable, FlowTableOptions } from '../flow/flowTable';
import type { PayloadInspector } from '../flow/payloadInspector';
import type { Pseudonymizer } from '../flow/pseudonymizer';
import { FastPath } from '../fastpath/fastPath';
import type { FlowSink } from './flowSink';

export type { FlowSink } from './flowSink';

/** Where the records of one run come from (stamped on every record, see FlowRecord). */
export interface RecordOrigin {
  /** The sensor's name (config `sensor.name`). */
  sensor: string;
  /** Live capture (the flow table's source is an interface) rather than capture files. */
  live: boolean;
}

/** Verdict for flows when classification is switched off. */
const UNCLASSIFIED = new Verdict('unclassified', 0, [], '', 'unclassified');

/**
 * Flows queued for inference before the pipeline waits for the classifier. Together with END_BUDGET and
 * FLUSH_STEP it bounds the records held in memory besides the flow table (README "Reliability"); a few batches
 * keep onnxruntime busy while the reader goes on.
 */
export const MAX_PENDING_FLOWS = 8192;

/**
 * Flows the flow table's timers (idle, FIN grace) may end between two settle() calls. A clock jump can make
 * every flow idle at once; the budget turns that into steps of this size with the records drained in between.
 */
export const END_BUDGET = 4096;

/**
 * Most flows queued for the model at any time. Offline runs never reach it (settle() after every window keeps the
 * queue near MAX_PENDING_FLOWS); live capture cannot wait for inference, so under a flood of flows with payload
 * that outruns the model, flows past this bound are written without it (label `unclassified`, counted in
 * `skippedInference`) rather than queued without bound or dropped with their packets.
 */
export const MAX_QUEUED_FOR_MODEL = 4 * MAX_PENDING_FLOWS;

/** Flows ended per step of an end-of-file or shutdown flush, with the records drained between steps. */
export const FLUSH_STEP = 4096;

/**
 * Records handed to the sinks at once. Small, so that records die young on the capture thread and a sink in its own
 * thread starts on them while capture goes on; the database gathers them into large transactions itself
 * (sqliteSink.ts GROUP_COMMIT_MS), JSON lines and ClickHouse buffer on their own.
 */
export const SINK_BATCH = 1024;

/**
 * Longest a record waits in a partly filled sink batch. With the database's GROUP_COMMIT_MS it bounds what a kill -9
 * can lose besides the flows still open, and how stale the database looks to a reader on a quiet network.
 */
export const SINK_DELAY_MS = 250;

/** Classified flows gathered into one anomaly-scoring call, and the longest the first of them waits for more. */
const SCORE_BATCH = 256;
const SCORE_DELAY_MS = 5;

/**
 * An empty batch whose elements kind is already that of an array of objects. An empty `[]` starts as an array of small
 * integers and changes kind at its first push; the push sites of queueOut() and queueScored() then saw both kinds,
 * and V8's optimized code for them was thrown away ("not a Smi") and compiled again (round perf16).
 */
function newBatch<T>(): T[] {
  const batch: (T | null)[] = [null];
  batch.length = 0;
  return batch as T[];
}

/** How often (in frames) the decoder's fragment table is checked for timeouts. */
const FRAGMENT_EXPIRY_EVERY = 65536;

/**
 * The frame at which the fragment expiry runs once as a no-op (see expireFragments()): after V8 has given onFrame its
 * type feedback (a few calls) and before it compiles the frame loop with onFrame inlined (a few thousand frames).
 */
const WARM_EXPIRY_FRAME = 64;

/**
 * capture -> decode -> flow -> classify -> anomaly -> sinks, for one run of the sensor (offline or live): the one place
 * where the stages are joined, used by the CLI's offline run and by the daemon.
 *
 * `onFrame` is the per-packet entry point: it allocates nothing and never throws on bad input. The owner calls
 * settle() between chunks of input (a file window, a timer tick): it waits while the classifier or a sink is
 * behind, which is what keeps memory bounded by the flow table plus MAX_PENDING_FLOWS and the records of one
 * chunk.
 */
export class Pipeline {
  readonly anomalies: Anomalies = newAnomalies();
  readonly decoder: Decoder;
  readonly table: FlowTable;
  readonly onFrame: FrameHandler;
  /**
   * The fast path (src/fastpath/), or null (switched off with SENSOR_FASTPATH=0, the addon not built, or learn mode's
   * inspector): the offline run hands it to FileSource.run() (classic pcap, pcapng), the daemon to LiveSource.start()
   * (the live addon's batches, round perf39).
   */
  readonly fastPath: FastPath | null;
  /** Flow records handed to the sinks. */
  written = 0;
  private readonly meta = new PacketMeta();
  private classifier: Classifier | null;
  private scorer: FlowScorer | null;
  /** Classified flows waiting for the next anomaly-scoring call (at most SCORE_BATCH, for at most SCORE_DELAY_MS). */
  private toScore: ClassifiedFlow[] = newBatch();
  private scoreTimer: NodeJS.Timeout | null = null;
  private unscoredCount = 0;
  private readonly pseudonymizer: Pseudonymizer | null;
  private readonly sinks: FlowSink[];
  /** Frames since the last fragment expiry; the fast path adds the frames it takes (never reaching expiryDue). */
  framesSinceExpiry = 0;
  /** framesSinceExpiry at which expireFragments() runs: WARM_EXPIRY_FRAME once, then FRAGMENT_EXPIRY_EVERY. */
  expiryDue = WARM_EXPIRY_FRAME;
  /** Classified records waiting for the next sink write (at most SINK_BATCH, for at most SINK_DELAY_MS). */
  private outgoing: ScoredFlow[] = newBatch();
  private outTimer: NodeJS.Timeout | null = null;
  /** Set while a shutdown flush is past its classification deadline. */
  private skipModel = false;
  private unclassifiedCount = 0;

  /**
   * `inspector` (learn mode, monitor.groundTruth) sees the first payload bytes of each flow and names it; without
   * one the per-packet path is the plain decode -> flow table below.
   */
  constructor(
    flowOpts: FlowTableOptions,
    classifier: Classifier | null,
    sinks: FlowSink[],
    pseudonymizer: Pseudonymizer | null = null,
    private readonly origin: RecordOrigin = { sensor: hostname(), live: false },
    inspector: PayloadInspector | null = null,
    scorer: FlowScorer | null = null,
  ) {
    this.classifier = classifier;
    this.scorer = scorer;
    if (scorer !== null) scorer.onResult = (batch) => this.deliverScored(batch);
    this.pseudonymizer = pseudonymizer;
    this.sinks = sinks;
    this.decoder = new Decoder(this.anomalies);
    this.table = new FlowTable(flowOpts, (r) => this.submit(r), inspector);
    this.table.allowEnds(END_BUDGET);
    if (classifier !== null) classifier.onResult = (batch) => this.deliver(batch);
    const meta = this.meta;
    const decoder = this.decoder;
    const table = this.table;
    this.fastPath = inspector === null ? FastPath.open(decoder, table, this) : null;
    // The JavaScript packet path; native/fastpath/fast_path.cc does the same for the common packet of a pcap file.
    this.onFrame =
      inspector === null
        ? (frame: Frame): void => {
            if (decoder.decode(frame, meta)) table.packet(meta);
            if (++this.framesSinceExpiry === this.expiryDue) this.expireFragments(frame);
          }
        : (frame: Frame): void => {
            inspector.buf = frame.buf;
            if (decoder.decode(frame, meta)) table.packet(meta);
            if (++this.framesSinceExpiry === this.expiryDue) this.expireFragments(frame);
          };
  }

  /**
   * The fragment table's timeouts, every FRAGMENT_EXPIRY_EVERY frames, relative to that frame's time. Once before that,
   * at frame WARM_EXPIRY_FRAME, the same code runs with a time of -Infinity, which expires nothing (no fragment set
   * is older than the timeout at -Infinity), so that the branch has type feedback when V8 compiles the frame loop:
   * it first ran at frame 65,536 of a capture and threw the loop's optimized code away there (round perf16).
   */
  private expireFragments(frame: Frame): void {
    const n = this.framesSinceExpiry;
    const due = n === FRAGMENT_EXPIRY_EVERY;
    const ts = frame.ts;
    this.decoder.expireFragments(due ? ts : -Infinity);
    this.framesSinceExpiry = due ? 0 : n;
    this.expiryDue = FRAGMENT_EXPIRY_EVERY;
  }

  /**
   * Called between chunks of input: waits for inference when too many flows are queued and for sinks whose
   * buffers are full (or that failed: their drained() says so), then gives the flow table's timers their next
   * budget. Returns nothing when there is nothing to wait for: it runs after every window of a capture file
   * (tens of thousands of times a second), where a promise per call was a measurable cost.
   */
  settle(): Promise<void> | void {
    if (this.classifier !== null && this.classifier.pending > MAX_PENDING_FLOWS) return this.settleSlowly();
    // A scorer in its own thread answers later, like the classifier: without this wait, an offline run could queue
    // flows up to MAX_QUEUED_FOR_MODEL and then write them without a score.
    if (this.scorer !== null && this.scorer.pending > MAX_PENDING_FLOWS) return this.settleSlowly();
    for (const s of this.sinks) if (s.drained !== undefined && s.mustDrain?.() !== false) return this.settleSlowly();
    this.table.allowEnds(END_BUDGET);
  }

  private async settleSlowly(): Promise<void> {
    if (this.classifier !== null && this.classifier.pending > MAX_PENDING_FLOWS) await this.classifier.drain();
    if (this.scorer !== null && this.scorer.pending > MAX_PENDING_FLOWS) await this.scorer.drain();
    for (const s of this.sinks) if (s.drained !== undefined) await s.drained();
    this.table.allowEnds(END_BUDGET);
  }

  /**
   * Live mode's timer: advances the table clock to `now` (wall clock) and ends the flows whose timers ran out,
   * in budgeted steps with the records drained in between (capture callbacks run between the steps).
   */
  async tick(now: number): Promise<void> {
    this.table.advance(now);
    // A model with a context hold (src/anomaly/contextWindow.ts) scores flows once capture time is past their hold,
    // also when no later record comes.
    if (this.scorer !== null) {
      this.submitScoring();
      this.scorer.advance(now);
    }
    await this.settle();
    while (this.table.behind) {
      // Capture callbacks run between the steps: settle() alone may never leave the microtask queue.
      await yieldToEventLoop();
      this.table.advance(now);
      await this.settle();
    }
  }

  /**
   * Ends every open flow with `reason` in steps of FLUSH_STEP (the records of each step drain before the next
   * one is made) and waits until all of them reached the sinks. A shutdown with a full table must finish inside
   * the service manager's stop timeout, and a counted loss beats being killed with everything in flight; the
   * deadlines (performance.now() times) trade records for time in order of their value: flows ended after
   * `classifyUntil` skip the model (label `unclassified`); after `shedAfter`, flows without payload end without a
   * record; after `dropAfter`, every remaining flow does (both counted in table.stats.shed).
   */
  async flush(reason: 'eof' | 'shutdown', deadlines: { classifyUntil?: number; shedAfter?: number; dropAfter?: number } = {}): Promise<void> {
    const classifyUntil = deadlines.classifyUntil ?? Infinity;
    const shedAfter = deadlines.shedAfter ?? Infinity;
    const dropAfter = deadlines.dropAfter ?? Infinity;
    for (const s of this.sinks) s.holdCommits?.(true);
    try {
      for (;;) {
        const now = performance.now();
        if (now >= classifyUntil) this.skipModel = true;
        const shed = now >= dropAfter ? 'all' : now >= shedAfter ? 'no-payload' : 'none';
        if (this.table.flush(reason, FLUSH_STEP, shed) === 0) break;
        await this.settle();
      }
      await this.drain();
    } finally {
      this.skipModel = false;
      for (const s of this.sinks) s.holdCommits?.(false);
    }
  }

  /**
   * Records written without the model (label `unclassified`) although classification is on: the model's queue
   * was full (MAX_QUEUED_FOR_MODEL), or a shutdown flush ran out of time.
   */
  get skippedInference(): number {
    return this.unclassifiedCount;
  }

  /**
   * Records written without an anomaly score although scoring is on: its queue was full (MAX_QUEUED_FOR_MODEL)
   * or a shutdown flush ran out of time.
   */
  get skippedScoring(): number {
    return this.unscoredCount;
  }

  /**
   * Waits until every flow handed to the classifier has reached the sinks (the anomaly model's held flows too: the
   * end of a capture file or of the input), and the sinks' buffers drained.
   */
  async drain(): Promise<void> {
    if (this.classifier !== null) await this.classifier.drain();
    if (this.scorer !== null) {
      this.submitScoring();
      this.scorer.flush();
      await this.scorer.drain();
    }
    this.writeOut();
    for (const s of this.sinks) if (s.drained !== undefined) await s.drained();
  }

  /**
   * Writes what is still batched and closes the sinks (after flush) in list order: a sink that writes into another's
   * database (the model monitor, host profiles) comes before that sink in the list.
   */
  async close(): Promise<void> {
    this.writeOut();
    for (const s of this.sinks) s.endOfInput?.();
    for (const s of this.sinks) if (s.committed !== undefined) await s.committed();
    for (const s of this.sinks) await s.close();
  }

  /**
   * Swaps in another classifier (SIGHUP reload): flows already queued finish on the old model, new ones go to
   * the new model. Returns the old classifier so the caller can close it.
   */
  async swapClassifier(next: Classifier): Promise<Classifier | null> {
    const old = this.classifier;
    if (old !== null) await old.drain();
    next.onResult = (batch) => this.deliver(batch);
    this.classifier = next;
    return old;
  }

  /** Swaps in another anomaly model (SIGHUP reload), like swapClassifier(). Returns the old one to close. */
  async swapScorer(next: FlowScorer): Promise<FlowScorer | null> {
    const old = this.scorer;
    if (old !== null) {
      this.submitScoring();
      old.flush();
      await old.drain();
    }
    next.onResult = (batch) => this.deliverScored(batch);
    this.scorer = next;
    return old;
  }

  private submit(r: FlowRecord): void {
    if (this.pseudonymizer !== null) this.pseudonymizer.apply(r);
    // After pseudonymisation: the uid (computed on first read, FlowRecord.uid) comes from the addresses as
    // written, so it can be recomputed from the record alone.
    r.sensor = this.origin.sensor;
    r.live = this.origin.live;
    if (this.classifier === null) this.queueOut({ flow: r, verdict: UNCLASSIFIED });
    else if (!this.skipModel && this.classifier.pending < MAX_QUEUED_FOR_MODEL) this.classifier.submit(r);
    else {
      this.unclassifiedCount++;
      this.queueOut({ flow: r, verdict: UNCLASSIFIED });
    }
  }

  private deliver(batch: ClassifiedFlow[]): void {
    for (const cf of batch) this.queueOut(cf);
  }

  /**
   * A classified flow goes to the anomaly model (gathered into batches of SCORE_BATCH), or straight on without a
   * score when there is none, when a shutdown flush is out of time, or when the model's queue is full.
   */
  private queueOut(cf: ClassifiedFlow): void {
    const scorer = this.scorer;
    if (scorer === null) return this.queueScored({ flow: cf.flow, verdict: cf.verdict, anomaly: null });
    if (this.skipModel || scorer.pending + this.toScore.length >= MAX_QUEUED_FOR_MODEL) {
      this.unscoredCount++;
      return this.queueScored({ flow: cf.flow, verdict: cf.verdict, anomaly: null });
    }
    this.toScore.push(cf);
    if (this.toScore.length >= SCORE_BATCH) this.submitScoring();
    else if (this.scoreTimer === null) this.scoreTimer = setTimeout(this.submitScoring, SCORE_DELAY_MS).unref();
  }

  private readonly submitScoring = (): void => {
    if (this.scoreTimer !== null) {
      clearTimeout(this.scoreTimer);
      this.scoreTimer = null;
    }
    if (this.toScore.length === 0 || this.scorer === null) return;
    const batch = this.toScore;
    this.toScore = newBatch();
    this.scorer.submit(batch);
  };

  private deliverScored(batch: ScoredFlow[]): void {
    for (const sf of batch) this.queueScored(sf);
  }

  private queueScored(cf: ScoredFlow): void {
    this.outgoing.push(cf);
    if (this.outgoing.length >= SINK_BATCH) this.writeOut();
    else if (this.outTimer === null) this.outTimer = setTimeout(this.writeOut, SINK_DELAY_MS).unref();
  }

  /** Hands the batched records to every sink. */
  private readonly writeOut = (): void => {
    if (this.outTimer !== null) {
      clearTimeout(this.outTimer);
      this.outTimer = null;
    }
    if (this.outgoing.length === 0) return;
    const batch = this.outgoing;
    this.outgoing = newBatch();
    for (const s of this.sinks) s.write(batch);
    this.written += batch.length;
  };
}
