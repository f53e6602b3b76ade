import { closeSync, createWriteStream, openSync, type WriteStream } from 'node:fs';
import { once } from 'node:events';

import type { ScoredFlow } from '../anomaly/scoredFlow';
import { flowToRow, rowToJson } from './flowRow';
import { SinkError } from './sinkError';

/**
 * Flow records as JSON lines (one object per flow, flowRow.ts's JSON_KEYS: `event_type: "flow"`, the SQLite
 * column names less `source`, arrays as arrays, midstream as a boolean) for shipping to a log pipeline. '-'
 * writes to stdout.
 *
 * Each write() turns its batch into one string and hands it to a Node stream, which buffers in memory and
 * writes in the background; write() returns false when that buffer is past its high-water mark, and the
 * caller may await drained() to apply back-pressure. Files are opened for append, so a restart never truncates
 * what was shipped, and reopen() starts a new file after logrotate has moved the old one.
 */
export class JsonlSink {
  /** Records written since open. */
  rows = 0;
  private out: NodeJS.WritableStream;
  private error: Error | null = null;

  constructor(readonly path: string) {
    this.out = this.openOut();
  }

  /** Queues a batch; false means the stream's buffer is full (await drained() before the next batch). */
  write(batch: readonly ScoredFlow[]): boolean {
    if (this.error !== null) throw this.error;
    if (batch.length === 0) return true;
    let text = '';
    for (const cf of batch) text += rowToJson(flowToRow(cf)) + '\n';
    this.rows += batch.length;
    return this.out.write(text);
  }

  /** Whether drained() would wait or throw. */
  mustDrain(): boolean {
    return this.error !== null || (this.out as WriteStream).writableNeedDrain === true;
  }

  /** Resolves when the stream's buffer has room again. */
  async drained(): Promise<void> {
    const w = this.out as WriteStream;
    if (w.writableNeedDrain) await once(w, 'drain');
    if (this.error !== null) throw this.error;
  }

  /** Closes the file and opens the same path again (after logrotate moved it); no-op for stdout. */
  async reopen(): Promise<void> {
    if (this.path === '-') return;
    const old = this.out;
    this.out = this.openOut();
    await this.finish(old);
  }

  /** Flushes everything written so far; the file is closed, stdout is left open. */
  async close(): Promise<void> {
    await this.finish(this.out);
    if (this.error !== null) throw this.error;
  }

  private openOut(): NodeJS.WritableStream {
    let stream: NodeJS.WritableStream;
    if (this.path === '-') {
      stream = process.stdout;
    } else {
      // Open synchronously so a bad path fails here with one line, not later in an 'error' event.
      let fd: number;
      try {
        fd = openSync(this.path, 'a');
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code ?? String(e);
        throw new SinkError(`cannot open JSON-lines output ${this.path}: ${code} (check that its directory exists and is writable)`);
      }
      try {
        stream = createWriteStream(this.path, { fd, flags: 'a' });
      } catch (e) {
        closeSync(fd);
        throw e;
      }
    }
    stream.on('error', (e: Error) => {
      if (this.error === null) this.error = new SinkError(`writing JSON lines to ${this.path === '-' ? 'stdout' : this.path} failed: ${e.message}`);
    });
    return stream;
  }

  private async finish(stream: NodeJS.WritableStream): Promise<void> {
    if (stream === process.stdout) {
      // Never end stdout: an empty write's callback fires once everything queued before it is flushed.
      await new Promise<void>((resolve) => stream.write('', () => resolve()));
      return;
    }
    const w = stream as WriteStream;
    if (w.closed || w.destroyed) return;
    const closed = once(w, 'close').catch(() => undefined);
    w.end();
    await closed;
  }
}
