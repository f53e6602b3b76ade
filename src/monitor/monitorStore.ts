import type { SqliteDatabase, SqliteStatement } from '../sink/sqliteBinding';
import { OTHER_CLASS, type DriftScores, type WindowStats } from './window';

/** A window as written to monitor_windows (SQLite columns, migration 2 in src/sink/schema.ts). */
export interface WindowRow {
  window_start: number;
  window_end: number;
  complete: 0 | 1;
  model_version: string;
  flows: number;
  classified: number;
  unknown: number;
  unknown_share: number | null;
  reference_unknown_share: number | null;
  label_counts: string;
  class_counts: string;
  input_psi: number | null;
  input_psi_max: number | null;
  input_psi_positions: string | null;
  payload_psi: number | null;
  class_psi: number | null;
  confidence_psi: number | null;
  gt_scored: number;
  gt_correct: number;
  gt_accuracy: number | null;
  alerts: string;
}

const COLUMNS = [
  'window_start', 'window_end', 'complete', 'model_version', 'flows', 'classified', 'unknown', 'unknown_share', 'reference_unknown_share',
  'label_counts', 'class_counts', 'input_psi', 'input_psi_max', 'input_psi_positions', 'payload_psi', 'class_psi', 'confidence_psi',
  'gt_scored', 'gt_correct', 'gt_accuracy', 'alerts',
] as const;

const round = (v: number | null, digits = 6): number | null => (v === null ? null : Math.round(v * 10 ** digits) / 10 ** digits);

function sorted(m: Map<string, number>): string {
  return JSON.stringify(Object.fromEntries([...m].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))));
}

/** The row of a finished window. */
export function windowRow(w: WindowStats, d: DriftScores, complete: boolean, referenceUnknown: number | null, alerts: string[]): WindowRow {
  return {
    window_start: w.start,
    window_end: w.end,
    complete: complete ? 1 : 0,
    model_version: w.modelVersion,
    flows: w.flows,
    classified: w.classified,
    unknown: w.unknown,
    unknown_share: w.classified > 0 ? round(w.unknown / w.classified) : null,
    reference_unknown_share: referenceUnknown,
    label_counts: sorted(w.labels),
    class_counts: sorted(w.top1),
    input_psi: round(d.inputPsi),
    input_psi_max: round(d.inputPsiMax),
    input_psi_positions: d.inputPsiPositions === null ? null : JSON.stringify(d.inputPsiPositions.map((v) => round(v, 4))),
    payload_psi: round(d.payloadPsi),
    class_psi: round(d.classPsi),
    confidence_psi: round(d.confidencePsi),
    gt_scored: w.gtScored,
    gt_correct: w.gtCorrect,
    gt_accuracy: w.gtScored > 0 ? round(w.gtCorrect / w.gtScored) : null,
    alerts: JSON.stringify(alerts),
  };
}

/** Writes window rows and per-class accuracy rows through statements prepared once. */
export class MonitorStore {
  private readonly insertWindow: SqliteStatement<[WindowRow]>;
  private readonly insertClass: SqliteStatement<[Record<string, unknown>]>;
  private readonly writeAll: (row: WindowRow, w: WindowStats) => void;

  constructor(db: SqliteDatabase) {
    this.insertWindow = db.prepare<[WindowRow]>(`INSERT INTO monitor_windows (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((c) => '@' + c).join(', ')})`);
    this.insertClass = db.prepare<[Record<string, unknown>]>(
      'INSERT INTO monitor_accuracy (window_start, window_end, model_version, class, support, predicted, correct, recall, precision) ' +
        'VALUES (@window_start, @window_end, @model_version, @class, @support, @predicted, @correct, @recall, @precision)',
    );
    this.writeAll = db.transaction((row: WindowRow, w: WindowStats) => {
      this.insertWindow.run(row);
      for (const [c, x] of [...w.classes].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
        this.insertClass.run({
          window_start: w.start,
          window_end: w.end,
          model_version: w.modelVersion,
          class: c,
          support: x.support,
          predicted: x.predicted,
          correct: x.correct,
          recall: x.support > 0 ? round(x.correct / x.support) : null,
          // `unknown` is right when the truth is outside the model's classes: its precision is that share.
          precision: x.predicted > 0 ? round((c === 'unknown' ? (w.classes.get(OTHER_CLASS)?.correct ?? 0) : x.correct) / x.predicted) : null,
        });
      }
    });
  }

  write(row: WindowRow, w: WindowStats): void {
    this.writeAll(row, w);
  }
}
