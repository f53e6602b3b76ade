import { rmSync } from 'node:fs';

import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { buildFlowsDb, START, type FlowsDb } from './helpers/flowsDb';
import { allPages } from './helpers/pages';
import { startServer, type SensorServer } from '../../src/serve/server';

const quiet = { info() {}, warn() {}, error() {} };

/**
 * The API's anomaly and host routes over the database the pipeline makes (helpers/flowsDb.ts: the bundled
 * classifier, anomaly model and behaviour groups, host profiles in 1-hour windows over a 2-hour capture).
 */
describe('sensor serve: anomaly scores and host profiles', () => {
  let fx: FlowsDb;
  let server: SensorServer;
  let db: Database.Database;
  const get = async (p: string): Promise<{ status: number; body: any }> => {
    const res = await fetch(server.url + p);
    return { status: res.status, body: await res.json() };
  };

  beforeAll(async () => {
    fx = await buildFlowsDb('sensor-serve-hosts-');
    db = new Database(fx.db, { readonly: true });
    server = await startServer({ listen: { host: '127.0.0.1', port: 0, loopback: true }, dbPath: fx.db, classify: null, token: null, logger: quiet });
  }, 120_000);
  afterAll(async () => {
    db?.close();
    await server?.close();
    if (fx !== undefined) rmSync(fx.dir, { recursive: true, force: true });
  });

  it('GET /v1/flows carries every record\'s score, flag and rate, and filters on them', async () => {
    const all = (await get('/v1/flows?limit=1000')).body.flows as any[];
    expect(all.length).toBe(fx.expected.length);
    for (const f of all) {
      expect(typeof f.anomaly_score).toBe('number');
      expect(typeof f.anomaly).toBe('boolean');
      expect(f.anomaly_fpr).toBe(0.01);
    }
    const flagged = (await get('/v1/flows?limit=1000&anomaly=true')).body.flows as any[];
    expect(flagged.length).toBe(all.filter((f) => f.anomaly).length);
    expect(flagged.every((f) => f.anomaly === true)).toBe(true);
    const high = (await get('/v1/flows?limit=1000&min_score=1.5')).body.flows as any[];
    expect(high.map((f) => f.id).sort()).toEqual(all.filter((f) => f.anomaly_score >= 1.5).map((f) => f.id).sort());
  });

  it('GET /v1/anomalies lists the most anomalous flows of a time range, highest first', async () => {
    const to = START + 3600;
    const r = await get(`/v1/anomalies?from=${START}&to=${to}&limit=10`);
    expect(r.status).toBe(200);
    const want = db
      .prepare("SELECT id FROM flows WHERE first_ts >= ? AND first_ts < ? AND end_reason != 'active' ORDER BY anomaly_score DESC, id DESC LIMIT 10")
      .all(START, to) as { id: number }[];
    expect(r.body.flows.map((f: any) => f.id)).toEqual(want.map((w) => w.id));
    const scores = r.body.flows.map((f: any) => f.anomaly_score);
    expect(scores).toEqual([...scores].sort((a: number, b: number) => b - a));
    const flagged = (await get(`/v1/anomalies?flagged=true&limit=1000`)).body.flows;
    expect(flagged.every((f: any) => f.anomaly === true)).toBe(true);
  });

  it('GET /v1/hosts pages through the host profiles, filtered by host, window and group', async () => {
    const n = (db.prepare('SELECT count(*) AS n FROM hosts').get() as { n: number }).n;
    expect(n).toBeGreaterThan(0);
    const seen = await allPages(get, '/v1/hosts?limit=7', 'hosts', 50);
    expect(seen.length).toBe(n);
    const one = seen.find((h) => h.flows_client > 0)!;
    expect(one).toMatchObject({ window_seconds: 3600, final: 1 });
    expect(typeof one.behaviour_group).toBe('string');
    const byHost = (await get(`/v1/hosts?host=${encodeURIComponent(one.host)}`)).body.hosts;
    expect(byHost.length).toBeGreaterThan(0);
    expect(byHost.every((h: any) => h.host === one.host)).toBe(true);
    const byGroup = (await get(`/v1/hosts?group=${encodeURIComponent(one.behaviour_group)}&limit=1000`)).body.hosts;
    expect(byGroup.every((h: any) => h.behaviour_group === one.behaviour_group)).toBe(true);
    const late = (await get(`/v1/hosts?from=${START + 3600}&limit=1000`)).body.hosts;
    expect(late.every((h: any) => h.window_start >= START + 3600)).toBe(true);
    expect((await get('/v1/hosts?limit=0')).status).toBe(400);
  });

  it('GET /v1/host-events answers with the group changes the database holds', async () => {
    const want = db.prepare('SELECT * FROM host_events ORDER BY id DESC').all() as any[];
    const r = await get('/v1/host-events?limit=1000');
    expect(r.status).toBe(200);
    expect(r.body.events).toEqual(want);
    expect((await get(`/v1/host-events?host=none`)).body.events).toEqual([]);
  });
});
