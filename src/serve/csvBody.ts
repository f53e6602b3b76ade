import { parse } from 'csv-parse/sync';

import { MAX_BATCH } from './schemas';

/** The CSV body is not who's-talking CSV; the message names the line. */
export class CsvBodyError extends Error {
  override name = 'CsvBodyError';
}

/** Parsed CSV bodies keep their app_service column here, so the classify route can echo it row by row. */
export const csvLabels = new WeakMap<object, string[]>();

/**
 * Reads who's-talking CSV rows (`app_service,tcp_len_1,...,tcp_len_N`, the header optional) into sequences of
 * `length` entries: longer rows are cut and shorter ones zero-padded, as `sensor eval` does. Every length must be
 * an integer; the route's schema then checks the range like any JSON body.
 */
export function parseCsvBody(text: string, length: number): number[][] {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text, { skip_empty_lines: true, relax_column_count: true, info: true }) as unknown as typeof records;
  } catch (e) {
    throw new CsvBodyError(`CSV body: ${(e as Error).message.split('\n')[0]}`);
  }
  let n = -1;
  let start = 0;
  const first = records[0]?.record;
  if (first === undefined) throw new CsvBodyError('CSV body has no rows');
  if (first[0]?.trim() === 'app_service') {
    for (let i = 1; i < first.length; i++) {
      if (first[i]!.trim() !== `tcp_len_${i}`) throw new CsvBodyError(`CSV header column ${i + 1} is '${first[i]}', expected 'tcp_len_${i}'`);
    }
    n = first.length - 1;
    start = 1;
  } else {
    n = first.length - 1;
  }
  if (n < 1) throw new CsvBodyError('CSV rows need app_service and at least one tcp_len column');
  if (records.length - start > MAX_BATCH) throw new CsvBodyError(`CSV body has ${records.length - start} rows; at most ${MAX_BATCH} per request`);
  const rows: number[][] = [];
  const labels: string[] = [];
  for (let r = start; r < records.length; r++) {
    const { record, info } = records[r]!;
    if (record.length !== n + 1) throw new CsvBodyError(`CSV line ${info.lines}: ${record.length} fields, expected ${n + 1}`);
    const lengths = new Array<number>(length).fill(0);
    for (let i = 0; i < n; i++) {
      const cell = record[i + 1]!.trim();
      const v = cell === '' ? NaN : Number(cell);
      if (!Number.isInteger(v)) throw new CsvBodyError(`CSV line ${info.lines}: tcp_len_${i + 1} is '${record[i + 1]!.slice(0, 20)}', not an integer`);
      if (i < length) lengths[i] = v;
    }
    rows.push(lengths);
    labels.push(record[0]!);
  }
  if (rows.length === 0) throw new CsvBodyError('CSV body has a header but no rows');
  csvLabels.set(rows, labels);
  return rows;
}
