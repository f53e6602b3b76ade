import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { defaultConfig, mergeConfig } from '../../../src/config/config';
import type { ClickHouseSink } from '../../../src/sink/clickhouse/clickhouseSink';
import { openClickHouseSink } from '../../../src/sink/clickhouse/openClickHouseSink';
import { writeSynthCapture } from '../../helpers/synthCapture';
import { findClickHouse, rows, query, startCluster, whyMissing, type ClickHouseCluster } from '../../helpers/clickhouseServer';
import { classified } from '../classified';

/**
 * The ClickHouse output against real servers: two clickhouse-server processes on loopback ports are the two
 * shards of cluster `sensor_test`, with the schema `sensor clickhouse-schema --cluster sensor_test --apply`
 * makes (sensor.flows_local on each, sensor.flows Distributed over both).
 */
const ROOT = path.resolve(__dirname, '../../..');
const BIN = path.join(ROOT, 'bin/sensor.js');
const MODEL = path.join(ROOT, 'test/fixtures/model/fixture.onnx');
const CLUSTER = 'sensor_test';

const missing = findClickHouse() === null ? whyMissing() : null;
if (missing !== null) console.warn(`ClickHouse tests skipped: ${missing}`);

interface Run {
  code: number | null;
  stderr: string;
  lines: Record<string, unknown>[];
}

function sensor(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, '--no-progress', ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    p.on('exit', (code) => {
      const lines: Record<string, unknown>[] = [];
      for (const l of stderr.split('\n')) {
        try {
          lines.push(JSON.parse(l) as Record<string, unknown>);
        } catch {
          // a non-JSON line (a usage error) stays in stderr
        }
      }
      resolve({ code, stderr, lines });
    });
  });
}

function summary(r: Run): Record<string, unknown> & { clickhouse: Record<string, number | boolean>; flows: number } {
  const s = r.lines.find((l) => l.message === 'capture done');
  if (s === undefined) throw new Error(`no summary line; stderr:\n${r.stderr}`);
  return s as never;
}

const until = async (done: () => Promise<boolean> | boolean, ms: number): Promise<boolean> => {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) if (await done()) return true;
  return done();
};

async function count(url: string, sql: string): Promise<number> {
  return Number((await query(url, sql)).trim());
}

describe.skipIf(missing !== null)(`ClickHouse output against two real servers${missing !== null ? ` (skipped: ${missing})` : ''}`, () => {
  let dir: string;
  let ch: ClickHouseCluster;
  let capA: string;
  let capB: string;
  let url1: string;
  let url2: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sensor-chc-'));
    ch = await startCluster({ root: path.join(dir, 'servers'), shards: 2, cluster: CLUSTER });
    [url1, url2] = ch.servers.map((s) => s.url) as [string, string];
    console.info(`ClickHouse tests run against clickhouse-server ${ch.version}`);
    const applied = await sensor(['clickhouse-schema', '--cluster', CLUSTER, '--apply', url1, '--apply', url2]);
    expect(applied.code, applied.stderr).toBe(0);
    capA = path.join(dir, 'a.pcap');
    capB = path.join(dir, 'b.pcap');
    writeSynthCapture(capA, 6000, 240);
    writeSynthCapture(capB, 3000, 90);
  });

  afterAll(async () => {
    await ch?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  const configFile = (name: string, clickhouse: Record<string, unknown>): string => {
    const f = path.join(dir, `${name}.json`);
    writeFileSync(f, JSON.stringify({ output: { clickhouse: { batchSize: 50, batchDeadlineMs: 200, ...clickhouse } } }));
    return f;
  };

  it('clickhouse-schema made the local table on both shards and the Distributed table', async () => {
    for (const url of [url1, url2]) {
      const tables = await rows<{ name: string; engine: string }>(url, "SELECT name, engine FROM system.tables WHERE database = 'sensor' ORDER BY name");
      expect(tables).toEqual([
        { name: 'flows', engine: 'Distributed' },
        { name: 'flows_local', engine: 'ReplacingMergeTree' },
      ]);
    }
  });

  it('two sensors writing at once through the Distributed table give the same flows as their SQLite files', async () => {
    const dbA = path.join(dir, 'site-a.db');
    const dbB = path.join(dir, 'site-b.db');
    const cfg = configFile('two', {});
    const [a, b] = await Promise.all([
      sensor(['--pcap', capA, '--db', dbA, '--model', MODEL, '--config', cfg, '--clickhouse', url1, '--sensor-name', 'site-a@eth1']),
      sensor(['--pcap', capB, '--db', dbB, '--model', MODEL, '--config', cfg, '--clickhouse', url2, '--sensor-name', 'site-b@eth2']),
    ]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    for (const [run, db, name] of [[a, dbA, 'site-a@eth1'], [b, dbB, 'site-b@eth2']] as const) {
      const sqlite = new Database(db, { readonly: true });
      const local = sqlite.prepare('SELECT * FROM flows ORDER BY first_ts, client_port, end_reason').all() as Record<string, unknown>[];
      sqlite.close();
      expect(local.length).toBeGreaterThan(50);
      // The default anomaly model scores every flow: the columns carry values, not only NULLs.
      expect(local.some((l) => typeof l.anomaly_score === 'number')).toBe(true);
      expect(summary(run).clickhouse).toMatchObject({ sent_rows: local.length, spool_rows: 0, dropped_rows: 0, rejected: false });
      // The Distributed table forwards to the other shard in the background: wait until both shards have it.
      const where = `FROM sensor.flows WHERE sensor = '${name}'`;
      expect(await until(async () => (await count(url1, `SELECT count() ${where}`)) === local.length, 30_000)).toBe(true);
      const remote = await rows<Record<string, unknown>>(url1, `SELECT * ${where} ORDER BY first_ts, client_port, end_reason`);
      expect(remote).toHaveLength(local.length);
      expect(new Set(remote.map((r) => r.uid)).size).toBe(local.length);
      for (let i = 0; i < local.length; i++) {
        const l = local[i]!;
        const r = remote[i]!;
        expect(r.sensor).toBe(name);
        for (const k of ['uid', 'sensor', 'source', 'client_ip', 'server_ip', 'conn_state', 'history', 'community_id', 'end_reason', 'label',
          'verdict', 'proto', 'model_version']) {
          expect(r[k], `${k} of flow ${i}`).toBe(l[k]);
        }
        // SQLite's NULL is '' in ClickHouse.
        expect(r.pcap_filename).toBe(l.pcap_filename ?? '');
        expect(r.in_iface).toBe(l.in_iface ?? '');
        for (const k of ['ip_version', 'client_port', 'server_port', 'vlan', 'c2s_packets', 's2c_packets', 'c2s_bytes', 's2c_bytes',
          'c2s_payload_bytes', 's2c_payload_bytes', 'payload_packets', 'retrans_skipped', 'midstream']) {
          // ClickHouse quotes 64-bit integers in JSON output.
          expect(Number(r[k]), `${k} of flow ${i}`).toBe(l[k]);
        }
        for (const k of ['first_ts', 'last_ts', 'duration', 'confidence']) expect(r[k] as number).toBeCloseTo(l[k] as number, 6);
        // DateTime comes back as 'YYYY-MM-DD hh:mm:ss' (UTC): SQLite's ISO 8601 start/end cut to whole seconds.
        expect(r.start).toBe((l.start as string).slice(0, 19).replace('T', ' '));
        expect(r.end).toBe((l.end as string).slice(0, 19).replace('T', ' '));
        expect(r.lengths).toEqual(JSON.parse(l.lengths as string));
        // The anomaly columns: NULL in both without a score; ClickHouse's Nullable(UInt8) flag is SQLite's 0/1.
        expect(r.anomaly).toBe(l.anomaly);
        if (l.anomaly_score === null) expect(r.anomaly_score).toBeNull();
        else expect(r.anomaly_score as number).toBeCloseTo(l.anomaly_score as number, 6);
        expect(r.anomaly_fpr).toBe(l.anomaly_fpr);
        expect(r.topk_labels).toEqual(JSON.parse(l.topk_labels as string));
        const scores = JSON.parse(l.topk_scores as string) as number[];
        (r.topk_scores as number[]).forEach((p, j) => expect(p).toBeCloseTo(scores[j]!, 6));
      }
    }
    // Sharded by uid: each shard holds part of each sensor's flows.
    for (const url of [url1, url2]) {
      const perSensor = await rows<{ sensor: string; n: string }>(url, "SELECT sensor, count() AS n FROM sensor.flows_local WHERE sensor LIKE 'site-%' GROUP BY sensor ORDER BY sensor");
      expect(perSensor.map((r) => r.sensor)).toEqual(['site-a@eth1', 'site-b@eth2']);
      for (const r of perSensor) expect(Number(r.n)).toBeGreaterThan(0);
    }
  });

  /** `n` records of sensor `name` from classified(from) on: distinct uids, client ports 40000 + i. */
  const records = (name: string, from: number, n: number): ReturnType<typeof classified>[] =>
    Array.from({ length: n }, (_, j) => {
      const cf = classified(from + j);
      cf.flow.sensor = name;
      return cf;
    });

  const sinkFor = (name: string, clickhouse: Record<string, unknown>): ClickHouseSink => {
    const cfg = mergeConfig(defaultConfig(), { output: { clickhouse: { batchSize: 50, batchDeadlineMs: 100, spoolDir: path.join(dir, `${name}.spool`), ...clickhouse } } }, 'test');
    return openClickHouseSink(cfg, cfg.output.clickhouse!, { info: () => {}, warn: () => {}, error: () => {} });
  };

  it('a shard killed mid-run and restarted loses nothing: the rows wait in the spool and arrive once', async () => {
    const s = sinkFor('mid-run', { url: url1 });
    const total = 2000;
    let spooledMax = 0;
    for (let i = 0; i < total; i += 50) {
      if (i === 500) await ch.servers[0]!.kill();
      if (i === 1300) await ch.servers[0]!.start();
      s.write(records('mid-run', i, 50));
      await new Promise((r) => setTimeout(r, 40));
      spooledMax = Math.max(spooledMax, s.stats().spool_rows);
    }
    expect(await until(() => s.stats().spool_rows === 0 && s.stats().queued_rows === 0, 60_000)).toBe(true);
    await s.close();
    const st = s.stats();
    expect(spooledMax).toBeGreaterThan(0);
    expect(st.retried).toBeGreaterThan(0);
    expect(st).toMatchObject({ dropped_rows: 0, rejected: false });
    expect(st.sent_rows).toBe(total);
    const folded = async (): Promise<number> =>
      (await count(url1, "SELECT count() FROM sensor.flows_local FINAL WHERE sensor = 'mid-run'")) +
      (await count(url2, "SELECT count() FROM sensor.flows_local FINAL WHERE sensor = 'mid-run'"));
    expect(await until(async () => (await folded()) === total, 30_000)).toBe(true);
    expect(await count(url2, "SELECT uniqExact(uid) FROM sensor.flows WHERE sensor = 'mid-run'")).toBe(total);
  });

  it('a full spool drops the oldest batches and counts them; the newest arrive when ClickHouse is back', async () => {
    await ch.servers[1]!.stop();
    // 1 MiB holds a few dozen batches of 50 rows: most of the 6000 rows cannot wait.
    const s = sinkFor('full-spool', { url: url2, table: 'flows_local', spoolMaxBytes: 1024 * 1024 });
    const total = 6000;
    for (let i = 0; i < total; i += 500) {
      s.write(records('full-spool', i, 500));
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(await until(() => s.stats().spool_rows + s.stats().dropped_rows === total, 30_000)).toBe(true);
    const st = s.stats();
    expect(st.dropped_rows).toBeGreaterThan(0);
    expect(st.spool_bytes).toBeLessThanOrEqual(1024 * 1024);
    await ch.servers[1]!.start();
    s.resume();
    expect(await until(() => s.stats().sent_rows === st.spool_rows, 60_000)).toBe(true);
    await s.close();
    const got = await rows<{ n: string; lo: number; hi: number }>(url2, "SELECT count() AS n, min(client_port) AS lo, max(client_port) AS hi FROM sensor.flows_local WHERE sensor = 'full-spool'");
    // The oldest were dropped: what arrived is exactly the newest rows, ending with the last one written.
    expect(Number(got[0]!.n)).toBe(st.spool_rows);
    expect(got[0]!.hi).toBe(40000 + total - 1);
    expect(got[0]!.lo).toBe(40000 + total - st.spool_rows);
    expect(st.dropped_rows).toBe(total - st.spool_rows);
  });

  it('an offline run that ends while ClickHouse is down leaves a spool that the next run sends first', async () => {
    const db = path.join(dir, 'site-c.db');
    const cfg = configFile('offline', { url: url2 });
    await ch.servers[1]!.stop();
    const first = await sensor(['--pcap', capB, '--db', db, '--model', MODEL, '--config', cfg, '--sensor-name', 'site-c']);
    expect(first.code, first.stderr).toBe(0);
    const s1 = summary(first);
    expect(s1.clickhouse).toMatchObject({ sent_rows: 0, spool_rows: s1.flows, dropped_rows: 0 });
    expect(first.lines.some((l) => l.message === 'ClickHouse output stopped with rows in the spool; the next run sends them')).toBe(true);
    await ch.servers[1]!.start();
    // The next run (renamed: the synthetic captures share endpoints and start times, so under one name their
    // flows would have the same uids) sends the spooled rows, which keep the name they were written with.
    const second = await sensor(['--pcap', capA, '--db', db, '--model', MODEL, '--config', cfg, '--sensor-name', 'site-c2']);
    expect(second.code, second.stderr).toBe(0);
    const s2 = summary(second);
    expect(s2.clickhouse).toMatchObject({ sent_rows: s1.flows + s2.flows, spool_rows: 0 });
    const sqlite = new Database(db, { readonly: true });
    const n = (sqlite.prepare('SELECT count(*) AS n FROM flows').get() as { n: number }).n;
    sqlite.close();
    expect(n).toBe(s1.flows + s2.flows);
    const inCluster = (): Promise<{ sensor: string; n: string }[]> =>
      rows(url2, "SELECT sensor, count() AS n FROM sensor.flows WHERE sensor LIKE 'site-c%' GROUP BY sensor ORDER BY sensor");
    const want = [{ sensor: 'site-c', n: String(s1.flows) }, { sensor: 'site-c2', n: String(s2.flows) }];
    await until(async () => JSON.stringify(await inCluster()) === JSON.stringify(want), 30_000);
    expect(await inCluster()).toEqual(want);
  });

  it('a schema mismatch is one clear error line, not a retry loop; the rows wait in the spool until the table is fixed', async () => {
    await query(url1, 'CREATE TABLE sensor.narrow AS sensor.flows_local');
    await query(url1, 'ALTER TABLE sensor.narrow DROP COLUMN verdict');
    const db = path.join(dir, 'site-d.db');
    const cfg = configFile('narrow', { url: url1, table: 'narrow' });
    const run = await sensor(['--pcap', capA, '--db', db, '--model', MODEL, '--config', cfg, '--sensor-name', 'site-d']);
    expect(run.code, run.stderr).toBe(0);
    const errors = run.lines.filter((l) => l.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toMatch(/^ClickHouse refused the rows \(code 16 NO_SUCH_COLUMN_IN_TABLE\): No such column verdict in table (sensor\.)?narrow\. Inserts stop/);
    const s = summary(run);
    expect(s.flows).toBeGreaterThan(100);
    // Five batches or more, one attempt: the first refusal stops inserts.
    expect(s.clickhouse).toMatchObject({ rejected: true, retried: 0, sent_rows: 0, spool_rows: s.flows });
    await query(url1, "ALTER TABLE sensor.narrow ADD COLUMN verdict String AFTER label");
    // Renamed for the reason given in the offline-run test: distinct uids for the synthetic flows.
    const again = await sensor(['--pcap', capB, '--db', db, '--model', MODEL, '--config', cfg, '--sensor-name', 'site-d2']);
    expect(again.code, again.stderr).toBe(0);
    const s2 = summary(again);
    expect(s2.clickhouse).toMatchObject({ rejected: false, sent_rows: s.flows + s2.flows, spool_rows: 0 });
    expect(await count(url1, "SELECT count() FROM sensor.narrow WHERE sensor = 'site-d'")).toBe(s.flows);
    expect(await count(url1, "SELECT count() FROM sensor.narrow WHERE sensor = 'site-d2'")).toBe(s2.flows);
  });

  it("the README's ClickHouse queries run on this server", async () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const statements = [...readme.matchAll(/```sql clickhouse\n([\s\S]*?)```/g)]
      .flatMap((m) => m[1]!.split(';'))
      .map((q) => q.replace(/^\s*--.*$/gm, '').trim())
      // The CREATE TABLE excerpt (with "...") is the schema that clickhouse-schema applied above.
      .filter((q) => q !== '' && !q.startsWith('CREATE'));
    expect(statements.length).toBeGreaterThanOrEqual(5);
    for (const q of statements) await expect(query(url1, q), q).resolves.toBeTypeOf('string');
  });

  it('a table made before the anomaly columns: one line that says how to add them; clickhouse-schema --upgrade adds them on every shard; then the spool is sent', async () => {
    const schema = ['clickhouse-schema', '--cluster', CLUSTER, '--database', 'older'];
    const made = await sensor([...schema, '--apply', url1, '--apply', url2]);
    expect(made.code, made.stderr).toBe(0);
    // As an older sensor's clickhouse-schema made it: no anomaly columns, on either shard nor on the Distributed table.
    for (const url of [url1, url2]) {
      for (const t of ['flows_local', 'flows']) await query(url, `ALTER TABLE older.${t} DROP COLUMN anomaly_score, DROP COLUMN anomaly, DROP COLUMN anomaly_fpr`);
    }
    const db = path.join(dir, 'site-e.db');
    const cfg = configFile('older', { url: url1, database: 'older' });
    const run = await sensor(['--pcap', capA, '--db', db, '--model', MODEL, '--config', cfg, '--sensor-name', 'site-e']);
    expect(run.code, run.stderr).toBe(0);
    const errors = run.lines.filter((l) => l.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toMatch(
      /^ClickHouse table older\.flows has no column anomaly_score \(the anomaly columns are new\): add them with `sensor clickhouse-schema --upgrade --apply http:\/\/127\.0\.0\.1:\d+` .*ALTER TABLE older\.flows ADD COLUMN `anomaly_score` Nullable\(Float64\) AFTER `model_version`.*then reload \(SIGHUP\) or restart the sensor/,
    );
    const s1 = summary(run);
    expect(s1.clickhouse).toMatchObject({ rejected: true, retried: 0, sent_rows: 0, spool_rows: s1.flows });

    // Printed: the local table first, then the Distributed one.
    const up = await new Promise<string>((resolve) => {
      const p = spawn(process.execPath, [BIN, ...schema, '--upgrade'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      p.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      p.on('exit', () => resolve(out));
    });
    expect(up.indexOf('ALTER TABLE older.flows_local\n')).toBeGreaterThan(0);
    expect(up.indexOf('ALTER TABLE older.flows\n')).toBeGreaterThan(up.indexOf('ALTER TABLE older.flows_local\n'));
    const upgraded = await sensor([...schema, '--upgrade', '--apply', url1, '--apply', url2]);
    expect(upgraded.code, upgraded.stderr).toBe(0);
    expect(upgraded.stderr).toContain(`applied 2 statements to ${url1}`);
    // Twice is harmless (18.16 has no ADD COLUMN IF NOT EXISTS: only what is missing is added).
    const twice = await sensor([...schema, '--upgrade', '--apply', url1]);
    expect(twice.code, twice.stderr).toBe(0);
    expect(twice.stderr).toContain('has every column already');
    const none = await sensor(['clickhouse-schema', '--database', 'nowhere', '--upgrade', '--apply', url1]);
    expect(none.code).not.toBe(0);
    expect(none.stderr).toContain(`has no table nowhere.flows to upgrade; create it with sensor clickhouse-schema --apply ${url1}`);

    const again = await sensor(['--pcap', capB, '--db', db, '--model', MODEL, '--config', cfg, '--sensor-name', 'site-e2']);
    expect(again.code, again.stderr).toBe(0);
    const s2 = summary(again);
    expect(s2.clickhouse).toMatchObject({ rejected: false, sent_rows: s1.flows + s2.flows, spool_rows: 0 });
    const scored = async (): Promise<number> => count(url1, "SELECT countIf(anomaly_score IS NOT NULL) FROM older.flows WHERE sensor = 'site-e'");
    expect(await until(async () => (await scored()) === s1.flows, 30_000)).toBe(true);
  });
});
