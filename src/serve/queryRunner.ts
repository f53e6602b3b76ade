import { Worker } from 'node:worker_threads';

import type { FlowFilter } from './flowQuery';
import type { AnomalyFilter, HostEventFilter, HostFilter } from './hostQuery';
import type { MonitorTable } from './monitorTables';
import type { QueryReply, QueryRequest } from './queryWorker';
import type { Summary, SummaryQuery } from './summary';
import { workerEntry } from '../startup/bundle';

/** The compiled worker: its bundle when this process runs from the start-up bundle, else dist/ (src/startup/bundle.ts). */
const WORKER = workerEntry('serve', 'queryWorker');

/** A query failed in the worker; name and message are the original error's (FlowDbError, SqliteError...). */
export class QueryError extends Error {
  constructor(
    override readonly name: string,
    message: string,
  ) {
    super(message);
  }
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
}

/** Runs the API's database queries in a worker thread (see queryWorker.ts); restarts it if it dies. */
export class QueryRunner {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(private readonly dbPath: string) {}

  flows(f: FlowFilter): Promise<{ flows: Record<string, unknown>[]; next: number | null }> {
    return this.run({ id: 0, kind: 'flows', args: f }) as Promise<{ flows: Record<string, unknown>[]; next: number | null }>;
  }

  summary(q: SummaryQuery): Promise<Summary> {
    return this.run({ id: 0, kind: 'summary', args: q }) as Promise<Summary>;
  }

  monitor(): Promise<{ tables: MonitorTable[] }> {
    return this.run({ id: 0, kind: 'monitor', args: null }) as Promise<{ tables: MonitorTable[] }>;
  }

  hosts(f: HostFilter): Promise<{ hosts: Record<string, unknown>[]; next: number | null }> {
    return this.run({ id: 0, kind: 'hosts', args: f }) as Promise<{ hosts: Record<string, unknown>[]; next: number | null }>;
  }

  hostEvents(f: HostEventFilter): Promise<{ events: Record<string, unknown>[]; next: number | null }> {
    return this.run({ id: 0, kind: 'host-events', args: f }) as Promise<{ events: Record<string, unknown>[]; next: number | null }>;
  }

  anomalies(f: AnomalyFilter): Promise<{ flows: Record<string, unknown>[] }> {
    return this.run({ id: 0, kind: 'anomalies', args: f }) as Promise<{ flows: Record<string, unknown>[] }>;
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    if (w === null) return;
    const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
    w.postMessage('close');
    await exited;
  }

  private run(req: QueryRequest): Promise<unknown> {
    const id = this.nextId++;
    const w = this.start();
    return new Promise<unknown>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      w.postMessage({ ...req, id });
    });
  }

  private start(): Worker {
    if (this.worker !== null) return this.worker;
    const w = new Worker(WORKER, { workerData: { dbPath: this.dbPath } });
    w.on('message', (reply: QueryReply) => {
      const p = this.pending.get(reply.id);
      if (p === undefined) return;
      this.pending.delete(reply.id);
      if (reply.ok) p.resolve(reply.result);
      else p.reject(new QueryError(reply.name, reply.message));
    });
    const fail = (e: Error): void => {
      if (this.worker === w) this.worker = null;
      for (const p of this.pending.values()) p.reject(new QueryError('QueryWorkerError', `the query worker stopped: ${e.message}`));
      this.pending.clear();
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`exit code ${code}`)));
    // The worker must not keep a finished process alive.
    w.unref();
    this.worker = w;
    return w;
  }
}
