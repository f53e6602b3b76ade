import { Worker } from 'node:worker_threads';

import type { ScoredFlow } from '../anomaly/scoredFlow';
import type { HostEvent, HostProfilesOptions } from '../hosts/hostProfiles';
import { HostProfilesThread } from '../hosts/hostProfilesThread';
import { LatencyHistogram } from '../metrics/latencyHistogram';
import { packBatch } from './recordPack';
import { SinkError } from './sinkError';
import { Database, type SqliteDatabase, withAddon } from './sqliteBinding';
import { BUSY_TIMEOUT_MS, type SqliteSinkOptions } from './sqliteSink';
import type { SqliteReply, SqliteRequest, SqliteWorkerData } from './sqliteWorker';
import { workerEntry } from '../startup/bundle';

/** The compiled worker: its bundle when this process runs from the start-up bundle, else dist/ (src/startup/bundle.ts). */
const WORKER = workerEntry('sink', 'sqliteWorker');

/**
 * Rows handed to the worker and not yet written, above which drained() waits: eight of the pipeline's batches
 * (SINK_BATCH), so the worker always has the next ones queued while the capture thread goes on, and memory stays
 * bounded (README "Reliability"). It was 32,768: a quarter of that measured about 20 MB less peak RSS in the CI flood
 * (host profiles in this thread) at the same CPU time.
 */
export const MAX_QUEUED_ROWS = 8192;

/**
 * Live mode (`shedAbove` set): rows queued for the worker above which records of flows without payload are shed
 * on the capture thread (counted in `shed`, like the worker's own time-share shedding), and above four times which
 * every record is. Capture cannot wait for the database; this keeps a flood from queueing records without bound.
 */
export const LIVE_SHED_QUEUED_ROWS = 131072;

interface Answer {
  resolve(v: number): void;
  reject(e: Error): void;
}

/**
 * The flows database written by a worker thread (sqliteWorker.ts runs a SqliteSink): write() packs the batch
 * (recordPack.ts) and posts it, so building rows, inserting them and building the indexes of a bulk run never
 * stall the capture thread. Back-pressure: drained() waits while more than MAX_QUEUED_ROWS rows are queued (offline
 * runs wait there); live mode sheds instead (LIVE_SHED_QUEUED_ROWS). A failed write (disk full) is reported by the
 * next write(), drained(), holdCommits() or close() as the SinkError the worker's SqliteSink threw; `lostRecords` counts
 * every row handed over that did not reach the database, exactly, once close() returned.
 */
export class SqliteThreadSink {
  /** Rows written (committed or in a held transaction). */
  rows = 0;
  /** Rows handed over that were not written (a failed transaction, and every row after it). */
  lostRecords = 0;
  /** Records of flows without payload not stored because the database was behind (see SqliteSinkOptions.shedAbove). */
  shed = 0;
  /** Seconds per write (its transactions, in the worker), one observation per batch. */
  readonly latency = new LatencyHistogram('sensor_db_write_duration_seconds', 'Seconds to write one batch of flow records to SQLite (its transactions)');
  private queuedRows = 0;
  private failure: SinkError | null = null;
  private waiters: (() => void)[] = [];
  private readonly answers = new Map<number, Answer>();
  private nextId = 1;
  private closed: Promise<void> | null = null;
  private onClosed: ((r: { lost: number; error: string | null }) => void) | null = null;
  /** The worker answered close() (its exit that follows is expected). */
  private ended = false;
  /** Resolves when the worker thread has exited (close() waits for it: bin/sensor.js exits the process right after). */
  private readonly exited: Promise<void>;
  private readonly live: boolean;
  /** This thread's own connection for the model monitor (localDb()), or null before it is asked for. */
  private side: SqliteDatabase | null = null;
  /** The host profiles this sink's thread keeps (open() with `hosts`), or null. */
  readonly hosts: HostProfilesThread | null;
  private readonly onHostEvent: ((e: HostEvent) => void) | null;

  private constructor(
    readonly path: string,
    private readonly worker: Worker,
    opts: SqliteSinkOptions,
    hosts: HostProfilesOptions | null,
  ) {
    this.live = opts.shedAbove !== undefined;
    this.hosts = hosts !== null ? new HostProfilesThread((req) => this.post(req)) : null;
    this.onHostEvent = hosts?.onEvent ?? null;
    worker.on('message', (m: SqliteReply) => this.onMessage(m));
    worker.on('error', (e) => this.stopped(e.message));
    worker.on('exit', (code) => this.stopped(`exit code ${code}`));
    this.exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.unref();
  }

  /**
   * Opens the database in a new worker; rejects with a one-line SinkError as SqliteSink's constructor would.
   * `shedAbove` marks live mode: the worker does not shed by its share of time (its writes no longer take time from
   * capture), this side sheds when the worker is far behind (LIVE_SHED_QUEUED_ROWS). With `hosts`, the worker also
   * keeps the host profiles (its `hosts`, a HostProfilesThread) from the batches it writes; records shed on
   * this side under a flood (flows without payload) then reach neither the database nor the profiles.
   */
  static open(dbPath: string, opts: SqliteSinkOptions = {}, hosts: HostProfilesOptions | null = null): Promise<SqliteThreadSink> {
    if (opts.migrations !== undefined) throw new RangeError('SqliteThreadSink: migrations cannot be passed to a worker');
    const { shedAbove: _live, ...inWorker } = opts;
    let hostsInWorker: SqliteWorkerData['hosts'] = null;
    if (hosts !== null) {
      const { onEvent: _onEvent, ...rest } = hosts;
      hostsInWorker = rest;
    }
    const workerData: SqliteWorkerData = { path: dbPath, opts: inWorker, hosts: hostsInWorker };
    const worker = new Worker(WORKER, { workerData });
    return new Promise<SqliteThreadSink>((resolve, reject) => {
      const onMessage = (m: SqliteReply): void => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        if (m.kind === 'ready') resolve(new SqliteThreadSink(dbPath, worker, opts, hosts));
        else reject(new SinkError(m.kind === 'refused' ? m.message : `cannot open database ${dbPath}: unexpected reply from its thread`));
      };
      const onError = (e: Error): void => {
        worker.off('message', onMessage);
        reject(e instanceof SinkError || e.name === 'SinkError' ? new SinkError(e.message) : new SinkError(`cannot open database ${dbPath}: ${e.message}`));
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
    });
  }

  write(batch: readonly ScoredFlow[]): boolean {
    if (this.failure !== null) {
      this.lostRecords += batch.length;
      throw this.failure;
    }
    let rows = batch;
    if (this.live && this.queuedRows > LIVE_SHED_QUEUED_ROWS) {
      rows = this.queuedRows > 4 * LIVE_SHED_QUEUED_ROWS ? [] : batch.filter((cf) => cf.flow.payload_packets > 0);
      this.shed += batch.length - rows.length;
    }
    if (rows.length === 0) return true;
    this.queuedRows += rows.length;
    this.post({ kind: 'write', batch: packBatch(rows) });
    return this.queuedRows <= MAX_QUEUED_ROWS;
  }

  /** Whether drained() would wait or throw. */
  mustDrain(): boolean {
    return this.failure !== null || this.queuedRows > MAX_QUEUED_ROWS;
  }

  /** Resolves when at most MAX_QUEUED_ROWS rows wait for the worker; rejects with the first failed write. */
  async drained(): Promise<void> {
    while (this.failure === null && this.queuedRows > MAX_QUEUED_ROWS) await this.ack();
    if (this.failure !== null) throw this.failure;
  }

  holdCommits(on: boolean): void {
    if (this.failure !== null) throw this.failure;
    this.post({ kind: 'hold', on });
  }

  /** Retention by age in the worker (SqliteSink.deleteOlderThan); resolves with the rows deleted. */
  deleteOlderThan(ts: number, batchRows: number): Promise<number> {
    return this.ask((id) => ({ kind: 'deleteOlderThan', id, ts, batchRows }));
  }

  /** Resolves once the worker wrote every batch handed to it so far and committed them (FlowSink.committed). */
  async committed(): Promise<void> {
    if (this.failure !== null || this.closed !== null) return;
    await this.ask((id) => ({ kind: 'commit', id })).catch(() => undefined);
  }

  /** Retention by size in the worker (SqliteSink.trimToSize); resolves with the rows deleted. */
  trimToSize(maxBytes: number, batchRows: number): Promise<number> {
    return this.ask((id) => ({ kind: 'trimToSize', id, maxBytes, batchRows }));
  }

  /**
   * A connection of this thread's own to the same database, for the model monitor's and the host profiles' writes
   * (small transactions: a monitor window, a host-profile flush every 10 s): WAL lets it and the worker share the
   * file, busy_timeout makes either wait for the other's transaction (the worker's last at most GROUP_COMMIT_MS). Opened on the first call (after open(): the worker has migrated the schema);
   * close() closes it before the worker's.
   */
  localDb(): SqliteDatabase {
    if (this.side === null) {
      const db = new Database(this.path, withAddon());
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      this.side = db;
    }
    return this.side;
  }

  /**
   * Waits for every queued row, builds deferred indexes and closes the database (in the worker), then ends it.
   * Throws the first write failure, or the SinkError of the close itself (a failed commit or index build).
   */
  async close(): Promise<void> {
    if (this.closed === null) {
      this.side?.close();
      this.side = null;
      this.closed = new Promise<void>((resolve) => {
        this.onClosed = (r) => {
          this.lostRecords += r.lost;
          if (r.error !== null && this.failure === null) this.failure = new SinkError(r.error, undefined, r.lost);
          resolve();
        };
      });
      this.worker.ref();
      this.post({ kind: 'close' });
    }
    await this.closed;
    // The worker closes its port after the reply and ends; wait for that, so that its own exit work (the code cache's
    // entries) is done before the process exits (bin/sensor.js exits as soon as the run is over).
    await this.exited;
    if (this.failure !== null) throw this.failure;
    // Closing the profiles' open windows failed in the thread, after their face here was closed.
    const late = this.hosts?.lateFailure ?? null;
    if (late !== null) throw new SinkError(`host profiles: ${late.message}`);
  }

  private post(req: SqliteRequest): void {
    // The worker keeps the process alive only while it has work: a run that ends must not wait for it.
    this.worker.ref();
    if (req.kind === 'write') this.worker.postMessage(req, [req.batch.num.buffer as ArrayBuffer]);
    else this.worker.postMessage(req);
  }

  private ask(req: (id: number) => SqliteRequest): Promise<number> {
    const id = this.nextId++;
    return new Promise<number>((resolve, reject) => {
      this.answers.set(id, { resolve, reject });
      this.post(req(id));
    });
  }

  private ack(): Promise<void> {
    return new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  private onMessage(m: SqliteReply): void {
    switch (m.kind) {
      case 'ack':
        this.queuedRows -= m.rows;
        this.rows += m.written;
        this.lostRecords += m.lost;
        this.shed += m.shed;
        if (m.rows > 0) this.latency.observe(m.ms / 1000);
        if (m.error !== null && this.failure === null) this.failure = new SinkError(m.error, undefined, m.lost);
        break;
      case 'answer': {
        const a = this.answers.get(m.id);
        this.answers.delete(m.id);
        if (m.error === null) a?.resolve(m.value);
        else a?.reject(new SinkError(m.error));
        break;
      }
      case 'hostsStats':
      case 'hostsFailed':
        this.hosts?.onReport(m);
        break;
      case 'hostEvent':
        this.onHostEvent?.(m.event);
        break;
      case 'closed': {
        this.ended = true;
        const done = this.onClosed;
        this.onClosed = null;
        done?.(m);
        break;
      }
      default:
        break;
    }
    if (this.queuedRows === 0 && this.answers.size === 0 && this.closed === null) this.worker.unref();
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** The worker ended without close(): every row still queued is lost, and so is every later one. */
  private stopped(why: string): void {
    if (this.ended) return;
    this.ended = true;
    if (this.onClosed !== null) {
      // Ended after close() was asked: the 'closed' reply came first, or the worker died while closing.
      const done = this.onClosed;
      this.onClosed = null;
      done({ lost: this.queuedRows, error: this.failure === null && this.queuedRows > 0 ? `database ${this.path}: its writer thread stopped (${why})` : null });
      this.queuedRows = 0;
    } else if (this.failure === null) {
      this.lostRecords += this.queuedRows;
      this.queuedRows = 0;
      this.failure = new SinkError(`writing flows to database ${this.path} failed: its writer thread stopped (${why})`);
    }
    for (const a of this.answers.values()) a.reject(new SinkError(`database ${this.path}: its writer thread stopped (${why})`));
    this.answers.clear();
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
