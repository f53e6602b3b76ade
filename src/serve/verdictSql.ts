import { VERDICT_STATUSES } from '../classify/verdict';
import { statusOfLabel } from '../sink/schema';
import type { FlowDb } from './flowDb';

/** The verdict statuses of a record (README "Flow records"). */
export const VERDICTS = VERDICT_STATUSES;

/** The status of a record from its label, for version-1 databases (before the `verdict` column); served read-only, they are not migrated. */
export const verdictOfLabel = statusOfLabel;

/** The same as an SQL expression over `label`. */
const VERDICT_FROM_LABEL = `(CASE WHEN label IN ('unknown', 'no-payload', 'classify-error', 'unclassified') THEN label ELSE 'classified' END)`;

/** SQL for a record's verdict status: the column where the database has one, else derived from the label. */
export function verdictSql(db: FlowDb): string {
  return db.has('verdict') ? 'verdict' : VERDICT_FROM_LABEL;
}
