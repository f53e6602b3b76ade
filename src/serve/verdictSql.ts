import type { FlowDb } from './flowDb';

/** The verdict statuses of a record (README "Flow records"). */
export const VERDICTS = ['classified', 'unknown', 'no-payload', 'classify-error', 'unclassified'] as const;
export type VerdictStatus = (typeof VERDICTS)[number];

/** Labels that are a status rather than an application (the classifier's rule labels and sentinels). */
const STATUS_LABELS = new Set<string>(['unknown', 'no-payload', 'classify-error', 'unclassified']);

/** The status of a record from its label, for databases written before the `verdict` column. */
export function verdictOfLabel(label: string): VerdictStatus {
  return STATUS_LABELS.has(label) ? (label as VerdictStatus) : 'classified';
}

/** The same as an SQL expression over `label`. */
const VERDICT_FROM_LABEL = `(CASE WHEN label IN ('unknown', 'no-payload', 'classify-error', 'unclassified') THEN label ELSE 'classified' END)`;

/** SQL for a record's verdict status: the column where the database has one, else derived from the label. */
export function verdictSql(db: FlowDb): string {
  return db.has('verdict') ? 'verdict' : VERDICT_FROM_LABEL;
}
