import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

import { checkClickHouseConfig, defaultClickHouseConfig, type ClickHouseConfig } from '../../../src/config/clickhouseConfig';
import { ConfigError, defaultConfig, mergeConfig } from '../../../src/config/config';
import { Verdict } from '../../../src/classify/verdict';
import { ClickHouseSink, type SinkLog } from '../../../src/sink/clickhouse/clickhouseSink';
import type { ClickHouseEndpoint } from '../../../src/sink/clickhouse/client';
import { CLICKHOUSE_COLUMNS, encodeRow } from '../../../src/sink/clickhouse/columns';
import { schemaStatements } from '../../../src/sink/clickhouse/ddl';
import { classifyInsertError } from '../../../src/sink/clickhouse/insertError';
import { Spool } from '../../../src/sink/clickhouse/spool';
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
  readonly bodies: string[] = [];
  attempts = 0;
  fail: ((n: number) => Error | null) | null = null;
  async insert(_q: string, body: Buffer): Promise<void> {
    const n = this.attempts++;
    const e = this.fail?.(n) ?? null;
    await new Promise((r) => setImmediate(r));
    if (e !== null) throw e;
    this.bodies.push(body.toString('utf8'));
  }
  async command(): Promise<void> {}
  async rows<T>(): Promise<T[]> {
    return [];
  }
  async close(): Promise<void> {}
  /** Received rows' client ports, in arrival order. */
  ports(): number[] {
    return this.bodies.flatMap((b) => b.trim().split('\n').map((l) => (JSON.parse(l) as { client_port: number }).client_port));
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

describe('encodeRow()', () => {
  it('writes every ClickHouse column, in order, with the SQLite names', () => {
    const cf = classified(3);
    const row = JSON.parse(encodeRow(cf)) as Record<string, unknown>;
    expect(Object.keys(row)).toEqual(CLICKHOUSE_COLUMNS.map((c) => c.name));
    expect(row.uid).toBe('Ctest3');
    expect(row.sensor).toBe('test-sensor');
    expect(row.source).toBe('test.pcap');
    expect(row.pcap_filename).toBe('test.pcap');
    expect(row.in_iface).toBe('');
    expect(row.start).toBe(1700000003);
    expect(row.end).toBe(1700000005);
    expect(row.first_ts).toBe(1700000003);
    expect(row.midstream).toBe(1);
    expect(row.lengths).toEqual(cf.flow.lengths);
    expect(row.verdict).toBe('classified');
    expect(row.topk_labels).toEqual(['ssh', 'other']);
    expect(row.topk_scores).toEqual([0.91, 0.09]);
    expect(row.proto).toBe('tcp');
  });

  it('escapes strings as JSON does (quotes, backslashes, control characters, non-ASCII)', () => {
    const cf = classified(2, 'we"ird\\app\n\u00e9');
    cf.flow.source = 'C:\\caps\\"x".pcap';
    cf.flow.sensor = 'site "a"';
    const line = encodeRow(cf);
    expect(line.endsWith('}\n')).toBe(true);
    const row = JSON.parse(line) as Record<string, unknown>;
    expect(row.label).toBe('we"ird\\app\n\u00e9');
    expect(row.source).toBe('C:\\caps\\"x".pcap');
    expect(row.sensor).toBe('site "a"');
  });

  it('keeps sentinels apart from application names and never writes null for a probability', () => {
    const cf = classified(1);
    cf.verdict = new Verdict('unknown', NaN, [{ label: 'ssh', p: NaN }], 'm-7', 'unknown');
    const row = JSON.parse(encodeRow(cf)) as Record<string, unknown>;
    expect(row.verdict).toBe('unknown');
    expect(row.confidence).toBe(0);
    expect(row.topk_scores).toEqual([0]);
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

describe('Spool', () => {
  it('orders batches by sequence, drops the oldest when full and counts them, and survives a restart', async () => {
    const dir = tempDir();
    const s = Spool.open(dir, 1024 * 1024);
    const body = 'x'.repeat(300 * 1024);
    for (let seq = 0; seq < 5; seq++) expect(await s.add(seq, 100, body)).toBe(true);
    // 5 x 300 KiB in a 1 MiB spool: the first two are dropped to make room.
    expect(s.batches).toBe(3);
    expect(s.droppedBatches).toBe(2);
    expect(s.droppedRows).toBe(200);
    expect(s.oldest()!.seq).toBe(2);
    expect(await s.add(1, 7, 'late\n')).toBe(true);
    expect(s.oldest()!.seq).toBe(1);
    s.close();
    writeFileSync(path.join(dir, '0000000000000009-3.jsonl.tmp'), 'half a bat');
    const again = Spool.open(dir, 1024 * 1024);
    expect(again.batches).toBe(4);
    expect(again.rows).toBe(307);
    expect(again.nextSeq()).toBe(5);
    expect(readdirSync(dir).some((n) => n.endsWith('.tmp'))).toBe(false);
    expect((await again.read(again.oldest()!)).toString()).toBe('late\n');
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
    expect(ep.bodies.map((b) => b.trim().split('\n').length)).toEqual([10, 10, 5]);
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
});
