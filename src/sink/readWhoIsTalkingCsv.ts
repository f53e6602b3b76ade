import { createReadStream } from 'node:fs';
import { CsvError, parse } from 'csv-parse';

/** One labelled sequence from a "who's talking" CSV. */
export interface LabelledSequence {
  label: string;
  lengths: number[];
}

/** The file is not "who's talking" CSV; the message gives file:line and what was expected. */
export class CsvFormatError extends Error {
  override name = 'CsvFormatError';
}

function parseHeader(file: string, fields: string[]): number {
  if (fields[0]?.trim() !== 'app_service' || fields.length < 2) {
    throw new CsvFormatError(`${file}:1: header must be app_service,tcp_len_1,...,tcp_len_N (got '${fields.slice(0, 3).join(',')}...')`);
  }
  for (let i = 1; i < fields.length; i++) {
    if (fields[i]!.trim() !== `tcp_len_${i}`) {
      throw new CsvFormatError(`${file}:1: header column ${i + 1} is '${fields[i]}', expected 'tcp_len_${i}'`);
    }
  }
  return fields.length - 1;
}

/**
 * Reads a "who's talking" CSV (`app_service,tcp_len_1,...,tcp_len_N`): the sequence length is taken from the
 * header, every row must have a label and N integer lengths (written as 1448 or 1448.0). Throws CsvFormatError
 * naming file:line on the first bad row.
 */
export async function readWhoIsTalkingCsv(path: string): Promise<{ length: number; rows: LabelledSequence[] }> {
  let length = -1;
  const rows: LabelledSequence[] = [];
  // csv-parse does RFC 4180 (quoted fields with commas, doubled quotes and line breaks; CRLF or LF); rows are
  // checked here. `info.lines` is the line a record ends on, which is what the messages name.
  const parser = createReadStream(path, { encoding: 'utf8' }).pipe(parse({ relax_column_count: true, skip_empty_lines: true, info: true }));
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      const line = info.lines;
      if (length < 0) {
        length = parseHeader(path, record);
        continue;
      }
      if (record.length !== length + 1) throw new CsvFormatError(`${path}:${line}: ${record.length} fields, the header has ${length + 1}`);
      const lengths = new Array<number>(length);
      for (let i = 0; i < length; i++) {
        const text = record[i + 1]!.trim();
        const v = text === '' ? NaN : Number(text);
        if (!Number.isInteger(v)) throw new CsvFormatError(`${path}:${line}: tcp_len_${i + 1} is '${record[i + 1]}', not an integer`);
        lengths[i] = v;
      }
      rows.push({ label: record[0]!, lengths });
    }
  } catch (e) {
    if (e instanceof CsvError) throw new CsvFormatError(`${path}:${(e as CsvError & { lines?: number }).lines ?? '?'}: ${CSV_ERRORS[e.code] ?? e.message}`);
    throw e;
  } finally {
    parser.destroy();
  }
  if (length < 0) throw new CsvFormatError(`${path}:1: empty file, expected the header app_service,tcp_len_1,...`);
  return { length, rows };
}

/** csv-parse's error codes in this file's words. */
const CSV_ERRORS: Record<string, string> = {
  CSV_QUOTE_NOT_CLOSED: 'a quoted field is never closed',
  INVALID_OPENING_QUOTE: 'a quote inside an unquoted field (quote the whole field)',
  CSV_INVALID_CLOSING_QUOTE: 'text after a closing quote',
};
