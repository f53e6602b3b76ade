import type { ScoredFlow } from '../../anomaly/scoredFlow';
import type { ClickHouseConfig } from '../../config/clickhouseConfig';
import { CLICKHOUSE_COLUMNS, FIRST_COLUMNS, RowBinaryBatch } from './columns';
import type { ClickHouseEndpoint } from './client';
import { ADDED_COLUMNS, upgradeStatements } from './ddl';
import { classifyInsertError, PERMANENT_CODES } from './insertError';
import { Spool, type SpooledBatch, type SpoolFormat } from './spool';

/** What the sink reports to the stats line and Prometheus. */
export interface ClickHouseStats {
  /** Rows waiting in memory (sealed batches and the batch being filled). */
  queued_rows: number;
  spool_batches: number;
  spool_rows: number;
  spool_bytes: number;
  sent_rows: number;
  sent_batches: number;
  /** Failed INSERT attempts whose rows went to (or stayed in) the spool to be sent again. */
  retried: number;
  /** Rows dropped because the spool was full (oldest first). */
  dropped_rows: number;
  dropped_batches: number;
  /** ClickHouse refused the data itself (schema mismatch, login): inserts are stopped until reload or restart. */
  rejected: boolean;
}

/** Where the sink logs (a winston logger fits). */
export interface SinkLog {
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  error(message: string, meta?: Record<string, unknown>): void;
}

export interface ClickHouseSinkOptions {
  config: ClickHouseConfig;
  spool: Spool;
  /** One per configured URL, in order. */
  endpoints: ClickHouseEndpoint[];
  log: SinkLog;
  /** How long close() keeps sending before it spools the rest (default CLOSE_DRAIN_MS). */
  closeDrainMs?: number;
}

/**
 * Sealed batches held in memory while an INSERT is in flight, in bytes (~150,000 RowBinary rows of the bench): past that ClickHouse counts
 * as slow, the INSERT is aborted and the batches go to the spool, so memory stays bounded whatever the server does.
 */
export const MEMORY_LIMIT_BYTES = 64 * 1024 * 1024;
/** First pause after a failed insert; doubled per failure up to RETRY_MAX_MS. */
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 30_000;
/** While inserts keep failing, one warning per this period (plus the first), not one per attempt. */
const WARN_EVERY_MS = 60_000;
/** At close (SIGTERM, end of an offline run) the sink sends for at most this long, then spools the rest. */
export const CLOSE_DRAIN_MS = 10_000;

interface Batch {
  seq: number;
  rows: number;
  body: Buffer;
}

type Head = { kind: 'memory'; batch: Batch } | { kind: 'spool'; batch: SpooledBatch };

/**
 * Flow records into ClickHouse: rows are encoded in ClickHouse's RowBinary format as they arrive (write() only appends to
 * memory and never waits), sealed into batches of batchSize rows or after batchDeadlineMs, and sent by one
 * background loop, one INSERT at a time, strictly in order of a sequence number given at sealing.
 *
 * Nothing lost: when an INSERT fails for a transient reason (refused, reset, timed out, a 5xx) or ClickHouse is
 * slow (more than MEMORY_LIMIT_BYTES waiting), the batch and everything behind it go to the on-disk spool,
 * and the loop retries with a growing pause (1 s to 30 s), trying the next configured URL each time; the spool
 * is sent first, in order, once an INSERT succeeds again. A batch that ClickHouse refuses because of its data
 * or the table (schema mismatch, unknown table, login) is not retried: one error line says why, the records go
 * to the spool, and inserts wait for resume() (SIGHUP) or the next start. close() seals what is pending, sends
 * for up to CLOSE_DRAIN_MS and spools the rest; the next run sends it.
 */
export class ClickHouseSink {
  private readonly cfg: ClickHouseConfig;
  private readonly spool: Spool;
  private readonly endpoints: ClickHouseEndpoint[];
  private readonly log: SinkLog;
  private readonly closeDrainMs: number;
  /** The INSERT for each body format: RowBinary (what this sensor writes), JSONEachRow (spooled by older ones). */
  private readonly insertQuery: Record<SpoolFormat, string>;
  private current = 0;
  private seq: number;

  /** The batch being filled, encoded as the rows arrive into a reused buffer. */
  private readonly pending = new RowBinaryBatch();
  private pendingTimer: NodeJS.Timeout | null = null;
  private memory: Batch[] = [];
  private memoryRows = 0;
  private memoryBytes = 0;

  private inflight: AbortController | null = null;
  /** Why the in-flight INSERT was aborted (slow server, close deadline), for its failure line. */
  private abortReason: string | null = null;
  private rejected: string | null = null;
  private retryAt = 0;
  private retryMs = 0;
  private failingSince = 0;
  private lastWarn = 0;
  private lastDropWarn = 0;
  private failures = 0;
  private closing = false;
  private giveUp = false;
  private wake: (() => void) | null = null;
  private readonly loop: Promise<void>;
  /** Rows dropped because the send loop itself failed (a bug, not ClickHouse): counted, never silently lost. */
  private lostRows = 0;
  private dead = false;

  private sentRows = 0;
  private sentBatches = 0;
  private retried = 0;

  constructor(o: ClickHouseSinkOptions) {
    if (o.endpoints.length === 0) throw new RangeError('ClickHouseSink: at least one endpoint');
    this.cfg = o.config;
    this.spool = o.spool;
    this.endpoints = o.endpoints;
    this.log = o.log;
    this.closeDrainMs = o.closeDrainMs ?? CLOSE_DRAIN_MS;
    this.seq = this.spool.nextSeq();
    const into = (cols: readonly { name: string }[]): string => `INSERT INTO ${o.config.database}.${o.config.table} (${cols.map((c) => `\`${c.name}\``).join(', ')})`;
    this.insertQuery = { rowbinary: `${into(CLICKHOUSE_COLUMNS)} FORMAT RowBinary`, jsonl: `${into(FIRST_COLUMNS)} FORMAT JSONEachRow` };
    if (this.spool.batches > 0) {
      this.log.info('ClickHouse spool has batches from an earlier run; sending them first', {
        spool: this.spool.dir,
        batches: this.spool.batches,
        rows: this.spool.rows,
      });
    }
    this.loop = this.run().catch((e: Error) => {
      this.dead = true;
      this.lostRows += this.memoryRows + this.pending.rows;
      this.log.error(`ClickHouse output stopped: ${e.message}; later records are counted as dropped (restart the sensor)`);
    });
  }

  /** Encodes the batch and queues it; never waits and never throws for ClickHouse's sake. */
  write(batch: readonly ScoredFlow[]): void {
    if (this.dead) {
      this.lostRows += batch.length;
      return;
    }
    const size = this.cfg.batchSize;
    const pending = this.pending;
    for (const cf of batch) {
      pending.add(cf);
      if (pending.rows >= size) this.seal();
    }
    if (pending.rows > 0 && this.pendingTimer === null) {
      this.pendingTimer = setTimeout(() => this.seal(), this.cfg.batchDeadlineMs);
      // An offline run ends on its own; close() seals what is left.
      this.pendingTimer.unref();
    }
  }

  stats(): ClickHouseStats {
    return {
      queued_rows: this.memoryRows + this.pending.rows,
      spool_batches: this.spool.batches,
      spool_rows: this.spool.rows,
      spool_bytes: this.spool.bytes,
      sent_rows: this.sentRows,
      sent_batches: this.sentBatches,
      retried: this.retried,
      dropped_rows: this.spool.droppedRows + this.lostRows,
      dropped_batches: this.spool.droppedBatches,
      rejected: this.rejected !== null,
    };
  }

  /** Starts inserting again after a refusal (SIGHUP: the table may have been fixed) and skips any pause. */
  resume(): void {
    if (this.rejected !== null) this.log.info('ClickHouse inserts resumed after a refusal; sending the spool first', { spool_rows: this.spool.rows });
    this.rejected = null;
    this.retryAt = 0;
    this.kick();
  }

  /** The input has ended (the pipeline is closing): the last partial batch is sealed and sent while the other sinks close. */
  endOfInput(): void {
    this.seal();
  }

  /** Seals what is pending, sends for up to closeDrainMs, spools the rest and releases the spool. */
  async close(): Promise<void> {
    if (this.closing) return this.loop;
    this.seal();
    this.closing = true;
    // One more attempt now rather than after the pause: ClickHouse may be back. A failure then spools the rest.
    this.retryAt = 0;
    const deadline = setTimeout(() => {
      this.giveUp = true;
      this.abort('the sensor is stopping');
      this.kick();
    }, this.closeDrainMs);
    this.kick();
    try {
      await this.loop;
    } finally {
      clearTimeout(deadline);
      this.spool.close();
      await Promise.all(this.endpoints.map((e) => e.close().catch(() => undefined)));
    }
    const s = this.stats();
    if (s.spool_rows > 0) {
      this.log.warn('ClickHouse output stopped with rows in the spool; the next run sends them', { spool: this.spool.dir, spool_rows: s.spool_rows });
    }
  }

  private seal(): void {
    if (this.pendingTimer !== null) {
      clearTimeout(this.pendingTimer);
      this.pendingTimer = null;
    }
    const rows = this.pending.rows;
    if (rows === 0) return;
    // A copy of the used part: the fill buffer is reused for the next batch.
    this.memory.push({ seq: this.seq++, rows, body: this.pending.take() });
    this.memoryRows += rows;
    this.memoryBytes += this.memory[this.memory.length - 1]!.body.length;
    if (this.memoryBytes > MEMORY_LIMIT_BYTES && this.inflight !== null) {
      this.abort(`ClickHouse is slow: ${this.memoryRows} rows waiting in memory`);
    }
    this.kick();
  }

  private abort(reason: string): void {
    if (this.inflight === null) return;
    this.abortReason = reason;
    this.inflight.abort();
  }

  private kick(): void {
    const w = this.wake;
    this.wake = null;
    if (w !== null) w();
  }

  /** Waits for kick() or `ms` (null: only kick()). */
  private sleep(ms: number | null): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | null = null;
      this.wake = () => {
        if (timer !== null) clearTimeout(timer);
        resolve();
      };
      if (ms !== null) {
        timer = setTimeout(() => {
          this.wake = null;
          resolve();
        }, Math.max(0, ms));
      }
    });
  }

  /** The batch with the lowest sequence number, wherever it waits. */
  private head(): Head | null {
    const s = this.spool.oldest();
    const m = this.memory[0];
    if (s !== undefined && (m === undefined || s.seq < m.seq)) return { kind: 'spool', batch: s };
    if (m !== undefined) return { kind: 'memory', batch: m };
    return null;
  }

  private async spillMemory(): Promise<void> {
    while (this.memory.length > 0) {
      const b = this.memory[0]!;
      try {
        await this.spool.add(b.seq, b.rows, b.body, 'rowbinary');
      } catch (e) {
        // Disk full or the directory gone: the rows are lost; say so, count them and keep the sensor running.
        this.spool.droppedBatches++;
        this.spool.droppedRows += b.rows;
        this.log.error(`cannot write to the ClickHouse spool ${this.spool.dir}: ${(e as Error).message}; ${b.rows} rows dropped`);
      }
      this.memory.shift();
      this.memoryRows -= b.rows;
      this.memoryBytes -= b.body.length;
    }
  }

  private async run(): Promise<void> {
    for (;;) {
      const head = this.head();
      if (head === null) {
        if (this.closing) return;
        await this.sleep(null);
        continue;
      }
      const waiting = this.rejected !== null || Date.now() < this.retryAt;
      if (waiting || this.giveUp) {
        const dropped = this.spool.droppedRows;
        await this.spillMemory();
        if (this.spool.droppedRows > dropped) this.warnDropped();
        if (this.closing) return;
        await this.sleep(this.rejected !== null ? null : this.retryAt - Date.now());
        continue;
      }
      await this.attempt(head);
    }
  }

  private async attempt(head: Head): Promise<void> {
    const endpoint = this.endpoints[this.current]!;
    let body: Buffer;
    try {
      body = head.kind === 'memory' ? head.batch.body : await this.spool.read(head.batch);
    } catch (e) {
      // A spool file removed or unreadable under us: nothing to send for it.
      this.log.error(`cannot read a ClickHouse spool file: ${(e as Error).message}; its rows are dropped`);
      if (head.kind === 'spool') {
        await this.spool.remove(head.batch);
        this.spool.droppedBatches++;
        this.spool.droppedRows += head.batch.rows;
      }
      return;
    }
    const controller = new AbortController();
    this.inflight = controller;
    this.abortReason = null;
    let error: unknown = null;
    try {
      await endpoint.insert(this.insertQuery[head.kind === 'memory' ? 'rowbinary' : head.batch.format], body, controller.signal);
    } catch (e) {
      error = e;
    } finally {
      this.inflight = null;
    }
    if (error === null) {
      await this.sent(head);
      return;
    }
    const f = classifyInsertError(error);
    const message = this.abortReason !== null ? `${this.abortReason} (insert aborted)` : f.message;
    if (f.permanent && this.abortReason === null) {
      this.rejected = message;
      const missing = f.code === 16 ? ADDED_COLUMNS.find((c) => new RegExp(`\\bNo such column ${c.name}\\b`).test(message)) : undefined;
      if (missing !== undefined) {
        // A table made before the columns this version writes (the anomaly columns): say what to run, once.
        const table = `${this.cfg.database}.${this.cfg.table}`;
        this.log.error(
          `ClickHouse table ${table} has no column ${missing.name} (the anomaly columns are new): add them with \`sensor clickhouse-schema --upgrade --apply ${endpoint.url}\` (add --cluster NAME for a Distributed table; without --apply it prints the ALTER TABLE: ${upgradeStatements({ database: this.cfg.database, table: this.cfg.table, cluster: null, onCluster: false }, () => false, false)[0]!.replace(/\s+/g, ' ')}), then reload (SIGHUP) or restart the sensor; until then records go to the spool ${this.spool.dir}`,
          { endpoint: endpoint.url, table },
        );
        return;
      }
      this.log.error(
        `ClickHouse refused the rows (code ${f.code} ${PERMANENT_CODES.get(f.code!)}): ${message}. Inserts stop and records go to the spool ${this.spool.dir}; fix the table (see sensor clickhouse-schema) or the login, then reload (SIGHUP) or restart the sensor`,
        { endpoint: endpoint.url, table: `${this.cfg.database}.${this.cfg.table}` },
      );
      return;
    }
    this.retried++;
    this.failures++;
    this.retryMs = this.retryMs === 0 ? RETRY_MIN_MS : Math.min(RETRY_MAX_MS, this.retryMs * 2);
    this.retryAt = Date.now() + this.retryMs;
    // The next attempt goes to the next URL (the same one when there is only one).
    this.current = (this.current + 1) % this.endpoints.length;
    const now = Date.now();
    if (this.failingSince === 0 || now - this.lastWarn >= WARN_EVERY_MS) {
      if (this.failingSince === 0) this.failingSince = now;
      this.lastWarn = now;
      this.log.warn(`ClickHouse insert failed: ${message}; rows go to the spool and are retried`, {
        endpoint: endpoint.url,
        failures: this.failures,
        spool_rows: this.spool.rows + this.memoryRows,
        retry_in_ms: this.retryMs,
      });
    }
  }

  private async sent(head: Head): Promise<void> {
    const rows = head.batch.rows;
    if (head.kind === 'memory') {
      this.memory.shift();
      this.memoryRows -= rows;
      this.memoryBytes -= head.batch.body.length;
    } else {
      await this.spool.remove(head.batch);
    }
    this.sentRows += rows;
    this.sentBatches++;
    this.retryMs = 0;
    this.retryAt = 0;
    if (this.failingSince !== 0) {
      this.log.info('ClickHouse inserts succeed again', {
        endpoint: this.endpoints[this.current]!.url,
        failed_attempts: this.failures,
        down_for_s: Math.round((Date.now() - this.failingSince) / 1000),
        spool_rows: this.spool.rows,
      });
      this.failingSince = 0;
      this.failures = 0;
    }
  }

  private warnDropped(): void {
    const now = Date.now();
    if (now - this.lastDropWarn < WARN_EVERY_MS) return;
    this.lastDropWarn = now;
    this.log.warn(`ClickHouse spool ${this.spool.dir} is full (output.clickhouse.spoolMaxBytes ${this.spool.maxBytes}): oldest batches dropped`, {
      dropped_rows: this.spool.droppedRows + this.lostRows,
      dropped_batches: this.spool.droppedBatches,
    });
  }
}
