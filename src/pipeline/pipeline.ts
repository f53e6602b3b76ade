import { hostname } from 'node:os';
import type { Frame, FrameHandler } from '../capture/frame';
import type { Classifier } from '../classify/classifier';
import { ClassifiedFlow, Verdict } from '../classify/verdict';
import { Anomalies, newAnomalies } from '../decode/anomalies';
import { Decoder } from '../decode/decoder';
import { PacketMeta } from '../decode/packetMeta';
import type { FlowRecord } from '../flow/flowRecord';
import { FlowTable, FlowTableOptions } from '../flow/flowTable';
import { flowUid } from '../flow/flowUid';
import type { Pseudonymizer } from '../flow/pseudonymizer';

/** Where classified flows go (SQLite, JSON lines). */
export interface FlowSink {
  write(batch: ClassifiedFlow[]): void;
  close(): void | Promise<void>;
}

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
 * Flows queued for inference before the capture loop waits for the classifier. Bounds memory when a capture
 * ends many flows at once; a few batches keep onnxruntime busy while the reader goes on.
 */
const MAX_PENDING_FLOWS = 8192;

/** Sink batch size when classification is off: one SQLite transaction per this many flows. */
const UNCLASSIFIED_BATCH = 256;

/** How often (in frames) the decoder's fragment table is checked for timeouts. */
const FRAGMENT_EXPIRY_EVERY = 65536;

/**
 * capture -> decode -> flow -> classify -> sinks, for one run of the sensor (offline or live).
 * `onFrame` is the per-packet entry point: it allocates nothing and never throws on bad input.
 */
export class Pipeline {
  readonly anomalies: Anomalies = newAnomalies();
  readonly decoder: Decoder;
  readonly table: FlowTable;
  readonly onFrame: FrameHandler;
  /** Flow records written to the sinks. */
  written = 0;
  private readonly meta = new PacketMeta();
  private classifier: Classifier | null;
  private readonly pseudonymizer: Pseudonymizer | null;
  private readonly sinks: FlowSink[];
  private framesSinceExpiry = 0;
  /** Records waiting to be written when classification is off (written in batches, like classifier output). */
  private unclassified: ClassifiedFlow[] = [];

  constructor(
    flowOpts: FlowTableOptions,
    classifier: Classifier | null,
    sinks: FlowSink[],
    pseudonymizer: Pseudonymizer | null = null,
    private readonly origin: RecordOrigin = { sensor: hostname(), live: false },
  ) {
    this.classifier = classifier;
    this.pseudonymizer = pseudonymizer;
    this.sinks = sinks;
    this.decoder = new Decoder(this.anomalies);
    this.table = new FlowTable(flowOpts, (r) => this.submit(r));
    if (classifier !== null) classifier.onResult = (batch) => this.deliver(batch);
    const meta = this.meta;
    const decoder = this.decoder;
    const table = this.table;
    this.onFrame = (frame: Frame): void => {
      if (decoder.decode(frame, meta)) table.packet(meta);
      if (++this.framesSinceExpiry === FRAGMENT_EXPIRY_EVERY) {
        this.framesSinceExpiry = 0;
        decoder.expireFragments(frame.ts);
      }
    };
  }

  /** Called between chunks of input: waits for inference when too many flows are queued. */
  async settle(): Promise<void> {
    if (this.classifier !== null && this.classifier.pending > MAX_PENDING_FLOWS) await this.classifier.drain();
    this.flushUnclassified();
  }

  /** Ends every open flow with `reason` and waits until all of them reached the sinks. */
  async flush(reason: 'eof' | 'shutdown'): Promise<void> {
    this.table.flush(reason);
    if (this.classifier !== null) await this.classifier.drain();
    this.flushUnclassified();
  }

  /** Closes the sinks (after flush). */
  async close(): Promise<void> {
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

  private submit(r: FlowRecord): void {
    if (this.pseudonymizer !== null) this.pseudonymizer.apply(r);
    // After pseudonymisation: the uid is computed from the addresses as written, so it can be recomputed from
    // the record alone.
    r.sensor = this.origin.sensor;
    r.live = this.origin.live;
    r.uid = flowUid(r.sensor, r.ip_version, r.client_ip, r.client_port, r.server_ip, r.server_port, r.vlan, r.first_ts);
    if (this.classifier !== null) this.classifier.submit(r);
    else this.deliverUnclassified(r);
  }

  private deliverUnclassified(r: FlowRecord): void {
    this.unclassified.push({ flow: r, verdict: UNCLASSIFIED });
    if (this.unclassified.length >= UNCLASSIFIED_BATCH) this.flushUnclassified();
  }

  private flushUnclassified(): void {
    if (this.unclassified.length === 0) return;
    const batch = this.unclassified;
    this.unclassified = [];
    this.deliver(batch);
  }

  private deliver(batch: ClassifiedFlow[]): void {
    for (const s of this.sinks) s.write(batch);
    this.written += batch.length;
  }
}
