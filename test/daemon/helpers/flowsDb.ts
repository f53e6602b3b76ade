import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { Verdict, type ClassifiedFlow } from '../../../src/classify/verdict';
import { SqliteSink } from '../../../src/sink/sqliteSink';
import { makeFlow } from '../../classify/makeFlow';

/** The columns of a flow row the daemon tests look at (lengths parsed from its JSON text). */
export interface DbFlow {
  first_ts: number;
  client_ip: string;
  client_port: number;
  server_ip: string;
  server_port: number;
  end_reason: string;
  lengths: number[];
  label: string;
  confidence: number;
  model_version: string;
  /** NULL (no anomaly model) in databases written without one. */
  anomaly_score: number | null;
}

/**
 * Reads the flows of a database the daemon may still be writing (WAL mode lets a reader in at any time);
 * an absent file reads as no flows. `where` is an SQL condition on the flows table.
 */
export function readFlows(file: string, where = '1', params: unknown[] = []): DbFlow[] {
  if (!existsSync(file)) return [];
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    const rows = db
      .prepare(
        `SELECT first_ts, client_ip, client_port, server_ip, server_port, end_reason, lengths, label, confidence, model_version, anomaly_score FROM flows WHERE ${where} ORDER BY id`,
      )
      .all(...params) as (Omit<DbFlow, 'lengths'> & { lengths: string })[];
    return rows.map((r) => ({ ...r, lengths: JSON.parse(r.lengths) as number[] }));
  } catch (e) {
    // The daemon creates the table when it opens the file; a reader that comes first sees no flows yet.
    if (/no such table/.test((e as Error).message)) return [];
    throw e;
  } finally {
    db.close();
  }
}

/** Flow identity for comparing two databases. */
export function flowKey(f: DbFlow): string {
  return `${f.client_ip}:${f.client_port}>${f.server_ip}:${f.server_port}`;
}

/** The sequence a tcpPeer.js connection with request size `req` must produce: [req, -(req + 100)], zero-padded. */
export function peerLengths(req: number, length = 30): number[] {
  const l = new Array<number>(length).fill(0);
  l[0] = req;
  l[1] = -(req + 100);
  return l;
}

/** `source` of the rows addEarlierFlows() writes. */
export const EARLIER_RUN = 'earlier-run';

/**
 * Adds `count` flows as an earlier run would have written them, with first_ts from `firstTs` down by one second
 * each, through the sensor's own SQLite sink (the schema is created the way the daemon creates it).
 */
export function addEarlierFlows(file: string, count: number, firstTs: number, firstPort = 10000): void {
  const sink = new SqliteSink(file);
  try {
    const batch: ClassifiedFlow[] = [];
    for (let i = 0; i < count; i++) {
      const ts = firstTs - i;
      const flow = makeFlow(peerLengths(40).slice(0, 2), {
        source: EARLIER_RUN, first_ts: ts, last_ts: ts + 1, client_ip: '10.214.99.1', client_port: firstPort + i,
        server_ip: '10.214.99.2', c2s_packets: 3, s2c_packets: 3, c2s_bytes: 200, s2c_bytes: 200, community_id: '1:x',
      });
      flow.sensor = 'earlier';
      flow.uid = `Cearlier${i}`;
      batch.push({ flow, verdict: new Verdict('unclassified', 0, [], '', 'unclassified') });
    }
    sink.write(batch);
  } finally {
    sink.close();
  }
}
