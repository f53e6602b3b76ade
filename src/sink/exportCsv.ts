import { once } from 'node:events';

import { stringify } from 'csv-stringify/sync';
import { openReadOnly } from './sqliteBinding';

/** The sequence length of the public "who's talking" dataset (SPEC.md "The payload-length sequence"). */
export const CSV_DEFAULT_LENGTH = 30;

/** Rows formatted per csv-stringify call. */
const EXPORT_BATCH = 1000;

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
  const db = openReadOnly(dbPath, 'export');
  let rows = 0;
  try {
    const stmt = db.prepare<[], { label: string; lengths: string }>('SELECT label, lengths FROM flows ORDER BY id');
    if (!out.write(whoIsTalkingHeader(length) + '\n')) await once(out, 'drain');
    // csv-stringify quotes what RFC 4180 needs quoted (a label with a comma, quote or line break); rows are
    // formatted EXPORT_BATCH at a time, and the output's back-pressure is honoured between batches.
    let batch: (string | number)[][] = [];
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      const text = stringify(batch, { record_delimiter: 'unix' });
      batch = [];
      if (!out.write(text)) await once(out, 'drain');
    };
    for (const row of stmt.iterate()) {
      const lengths = JSON.parse(row.lengths) as number[];
      const record: (string | number)[] = [fixedLabel ?? row.label];
      for (let i = 0; i < length; i++) record.push(lengths[i] ?? 0);
      batch.push(record);
      rows++;
      if (batch.length >= EXPORT_BATCH) await flush();
    }
    await flush();
  } finally {
    db.close();
  }
  return rows;
}
