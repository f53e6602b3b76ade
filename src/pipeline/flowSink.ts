import type { ScoredFlow } from '../anomaly/scoredFlow';
import { SinkError } from '../sink/sinkError';

/**
 * Where classified and scored flows go (SQLite, JSON lines, host profiles). A sink takes whole batches; one that buffers (a stream)
 * offers drained() so that the pipeline can wait for it instead of growing its buffer without bound.
 */
export interface FlowSink {
  write(batch: ScoredFlow[]): unknown;
  /** Resolves when the sink's buffer has room again; absent for sinks that write synchronously. */
  drained?(): Promise<void>;
  /**
   * False when drained() would resolve at once without an error, so the caller may skip it (it is asked after
   * every window of a capture file); absent: always call drained().
   */
  mustDrain?(): boolean;
  /** With `on`, the writes of a flush may share larger transactions; off commits them (SqliteSink). */
  holdCommits?(on: boolean): void;
  /**
   * No record will come any more: a sink that finishes in the background (the ClickHouse output seals its last
   * batch and sends it) starts now, so that its work overlaps the closing of the sinks before it in the list.
   */
  endOfInput?(): void;
  /**
   * Resolves once every record handed over so far is committed, with no transaction of the sink's left open
   * (SqliteThreadSink: its thread writes in the background). The pipeline waits for it before closing any sink, so
   * that a sink writing to the same database through a connection of its own (the model monitor's last window)
   * finds the write lock free instead of sleeping in SQLite's busy handler. Never rejects: a failure is close()'s to
   * report.
   */
  committed?(): Promise<void>;
  close(): void | Promise<void>;
  /**
   * Present on a sink that writes in another thread (SqliteThreadSink): the records handed to it that did not reach
   * its output, counted by the sink itself (a failure there is only known later, with batches already handed
   * over); complete once close() returned.
   */
  readonly lostRecords?: number;
}

/**
 * A sink whose first failed write (disk full, database gone) is reported once through `onFail` instead of
 * throwing into the capture callback, the classifier or a timer; later batches are counted in `lost`, not
 * retried, so a flush still finishes and says how many records could not be written. close() never throws:
 * after a failure the sink's own error on close (SQLite's PRAGMA optimize failing again on a full disk) would
 * only mask the first one, so it goes to `onFail` too, which ignores repeats.
 */
export class GuardedSink implements FlowSink {
  /** Records this guard counted as lost: refused after the failure, or lost by a sink that does not count its own. */
  private ownLost = 0;
  private failed = false;

  constructor(
    readonly inner: FlowSink,
    private readonly onFail: (e: Error) => void,
  ) {}

  /** Flow records that did not reach this sink (the whole failed batch counts: its transaction rolled back). */
  get lost(): number {
    return this.ownLost + (this.inner.lostRecords ?? 0);
  }

  write(batch: ScoredFlow[]): void {
    if (this.failed) {
      this.ownLost += batch.length;
      return;
    }
    try {
      this.inner.write(batch);
    } catch (e) {
      this.countLost(e, batch.length);
      this.fail(e);
    }
  }

  mustDrain(): boolean {
    return !this.failed && this.inner.drained !== undefined && this.inner.mustDrain?.() !== false;
  }

  async drained(): Promise<void> {
    if (this.failed || this.inner.drained === undefined) return;
    try {
      await this.inner.drained();
    } catch (e) {
      // A commit that failed on the database's group timer surfaces at the next call, which may be this one.
      this.countLost(e, 0);
      this.fail(e);
    }
  }

  holdCommits(on: boolean): void {
    if (this.failed || this.inner.holdCommits === undefined) return;
    try {
      this.inner.holdCommits(on);
    } catch (e) {
      this.countLost(e, 0);
      this.fail(e);
    }
  }

  async committed(): Promise<void> {
    if (this.failed || this.inner.committed === undefined) return;
    await this.inner.committed();
  }

  endOfInput(): void {
    if (this.failed || this.inner.endOfInput === undefined) return;
    try {
      this.inner.endOfInput();
    } catch (e) {
      this.countLost(e, 0);
      this.fail(e);
    }
  }

  async close(): Promise<void> {
    try {
      await this.inner.close();
    } catch (e) {
      // A commit that failed on the database's group timer surfaces here when no write came after it.
      if (!this.failed) this.countLost(e, 0);
      this.fail(e);
    }
  }

  /** Whether a write, drain or close of this sink has failed (it then writes nothing more). */
  get hasFailed(): boolean {
    return this.failed;
  }

  /** A sink that counts its own losses (lostRecords) already counted these. */
  private countLost(e: unknown, otherwise: number): void {
    if (this.inner.lostRecords !== undefined) return;
    this.ownLost += e instanceof SinkError && e.rowsLost !== undefined ? e.rowsLost : otherwise;
  }

  private fail(e: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.onFail(e instanceof Error ? e : new Error(String(e)));
  }
}
