/**
 * The database side of `sensor serve`, in a worker thread: a summary over a day of flows takes seconds of SQLite
 * time, which must not stall the sensor's capture loop (`--serve`) or the API's classification while it runs.
 * Requests are answered one at a time, in order, over one read-only connection.
 */
// First, so that the modules below load through the code cache.
import '../startup/installCodeCache';

import { parentPort, workerData } from 'node:worker_threads';

import { FlowDb } from './flowDb';
import { queryFlows, type FlowFilter } from './flowQuery';
import { queryAnomalies, queryHostEvents, queryHosts, type AnomalyFilter, type HostEventFilter, type HostFilter } from './hostQuery';
import { monitorTables } from './monitorTables';
import { summarize, type SummaryQuery } from './summary';

export type QueryRequest =
  | { id: number; kind: 'flows'; args: FlowFilter }
  | { id: number; kind: 'summary'; args: SummaryQuery }
  | { id: number; kind: 'monitor'; args: null }
  | { id: number; kind: 'hosts'; args: HostFilter }
  | { id: number; kind: 'host-events'; args: HostEventFilter }
  | { id: number; kind: 'anomalies'; args: AnomalyFilter };

export type QueryReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; name: string; message: string };

const dbPath = (workerData as { dbPath: string }).dbPath;
let db: FlowDb | null = null;

function answer(req: QueryRequest): unknown {
  // Opened on first use, and again after a failed open: the sensor may create the database after the server starts.
  db ??= new FlowDb(dbPath);
  switch (req.kind) {
    case 'flows':
      return queryFlows(db, req.args);
    case 'summary':
      return summarize(db, req.args);
    case 'monitor':
      return { tables: monitorTables(db) };
    case 'hosts':
      return queryHosts(db, req.args);
    case 'host-events':
      return queryHostEvents(db, req.args);
    case 'anomalies':
      return queryAnomalies(db, req.args);
  }
}

parentPort!.on('message', (req: QueryRequest | 'close') => {
  if (req === 'close') {
    db?.close();
    parentPort!.close();
    return;
  }
  let reply: QueryReply;
  try {
    reply = { id: req.id, ok: true, result: answer(req) };
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    reply = { id: req.id, ok: false, name: err.name, message: err.message };
  }
  parentPort!.postMessage(reply);
});
