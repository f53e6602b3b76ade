import { closeSync, mkdirSync, openSync, readFileSync, readdirSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import * as path from 'node:path';

import { SinkError } from '../sinkError';

/**
 * The body format of a spooled batch, which is its file's extension: `rowbinary` (RowBinary rows in the columns of
 * CLICKHOUSE_COLUMNS, what this sensor writes) or `jsonl` (JSONEachRow lines in FIRST_COLUMNS, left by an older
 * sensor; still sent).
 */
export type SpoolFormat = 'rowbinary' | 'jsonl';

/** One batch on disk: `<seq, 16 digits>-<rows>.<format>`, the INSERT body exactly as it will be sent. */
export interface SpooledBatch {
  seq: number;
  rows: number;
  bytes: number;
  file: string;
  format: SpoolFormat;
}

const BATCH_FILE = /^(\d{16})-(\d+)\.(rowbinary|jsonl)$/;
const SEQ_DIGITS = 16;
const LOCK_FILE = 'lock';
const TMP_SUFFIX = '.tmp';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The on-disk spool of batches that ClickHouse has not taken yet: one file per batch, named by a sequence number
 * that orders every batch this sensor ever sealed, so they are sent in order whether they waited in memory or
 * here, and across runs (a later run starts its numbering after the highest one found). Bounded by `maxBytes`:
 * adding a batch that does not fit drops the oldest ones first, and counts them. A file is written under a
 * temporary name, synced and renamed, so a crash never leaves half a batch that would be sent as it is.
 *
 * One process owns a spool directory at a time (a lock file with its pid): two sensors sharing one would send
 * each other's batches twice.
 */
export class Spool {
  /** Batches dropped because the spool was full, and their rows, since open. */
  droppedBatches = 0;
  droppedRows = 0;
  private readonly index: SpooledBatch[] = [];
  private totalBytes = 0;
  private totalRows = 0;
  private lockPath: string | null;

  private constructor(
    readonly dir: string,
    readonly maxBytes: number,
  ) {
    this.lockPath = path.join(dir, LOCK_FILE);
  }

  /** Creates the directory if needed, takes the lock and indexes the batches an earlier run left. */
  static open(dir: string, maxBytes: number): Spool {
    try {
      mkdirSync(dir, { recursive: true });
    } catch (e) {
      throw new SinkError(`cannot create the ClickHouse spool directory ${dir}: ${(e as NodeJS.ErrnoException).code ?? String(e)} (set output.clickhouse.spoolDir to a writable directory)`);
    }
    const s = new Spool(dir, maxBytes);
    s.lock();
    for (const name of readdirSync(dir).sort()) {
      if (name.endsWith(TMP_SUFFIX)) {
        // A write cut by a crash: its rows never counted as spooled, and the file may be partial.
        unlinkSync(path.join(dir, name));
        continue;
      }
      const m = BATCH_FILE.exec(name);
      if (m === null) continue;
      const file = path.join(dir, name);
      const bytes = statSync(file).size;
      s.index.push({ seq: Number(m[1]), rows: Number(m[2]), bytes, file, format: m[3] as SpoolFormat });
      s.totalBytes += bytes;
      s.totalRows += Number(m[2]);
    }
    return s;
  }

  get batches(): number {
    return this.index.length;
  }

  get rows(): number {
    return this.totalRows;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  /** The sequence number after every batch found on disk (0 for an empty spool). */
  nextSeq(): number {
    const last = this.index[this.index.length - 1];
    return last === undefined ? 0 : last.seq + 1;
  }

  /** The batch with the lowest sequence number. */
  oldest(): SpooledBatch | undefined {
    return this.index[0];
  }

  /**
   * Writes a batch (synced before it is renamed into place), dropping the oldest batches while the spool would
   * exceed maxBytes. A batch larger than maxBytes on its own is dropped itself. Returns false when it was dropped.
   */
  async add(seq: number, rows: number, body: Buffer | string, format: SpoolFormat): Promise<boolean> {
    const bytes = Buffer.byteLength(body);
    if (bytes > this.maxBytes) {
      this.droppedBatches++;
      this.droppedRows += rows;
      return false;
    }
    while (this.totalBytes + bytes > this.maxBytes && this.index.length > 0) await this.drop(this.index[0]!);
    const file = path.join(this.dir, `${String(seq).padStart(SEQ_DIGITS, '0')}-${rows}.${format}`);
    const tmp = file + TMP_SUFFIX;
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(body);
      await fh.datasync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
    const entry = { seq, rows, bytes, file, format };
    // Usually the newest; a batch spooled after a newer one (a failed send) goes to its place in the order.
    let i = this.index.length;
    while (i > 0 && this.index[i - 1]!.seq > seq) i--;
    this.index.splice(i, 0, entry);
    this.totalBytes += bytes;
    this.totalRows += rows;
    return true;
  }

  async read(b: SpooledBatch): Promise<Buffer> {
    return readFile(b.file);
  }

  /** Removes a batch that ClickHouse took. */
  async remove(b: SpooledBatch): Promise<void> {
    const i = this.index.indexOf(b);
    if (i < 0) return;
    this.index.splice(i, 1);
    this.totalBytes -= b.bytes;
    this.totalRows -= b.rows;
    await unlink(b.file).catch(() => undefined);
  }

  /** Releases the lock (the batches stay for the next run). */
  close(): void {
    if (this.lockPath === null) return;
    try {
      unlinkSync(this.lockPath);
    } catch {
      // Already gone: nothing to release.
    }
    this.lockPath = null;
  }

  private async drop(b: SpooledBatch): Promise<void> {
    await this.remove(b);
    this.droppedBatches++;
    this.droppedRows += b.rows;
  }

  private lock(): void {
    const lockPath = this.lockPath!;
    for (let attempt = 0; attempt < 2; attempt++) {
      let fd: number;
      try {
        fd = openSync(lockPath, 'wx');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new SinkError(`cannot lock the ClickHouse spool ${this.dir}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
        }
        const pid = Number(readFileSync(lockPath, 'utf8').trim());
        if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
          throw new SinkError(
            `the ClickHouse spool ${this.dir} is in use by process ${pid}: give each sensor process its own output.clickhouse.spoolDir`,
          );
        }
        // Left by a process that is gone: take it over.
        unlinkSync(lockPath);
        continue;
      }
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return;
    }
    throw new SinkError(`cannot lock the ClickHouse spool ${this.dir}: another process keeps taking the lock`);
  }
}
