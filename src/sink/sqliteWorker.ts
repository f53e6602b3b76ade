/**
 * The flows database in a worker thread (SqliteThreadSink is its other half): rows are built and inserted here,
 * secondary indexes of a bulk run are built here at close, and retention deletes run here, so none of it stalls
 * capture, decoding and the flow table. One SqliteSink does the work, exactly as it would on the capture thread;
 * messages are handled one at a time, in order.
 */
// First, so that the modules below load through the code cache.
import '../startup/installCodeCache';

import { parentPort, workerData } from 'node:worker_threads';

import { HostProfiles, type HostEvent, type HostProfilesOptions } from '../hosts/hostProfiles';
import type { HostsReport, HostsRequest } from '../hosts/hostProfilesThread';
import { unpackBatch, type PackedBatch } from './recordPack';
import { SinkError } from './sinkError';
import { SqliteSink, type SqliteSinkOptions } from './sqliteSink';

export interface SqliteWorkerData {
  path: string;
  opts: Omit<SqliteSinkOptions, 'migrations'>;
  /**
   * Host profiles kept by this thread from the batches it writes, into the same database through the same connection
   * (HostProfilesThread is their face on the capture thread); null: none. Their events go back as `hostEvent`.
   */
  hosts: Omit<HostProfilesOptions, 'onEvent'> | null;
}

export type SqliteRequest =
  | { kind: 'write'; batch: PackedBatch }
  | { kind: 'hold'; on: boolean }
  | { kind: 'deleteOlderThan'; id: number; ts: number; batchRows: number }
  | { kind: 'trimToSize'; id: number; maxBytes: number; batchRows: number }
  | { kind: 'commit'; id: number }
  | { kind: 'close' }
  | HostsRequest;

export type SqliteReply =
  | { kind: 'ready' }
  | { kind: 'refused'; message: string }
  /**
   * One per write message (and one per failure or close): the rows of the message (`rows`), the change in rows
   * written, committed or in an open transaction (`written`: negative when a failed transaction took rows back),
   * rows not written (`lost`: a failed transaction, or every row after the first failure), rows shed, milliseconds
   * it took, and the first failure's one-line message (once).
   */
  | { kind: 'ack'; rows: number; written: number; lost: number; shed: number; ms: number; error: string | null }
  | { kind: 'answer'; id: number; value: number; error: string | null }
  | { kind: 'closed'; lost: number; error: string | null }
  | { kind: 'hostEvent'; event: HostEvent }
  | HostsReport;

const port = parentPort!;
const { path, opts, hosts: hostsOpts } = workerData as SqliteWorkerData;

function post(msg: SqliteReply): void {
  port.postMessage(msg);
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function rowsLost(e: unknown, otherwise: number): number {
  return e instanceof SinkError && e.rowsLost !== undefined ? e.rowsLost : otherwise;
}

function openSink(): { sink: SqliteSink; hosts: HostProfiles | null } | null {
  let sink: SqliteSink | null = null;
  try {
    sink = new SqliteSink(path, opts);
    const hosts = hostsOpts !== null ? new HostProfiles(sink.db, { ...hostsOpts, onEvent: (event) => post({ kind: 'hostEvent', event }) }) : null;
    return { sink, hosts };
  } catch (e) {
    try {
      sink?.close();
    } catch {
      // the open failure is the one to report
    }
    post({ kind: 'refused', message: message(e) });
    port.close();
    return null;
  }
}
const opened = openSink();
if (opened !== null) {
  post({ kind: 'ready' });
  serve(opened.sink, opened.hosts);
}

function serve(sink: SqliteSink, hosts: HostProfiles | null): void {
  /** Set at the host profiles' first failure: they are not called again (the flows go on being written). */
  let hostsFailed = false;
  /** Runs `fn` on the host profiles, then reports their statistics, or their failure (once). */
  function withHosts(fn: (h: HostProfiles) => void): void {
    if (hosts === null || hostsFailed) return;
    try {
      fn(hosts);
    } catch (e) {
      hostsFailed = true;
      post({ kind: 'hostsFailed', message: message(e) });
    }
    post({ kind: 'hostsStats', stats: { ...hosts.stats }, openHosts: hosts.openHosts });
  }

  /** Set at the first failed write: later batches are counted as lost, not tried (as GuardedSink does). */
  let failed = false;
  /** sink.rows when last acknowledged: each ack carries the change (a rolled-back transaction takes rows back). */
  let acked = 0;
  const written = (): number => {
    const d = sink.rows - acked;
    acked = sink.rows;
    return d;
  };

  function fail(e: unknown, lost: number): void {
    failed = true;
    post({ kind: 'ack', rows: 0, written: written(), lost, shed: 0, ms: 0, error: message(e) });
  }
  // A commit made by the group timer failed (disk full while the network was quiet): say so now.
  sink.onDeferred = (e) => {
    if (!failed) fail(e, e.rowsLost ?? 0);
  };

  function write(batch: PackedBatch): void {
    const rows = batch.n;
    if (failed) {
      post({ kind: 'ack', rows, written: 0, lost: rows, shed: 0, ms: 0, error: null });
      return;
    }
    const started = performance.now();
    const shedBefore = sink.shed;
    let lost = 0;
    let error: string | null = null;
    const flows = unpackBatch(batch);
    // Profiles first, as on the capture thread (they came before the database in the sink list).
    withHosts((h) => h.write(flows));
    try {
      sink.write(flows);
    } catch (e) {
      failed = true;
      error = message(e);
      lost = rowsLost(e, rows);
    }
    const shed = sink.shed - shedBefore;
    post({ kind: 'ack', rows, written: written(), lost, shed, ms: performance.now() - started, error });
  }

  function hold(on: boolean): void {
    if (failed) return;
    try {
      sink.holdCommits(on);
    } catch (e) {
      fail(e, rowsLost(e, 0));
    }
  }

  async function answer(id: number, run: () => Promise<number>): Promise<void> {
    try {
      post({ kind: 'answer', id, value: await run(), error: null });
    } catch (e) {
      post({ kind: 'answer', id, value: 0, error: message(e) });
    }
  }

  let queue: Promise<void> = Promise.resolve();
  port.on('message', (req: SqliteRequest) => {
    queue = queue.then(async () => {
      switch (req.kind) {
        case 'write':
          write(req.batch);
          return;
        case 'hold':
          hold(req.on);
          return;
        case 'deleteOlderThan':
          await answer(req.id, () => sink.deleteOlderThan(req.ts, req.batchRows));
          return;
        case 'trimToSize':
          await answer(req.id, () => sink.trimToSize(req.maxBytes, req.batchRows));
          return;
        case 'commit':
          // Every write before it is done (requests run in order); a gathered transaction is committed now. A failed
          // commit does not throw here: the sink keeps it, and its next call (a write, close()) throws it.
          if (!failed) sink.commitGathered();
          post({ kind: 'answer', id: req.id, value: 0, error: null });
          return;
        case 'hostsAdvance':
          withHosts((h) => h.advance(req.now));
          return;
        case 'hostsGroups':
          withHosts((h) => h.setGroups(req.groups));
          return;
        case 'close': {
          let lost = 0;
          let error: string | null = null;
          // The profiles write their open windows before the database closes (as the sink list closes on the capture thread).
          if (!failed) withHosts((h) => h.close());
          try {
            sink.close();
          } catch (e) {
            // A failed commit loses its rows; failed index building loses none.
            error = failed ? null : message(e);
            lost = failed ? 0 : rowsLost(e, 0);
          }
          post({ kind: 'ack', rows: 0, written: written(), lost: 0, shed: 0, ms: 0, error: null });
          post({ kind: 'closed', lost, error });
          port.close();
          return;
        }
      }
    });
  });
}
