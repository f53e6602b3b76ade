import { once } from 'node:events';

import { csvField } from './csvField';
import { SinkError } from './sinkError';
import { Database } from './sqliteBinding';

/** The sequence length of the public "who's talking" dataset (SPEC.md "The payload-length sequence"). */
export const CSV_DEFAULT_LENGTH = 30;

/** `app_service,tcp_len_1,...,tcp_len_N` */
export function whoIsTalkingHeader(length: number): string {
  let h = 'app_service';
  for (let i = 1; i <= length; i++) h += `,tcp_len_${i}`;
  return h;
}

/**
 * Streams the flows of a sensor database as "who's talking" CSV: the label as app_service and the signed
 * lengths zero padded / truncated to `length` columns, one row per flow in insertion order. Reads through a
 * read-only connection, so it can run while the sensor writes. Honours `out`'s back-pressure. Returns the
 * number of rows written.
 */
export async function exportCsv(
  dbPath: string,
  out: NodeJS.WritableStream,
  opts: { length?: number; label?: string | null } = {},
): Promise<number> {
  const length = opts.length ?? CSV_DEFAULT_LENGTH;
  // A fixed label (lab captures of one known application) replaces the model's verdict as app_service.
  const fixedLabel = opts.label ?? null;
  if (!Number.isInteger(length) || length < 1) throw new RangeError(`exportCsv: length must be an integer >= 1, not ${length}`);
  let db: InstanceType<typeof Database>;
  try {
    db = new Database(dbPath, { readonly: true, fileMustExist: true });
  } catch (e) {
    throw new SinkError(`cannot open database ${dbPath} for export: ${e instanceof Error ? e.message : String(e)}`);
  }
  let rows = 0;
  try {
    const stmt = db.prepare<[], { label: string; lengths: string }>('SELECT label, lengths FROM flows ORDER BY id');
    if (!out.write(whoIsTalkingHeader(length) + '\n')) await once(out, 'drain');
    for (const row of stmt.iterate()) {
      const lengths = JSON.parse(row.lengths) as number[];
      let line = csvField(fixedLabel ?? row.label);
      for (let i = 0; i < length; i++) line += ',' + String(lengths[i] ?? 0);
      rows++;
      if (!out.write(line + '\n')) await once(out, 'drain');
    }
  } finally {
    db.close();
  }
  return rows;
}
