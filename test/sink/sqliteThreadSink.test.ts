import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { AnomalyScore, type ScoredFlow } from '../../src/anomaly/scoredFlow';
import { flowUid } from '../../src/flow/flowUid';
import { GuardedSink } from '../../src/pipeline/flowSink';
import { packBatch, unpackBatch } from '../../src/sink/recordPack';
import { Database } from '../../src/sink/sqliteBinding';
import { SinkError } from '../../src/sink/sinkError';
import { SqliteSink } from '../../src/sink/sqliteSink';
import { MAX_QUEUED_ROWS, SqliteThreadSink } from '../../src/sink/sqliteThreadSink';
import { classified } from './classified';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'sqlite-thread-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Every column but the row id, in insertion order. */
function rowsOf(dbPath: string): Record<string, unknown>[] {
  const db = new Database(dbPath, { readonly: true });
  try {
    return (db.prepare('SELECT * FROM flows ORDER BY id').all() as Record<string, unknown>[]).map(({ id: _id, ...rest }) => rest);
  } finally {
    db.close();
  }
}

/** The secondary indexes of the flows table (the monitor tables have their own, never deferred). */
function indexes(dbPath: string): string[] {
  const db = new Database(dbPath, { readonly: true });
  try {
    return (db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'flows' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
  } finally {
    db.close();
  }
}

/**
 * Flows with every kind of field: no-payload, several top-k sizes, live and offline, a uid not computed yet, an
 * anomaly score or none (null, or absent as from a tool).
 */
function mixedBatch(n: number, from = 0): ScoredFlow[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    const cf: ScoredFlow = classified(i, i % 2 === 0 ? 'tls-web' : 'ssh', i % 5 === 0 ? new Array<number>(30).fill(0) : [517, -1448, -i, 80]);
    if (i % 3 === 1) cf.anomaly = new AnomalyScore(0.25 + i / 7, i % 2 === 1, 0.01);
    else if (i % 3 === 2) cf.anomaly = null;
    if (i % 5 === 0) cf.flow.payload_packets = 0;
    if (i % 4 === 0) cf.verdict.topk = [];
    cf.flow.live = i % 3 === 0;
    // A record from the flow table has no uid until something reads it: leave it to be computed.
    if (i % 2 === 0) (cf.flow as unknown as { uidText: string | null }).uidText = null;
    return cf;
  });
}

describe('recordPack', () => {
  it('unpacks exactly the classified flows it packed (a uid not computed yet is computed alike on the other side)', () => {
    const batch = mixedBatch(40);
    const notComputed = batch.filter((cf) => cf.flow.uidIfKnown === null).length;
    expect(notComputed).toBe(20);
    const back = unpackBatch(packBatch(batch));
    expect(back.filter((cf) => cf.flow.uidIfKnown === null)).toHaveLength(notComputed);
    back.forEach((cf, i) => {
      const f = batch[i]!.flow;
      expect(cf.flow.uid).toBe(f.uid);
      expect({ ...cf.flow, duration: cf.flow.duration }).toEqual({ ...f, duration: f.duration });
      expect(cf.verdict).toEqual(batch[i]!.verdict);
      expect(cf.anomaly).toEqual(batch[i]!.anomaly ?? null);
    });
    const f = batch[0]!.flow;
    expect(f.uid).toBe(flowUid('test-sensor', 4, f.client_ip, f.client_port, f.server_ip, f.server_port, 0, f.first_ts));
  });
});

describe('SqliteThreadSink', () => {
  it('writes the same rows as a SqliteSink on the calling thread, in order', async () => {
    const inline = path.join(dir, 'inline.db');
    const threaded = path.join(dir, 'threaded.db');
    const batches = [mixedBatch(700), mixedBatch(1, 700), mixedBatch(300, 701)];
    const a = new SqliteSink(inline, { sensorName: 'test-sensor' });
    for (const b of batches) a.write(b);
    a.close();
    const t = await SqliteThreadSink.open(threaded, { sensorName: 'test-sensor', groupMs: 250 });
    for (const b of batches) t.write(b);
    await t.close();
    expect(t.rows).toBe(1001);
    expect(t.lostRecords).toBe(0);
    expect(rowsOf(threaded)).toEqual(rowsOf(inline));
    expect(await t.latency.count()).toBe(3);
  });

  it('builds deferred indexes at close (bulk run into an empty database)', async () => {
    const db = path.join(dir, 'bulk.db');
    const t = await SqliteThreadSink.open(db, { deferIndexes: true, groupMs: 250 });
    t.write(mixedBatch(50));
    // Before close, a reader sees no secondary index (the worker dropped them at open).
    await new Promise((r) => setTimeout(r, 50));
    expect(indexes(db)).toEqual([]);
    await t.close();
    expect(indexes(db)).toEqual(['flows_client_ip', 'flows_community_id', 'flows_first_ts', 'flows_label', 'flows_server', 'flows_uid']);
    expect(rowsOf(db)).toHaveLength(50);
  });

  it('asks its caller to wait while more than MAX_QUEUED_ROWS rows are queued, and drained() waits for them', async () => {
    const t = await SqliteThreadSink.open(path.join(dir, 'q.db'), { groupMs: 250 });
    const rows = MAX_QUEUED_ROWS + 1024;
    let full = false;
    for (let i = 0; i < rows; i += 1024) full = !t.write(mixedBatch(1024, i)) || full;
    expect(full).toBe(true);
    expect(t.mustDrain()).toBe(true);
    await t.drained();
    expect(t.mustDrain()).toBe(false);
    await t.close();
    expect(t.rows).toBe(rows);
  });

  it('refuses a database it cannot open with the one-line SinkError of the calling thread', async () => {
    const notDb = path.join(dir, 'not.db');
    require('node:fs').writeFileSync(notDb, 'this is not a database, it is a text file of some length. '.repeat(20));
    const err = await SqliteThreadSink.open(notDb).catch((e: Error) => e);
    let inline: Error | null = null;
    try {
      new SqliteSink(notDb).close();
    } catch (e) {
      inline = e as Error;
    }
    expect(err).toBeInstanceOf(SinkError);
    expect((err as Error).message).toBe(inline!.message);
    expect((err as Error).message).toMatch(/^cannot open database .*not\.db: .*the file is not a SQLite database/);
  });

  it('a failed write is reported by the next call; every row handed over is either in the database or counted lost', async () => {
    const db = path.join(dir, 'fail.db');
    const t = await SqliteThreadSink.open(db, { groupMs: 250 });
    const errors: Error[] = [];
    const guarded = new GuardedSink(t, (e) => errors.push(e));
    const bad = mixedBatch(3, 10);
    // NOT NULL constraint on client_ip: the insert fails in the worker as a full disk would.
    (bad[1]!.flow as unknown as { client_ip: string | null }).client_ip = null;
    guarded.write(mixedBatch(5, 0));
    guarded.write(bad);
    guarded.write(mixedBatch(4, 20));
    // The worker answers asynchronously: drained() (called after every window of input) reports the failure.
    for (let i = 0; i < 50 && errors.length === 0; i++) {
      await guarded.drained();
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(SinkError);
    expect(errors[0]!.message).toMatch(/^writing \d+ flows to database .*fail\.db failed: NOT NULL constraint failed: flows.client_ip$/);
    guarded.write(mixedBatch(2, 30)); // after the failure: counted, not sent
    await guarded.close();
    const stored = rowsOf(db).length;
    expect(stored).toBe(t.rows);
    expect(stored + guarded.lost).toBe(14);
    expect(guarded.lost).toBeGreaterThanOrEqual(9);
  });

  it('runs retention in the worker', async () => {
    const t = await SqliteThreadSink.open(path.join(dir, 'r.db'), { groupMs: 250 });
    t.write(mixedBatch(100));
    // classified(i) starts at 1700000000 + i: 40 flows are older than 1700000040.
    expect(await t.deleteOlderThan(1700000040, 16)).toBe(40);
    await t.close();
    expect(t.rows).toBe(100);
  });
});
