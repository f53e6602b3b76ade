import { setImmediate as nextTick } from 'node:timers/promises';

import type { ClassifiedFlow } from '../classify/verdict';
import { FLOW_COLUMNS, flowToRow, type FlowRow } from './flowRow';
import { SinkError } from './sinkError';
import { hostname } from 'node:os';
import { migrate, type Migration, MIGRATIONS } from './schema';
import { Database, type SqliteDatabase, type SqliteStatement } from './sqliteBinding';
import { LatencyHistogram } from '../metrics/latencyHistogram';

export interface SqliteSinkOptions {
  /** Most rows per write transaction (default 1000); larger classifier batches are split. */
  batchRows?: number;
  /** Schema migrations to apply (tests pass a longer list to exercise upgrades). */
  migrations?: readonly Migration[];
  /** The sensor's name, for backfilling rows of an older schema (default: the host name). */
  sensorName?: string;
}

/** Rows per write transaction: big enough to amortise the commit, small enough to keep each lock short. */
export const DEFAULT_BATCH_ROWS = 1000;
/** How long a writer or reader waits for the other's lock before failing with SQLITE_BUSY. */
export const BUSY_TIMEOUT_MS = 5000;
/** Keep the WAL file from growing without bound between checkpoints (bytes it is truncated to when reset). */
export const JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024;

/** FlowRow's FLOW_COLUMNS as bound to the INSERT, in column order: arrays as JSON text, booleans as 0/1. */
type SqliteParams = (string | number | null)[];

// Column names quoted: `end` is an SQL keyword.
const INSERT_SQL = `INSERT INTO flows (${FLOW_COLUMNS.map((c) => `"${c}"`).join(', ')}) VALUES (${FLOW_COLUMNS.map(() => '?').join(', ')})`;

/** One record's INSERT parameters (SQLite has neither arrays nor booleans). */
export function toParams(row: FlowRow): SqliteParams {
  const p: SqliteParams = new Array(FLOW_COLUMNS.length);
  for (let i = 0; i < FLOW_COLUMNS.length; i++) {
    const v = row[FLOW_COLUMNS[i]!];
    p[i] = Array.isArray(v) ? JSON.stringify(v) : typeof v === 'boolean' ? (v ? 1 : 0) : v;
  }
  return p;
}

function open(path: string): SqliteDatabase {
  try {
    return new Database(path);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new SinkError(`cannot open database ${path}: ${msg} (check that its directory exists and is writable)`);
  }
}

/**
 * Flow records into SQLite. WAL mode lets other processes read (sqlite3, dashboards, `sensor export`) while the
 * sensor writes; synchronous=NORMAL syncs at checkpoints only, which in WAL mode can lose the last transactions
 * on power loss but never corrupts the file. Each write() is one transaction per batchRows rows, through one
 * statement prepared at open.
 */
export class SqliteSink {
  readonly db: SqliteDatabase;
  /** Rows written since open. */
  rows = 0;
  private readonly batchRows: number;
  /** Seconds per write() call (its transactions), one observation per batch. */
  readonly latency = new LatencyHistogram('sensor_db_write_duration_seconds', 'Seconds to write one batch of flow records to SQLite (its transactions)');
  private readonly insert: SqliteStatement<[SqliteParams]>;
  private readonly insertMany: (batch: readonly ClassifiedFlow[], from: number, to: number) => void;
  private readonly deleteOldest: SqliteStatement<[number]>;
  private readonly deleteBefore: SqliteStatement<[number, number]>;

  constructor(
    readonly path: string,
    opts: SqliteSinkOptions = {},
  ) {
    const batchRows = opts.batchRows ?? DEFAULT_BATCH_ROWS;
    if (!Number.isInteger(batchRows) || batchRows < 1) throw new RangeError(`SqliteSink: batchRows must be an integer >= 1, not ${batchRows}`);
    this.batchRows = batchRows;
    const db = open(path);
    this.db = db;
    try {
      // auto_vacuum can only be chosen before the first table exists; INCREMENTAL lets trimToSize() give
      // freed pages back to the file system instead of keeping the file at its high-water mark.
      if ((db.pragma('page_count', { simple: true }) as number) === 0) db.pragma('auto_vacuum = INCREMENTAL');
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      db.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT}`);
      migrate(db, path, { sensorName: opts.sensorName ?? hostname() }, opts.migrations ?? MIGRATIONS);
    } catch (e) {
      db.close();
      throw e;
    }
    this.insert = db.prepare<[SqliteParams]>(INSERT_SQL);
    this.insertMany = db.transaction((batch: readonly ClassifiedFlow[], from: number, to: number) => {
      for (let i = from; i < to; i++) this.insert.run(toParams(flowToRow(batch[i]!)));
    });
    this.deleteOldest = db.prepare<[number]>('DELETE FROM flows WHERE id IN (SELECT id FROM flows ORDER BY id LIMIT ?)');
    this.deleteBefore = db.prepare<[number, number]>(
      'DELETE FROM flows WHERE id IN (SELECT id FROM flows WHERE first_ts < ? ORDER BY first_ts LIMIT ?)',
    );
  }

  /** Writes a batch of classified flows, one transaction per batchRows rows. */
  write(batch: readonly ClassifiedFlow[]): void {
    const started = performance.now();
    for (let from = 0; from < batch.length; from += this.batchRows) {
      const to = Math.min(batch.length, from + this.batchRows);
      try {
        this.insertMany(batch, from, to);
      } catch (e) {
        // One transaction per batch: a failure (disk full, file removed) rolls back whole batches only.
        const msg = e instanceof Error ? e.message : String(e);
        throw new SinkError(`writing ${to - from} flows to database ${this.path} failed: ${msg}`, { cause: e });
      }
      this.rows += to - from;
    }
    this.latency.observe((performance.now() - started) / 1000);
  }

  /**
   * Retention by age: deletes flows whose first packet is older than `ts` (Unix seconds), at most `batchRows`
   * per transaction, yielding to the event loop between transactions so capture keeps running. Returns the
   * number deleted.
   */
  async deleteOlderThan(ts: number, batchRows: number): Promise<number> {
    let total = 0;
    for (;;) {
      const n = this.deleteBefore.run(ts, batchRows).changes;
      total += n;
      if (n < batchRows) return total;
      await nextTick();
    }
  }

  /** Bytes the database's live pages take (freed pages excluded). */
  usedBytes(): number {
    const pageSize = this.db.pragma('page_size', { simple: true }) as number;
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    const free = this.db.pragma('freelist_count', { simple: true }) as number;
    return (pages - free) * pageSize;
  }

  /**
   * Retention by size: deletes the oldest flows, `batchRows` per transaction (yielding in between), until the
   * live pages fit in `maxBytes`, then returns the freed pages to the file system. Returns the number deleted.
   */
  async trimToSize(maxBytes: number, batchRows: number): Promise<number> {
    let total = 0;
    while (this.usedBytes() > maxBytes) {
      const n = this.deleteOldest.run(batchRows).changes;
      if (n === 0) break;
      total += n;
      await nextTick();
    }
    if (total > 0) {
      this.db.pragma('incremental_vacuum');
      // PASSIVE never waits for readers; the WAL is truncated to journal_size_limit when it next resets.
      this.db.pragma('wal_checkpoint(PASSIVE)');
    }
    return total;
  }

  close(): void {
    if (!this.db.open) return;
    // SQLite's advice for long-lived connections: refresh the planner's statistics before closing.
    this.db.pragma('optimize');
    this.db.close();
  }
}
