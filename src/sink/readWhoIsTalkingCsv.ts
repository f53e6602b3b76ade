import { createReadStream } from 'node:fs';

/** One labelled sequence from a "who's talking" CSV. */
export interface LabelledSequence {
  label: string;
  lengths: number[];
}

/** The file is not "who's talking" CSV; the message gives file:line and what was expected. */
export class CsvFormatError extends Error {
  override name = 'CsvFormatError';
}

/**
 * Splits CSV text into records of fields (RFC 4180: quoted fields may hold commas, doubled quotes and line
 * breaks; CRLF or LF line ends). Fed chunk by chunk; calls `onRecord(fields, line)` for each complete record.
 */
class CsvParser {
  private field = '';
  private fields: string[] = [];
  private quoted = false;
  private afterQuote = false;
  private line = 1;
  private recordLine = 1;

  constructor(
    private readonly file: string,
    private readonly onRecord: (fields: string[], line: number) => void,
  ) {}

  push(chunk: string): void {
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (this.quoted) {
        if (c === '"') {
          this.quoted = false;
          this.afterQuote = true;
        } else {
          if (c === '\n') this.line++;
          this.field += c;
        }
        continue;
      }
      if (c === '"') {
        if (this.afterQuote) {
          this.field += '"'; // "" inside a quoted field
          this.quoted = true;
          this.afterQuote = false;
        } else if (this.field === '') {
          this.quoted = true;
        } else {
          throw new CsvFormatError(`${this.file}:${this.line}: a quote inside an unquoted field (quote the whole field)`);
        }
      } else if (c === ',') {
        this.endField();
      } else if (c === '\n') {
        this.endRecord();
        this.line++;
        this.recordLine = this.line;
      } else if (c !== '\r') {
        if (this.afterQuote) throw new CsvFormatError(`${this.file}:${this.line}: text after a closing quote`);
        this.field += c;
      }
    }
  }

  end(): void {
    if (this.quoted) throw new CsvFormatError(`${this.file}:${this.recordLine}: a quoted field is never closed`);
    if (this.field !== '' || this.fields.length > 0 || this.afterQuote) this.endRecord();
  }

  private endField(): void {
    this.fields.push(this.field);
    this.field = '';
    this.afterQuote = false;
  }

  private endRecord(): void {
    this.endField();
    const fields = this.fields;
    this.fields = [];
    // A blank line (one empty field) is not a record.
    if (fields.length === 1 && fields[0] === '') return;
    this.onRecord(fields, this.recordLine);
  }
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
  const parser = new CsvParser(path, (fields, line) => {
    if (length < 0) {
      length = parseHeader(path, fields);
      return;
    }
    if (fields.length !== length + 1) {
      throw new CsvFormatError(`${path}:${line}: ${fields.length} fields, the header has ${length + 1}`);
    }
    const lengths = new Array<number>(length);
    for (let i = 0; i < length; i++) {
      const text = fields[i + 1]!.trim();
      const v = text === '' ? NaN : Number(text);
      if (!Number.isInteger(v)) throw new CsvFormatError(`${path}:${line}: tcp_len_${i + 1} is '${fields[i + 1]}', not an integer`);
      lengths[i] = v;
    }
    rows.push({ label: fields[0]!, lengths });
  });
  const stream = createReadStream(path, { encoding: 'utf8' });
  for await (const chunk of stream) parser.push(chunk as string);
  parser.end();
  if (length < 0) throw new CsvFormatError(`${path}:1: empty file, expected the header app_service,tcp_len_1,...`);
  return { length, rows };
}
