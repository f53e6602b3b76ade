import { readFileSync } from 'node:fs';
import * as path from 'node:path';

import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { DEFAULT_CLASSIFIER_OPTIONS } from './helpers/classifierOptions';
import { START, type FlowsDb } from './helpers/flowsDb';
import { allPages } from './helpers/pages';
import { closeServedFlowsDb, serveFlowsDb, type ServedFlowsDb } from './helpers/testServer';
import { FlowDb } from '../../src/serve/flowDb';
import { queryFlows } from '../../src/serve/flowQuery';
import { summarize } from '../../src/serve/summary';
import { startServer, type SensorServer } from '../../src/serve/server';
import { chartJsPath } from '../../src/serve/webAssets';
import { MIGRATIONS } from '../../src/sink/schema';
import { SqliteSink } from '../../src/sink/sqliteSink';
import { makeFlow } from '../classify/makeFlow';
import { Verdict } from '../../src/classify/verdict';
import { DEFAULT_UNKNOWN_THRESHOLD, loadModelInfo } from '../../src/classify/classifier';

const quiet = { info() {}, warn() {}, error() {} };

interface Row {
  id: number;
  first_ts: number;
  client_ip: string;
  client_port: number;
  server_ip: string;
  server_port: number;
  c2s_bytes: number;
  s2c_bytes: number;
  conn_state: string;
  end_reason: string;
  label: string;
  lengths: string;
}

describe('sensor serve: flows, summary, model, metrics and the page over a database made by the pipeline', () => {
  let served: ServedFlowsDb | undefined;
  let fx: FlowsDb;
  let server: SensorServer;
  let rows: Row[];
  const get = async (p: string): Promise<{ status: number; body: any; headers: Headers }> => {
    const res = await fetch(server.url + p);
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON (the page, assets, metrics)
    }
    return { status: res.status, body, headers: res.headers };
  };

  beforeAll(async () => {
    served = await serveFlowsDb('sensor-serve-api-', quiet);
    ({ fx, server } = served);
    const db = new Database(fx.db, { readonly: true });
    rows = db.prepare('SELECT * FROM flows ORDER BY id').all() as Row[];
    db.close();
  }, 120_000);
  afterAll(() => closeServedFlowsDb(served));

  it('the database holds every connection of the capture', () => {
    expect(rows).toHaveLength(fx.expected.length);
  });

  it('GET /v1/flows pages through every flow once, latest first, each as the capture made it', async () => {
    const seen = await allPages(get, '/v1/flows?limit=50', 'flows', 20);
    expect(seen.map((f) => f.id)).toEqual(rows.map((r) => r.id).reverse());
    const byPort = new Map(seen.map((f) => [f.client_port, f]));
    for (const e of fx.expected) {
      const f = byPort.get(e.client_port);
      expect(f, `flow from port ${e.client_port}`).toBeDefined();
      expect([f.client_ip, f.server_ip, f.server_port, f.conn_state]).toEqual([e.client_ip, e.server_ip, e.server_port, e.conn_state]);
      expect(f.lengths).toEqual([...e.lengths, ...new Array<number>(30 - e.lengths.length).fill(0)].slice(0, 30));
      expect(f.first_ts).toBeCloseTo(e.first_ts, 5);
      expect(f.topk_labels.length).toBe(f.topk_scores.length);
      expect(typeof f.midstream).toBe('boolean');
      if (e.label === 'no-payload') expect([f.label, f.verdict]).toEqual(['no-payload', 'no-payload']);
    }
  });

  it('GET /v1/flows filters by label, verdict, address, port, conn_state, end_reason and time', async () => {
    const count = (pred: (r: Row) => boolean): number => rows.filter(pred).length;
    const tlsClient = rows.find((r) => r.label === 'tls')!.client_ip;
    const cases: [string, (r: Row) => boolean][] = [
      ['label=ssh', (r) => r.label === 'ssh'],
      ['verdict=unknown', (r) => r.label === 'unknown'],
      ['verdict=classified', (r) => !['unknown', 'no-payload'].includes(r.label)],
      ['address=10.1.0.3', (r) => r.client_ip === '10.1.0.3' || r.server_ip === '10.1.0.3'],
      ['port=22', (r) => r.client_port === 22 || r.server_port === 22],
      ['conn_state=REJ', (r) => r.conn_state === 'REJ'],
      ['end_reason=idle', (r) => r.end_reason === 'idle'],
      [`from=${START + 1800}&to=2026-11-29T13:00:00Z`, (r) => r.first_ts >= START + 1800 && r.first_ts < START + 3600],
      [`label=tls&address=${tlsClient}`, (r) => r.label === 'tls' && (r.client_ip === tlsClient || r.server_ip === tlsClient)],
    ];
    for (const [q, pred] of cases) {
      const r = await get(`/v1/flows?limit=1000&${q}`);
      expect(r.status, q).toBe(200);
      expect(r.body.flows.length, q).toBe(count(pred));
      expect(r.body.flows.length, `${q} matches something`).toBeGreaterThan(0);
    }
    expect(count((r) => r.conn_state === 'REJ')).toBe(fx.expected.filter((e) => e.conn_state === 'REJ').length);
  });

  it('GET /v1/flows?uid= returns every record of that flow (its active records and the final one), by the index', async () => {
    const db = new Database(fx.db, { readonly: true });
    const all = db.prepare('SELECT id, uid, end_reason FROM flows ORDER BY id DESC').all() as { id: number; uid: string; end_reason: string }[];
    const plan = (db.prepare('EXPLAIN QUERY PLAN SELECT * FROM flows WHERE uid = ?').all('x') as { detail: string }[]).map((p) => p.detail).join('; ');
    db.close();
    expect(plan).toContain('flows_uid');
    // The flow with the most records (an active one and its final record where the fixture has them).
    const per = new Map<string, number>();
    for (const r of all) per.set(r.uid, (per.get(r.uid) ?? 0) + 1);
    const uid = [...per].sort((a, b) => b[1] - a[1])[0]![0];
    const r = await get(`/v1/flows?uid=${uid}`);
    expect(r.status).toBe(200);
    expect(r.body.flows.map((f: { id: number }) => f.id)).toEqual(all.filter((x) => x.uid === uid).map((x) => x.id));
    expect(r.body.flows.every((f: { uid: string }) => f.uid === uid)).toBe(true);
    expect((await get('/v1/flows?uid=Cnosuchflow')).body.flows).toEqual([]);
    expect((await get(`/v1/flows?uid=${'C'.repeat(40)}`)).status).toBe(400);
  });

  it('GET /v1/summary counts every flow once: by application over time, unknown share, confidence, top talkers and services', async () => {
    const r = await get('/v1/summary');
    expect(r.status).toBe(200);
    const s = r.body;
    const finals = rows.filter((x) => x.end_reason !== 'active');
    expect(s.totals.flows).toBe(finals.length);
    expect(s.totals.bytes).toBe(finals.reduce((a, x) => a + x.c2s_bytes + x.s2c_bytes, 0));
    expect(s.from).toBe(Math.min(...finals.map((x) => x.first_ts)));
    expect(s.buckets.length).toBeGreaterThan(10);
    expect(s.buckets.length).toBeLessThanOrEqual(61);
    for (const l of s.labels) expect(l.flows).toHaveLength(s.buckets.length);
    expect(s.labels.reduce((a: number, l: any) => a + l.total_flows, 0)).toBe(finals.length);
    // Per bucket, the series add up to the flows that started in it.
    for (let b = 0; b < s.buckets.length; b++) {
      const inBucket = finals.filter((x) => x.first_ts >= s.buckets[b] && x.first_ts < s.buckets[b] + s.bucket_seconds).length;
      expect(s.labels.reduce((a: number, l: any) => a + l.flows[b], 0)).toBe(inBucket);
    }
    const unknown = finals.filter((x) => x.label === 'unknown').length;
    const scored = finals.filter((x) => x.label !== 'no-payload').length;
    expect(s.totals.scored_flows).toBe(scored);
    expect(s.totals.unknown_share).toBeCloseTo(unknown / scored, 12);
    expect(s.confidence.counts.reduce((a: number, b: number) => a + b, 0)).toBe(scored);
    expect(s.labels.map((l: any) => l.label)).toContain('unknown');

    const hostBytes = new Map<string, number>();
    for (const x of finals) {
      for (const ip of [x.client_ip, x.server_ip]) hostBytes.set(ip, (hostBytes.get(ip) ?? 0) + x.c2s_bytes + x.s2c_bytes);
    }
    const top = [...hostBytes.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 10);
    expect(s.top_talkers.map((t: any) => [t.ip, t.bytes])).toEqual(top);
    // The rejected connections all went to one port: it is the top service.
    expect(s.top_services[0]).toMatchObject({ server_ip: '10.2.1.1', server_port: 8080, label: 'no-payload', flows: rows.filter((x) => x.conn_state === 'REJ').length });
  });

  it('GET /v1/summary of a time range counts only that range', async () => {
    const from = START + 3600;
    const r = await get(`/v1/summary?from=${from}&to=${from + 1800}&buckets=6`);
    expect(r.status).toBe(200);
    expect(r.body.totals.flows).toBe(rows.filter((x) => x.first_ts >= from && x.first_ts < from + 1800).length);
    expect(r.body.bucket_seconds).toBe(300);
    expect(r.body.buckets).toHaveLength(6);
  });

  it('GET /v1/model names the contract, classes, version, rules and the card facts of the model file', async () => {
    const r = await get('/v1/model');
    expect(r.status).toBe(200);
    const info = await loadModelInfo(DEFAULT_CLASSIFIER_OPTIONS.modelPath);
    expect(r.body.classes).toEqual(info.classes);
    expect(r.body.sequence_length).toBe(30);
    expect(r.body.version).toMatch(/^ppi-/);
    expect(r.body.rules).toMatchObject({ unknown_threshold: DEFAULT_CLASSIFIER_OPTIONS.unknownThreshold ?? info.unknownThreshold ?? DEFAULT_UNKNOWN_THRESHOLD,
      background_classes: info.backgroundClasses, min_payload_packets: 1, top_k: 3 });
    expect(r.body.metadata.training_data).toBe(r.body.training_data);
    expect(r.body.contract.input).toContain('[N, 30]');
  });

  it('serves its OpenAPI description, generated from the route schemas', async () => {
    const r = await get('/v1/openapi.json');
    expect(r.status).toBe(200);
    expect(r.body.openapi).toMatch(/^3\./);
    const paths = r.body.paths;
    expect(Object.keys(paths).sort()).toEqual(['/v1/anomalies', '/v1/classify', '/v1/flows', '/v1/host-events', '/v1/hosts', '/v1/model', '/v1/monitor', '/v1/summary']);
    expect(paths['/v1/classify'].post.requestBody.content['application/json'].schema.items.minItems).toBe(30);
    const params = paths['/v1/flows'].get.parameters.map((p: any) => p.name).sort();
    expect(params).toEqual(['address', 'anomaly', 'before', 'conn_state', 'end_reason', 'from', 'label', 'limit', 'min_score', 'port', 'to', 'uid', 'verdict']);
    expect(paths['/v1/summary'].get.responses['200'].content['application/json'].schema.properties.top_talkers).toBeDefined();
  });

  it('serves /metrics in the Prometheus text format, counting requests by route and status', async () => {
    await get('/v1/flows?limit=1');
    await get('/v1/flows?limit=0');
    const r = await get('/metrics');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('text/plain');
    expect(r.body).toMatch(/sensor_api_requests_total\{route="\/v1\/flows",status="200"\} \d+/);
    expect(r.body).toMatch(/sensor_api_requests_total\{route="\/v1\/flows",status="400"\} \d+/);
    expect(r.body).toContain('sensor_api_request_duration_seconds_bucket');
  });

  it('serves the page with a strict content policy and the chart library from the package, nothing else from disk', async () => {
    const page = await get('/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.body).toContain('/assets/chart.umd.min.js');
    const res = await fetch(`${server.url}/assets/chart.umd.min.js`);
    expect(Buffer.from(await res.arrayBuffer()).equals(readFileSync(chartJsPath()))).toBe(true);
    for (const p of ['/assets/..%2Fpackage.json', '/assets/../../package.json', '/assets/index.html', '/web/app.js']) {
      expect((await get(p)).status, p).toBe(404);
    }
  });

  it('shows monitor tables once the database has them, and new flow columns as they are added', async () => {
    // The sensor's own monitor (README "Watching the model") wrote its windows while the fixture was made.
    const before = (await get('/v1/monitor')).body;
    expect(before.tables.map((t: { name: string }) => t.name).sort()).toEqual(['monitor_accuracy', 'monitor_windows']);
    const windows = before.tables.find((t: { name: string }) => t.name === 'monitor_windows');
    expect(windows.rows.length).toBeGreaterThan(0);
    expect(windows.columns.map((c: { name: string }) => c.name)).toContain('input_psi');
    // Whatever other monitor table appears is shown too.
    const w = new Database(fx.db);
    w.exec(`CREATE TABLE monitor_drift (window_start REAL, psi REAL, unknown_share REAL);
            INSERT INTO monitor_drift VALUES (${START}, 0.02, 0.04), (${START + 3600}, 0.31, 0.12);
            ALTER TABLE flows ADD COLUMN server_asn INTEGER;`);
    w.close();
    const m = (await get('/v1/monitor')).body;
    expect(m.tables).toHaveLength(3);
    const drift = m.tables.find((t: { name: string }) => t.name === 'monitor_drift');
    expect(drift.rows[0]).toEqual({ window_start: START + 3600, psi: 0.31, unknown_share: 0.12 });
    const f = (await get('/v1/flows?limit=1')).body.flows[0];
    expect(f).toHaveProperty('server_asn', null);
  });

  it('reads while the sensor writes (WAL) and never writes itself', async () => {
    const before = (await get('/v1/summary')).body.totals.flows;
    const sink = new SqliteSink(fx.db);
    const flow = makeFlow([100, -200], { first_ts: START + 60, last_ts: START + 61 });
    sink.write([{ flow, verdict: new Verdict('ssh', 0.999, [{ label: 'ssh', p: 0.999 }], 'test', 'classified') }]);
    const after = (await get('/v1/summary')).body.totals.flows;
    sink.close();
    expect(after).toBe(before + 1);
    const reader = new FlowDb(fx.db);
    expect(() => reader.db.exec('DELETE FROM flows')).toThrow(/readonly|read-only/i);
    reader.close();
  });

  it('puts no request value into SQL text: hostile filters are bound values that match nothing', async () => {
    const hostile = ["x' OR '1'='1", 'ssh"; DROP TABLE flows; --', '10.1.0.3) OR (1=1', "');--"];
    // Over HTTP: answered, and nothing matches.
    for (const h of hostile) {
      for (const k of ['label', 'address']) {
        const r = await get(`/v1/flows?${k}=${encodeURIComponent(h)}`);
        expect(r.status, `${k}=${h}`).toBe(200);
        expect(r.body.flows).toEqual([]);
      }
      const c = await get(`/v1/flows?conn_state=${encodeURIComponent(h)}`);
      expect([200, 400]).toContain(c.status);
      if (c.status === 200) expect(c.body.flows).toEqual([]);
    }
    // The query layer itself (what the API's worker runs), with every statement it prepares recorded.
    const calls: string[] = [];
    const realPrepare = FlowDb.prototype.prepare;
    FlowDb.prototype.prepare = function (this: FlowDb, key: string, sql: string) {
      calls.push(key, sql);
      return realPrepare.call(this, key, sql);
    };
    const reader = new FlowDb(fx.db);
    try {
      for (const h of hostile) {
        expect(queryFlows(reader, { label: h, address: h, conn_state: h, end_reason: h, verdict: h, limit: 10 }).flows).toEqual([]);
        expect(summarize(reader, { from: START, to: START + 7200, buckets: 10, top: 5 }).totals.flows).toBeGreaterThan(0);
      }
    } finally {
      FlowDb.prototype.prepare = realPrepare;
      reader.close();
    }
    expect(calls.length).toBeGreaterThan(0);
    for (const text of calls) for (const h of hostile) expect(text).not.toContain(h);
    const db = new Database(fx.db, { readonly: true });
    expect((await get('/v1/summary')).body.totals.flows).toBe((db.prepare('SELECT count(*) AS n FROM flows').get() as { n: number }).n);
    db.close();
  });

  it('reads version-1 databases of older sensors read-only (verdict from the label, top-k from the topk column)', async () => {
    const v1 = path.join(fx.dir, 'v1.db');
    const w = new Database(v1);
    MIGRATIONS[0]!(w, { sensorName: 'test' });
    w.pragma('user_version = 1');
    w.exec(`ATTACH '${fx.db}' AS v2`);
    const cols = (w.prepare("SELECT name FROM pragma_table_info('flows') WHERE name NOT IN ('id', 'topk')").pluck().all() as string[]).join(', ');
    w.exec(`INSERT INTO flows (id, ${cols}, topk) SELECT id, ${cols},
              (SELECT json_group_array(json_object('label', l.value, 'p', json_extract(v2.flows.topk_scores, '$[' || l.key || ']')))
               FROM json_each(v2.flows.topk_labels) l) FROM v2.flows`);
    w.exec("UPDATE flows SET label = 'classify-error', topk = '[]' WHERE id = 1");
    w.close();
    const s2 = await startServer({ listen: { host: '127.0.0.1', port: 0, loopback: true }, dbPath: v1, classify: null, token: null, logger: quiet });
    try {
      const r = (await (await fetch(`${s2.url}/v1/flows?verdict=classify-error`)).json()) as any;
      expect(r.flows.map((f: any) => [f.id, f.verdict])).toEqual([[1, 'classify-error']]);
      // No uid column before version 2: no record has one.
      const byUid = await fetch(`${s2.url}/v1/flows?uid=C123`);
      expect(byUid.status).toBe(200);
      expect(((await byUid.json()) as any).flows).toEqual([]);
      const ssh = (await (await fetch(`${s2.url}/v1/flows?label=ssh&limit=1`)).json()) as any;
      const src = new Database(fx.db, { readonly: true });
      const row = src.prepare('SELECT topk_labels, topk_scores FROM flows WHERE id = ?').get(ssh.flows[0].id) as { topk_labels: string; topk_scores: string };
      src.close();
      expect(ssh.flows[0].topk_labels).toEqual(JSON.parse(row.topk_labels));
      expect(ssh.flows[0].topk_scores).toEqual(JSON.parse(row.topk_scores));
      expect(ssh.flows[0].verdict).toBe('classified');
      expect(ssh.flows[0]).not.toHaveProperty('topk');
      const sum = (await (await fetch(`${s2.url}/v1/summary`)).json()) as any;
      expect(sum.totals.verdicts['classify-error']).toBe(1);
      const model = await fetch(`${s2.url}/v1/model`);
      expect(model.status).toBe(503);
      expect(((await model.json()) as any).error).toContain('classification is off');
    } finally {
      await s2.close();
    }
  });
});
