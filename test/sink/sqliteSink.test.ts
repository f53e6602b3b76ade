import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { FLOW_COLUMNS } from '../../src/sink/flowRow';
import { MIGRATIONS, type Migration } from '../../src/sink/schema';
import { Database, withAddon } from '../../src/sink/sqliteBinding';
import { SinkError } from '../../src/sink/sinkError';
import { flowParams, SqliteSink } from '../../src/sink/sqliteSink';
import { flowUid } from '../../src/flow/flowUid';
import { classified } from './classified';

let dir: string;
let dbPath: string;
const sinks: SqliteSink[] = [];
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'sqlite-sink-'));
  dbPath = path.join(dir, 'flows.db');
});
afterEach(() => {
  for (const s of sinks.splice(0)) s.close();
  rmSync(dir, { recursive: true, force: true });
});

function openSink(opts: ConstructorParameters<typeof SqliteSink>[1] = {}): SqliteSink {
  const s = new SqliteSink(dbPath, opts);
  sinks.push(s);
  return s;
}

describe('SqliteSink schema', () => {
  it('creates the flows table with the record columns, the indexes, WAL and user_version', () => {
    const { db } = openSink();
    const cols = db.prepare('SELECT name, type, pk FROM pragma_table_info(?)').all('flows') as { name: string; type: string; pk: number }[];
    expect(cols.map((c) => c.name)).toEqual(['id', ...FLOW_COLUMNS]);
    expect(cols[0]).toEqual({ name: 'id', type: 'INTEGER', pk: 1 });
    expect(cols.find((c) => c.name === 'first_ts')!.type).toBe('REAL');
    const indexes = db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'flows' ORDER BY name").all() as { name: string; sql: string }[];
    expect(indexes.map((i) => i.name)).toEqual(['flows_client_ip', 'flows_community_id', 'flows_first_ts', 'flows_label', 'flows_server', 'flows_uid']);
    expect(indexes.find((i) => i.name === 'flows_server')!.sql).toContain('(server_ip, server_port)');
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
    expect(db.pragma('busy_timeout', { simple: true })).toBe(5000);
    expect(db.pragma('auto_vacuum', { simple: true })).toBe(2); // INCREMENTAL
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
  });

  it('stores a record: arrays as JSON text, midstream as 0/1, duration computed, times in ISO 8601', () => {
    const sink = openSink();
    sink.write([classified(0), classified(1)]);
    const rows = sink.db.prepare('SELECT * FROM flows ORDER BY id').all() as Record<string, unknown>[];
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({
      id: 1, source: 'test.pcap', first_ts: 1700000000, last_ts: 1700000002.5, duration: 2.5, ip_version: 4,
      client_ip: '192.0.2.10', client_port: 40000, server_ip: '198.51.100.7', server_port: 443, vlan: 0,
      midstream: 1, conn_state: 'SF', history: 'ShADadFf', end_reason: 'fin', payload_packets: 5,
      label: 'tls-web', verdict: 'classified', confidence: 0.91, model_version: 'm-7',
      uid: 'Ctest0', sensor: 'test-sensor', in_iface: null, pcap_filename: 'test.pcap', proto: 'tcp',
      start: '2023-11-14T22:13:20.000000Z', end: '2023-11-14T22:13:22.500000Z',
    });
    expect(rows[1]!.midstream).toBe(0);
    expect(JSON.parse(rows[0]!.lengths as string)).toEqual(classified(0).flow.lengths);
    expect(JSON.parse(rows[0]!.topk_labels as string)).toEqual(['tls-web', 'other']);
    expect(JSON.parse(rows[0]!.topk_scores as string)).toEqual([0.91, 0.09]);
    expect(sink.rows).toBe(2);
  });

  it('upgrades a version-1 database in place to the current version, backfilling the version-2 columns from the old ones', () => {
    // A database as the sensor wrote it before version 2: the v1 table, one live and two offline rows.
    const old = new Database(dbPath);
    MIGRATIONS[0]!(old, { sensorName: 'unused' });
    old.pragma('user_version = 1');
    const insert = old.prepare(`INSERT INTO flows (source, first_ts, last_ts, duration, ip_version, client_ip, client_port, server_ip,
      server_port, vlan, c2s_packets, s2c_packets, c2s_bytes, s2c_bytes, c2s_payload_bytes, s2c_payload_bytes, payload_packets,
      retrans_skipped, midstream, conn_state, history, community_id, end_reason, lengths, label, confidence, topk, model_version)
      VALUES (?, ?, ?, 2.5, 4, '192.0.2.10', ?, '198.51.100.7', 443, 0, 3, 3, 200, 200, 40, 40, 2, 0, 0, 'SF', 'ShADadFf', '1:x', 'fin',
      '[40,-140]', ?, ?, ?, 'm-7')`);
    insert.run('eth1', 1700000000.25, 1700000002.75, 40001, 'tls-web', 0.995, '[{"label":"tls-web","p":0.995},{"label":"ssh","p":0.004}]');
    insert.run('/captures/a.pcap', 1700000001.000001, 1700000003.5, 40002, 'unknown', 0.6, '[{"label":"ssh","p":0.6}]');
    insert.run('b.pcapng.gz', 1700000002, 1700000004.5, 40003, 'no-payload', 0, '[]');
    old.close();

    const sink = openSink({ sensorName: 'tap-7' });
    expect(sink.db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    // Version 3's monitor tables are created on the way.
    expect(sink.db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name IN ('monitor_windows', 'monitor_accuracy')").get()).toEqual({ n: 2 });
    const cols = (sink.db.prepare('SELECT name FROM pragma_table_info(?)').all('flows') as { name: string }[]).map((c) => c.name);
    expect(cols).toEqual(['id', ...FLOW_COLUMNS]);
    expect(cols).not.toContain('topk');
    const rows = sink.db.prepare('SELECT * FROM flows ORDER BY id').all() as Record<string, unknown>[];
    expect(rows.map((r) => [r.in_iface, r.pcap_filename])).toEqual([['eth1', null], [null, '/captures/a.pcap'], [null, 'b.pcapng.gz']]);
    expect(rows.map((r) => r.verdict)).toEqual(['classified', 'unknown', 'no-payload']);
    expect(rows.map((r) => r.start)).toEqual(['2023-11-14T22:13:20.250000Z', '2023-11-14T22:13:21.000001Z', '2023-11-14T22:13:22.000000Z']);
    expect(rows[0]!.end).toBe('2023-11-14T22:13:22.750000Z');
    expect(rows.map((r) => JSON.parse(r.topk_labels as string))).toEqual([['tls-web', 'ssh'], ['ssh'], []]);
    expect(rows.map((r) => JSON.parse(r.topk_scores as string))).toEqual([[0.995, 0.004], [0.6], []]);
    expect(rows.every((r) => r.sensor === 'tap-7' && r.proto === 'tcp')).toBe(true);
    // The uid is the one a new record of the same flow gets.
    expect(rows[0]!.uid).toBe(flowUid('tap-7', 4, '192.0.2.10', 40001, '198.51.100.7', 443, 0, 1700000000.25));
    expect(new Set(rows.map((r) => r.uid)).size).toBe(3);
    // Version 4's index on the uid is made on the way, and a look-up by uid uses it.
    const plan = sink.db.prepare('EXPLAIN QUERY PLAN SELECT * FROM flows WHERE uid = ?').all(rows[0]!.uid) as { detail: string }[];
    expect(plan.map((p) => p.detail).join('; ')).toContain('USING INDEX flows_uid (uid=?)');
    // And new rows go in after the old ones.
    sink.write([classified(0)]);
    expect(sink.db.prepare('SELECT COUNT(*) AS n FROM flows').get()).toEqual({ n: 4 });
  });

  it('upgrades a version-2 database to the current version: rows without an anomaly score (NULL), empty monitor and host tables', () => {
    const old = new Database(dbPath);
    MIGRATIONS[0]!(old, { sensorName: 'x' });
    MIGRATIONS[1]!(old, { sensorName: 'x' });
    old.pragma('user_version = 2');
    old.close();
    const v2 = new Database(dbPath);
    v2.exec(`INSERT INTO flows (source, first_ts, last_ts, duration, ip_version, client_ip, client_port, server_ip, server_port, vlan,
      c2s_packets, s2c_packets, c2s_bytes, s2c_bytes, c2s_payload_bytes, s2c_payload_bytes, payload_packets, retrans_skipped, midstream,
      conn_state, history, community_id, end_reason, lengths, label, confidence, model_version)
      VALUES ('eth1', 1, 2, 1, 4, 'a', 1, 'b', 2, 0, 1, 1, 40, 40, 0, 0, 0, 0, 0, 'SF', 'ShAFf', '', 'fin', '[]', 'no-payload', 0, '')`);
    v2.close();
    const sink = openSink();
    expect(sink.db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    expect(sink.db.prepare('SELECT count(*) AS n FROM monitor_windows').get()).toEqual({ n: 0 });
    expect(sink.db.prepare('SELECT anomaly_score, anomaly, anomaly_fpr FROM flows').all()).toEqual([{ anomaly_score: null, anomaly: null, anomaly_fpr: null }]);
    expect(sink.db.prepare('SELECT count(*) AS n FROM hosts').get()).toEqual({ n: 0 });
    expect(sink.db.prepare('SELECT count(*) AS n FROM host_events').get()).toEqual({ n: 0 });
  });

  it('upgrades an older database in order, keeping its rows', () => {
    const v1 = openSink();
    v1.write([classified(0)]);
    v1.close();
    // A later release appends a migration; opening the version-1 file must apply just that one.
    const addAsn: Migration = (db) => db.exec('ALTER TABLE flows ADD COLUMN server_asn INTEGER');
    const v2 = openSink({ migrations: [...MIGRATIONS, addAsn] });
    expect(v2.db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length + 1);
    expect(v2.db.prepare('SELECT label, server_asn FROM flows').all()).toEqual([{ label: 'tls-web', server_asn: null }]);
    v2.write([classified(1)]); // the insert names its columns, so it still works with the extra one
    expect(v2.db.prepare('SELECT COUNT(*) AS n FROM flows').get()).toEqual({ n: 2 });
  });

  it('refuses a database written by a newer sensor', () => {
    const db = new Database(dbPath);
    db.pragma(`user_version = ${MIGRATIONS.length + 3}`);
    db.close();
    expect(() => openSink()).toThrow(`database ${dbPath} has schema version ${MIGRATIONS.length + 3}, newer than this sensor's ${MIGRATIONS.length}: upgrade the sensor or write to another database`);
  });

  it('reports a path it cannot open in one line', () => {
    expect(() => new SqliteSink(path.join(dir, 'no/such/dir/flows.db'))).toThrow(/^cannot open database .*no\/such\/dir\/flows\.db: .* \(check that its directory exists and is writable\)$/);
  });
});

describe('SqliteSink shared columns', () => {
  it("stores the run's shared columns (source, in_iface, pcap_filename, sensor, model_version, proto) and the texts bound as bytes byte for byte as bound", () => {
    // Values a literal must carry exactly (quotes, unicode, an empty text) and values it refuses (a NUL, lone and paired
    // surrogates), in more combinations than the sink prepares statements for, interleaved.
    const sources = ["it's.pcap", 'a/b/c.pcapng', 'eth0', 'x\u0000y.pcap', 'sensör ü.pcap', 'lone\ud800', '😀.pcap', ''];
    const sensors = ['tap-7', "o'neil", 'x\u0000', ''];
    const models = ['m-7', "m'8", ''];
    const flows = [];
    for (let i = 0; i < 240; i++) {
      const cf = classified(i);
      cf.flow.source = sources[i % sources.length]!;
      cf.flow.live = i % 3 === 0;
      cf.flow.sensor = sensors[(i >> 1) % sensors.length]!;
      cf.verdict.model_version = models[(i >> 2) % models.length]!;
      // The lengths and top-k scores bound as bytes, and their fallbacks (all zeros, fractions, not finite, too long).
      if (i % 5 === 1) cf.flow.lengths = [0, 0, 0];
      if (i % 7 === 2) cf.flow.lengths = [1.5, -2, Number.NaN];
      if (i % 11 === 3) cf.flow.lengths = Array.from({ length: 300 }, (_, k) => (k % 2 === 0 ? -2147483648 : 2147483647));
      if (i % 13 === 4) cf.verdict.topk = [{ label: 'a', p: Number.NaN }, { label: 'b', p: 1 }, { label: 'c', p: 1e-7 }];
      if (i % 17 === 5) cf.verdict.topk = Array.from({ length: 90 }, (_, k) => ({ label: `l${k}`, p: 1 / (k + 3) }));
      if (i % 19 === 6) cf.verdict.topk = [];
      flows.push(cf);
    }
    for (const encoding of ['UTF-8', 'UTF-16le']) {
      const file = path.join(dir, `${encoding}.db`);
      // A file someone made in UTF-16 (with a table of theirs): the sink binds every column there.
      const made = new Database(file, withAddon());
      made.pragma(`encoding = '${encoding}'`);
      made.exec('CREATE TABLE theirs (x)');
      made.close();
      const sink = new SqliteSink(file);
      sinks.push(sink);
      sink.write(flows.slice(0, 100));
      sink.write(flows.slice(100));
      expect(sink.db.pragma('encoding', { simple: true })).toBe(encoding);
      expect(storedBytes(sink.db, flows)).toEqual(referenceBytes(flows, encoding));
    }
  });
});

const BYTES_SQL = `SELECT id, ${FLOW_COLUMNS.map((c) => `typeof("${c}"), hex(CAST("${c}" AS BLOB))`).join(', ')} FROM flows ORDER BY id`;

function storedBytes(db: Database.Database, flows: unknown[]): unknown[] {
  const got = db.prepare(BYTES_SQL).raw().all();
  expect(got).toHaveLength(flows.length);
  return got;
}

/** The rows of `flows` with every column bound, through a plain INSERT into a database in `encoding`. */
function referenceBytes(flows: Parameters<typeof flowParams>[0][], encoding: string): unknown[] {
  const file = path.join(dir, 'ref.db');
  const ref = new Database(file, withAddon());
  ref.pragma(`encoding = '${encoding}'`);
  for (const m of MIGRATIONS) m(ref, { sensorName: 'x' });
  const insert = ref.prepare(`INSERT INTO flows (${FLOW_COLUMNS.map((c) => `"${c}"`).join(', ')}) VALUES (${FLOW_COLUMNS.map(() => '?').join(', ')})`);
  for (const cf of flows) insert.run(...flowParams(cf));
  const rows = ref.prepare(BYTES_SQL).raw().all();
  ref.close();
  rmSync(file);
  return rows;
}

describe('SqliteSink with readers', () => {
  it('lets another connection read while a write transaction is open', () => {
    const sink = openSink();
    sink.write([classified(0), classified(1)]);
    const reader = new Database(dbPath, { readonly: true });
    try {
      sink.db.exec('BEGIN IMMEDIATE');
      sink.db.prepare("UPDATE flows SET label = 'changing'").run();
      // WAL: the reader sees the last committed state, without waiting for the writer.
      expect(reader.prepare('SELECT label FROM flows ORDER BY id').all()).toEqual([{ label: 'tls-web' }, { label: 'ssh' }]);
      sink.db.exec('COMMIT');
      expect(reader.prepare('SELECT COUNT(*) AS n FROM flows WHERE label = ?').get('changing')).toEqual({ n: 2 });
    } finally {
      reader.close();
    }
  });

  it('lets a second process read while the sensor writes', () => {
    const sink = openSink();
    sink.write(Array.from({ length: 50 }, (_, i) => classified(i)));
    const readerScript = `
      const Database = require(${JSON.stringify(require.resolve('better-sqlite3'))});
      const db = new Database(process.argv[1], { readonly: true });
      process.stdout.write(JSON.stringify(db.prepare('SELECT COUNT(*) AS n FROM flows').get()));`;
    sink.db.exec('BEGIN IMMEDIATE');
    sink.write([classified(50)]); // uncommitted, inside the open transaction
    const seen = JSON.parse(execFileSync(process.execPath, ['-e', readerScript, dbPath], { encoding: 'utf8', timeout: 20_000 }));
    sink.db.exec('COMMIT');
    expect(seen).toEqual({ n: 50 });
    const after = JSON.parse(execFileSync(process.execPath, ['-e', readerScript, dbPath], { encoding: 'utf8', timeout: 20_000 }));
    expect(after).toEqual({ n: 51 });
  });
});

describe('SqliteSink retention', () => {
  it('deleteOlderThan() removes flows that started before the cutoff, in batches', async () => {
    const sink = openSink();
    sink.write(Array.from({ length: 250 }, (_, i) => classified(i)));
    const deleted = await sink.deleteOlderThan(1700000000 + 120, 50);
    expect(deleted).toBe(120);
    const left = sink.db.prepare('SELECT MIN(first_ts) AS min, COUNT(*) AS n FROM flows').get();
    expect(left).toEqual({ min: 1700000120, n: 130 });
    expect(await sink.deleteOlderThan(0, 50)).toBe(0);
  });

  it('trimToSize() deletes the oldest flows until the live pages fit, and shrinks the file', async () => {
    const sink = openSink();
    for (let b = 0; b < 20; b++) sink.write(Array.from({ length: 500 }, (_, i) => classified(b * 500 + i)));
    const before = sink.usedBytes();
    const pageCountBefore = sink.db.pragma('page_count', { simple: true }) as number;
    const target = Math.floor(before / 3);
    const deleted = await sink.trimToSize(target, 500);
    expect(deleted).toBeGreaterThan(0);
    expect(sink.usedBytes()).toBeLessThanOrEqual(target);
    expect(sink.db.pragma('freelist_count', { simple: true })).toBe(0); // incremental_vacuum gave pages back
    expect(sink.db.pragma('page_count', { simple: true }) as number).toBeLessThan(pageCountBefore);
    // The newest flows are the ones kept.
    const { max, n } = sink.db.prepare('SELECT MAX(first_ts) AS max, COUNT(*) AS n FROM flows').get() as { max: number; n: number };
    expect(max).toBe(1700000000 + 9999);
    expect(n).toBe(10000 - deleted);
    expect(await sink.trimToSize(target, 500)).toBe(0);
  });
});

describe('SqliteSink write speed', () => {
  it('writes batches of 256 (reports rows/s; no timing assertion)', () => {
    const sink = openSink();
    const batch = Array.from({ length: 256 }, (_, i) => classified(i, 'tls-web', Array.from({ length: 30 }, (_, j) => (j % 2 ? -1448 : 517))));
    const batches = 200;
    const t0 = performance.now();
    for (let b = 0; b < batches; b++) sink.write(batch);
    const ms = performance.now() - t0;
    const rate = Math.round((batches * batch.length) / (ms / 1000));
    console.log(`SqliteSink: ${batches * batch.length} rows in ${ms.toFixed(0)} ms = ${rate} rows/s (batches of ${batch.length})`);
    expect(sink.db.prepare('SELECT COUNT(*) AS n FROM flows').get()).toEqual({ n: batches * batch.length });
  });
});

describe('SqliteSink write failures', () => {
  it('reports a failed write in one line and rolls back the whole batch', () => {
    const sink = openSink();
    sink.write([classified(0)]);
    sink.db.exec("CREATE TRIGGER no_ssh BEFORE INSERT ON flows WHEN NEW.label = 'ssh' BEGIN SELECT RAISE(ABORT, 'disk full (simulated)'); END");
    expect(() => sink.write([classified(2), classified(1)])).toThrow(`writing 2 flows to database ${dbPath} failed: disk full (simulated)`);
    expect(sink.db.prepare('SELECT COUNT(*) AS n FROM flows').get()).toEqual({ n: 1 });
    expect(sink.rows).toBe(1);
  });
});

describe('withAddon', () => {
  it("names better-sqlite3's installed addon, keeps a caller's own, and the connections it opens work", () => {
    const o = withAddon({ readonly: false });
    expect(o.readonly).toBe(false);
    expect(typeof o.nativeBinding).toBe('string');
    expect(existsSync(o.nativeBinding as string)).toBe(true);
    expect(path.basename(o.nativeBinding as string)).toBe('better_sqlite3.node');
    expect(withAddon({ nativeBinding: '/elsewhere/addon.node' }).nativeBinding).toBe('/elsewhere/addon.node');
    const db = new Database(dbPath, withAddon());
    expect(db.prepare('SELECT sqlite_version() AS v').get()).toHaveProperty('v');
    db.close();
    // The sink's connections go through it.
    const sink = openSink();
    expect(sink.db.prepare('SELECT 1 AS one').get()).toEqual({ one: 1 });
  });
});

describe('SqliteSink under floods', () => {
  // The flows table's indexes (the host tables keep theirs: they are small and written by upsert).
  const indexNames = (db: Database.Database): string[] =>
    (db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'flows' ORDER BY name").all() as { name: string }[]).map((r) => r.name);

  it('deferIndexes: an empty table loses its secondary indexes while writing and gets them back at close()', () => {
    const sink = new SqliteSink(dbPath, { deferIndexes: true });
    expect(indexNames(sink.db)).toEqual([]);
    sink.write(Array.from({ length: 100 }, (_, i) => classified(i)));
    sink.close();
    const db = new Database(dbPath, { readonly: true });
    expect(indexNames(db)).toEqual(['flows_client_ip', 'flows_community_id', 'flows_first_ts', 'flows_label', 'flows_server', 'flows_uid']);
    expect(db.prepare('SELECT COUNT(*) AS n FROM flows').get()).toEqual({ n: 100 });
    db.close();
    // A table with rows keeps its indexes: rebuilding them would cost more than the bulk load saves.
    const again = openSink({ deferIndexes: true });
    expect(indexNames(again.db)).toHaveLength(6);
  });

  it('a bulk load that was killed (no close) leaves a database whose next open builds the indexes', () => {
    const sink = new SqliteSink(dbPath, { deferIndexes: true });
    sink.write([classified(0), classified(1)]);
    // As if the process died here: the connection goes away without close().
    (sink.db as unknown as { close(): void }).close();
    const reopened = openSink();
    expect(indexNames(reopened.db)).toHaveLength(6);
    expect(reopened.db.prepare('SELECT COUNT(*) AS n FROM flows').get()).toEqual({ n: 2 });
  });

  it('shedAbove: while writing is over its time share, records of flows without payload are counted, not stored', () => {
    // A share this small is exceeded by any write at all: every write after the first sheds.
    const sink = openSink({ shedAbove: 1e-9 });
    const empty = (i: number): ReturnType<typeof classified> => classified(i, 'no-payload', []);
    sink.write([classified(0), empty(1)]);
    expect(sink.shed).toBe(0);
    sink.write([classified(2), empty(3), empty(4)]);
    expect(sink.shed).toBe(2);
    const rows = sink.db.prepare('SELECT client_port, payload_packets FROM flows ORDER BY id').all();
    expect(rows).toEqual([
      { client_port: 40000, payload_packets: 5 },
      { client_port: 40001, payload_packets: 0 },
      { client_port: 40002, payload_packets: 5 },
    ]);
  });

  it('holdCommits: the writes of a flush share one transaction, committed when released; a failure loses it all and says so', () => {
    const sink = openSink();
    const count = (): number => (new Database(dbPath, { readonly: true }).prepare('SELECT COUNT(*) AS n FROM flows').get() as { n: number }).n;
    sink.holdCommits(true);
    sink.write([classified(0), classified(1)]);
    sink.write([classified(2)]);
    expect(count()).toBe(0);
    sink.holdCommits(false);
    expect(count()).toBe(3);
    sink.holdCommits(true);
    sink.write([classified(3), classified(4)]);
    sink.db.exec("CREATE TEMP TRIGGER no_ssh BEFORE INSERT ON flows WHEN NEW.label = 'ssh' BEGIN SELECT RAISE(ABORT, 'disk full (simulated)'); END");
    let lost = -1;
    try {
      sink.write([classified(6), classified(5)]);
    } catch (e) {
      lost = (e as SinkError).rowsLost ?? -1;
      expect((e as Error).message).toBe(`writing 4 flows to database ${dbPath} failed: disk full (simulated)`);
    }
    expect(lost).toBe(4);
    sink.holdCommits(false);
    expect(count()).toBe(3);
    expect(sink.rows).toBe(3);
  });
});
