import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

import { checkClickHouseConfig, defaultClickHouseConfig, type ClickHouseConfig } from '../../../src/config/clickhouseConfig';
import { ConfigError, defaultConfig, mergeConfig } from '../../../src/config/config';
import { Verdict } from '../../../src/classify/verdict';
import { ClickHouseSink, type SinkLog } from '../../../src/sink/clickhouse/clickhouseSink';
import type { ClickHouseEndpoint } from '../../../src/sink/clickhouse/client';
import { AnomalyScore } from '../../../src/anomaly/scoredFlow';
import { CLICKHOUSE_COLUMNS, encodeRows, FIRST_COLUMNS } from '../../../src/sink/clickhouse/columns';
import { schemaStatements, upgradeScript, upgradeStatements } from '../../../src/sink/clickhouse/ddl';
import { classifyInsertError } from '../../../src/sink/clickhouse/insertError';
import { Spool } from '../../../src/sink/clickhouse/spool';
import { decodeRowBinary } from '../../helpers/rowBinary';
import { classified } from '../classified';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'sensor-ch-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A ClickHouse endpoint in memory: `fail` decides per attempt what the "server" answers. */
class FakeEndpoint implements ClickHouseEndpoint {
  readonly url = 'http://fake:8123';
  /** The rows of each INSERT taken, decoded by the format its query names. */
  readonly bodies: Record<string, unknown>[][] = [];
  readonly queries: string[] = [];
  attempts = 0;
  fail: ((n: number) => Error | null) | null = null;
  async insert(q: string, body: Buffer): Promise<void> {
    const n = this.attempts++;
    const e = this.fail?.(n) ?? null;
    await new Promise((r) => setImmediate(r));
    if (e !== null) throw e;
    this.queries.push(q);
    if (q.endsWith(' FORMAT RowBinary')) this.bodies.push(decodeRowBinary(body, CLICKHOUSE_COLUMNS));
    else this.bodies.push(body.toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>));
  }
  async command(): Promise<void> {}
  async rows<T>(): Promise<T[]> {
    return [];
  }
  async close(): Promise<void> {}
  /** Received rows' client ports, in arrival order. */
  ports(): number[] {
    return this.bodies.flatMap((b) => b.map((r) => r.client_port as number));
  }
}

class Lines implements SinkLog {
  readonly lines: { level: string; message: string }[] = [];
  info(message: string): void {
    this.lines.push({ level: 'info', message });
  }
  warn(message: string): void {
    this.lines.push({ level: 'warn', message });
  }
  error(message: string): void {
    this.lines.push({ level: 'error', message });
  }
}

function config(over: Partial<ClickHouseConfig> = {}): ClickHouseConfig {
  return { ...defaultClickHouseConfig(), url: ['http://fake:8123'], batchSize: 10, batchDeadlineMs: 5, ...over };
}

function sink(ep: FakeEndpoint, dir: string, over: Partial<ClickHouseConfig> = {}, log = new Lines()): ClickHouseSink {
  const cfg = config(over);
  return new ClickHouseSink({ config: cfg, spool: Spool.open(dir, cfg.spoolMaxBytes), endpoints: [ep], log, closeDrainMs: 2000 });
}

const until = async (done: () => boolean, ms = 10_000): Promise<boolean> => {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 10))) if (done()) return true;
  return done();
};

const CONNREFUSED = (): Error => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8123'), { code: 'ECONNREFUSED' });
const NO_COLUMN = (): Error =>
  new Error('Code: 16, e.displayText() = DB::Exception: No such column verdict in table sensor.flows, e.what() = DB::Exception\n');

describe('encodeRows() (RowBinary)', () => {
  const decode = (rows: Parameters<typeof encodeRows>[0]): Record<string, unknown>[] => decodeRowBinary(encodeRows(rows), CLICKHOUSE_COLUMNS);

  it('writes every ClickHouse column, in order, with the SQLite names', () => {
    const cf = classified(3);
    const [row] = decode([cf]);
    expect(Object.keys(row!)).toEqual(CLICKHOUSE_COLUMNS.map((c) => c.name));
    expect(row).toMatchObject({
      uid: 'Ctest3',
      sensor: 'test-sensor',
      source: 'test.pcap',
      pcap_filename: 'test.pcap',
      in_iface: '',
      start: 1700000003,
      end: 1700000005,
      first_ts: 1700000003,
      last_ts: 1700000005.5,
      duration: 2.5,
      proto: 'tcp',
      ip_version: cf.flow.ip_version,
      client_ip: cf.flow.client_ip,
      client_port: 40003,
      server_ip: cf.flow.server_ip,
      server_port: cf.flow.server_port,
      vlan: cf.flow.vlan,
      c2s_packets: cf.flow.c2s_packets,
      s2c_bytes: cf.flow.s2c_bytes,
      payload_packets: cf.flow.payload_packets,
      midstream: 1,
      conn_state: cf.flow.conn_state,
      history: cf.flow.history,
      community_id: cf.flow.community_id,
      end_reason: cf.flow.end_reason,
      lengths: cf.flow.lengths,
      label: 'ssh',
      verdict: 'classified',
      confidence: 0.91,
      topk_labels: ['ssh', 'other'],
      topk_scores: [0.91, 0.09],
      model_version: 'm-7',
      anomaly_score: null,
      anomaly: null,
      anomaly_fpr: null,
    });
  });

  it('writes the anomaly columns as SQLite has them: the score, the flag and the rate, NULL without a score', () => {
    const a = { ...classified(1), anomaly: new AnomalyScore(3.25, true, 0.01) };
    const b = { ...classified(2), anomaly: new AnomalyScore(0.5, false, 0.001) };
    const failed = { ...classified(4), anomaly: new AnomalyScore(NaN, false, 0.01) };
    const rows = decode([a, b, failed, classified(5)]);
    expect(rows.map((r) => [r.anomaly_score, r.anomaly, r.anomaly_fpr])).toEqual([
      [3.25, 1, 0.01],
      [0.5, 0, 0.001],
      [null, null, null],
      [null, null, null],
    ]);
  });

  it('keeps strings byte for byte (quotes, backslashes, control characters, non-ASCII, 128 bytes and more)', () => {
    const cf = classified(2, 'we"ird\\app\n\u00e9\u{1F600}');
    cf.flow.source = 'C:\\caps\\"x".pcap';
    cf.flow.sensor = 'site "a" \u00fc';
    cf.flow.history = 'h'.repeat(127);
    cf.flow.community_id = '\u00e9'.repeat(70) + 'x'.repeat(20000);
    const [row] = decode([cf, classified(3)]);
    expect(row!.label).toBe('we"ird\\app\n\u00e9\u{1F600}');
    expect(row!.source).toBe('C:\\caps\\"x".pcap');
    expect(row!.sensor).toBe('site "a" \u00fc');
    expect(row!.history).toBe('h'.repeat(127));
    expect(row!.community_id).toBe(cf.flow.community_id);
  });

  it('keeps sentinels apart from application names and never writes NaN for a probability', () => {
    const cf = classified(1);
    cf.verdict = new Verdict('unknown', NaN, [{ label: 'ssh', p: NaN }], 'm-7', 'unknown');
    const [row] = decode([cf]);
    expect(row!.verdict).toBe('unknown');
    expect(row!.confidence).toBe(0);
    expect(row!.topk_scores).toEqual([0]);
  });

  it('grows its buffer for many rows and long sequences without losing a byte', () => {
    const rows = Array.from({ length: 3000 }, (_, i) => classified(i, 'tls-web', Array.from({ length: 200 }, (_, k) => (k % 2 === 0 ? k + i : -k))));
    const back = decode(rows);
    expect(back).toHaveLength(3000);
    expect(back.map((r) => r.client_port)).toEqual(rows.map((r) => r.flow.client_port));
    expect(back[2999]!.lengths).toEqual(rows[2999]!.flow.lengths);
  });
});

describe('output.clickhouse config', () => {
  it('takes a URL string, fills in the defaults and validates every option with a clear message', () => {
    const cfg = mergeConfig(defaultConfig(), { output: { clickhouse: { url: 'http://127.0.0.1:8123', batchSize: 500 } } }, 'test.json');
    expect(cfg.output.clickhouse).toMatchObject({ url: ['http://127.0.0.1:8123'], database: 'sensor', table: 'flows', batchSize: 500 });
    expect(() => mergeConfig(defaultConfig(), { output: { clickhouse: { url: 'ftp://x' } } }, 'f')).toThrow(/http:\/\/ or https:\/\//);
    expect(() => mergeConfig(defaultConfig(), { output: { clickhouse: { url: 'http://u:p@h:8123' } } }, 'f')).toThrow(/passwordFile/);
    expect(() => mergeConfig(defaultConfig(), { output: { clickhouse: { url: 'http://h', table: 'a;drop' } } }, 'f')).toThrow(ConfigError);
    expect(() => mergeConfig(defaultConfig(), { output: { clickhouse: { url: 'http://h', spool: '/x' } } }, 'f')).toThrow(/unknown option "spool"/);
    expect(() => checkClickHouseConfig('x', { tls: { cert: '/c' } }, null)).toThrow(/cert and key go together/);
    expect(mergeConfig(defaultConfig(), { output: { clickhouse: null } }, 'f').output.clickhouse).toBeNull();
  });
});

describe('classifyInsertError()', () => {
  it('reads the code from 18.x and current messages; data and login errors are permanent, the rest transient', () => {
    expect(classifyInsertError(NO_COLUMN())).toMatchObject({ permanent: true, code: 16, message: 'No such column verdict in table sensor.flows' });
    expect(classifyInsertError(new Error('Code: 117. DB::Exception: Unknown field found while parsing JSONEachRow format: uid: (at row 1). (INCORRECT_DATA) (version 24.8.1.1)'))).toMatchObject({ permanent: true, code: 117 });
    expect(classifyInsertError(new Error('Code: 252. DB::Exception: Too many parts (300). (TOO_MANY_PARTS)'))).toMatchObject({ permanent: false, code: 252 });
    expect(classifyInsertError(CONNREFUSED())).toMatchObject({ permanent: false, code: null });
  });
});

describe('schemaStatements()', () => {
  it('one server: a ReplacingMergeTree by day, sorted for per-sensor time ranges, folding on the uid', () => {
    const [db, table] = schemaStatements({ database: 'sensor', table: 'flows', cluster: null, onCluster: false });
    expect(db).toBe('CREATE DATABASE IF NOT EXISTS sensor');
    expect(table).toContain('CREATE TABLE IF NOT EXISTS sensor.flows\n');
    expect(table).toContain('ENGINE = ReplacingMergeTree(`end`)\nPARTITION BY toDate(start)\nORDER BY (sensor, start, uid)');
    for (const c of CLICKHOUSE_COLUMNS) expect(table).toContain(`\`${c.name}\` ${c.type}`);
  });

  it('a cluster: <table>_local per shard and a Distributed <table> sharded by uid; ON CLUSTER only when asked', () => {
    const s = schemaStatements({ database: 'sensor', table: 'flows', cluster: 'fleet', onCluster: false });
    expect(s).toHaveLength(3);
    expect(s[1]).toContain('CREATE TABLE IF NOT EXISTS sensor.flows_local\n');
    expect(s[2]).toBe('CREATE TABLE IF NOT EXISTS sensor.flows AS sensor.flows_local\nENGINE = Distributed(fleet, sensor, flows_local, cityHash64(uid))');
    expect(s.some((x) => x.includes('ON CLUSTER'))).toBe(false);
    const on = schemaStatements({ database: 'sensor', table: 'flows', cluster: 'fleet', onCluster: true });
    expect(on.every((x) => x.includes(' ON CLUSTER fleet'))).toBe(true);
  });
});

describe('upgradeStatements()', () => {
  const one = { database: 'sensor', table: 'flows', cluster: null, onCluster: false };
  it('adds the columns a later version brought, each after the one before it as in a new table, only where missing', () => {
    expect(upgradeStatements(one, () => false, false)).toEqual([
      'ALTER TABLE sensor.flows\n  ADD COLUMN `anomaly_score` Nullable(Float64) AFTER `model_version`,\n  ADD COLUMN `anomaly` Nullable(UInt8) AFTER `anomaly_score`,\n  ADD COLUMN `anomaly_fpr` Nullable(Float64) AFTER `anomaly`',
    ]);
    expect(upgradeStatements(one, (_t, c) => c !== 'anomaly_fpr', false)).toEqual(['ALTER TABLE sensor.flows\n  ADD COLUMN `anomaly_fpr` Nullable(Float64) AFTER `anomaly`']);
    expect(upgradeStatements(one, () => true)).toEqual([]);
    // The columns added are the ones a new table has, with the same types.
    const created = schemaStatements(one)[1]!;
    for (const c of ['anomaly_score', 'anomaly', 'anomaly_fpr']) {
      const col = CLICKHOUSE_COLUMNS.find((x) => x.name === c)!;
      expect(created).toContain(`\`${c}\` ${col.type}`);
      expect(upgradeStatements(one)[0]).toContain(`\`${c}\` ${col.type} COMMENT`);
    }
    expect(FIRST_COLUMNS.map((c) => c.name)).not.toContain('anomaly');
  });

  it('a cluster: the local table first, then the Distributed one; the script says where to run it', () => {
    const s = upgradeStatements({ database: 'sensor', table: 'flows', cluster: 'fleet', onCluster: false });
    expect(s.map((x) => x.split('\n')[0])).toEqual(['ALTER TABLE sensor.flows_local', 'ALTER TABLE sensor.flows']);
    expect(upgradeScript({ database: 'sensor', table: 'flows', cluster: 'fleet', onCluster: false })).toMatch(/^-- run on every node of cluster fleet: flows_local first, then flows\nALTER TABLE sensor\.flows_local\n/);
    expect(upgradeStatements({ database: 'sensor', table: 'flows', cluster: 'fleet', onCluster: true }).every((x) => x.includes(' ON CLUSTER fleet\n'))).toBe(true);
  });
});

describe('Spool', () => {
  it('orders batches by sequence, drops the oldest when full and counts them, and survives a restart', async () => {
    const dir = tempDir();
    const s = Spool.open(dir, 1024 * 1024);
    const body = 'x'.repeat(300 * 1024);
    for (let seq = 0; seq < 5; seq++) expect(await s.add(seq, 100, body, 'rowbinary')).toBe(true);
    // 5 x 300 KiB in a 1 MiB spool: the first two are dropped to make room.
    expect(s.batches).toBe(3);
    expect(s.droppedBatches).toBe(2);
    expect(s.droppedRows).toBe(200);
    expect(s.oldest()!.seq).toBe(2);
    expect(await s.add(1, 7, 'late\n', 'jsonl')).toBe(true);
    expect(s.oldest()!.seq).toBe(1);
    s.close();
    writeFileSync(path.join(dir, '0000000000000009-3.rowbinary.tmp'), 'half a bat');
    const again = Spool.open(dir, 1024 * 1024);
    expect(again.batches).toBe(4);
    expect(again.rows).toBe(307);
    expect(again.nextSeq()).toBe(5);
    expect(readdirSync(dir).some((n) => n.endsWith('.tmp'))).toBe(false);
    expect(again.oldest()!.format).toBe('jsonl');
    expect((await again.read(again.oldest()!)).toString()).toBe('late\n');
    expect(readdirSync(dir).filter((n) => n.endsWith('.rowbinary'))).toHaveLength(3);
    again.close();
  });

  it('refuses a directory another live process holds, and takes over a stale lock', () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'lock'), '1\n');
    expect(() => Spool.open(dir, 1024 * 1024)).toThrow(/in use by process 1: give each sensor process its own output\.clickhouse\.spoolDir/);
    writeFileSync(path.join(dir, 'lock'), '999999999\n');
    const s = Spool.open(dir, 1024 * 1024);
    expect(readFileSync(path.join(dir, 'lock'), 'utf8')).toBe(`${process.pid}\n`);
    s.close();
    expect(existsSync(path.join(dir, 'lock'))).toBe(false);
  });
});

describe('ClickHouseSink', () => {
  it('sends batches of batchSize rows in order, and a partial batch at the deadline', async () => {
    const ep = new FakeEndpoint();
    const s = sink(ep, tempDir(), { batchSize: 10, batchDeadlineMs: 20 });
    s.write(Array.from({ length: 25 }, (_, i) => classified(i)));
    expect(await until(() => ep.bodies.length === 3)).toBe(true);
    expect(ep.bodies.map((b) => b.length)).toEqual([10, 10, 5]);
    expect(ep.ports()).toEqual(Array.from({ length: 25 }, (_, i) => 40000 + i));
    await s.close();
    expect(s.stats()).toMatchObject({ sent_rows: 25, sent_batches: 3, retried: 0, spool_rows: 0, queued_rows: 0 });
  });

  it('spools while ClickHouse is down and sends everything in order when it is back', async () => {
    const ep = new FakeEndpoint();
    let down = true;
    ep.fail = () => (down ? CONNREFUSED() : null);
    const log = new Lines();
    const s = sink(ep, tempDir(), {}, log);
    s.write(Array.from({ length: 30 }, (_, i) => classified(i)));
    expect(await until(() => s.stats().spool_rows === 30)).toBe(true);
    s.write(Array.from({ length: 20 }, (_, i) => classified(30 + i)));
    down = false;
    // The first retry comes after RETRY_MIN_MS (1 s).
    expect(await until(() => s.stats().sent_rows === 50)).toBe(true);
    expect(ep.ports()).toEqual(Array.from({ length: 50 }, (_, i) => 40000 + i));
    expect(s.stats()).toMatchObject({ spool_rows: 0, dropped_rows: 0 });
    expect(s.stats().retried).toBeGreaterThanOrEqual(1);
    expect(log.lines.filter((l) => l.level === 'warn' && l.message.startsWith('ClickHouse insert failed: connect ECONNREFUSED'))).toHaveLength(1);
    expect(log.lines.some((l) => l.message === 'ClickHouse inserts succeed again')).toBe(true);
    await s.close();
  });

  it('a refused batch (schema mismatch) is one error line and one attempt, not a retry loop; resume() sends it all', async () => {
    const ep = new FakeEndpoint();
    let broken = true;
    ep.fail = () => (broken ? NO_COLUMN() : null);
    const log = new Lines();
    const s = sink(ep, tempDir(), {}, log);
    for (let i = 0; i < 5; i++) {
      s.write(Array.from({ length: 10 }, (_, j) => classified(i * 10 + j)));
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(await until(() => s.stats().spool_rows === 50)).toBe(true);
    expect(ep.attempts).toBe(1);
    const errors = log.lines.filter((l) => l.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toMatch(/^ClickHouse refused the rows \(code 16 NO_SUCH_COLUMN_IN_TABLE\): No such column verdict in table sensor\.flows\. Inserts stop/);
    expect(s.stats()).toMatchObject({ rejected: true, retried: 0 });
    broken = false;
    s.resume();
    expect(await until(() => s.stats().sent_rows === 50)).toBe(true);
    expect(ep.ports()).toEqual(Array.from({ length: 50 }, (_, i) => 40000 + i));
    await s.close();
  });

  it('close() spools what ClickHouse did not take, and the next sink sends it before its own rows', async () => {
    const dir = tempDir();
    const ep = new FakeEndpoint();
    ep.fail = () => CONNREFUSED();
    const first = sink(ep, dir);
    first.write(Array.from({ length: 15 }, (_, i) => classified(i)));
    await first.close();
    expect(first.stats()).toMatchObject({ spool_rows: 15, sent_rows: 0 });
    const ep2 = new FakeEndpoint();
    const second = sink(ep2, dir);
    second.write(Array.from({ length: 5 }, (_, i) => classified(100 + i)));
    await second.close();
    expect(second.stats()).toMatchObject({ sent_rows: 20, spool_rows: 0 });
    expect(ep2.ports()).toEqual([...Array.from({ length: 15 }, (_, i) => 40000 + i), 40100, 40101, 40102, 40103, 40104]);
  });

  it('a table without the anomaly columns: one error line naming the ALTER and the upgrade command, no retry loop', async () => {
    const ep = new FakeEndpoint();
    ep.fail = () => new Error('Code: 16, e.displayText() = DB::Exception: No such column anomaly_score in table flows, e.what() = DB::Exception\n');
    const log = new Lines();
    const dir = tempDir();
    const s = sink(ep, dir, {}, log);
    for (let i = 0; i < 3; i++) {
      s.write(Array.from({ length: 10 }, (_, j) => classified(i * 10 + j)));
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await until(() => s.stats().spool_rows === 30)).toBe(true);
    expect(ep.attempts).toBe(1);
    expect(log.lines.filter((l) => l.level === 'error').map((l) => l.message)).toEqual([
      'ClickHouse table sensor.flows has no column anomaly_score (the anomaly columns are new): add them with `sensor clickhouse-schema --upgrade --apply http://fake:8123` ' +
        '(add --cluster NAME for a Distributed table; without --apply it prints the ALTER TABLE: ALTER TABLE sensor.flows ADD COLUMN `anomaly_score` Nullable(Float64) AFTER `model_version`, ' +
        'ADD COLUMN `anomaly` Nullable(UInt8) AFTER `anomaly_score`, ADD COLUMN `anomaly_fpr` Nullable(Float64) AFTER `anomaly`), then reload (SIGHUP) or restart the sensor; ' +
        `until then records go to the spool ${dir}`,
    ]);
    expect(s.stats()).toMatchObject({ rejected: true, retried: 0 });
    await s.close();
  });

  it('sends JSONEachRow batches an older sensor spooled (its columns, its format) before its own RowBinary rows', async () => {
    const dir = tempDir();
    const old = Spool.open(dir, 1024 * 1024);
    const line = (port: number): string => JSON.stringify(Object.fromEntries(FIRST_COLUMNS.map((c) => [c.name, c.name === 'client_port' ? port : 0])));
    await old.add(0, 2, `${line(39000)}\n${line(39001)}\n`, 'jsonl');
    old.close();
    const ep = new FakeEndpoint();
    const s = sink(ep, dir);
    s.write(Array.from({ length: 3 }, (_, i) => classified(i)));
    await s.close();
    expect(ep.ports()).toEqual([39000, 39001, 40000, 40001, 40002]);
    expect(ep.queries[0]).toMatch(/^INSERT INTO sensor\.flows \(`uid`, .*`model_version`\) FORMAT JSONEachRow$/);
    expect(ep.queries[1]).toMatch(/^INSERT INTO sensor\.flows \(`uid`, .*`model_version`, `anomaly_score`, `anomaly`, `anomaly_fpr`\) FORMAT RowBinary$/);
    expect(s.stats()).toMatchObject({ sent_rows: 5, spool_rows: 0 });
  });
});
