import type { Metric } from 'prom-client';
import type { Logger } from 'winston';
import type { ModelInfo } from '../classify/modelContract';
import type { ClassifiedFlow } from '../classify/verdict';
import { Counter, Gauge, Registry } from '../metrics/promClasses';
import type { FlowSink } from '../pipeline/flowSink';
import type { SqliteDatabase } from '../sink/sqliteBinding';
import { InputReference, parseInputReference } from './inputReference';
import { MonitorStore, WindowRow, windowRow } from './monitorStore';
import { DriftScores, OTHER_CLASS, WindowStats } from './window';

/** Windows remembered for the unknown-share baseline when the model has no reference. */
const BASELINE_WINDOWS = 24;

/**
 * A flow end further than this from the monitor's clock (either way) is a time outlier: a damaged or hostile
 * capture record (a timestamp of 1.8e13 would otherwise move the window clock half a million years ahead and keep
 * every later flow in that window). Consecutive flows end within the idle timeout of each other in any capture
 * without a gap; a day leaves room for long idle timeouts and for clock steps of a live sensor.
 */
const CLOCK_JUMP_S = 86400;
/**
 * Consecutive outliers within CLOCK_JUMP_S of each other that make a real jump (the next file of a run taken
 * weeks later, a live clock set right): the clock moves to them. One bad record, or two, never does.
 */
const CLOCK_JUMP_CONFIRM = 3;

export interface MonitorOptions {
  /** Score flows whose handshake names their service against the verdict (needs the labeller in the pipeline). */
  groundTruth: boolean;
  /** Window length in seconds of traffic time (default 3600). */
  windowSeconds: number;
  /** Windows with fewer classified flows are written but never alert (PSI is noisy on small samples). */
  minFlows: number;
  /**
   * Input PSI (mean over positions) above this raises a drift alert. Class-mix and confidence PSIs are recorded
   * and exported but do not alert: a network's mix of applications changes by the hour for good reasons.
   */
  driftThreshold: number;
  /** Unknown share this far above the reference's (absolute) raises an unknown-surge alert. */
  unknownSurge: number;
}

/** What the stats line and /metrics show of the monitor. */
export interface MonitorReport {
  reference: boolean;
  window_start: number | null;
  window_flows: number;
  windows_written: number;
  /** Flows whose end time was too far from the window clock to move it (counted in the window in progress). */
  time_outliers: number;
  alerts: Record<string, number>;
  last: {
    window_start: number;
    flows: number;
    unknown_share: number | null;
    input_psi: number | null;
    class_psi: number | null;
    confidence_psi: number | null;
    gt_scored: number;
    gt_accuracy: number | null;
  } | null;
  ground_truth: { scored: number; correct: number; accuracy: number | null } | null;
}

/**
 * Watches the model while the sensor runs: a FlowSink that receives every classified flow. Per window of traffic
 * time it compares the model's inputs and verdicts with the model's `input_reference` (PSI per position and
 * overall, class mix against the priors, confidence histogram, unknown share), scores the verdicts against the
 * flows whose handshake named their service (monitor.groundTruth), writes one row per window (and per class)
 * to SQLite, logs an alert line when a score crosses its threshold, and serves the figures to the stats line and
 * Prometheus. The window a flow counts in is the one of the newest flow end time seen (traffic time; live mode
 * also closes windows on the wall clock through tick()).
 */
export class Monitor implements FlowSink {
  readonly registry = new Registry();
  /** Every metric of the monitor, for the daemon's /metrics page (they are in `registry` too). */
  readonly exported: Metric[] = [];
  private model: ModelInfo;
  private reference: InputReference | null = null;
  private window: WindowStats | null = null;
  private clock = -Infinity;
  /** Outliers in a row that agree with each other: a jump of the clock, once CLOCK_JUMP_CONFIRM of them agree. */
  private jump: { first: number; newest: number; count: number } | null = null;
  private timeOutliers = 0;
  private written = 0;
  private last: (WindowRow & { drift: DriftScores }) | null = null;
  private readonly alertCounts: Record<string, number> = {};
  private readonly recentUnknown: number[] = [];
  private gtScored = 0;
  private gtCorrect = 0;
  private readonly store: MonitorStore | null;
  private readonly classSet: Set<string>;
  private readonly metrics: {
    gtFlows: Counter<'class' | 'result'>;
    gtPredicted: Counter<'class'>;
    alerts: Counter<'kind'>;
    timeOutliers: Counter;
  };

  constructor(
    model: ModelInfo,
    private readonly opts: MonitorOptions,
    db: SqliteDatabase | null,
    private readonly log: Logger,
  ) {
    this.model = model;
    this.classSet = new Set(model.classes);
    this.store = db !== null ? new MonitorStore(db) : null;
    this.useModel(model);
    const r = [this.registry];
    const self = this;
    // Labelled by model version, so that a value not known yet (no window finished) is an absent series, not a 0.
    const gauge = (name: string, help: string, read: () => number | null): void => {
      const g = new Gauge({
        name,
        help,
        labelNames: ['model_version'],
        registers: r,
        collect() {
          const v = read();
          this.reset();
          if (v !== null) this.set({ model_version: self.model.version }, v);
        },
      });
      this.exported.push(g);
    };
    gauge('sensor_monitor_input_psi', 'Input drift of the last complete window: mean PSI of the per-position length histograms against the model reference', () => this.last?.drift.inputPsi ?? null);
    gauge('sensor_monitor_class_psi', 'PSI of the last complete window\'s top-1 class mix against the model\'s class priors', () => this.last?.drift.classPsi ?? null);
    gauge('sensor_monitor_confidence_psi', 'PSI of the last complete window\'s top-1 confidence histogram against the reference', () => this.last?.drift.confidencePsi ?? null);
    gauge('sensor_monitor_unknown_share', 'Share of classified flows labelled unknown in the last complete window', () => this.last?.unknown_share ?? null);
    gauge('sensor_monitor_ground_truth_accuracy', 'Share of handshake-labelled flows the model got right in the last complete window', () => this.last?.gt_accuracy ?? null);
    gauge('sensor_monitor_window_flows', 'Flows counted so far in the current monitoring window', () => this.window?.flows ?? 0);
    this.metrics = {
      gtFlows: new Counter({ name: 'sensor_ground_truth_flows_total', help: 'Handshake-labelled flows scored, by truth class and result', labelNames: ['class', 'result'], registers: r }),
      gtPredicted: new Counter({ name: 'sensor_ground_truth_predicted_total', help: 'Handshake-labelled flows scored, by the model\'s label', labelNames: ['class'], registers: r }),
      alerts: new Counter({ name: 'sensor_monitor_alerts_total', help: 'Monitor alerts raised, by kind', labelNames: ['kind'], registers: r }),
      timeOutliers: new Counter({
        name: 'sensor_monitor_time_outliers_total',
        help: 'Flows whose end time was too far from the monitor window clock to move it (damaged or hostile timestamps)',
        registers: r,
      }),
    };
    this.exported.push(this.metrics.gtFlows, this.metrics.gtPredicted, this.metrics.alerts, this.metrics.timeOutliers);
  }

  /** A new model (SIGHUP reload): the current window ends and the next ones compare with its reference. */
  setModel(model: ModelInfo): void {
    this.finishWindow(false);
    this.model = model;
    this.classSet.clear();
    for (const c of model.classes) this.classSet.add(c);
    this.useModel(model);
  }

  write(batch: ClassifiedFlow[]): void {
    // One call per flow, so that V8 compiles the body once and not also on the stack of a running loop (round perf17).
    for (let i = 0; i < batch.length; i++) this.add(batch[i]!);
  }

  private add(cf: ClassifiedFlow): void {
    const { flow, verdict } = cf;
    if (flow.end_reason === 'active') return;
    this.flowEnded(flow.last_ts);
    // null only when the very first flows are time outliers: no clock to place them by yet (counted, not windowed).
    const w = this.window;
    // The model answered (a class or unknown); no-payload, classify-error and unclassified flows are counted only.
    const modelRan = verdict.status === 'classified' || verdict.status === 'unknown';
    w?.addVerdict(verdict.label, modelRan, verdict.topk[0]?.label ?? null, verdict.confidence, flow.lengths, flow.payload_packets);
    if (this.opts.groundTruth && modelRan && flow.learned !== null) {
      const truth = this.truthOf(flow.learned.label, flow.learned.protocol);
      if (truth !== null) {
        w?.addTruth(truth, verdict.label);
        const ok = truth === OTHER_CLASS ? verdict.label === 'unknown' : verdict.label === truth;
        this.gtScored++;
        if (ok) this.gtCorrect++;
        this.metrics.gtFlows.inc({ class: truth, result: ok ? 'correct' : 'wrong' });
        this.metrics.gtPredicted.inc({ class: verdict.label });
      }
    }
  }

  /** Live mode: the wall clock closes a window even when no flow ends. */
  tick(nowSeconds: number): void {
    if (this.window !== null && nowSeconds >= this.window.end) this.advance(nowSeconds);
  }

  /** Writes the window in progress (marked incomplete) at the end of the run. */
  close(): void {
    this.dropJump();
    this.finishWindow(false);
  }

  report(): MonitorReport {
    const l = this.last;
    return {
      reference: this.reference !== null,
      window_start: this.window?.start ?? null,
      window_flows: this.window?.flows ?? 0,
      windows_written: this.written,
      time_outliers: this.timeOutliers,
      alerts: { ...this.alertCounts },
      last:
        l === null
          ? null
          : {
              window_start: l.window_start,
              flows: l.flows,
              unknown_share: l.unknown_share,
              input_psi: l.input_psi,
              class_psi: l.class_psi,
              confidence_psi: l.confidence_psi,
              gt_scored: l.gt_scored,
              gt_accuracy: l.gt_accuracy,
            },
      ground_truth: this.opts.groundTruth ? { scored: this.gtScored, correct: this.gtCorrect, accuracy: this.gtScored > 0 ? this.gtCorrect / this.gtScored : null } : null,
    };
  }

  /**
   * The class a flow's handshake says it is, in the model's terms: its label when the model has that class
   * (a model trained on `sensor learn` rows), else its protocol (the bundled model's classes are protocols), else
   * OTHER_CLASS when the handshake named something the model does not know; null when it named nothing.
   */
  private truthOf(label: string | null, protocol: string | null): string | null {
    if (label !== null && this.classSet.has(label)) return label;
    if (protocol !== null && this.classSet.has(protocol)) return protocol;
    return label !== null || protocol !== null ? OTHER_CLASS : null;
  }

  private useModel(model: ModelInfo): void {
    this.reference = null;
    if (model.inputReference === null) {
      this.log.info(`model ${model.path} has no input_reference: drift is not scored (class mix, unknown share and ground truth still are)`);
      return;
    }
    const r = parseInputReference(model.inputReference, model.sequenceLength, model.classes);
    if (typeof r === 'string') this.log.warn(`model ${model.path}: ${r}; drift is not scored`);
    else this.reference = r;
  }

  /**
   * Moves the window clock by a flow's end time, unless that time is an outlier (not a positive number, or further
   * than CLOCK_JUMP_S from the clock): an outlier joins the window in progress and moves nothing, unless it is the
   * CLOCK_JUMP_CONFIRM-th in a row of outliers that agree with each other, which is a real jump.
   */
  private flowEnded(ts: number): void {
    if (!(ts > 0) || ts === Infinity) {
      this.outliers(1);
      return;
    }
    if (this.clock === -Infinity || Math.abs(ts - this.clock) <= CLOCK_JUMP_S) {
      this.dropJump();
      this.advance(ts);
      return;
    }
    const j = this.jump;
    if (j !== null && Math.abs(ts - j.first) <= CLOCK_JUMP_S) {
      j.count++;
      if (ts > j.newest) j.newest = ts;
    } else {
      this.dropJump();
      this.jump = { first: ts, newest: ts, count: 1 };
    }
    const confirmed = this.jump!;
    if (confirmed.count < CLOCK_JUMP_CONFIRM) return;
    this.jump = null;
    const W = this.opts.windowSeconds;
    const forward = confirmed.newest > this.clock;
    this.clock = confirmed.newest;
    if (this.window !== null && Math.floor(this.clock / W) * W !== this.window.start) this.finishWindow(forward);
    this.advance(this.clock);
  }

  /** Outliers in a row that never made a jump: counted as what they were. */
  private dropJump(): void {
    if (this.jump === null) return;
    this.outliers(this.jump.count);
    this.jump = null;
  }

  private outliers(n: number): void {
    this.timeOutliers += n;
    this.metrics.timeOutliers.inc(n);
  }

  private advance(ts: number): void {
    if (ts > this.clock) this.clock = ts;
    const W = this.opts.windowSeconds;
    const start = Math.floor(this.clock / W) * W;
    if (this.window !== null && start >= this.window.end) this.finishWindow(true);
    if (this.window === null) this.window = new WindowStats(start, start + W, this.model.version, this.reference, this.model.sequenceLength);
  }

  private finishWindow(complete: boolean): void {
    const w = this.window;
    if (w === null) return;
    this.window = null;
    if (w.flows === 0) return;
    const d = w.drift();
    const refUnknown = this.reference?.unknownShare ?? null;
    const alerts = this.alerts(w, d, refUnknown);
    const row = windowRow(w, d, complete, refUnknown, alerts);
    if (this.store !== null) this.store.write(row, w);
    this.written++;
    this.last = { ...row, drift: d };
    if (w.classified >= this.opts.minFlows && row.unknown_share !== null) {
      this.recentUnknown.push(row.unknown_share);
      if (this.recentUnknown.length > BASELINE_WINDOWS) this.recentUnknown.shift();
    }
  }

  /** Checks a finished window against the thresholds; logs one warning line per alert. */
  private alerts(w: WindowStats, d: DriftScores, refUnknown: number | null): string[] {
    const out: string[] = [];
    if (w.classified < this.opts.minFlows) return out;
    const t = this.opts.driftThreshold;
    const when = { window_start: isoTime(w.start), flows: w.classified, model_version: w.modelVersion };
    const raise = (kind: string, msg: string, fields: Record<string, unknown>): void => {
      out.push(kind);
      this.alertCounts[kind] = (this.alertCounts[kind] ?? 0) + 1;
      this.metrics.alerts.inc({ kind });
      this.log.warn(`monitor alert: ${msg}`, { alert: kind, ...when, ...fields });
    };
    const f = (v: number | null): string => (v === null ? '-' : v.toFixed(3));
    if (d.inputPsi !== null && d.inputPsi > t) {
      raise('input_drift', `the model's inputs drifted from its training data (input PSI ${f(d.inputPsi)} > ${t})`, {
        input_psi: d.inputPsi,
        input_psi_max: d.inputPsiMax,
        payload_psi: d.payloadPsi,
        class_psi: d.classPsi,
        confidence_psi: d.confidencePsi,
      });
    }
    const share = w.classified > 0 ? w.unknown / w.classified : 0;
    const baseline = refUnknown ?? (this.recentUnknown.length > 0 ? this.recentUnknown.reduce((a, b) => a + b, 0) / this.recentUnknown.length : null);
    if (baseline !== null && share > baseline + this.opts.unknownSurge) {
      raise('unknown_surge', `a surge of unknown applications: ${(100 * share).toFixed(1)}% of flows unknown against ${(100 * baseline).toFixed(1)}% expected`, {
        unknown_share: share,
        expected_unknown_share: baseline,
        baseline: refUnknown !== null ? 'model reference' : 'recent windows',
      });
    }
    return out;
  }
}

/** ISO 8601 of unix seconds; the number itself where a capture's timestamp is beyond what Date can show. */
function isoTime(ts: number): string {
  const d = new Date(ts * 1000);
  return Number.isNaN(d.getTime()) ? String(ts) : d.toISOString();
}
