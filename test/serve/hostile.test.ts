import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';

import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { FlowsDb } from './helpers/flowsDb';
import { closeServedFlowsDb, serveFlowsDb, type ServedFlowsDb } from './helpers/testServer';
import { BODY_LIMIT, MAX_BATCH } from '../../src/serve/schemas';
import { MAX_CONNECTIONS, type SensorServer } from '../../src/serve/server';

const logged: string[] = [];
const quiet = { info() {}, warn() {}, error: (m: string) => logged.push(m) };
const ZEROS = new Array<number>(28).fill(0).join(',');
const ROW = `[517,-1448,${ZEROS}]`;
const FLOOD_CLIENT = path.join(__dirname, 'helpers/connFlood.js');
/** Concurrent connections of the flood test. */
const FLOOD = 3000;
/** Open files a process may have (the flood client and the server each need one per connection). */
const FD_LIMIT = ((text: string) => (text === 'unlimited' ? Infinity : Number(text) || 0))(spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim());

describe('hostile input: every bad request is a 4xx with one line, and the server stays up', () => {
  let served: ServedFlowsDb | undefined;
  let fx: FlowsDb;
  let server: SensorServer;

  async function send(method: string, path: string, body?: string | Buffer, type = 'application/json'): Promise<{ status: number; text: string }> {
    const res = await fetch(server.url + path, { method, ...(body !== undefined ? { body, headers: { 'content-type': type } } : {}) });
    return { status: res.status, text: await res.text() };
  }

  /** A 4xx whose body is {"error": "<one line>"}: no stack trace, no internals. */
  function expectRefusal(r: { status: number; text: string }, status: number, pattern?: RegExp): void {
    expect(r.status, r.text).toBe(status);
    const body = JSON.parse(r.text) as { error: string };
    expect(Object.keys(body)).toEqual(['error']);
    expect(body.error).not.toContain('\n');
    expect(body.error).not.toMatch(/\bat .*\.(js|ts):\d+/);
    expect(body.error.length).toBeLessThan(400);
    if (pattern !== undefined) expect(body.error).toMatch(pattern);
  }

  beforeAll(async () => {
    served = await serveFlowsDb('sensor-serve-hostile-', quiet);
    ({ fx, server } = served);
  }, 120_000);
  afterAll(() => closeServedFlowsDb(served));

  it('refuses classify bodies of the wrong shape, length or type', async () => {
    const cases: [string, RegExp][] = [
      ['[]', /must NOT have fewer than 1 items/],
      ['{}', /must be array/],
      ['[[1,2,3]]', /body\/0 must NOT have fewer than 30 items/],
      [`[[1,${ZEROS},0,0]]`, /body\/0 must NOT have more than 30 items/],
      [`[${ROW},[1,2]]`, /body\/1 /],
      [`[["517",-1448,${ZEROS}]]`, /body\/0\/0 must be integer/],
      [`[[517.5,-1448,${ZEROS}]]`, /must be integer/],
      [`[[null,-1448,${ZEROS}]]`, /must be integer/],
      [`[[true,-1448,${ZEROS}]]`, /must be integer/],
      [`[[1e400,-1448,${ZEROS}]]`, /must be <= 65535/],
      [`[[-1e400,-1448,${ZEROS}]]`, /must be >= -65535/],
      [`[[99999999,-1448,${ZEROS}]]`, /must be <= 65535/],
      [`[[9007199254740993,-1448,${ZEROS}]]`, /must be <= 65535/],
      [`[[[517],-1448,${ZEROS}]]`, /must be integer/],
    ];
    for (const [body, pattern] of cases) expectRefusal(await send('POST', '/v1/classify', body), 400, pattern);
  });

  it('refuses what is not JSON: NaN, Infinity, trailing garbage, prototype poisoning', async () => {
    for (const body of [`[[NaN,${ZEROS},0]]`, `[[Infinity,${ZEROS},0]]`, `[${ROW}]]`, '', '[[1,2', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{"x":1}}}']) {
      const r = await send('POST', '/v1/classify', body);
      expect([400, 415], body).toContain(r.status);
      expectRefusal(r, r.status);
    }
  });

  it('refuses deeply nested JSON quickly, without a stack overflow', async () => {
    const depth = 500_000;
    const started = performance.now();
    expectRefusal(await send('POST', '/v1/classify', '['.repeat(depth) + ']'.repeat(depth)), 400);
    expectRefusal(await send('POST', '/v1/classify', '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000)), 400);
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('refuses oversize bodies and batches above the limit', async () => {
    expectRefusal(await send('POST', '/v1/classify', Buffer.alloc(BODY_LIMIT + 1, 0x20)), 413);
    const rows = new Array(MAX_BATCH + 1).fill(ROW).join(',');
    expectRefusal(await send('POST', '/v1/classify', `[${rows}]`), 400, new RegExp(`must NOT have more than ${MAX_BATCH} items`));
    const csvRows = new Array(MAX_BATCH + 1).fill(`x,517,-1448,${ZEROS}`).join('\n');
    expectRefusal(await send('POST', '/v1/classify', csvRows, 'text/csv'), 400, /at most 10000 per request/);
  });

  it('refuses bad CSV with the line that is wrong', async () => {
    const header = `app_service,${Array.from({ length: 30 }, (_, i) => `tcp_len_${i + 1}`).join(',')}`;
    const cases: [string, RegExp][] = [
      [`${header}\nssh,abc,-1448,${ZEROS}`, /line 2: tcp_len_1 is 'abc', not an integer/],
      [`${header}\nssh,1,2`, /line 2: 3 fields, expected 31/],
      [`app_service,tcp_len_1,len2\nssh,1,2`, /header column 3 is 'len2'/],
      [`${header}\nssh,"517,-1448,${ZEROS}`, /CSV body/],
      [`${header}\n`, /no rows/],
      [`${header}\nssh,1e400,-1448,${ZEROS}`, /not an integer/],
      [`${header}\nssh,70000,-1448,${ZEROS}`, /must be <= 65535/],
    ];
    for (const [body, pattern] of cases) expectRefusal(await send('POST', '/v1/classify', body, 'text/csv'), 400, pattern);
    expectRefusal(await send('POST', '/v1/classify', ROW, 'text/plain'), 415);
  });

  it('refuses bad query parameters', async () => {
    const cases: [string, RegExp][] = [
      ['/v1/flows?limit=100000', /limit must be <= 1000/],
      ['/v1/flows?limit=abc', /limit must be integer/],
      ['/v1/flows?port=-1', /port must be >= 0/],
      ['/v1/flows?port=1e400', /port must be/],
      ['/v1/flows?before=0', /before must be >= 1/],
      ['/v1/flows?from=yesterday', /from 'yesterday' is not a time/],
      ['/v1/flows?to=2026-13-45T99:00:00Z', /to '.*' is not a time/],
      ['/v1/flows?end_reason=bogus', /end_reason must be equal to one of the allowed values/],
      ['/v1/flows?limt=5', /must NOT have additional properties \('limt'\)/],
      [`/v1/flows?label=${'x'.repeat(500)}`, /label must NOT have more than 100 characters/],
      ['/v1/summary?buckets=0', /buckets must be >= 1/],
      ['/v1/summary?top=1000', /top must be <= 100/],
    ];
    for (const [p, pattern] of cases) expectRefusal(await send('GET', p), 400, pattern);
    expectRefusal(await send('GET', '/v1/nothing'), 404, /no route GET \/v1\/nothing/);
    expectRefusal(await send('DELETE', '/v1/flows'), 404);
  });

  it.skipIf(FD_LIMIT < FLOOD + MAX_CONNECTIONS + 200)(`stays up under thousands of concurrent connections: at most MAX_CONNECTIONS open, the rest closed at once, then serves normally${FD_LIMIT < FLOOD + MAX_CONNECTIONS + 200 ? ` (skipped: open-file limit ${FD_LIMIT} is below what ${FLOOD} connections need; raise ulimit -n)` : ''}`, async () => {
    const N = FLOOD;
    const port = new URL(server.url).port;
    const dropsBefore = droppedCount(await send('GET', '/metrics'));
    // 1. Slow clients: N connections from another process, each sending half a request and holding on.
    const holder = spawn(process.execPath, [FLOOD_CLIENT, port, String(N), 'hold'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const held = JSON.parse(await firstLine(holder)) as { connected: number; closedByServer: number };
    const open = await connections();
    console.log(`${N} held connections: ${JSON.stringify(held)}; the server has ${open} open`);
    expect(open).toBeLessThanOrEqual(MAX_CONNECTIONS);
    expect(held.closedByServer).toBeGreaterThanOrEqual(N - MAX_CONNECTIONS);
    holder.stdin!.write('done\n');
    await new Promise((resolve) => holder.on('exit', resolve));
    const dropped = droppedCount(await send('GET', '/metrics')) - dropsBefore;
    expect(dropped).toBe(held.closedByServer);
    // The server notices the held sockets closing within a few turns of its loop.
    for (let i = 0; i < 100 && (await connections()) > 1; i++) await new Promise((r) => setTimeout(r, 20));

    // 2. Whole requests, all at once from another process: each is answered or closed at once, none hangs.
    const burst = spawn(process.execPath, [FLOOD_CLIENT, port, String(N), 'full'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const result = JSON.parse(await firstLine(burst)) as { answered: Record<string, number>; closedByServer: number };
    console.log(`${N} concurrent requests: ${JSON.stringify(result)}`);
    expect(Object.keys(result.answered).filter((k) => k !== '200'), JSON.stringify(result)).toEqual([]);
    expect((result.answered['200'] ?? 0) + result.closedByServer).toBe(N);
    expect(result.answered['200'] ?? 0).toBeGreaterThan(0);

    // 3. And then it serves as before.
    expect((await send('GET', '/v1/flows?limit=1')).status).toBe(200);
    expect((await send('POST', '/v1/classify', `[${ROW}]`)).status).toBe(200);
  }, 120_000);

  it('answers a fault of its own (the flows table gone under it) with a one-line 500, and logs the reason', async () => {
    expect((await send('GET', '/v1/flows?limit=1')).status).toBe(200);
    const w = new Database(fx.db);
    w.exec('ALTER TABLE flows RENAME TO flows_gone');
    w.close();
    try {
      const r = await send('GET', '/v1/flows?limit=1');
      expectRefusal(r, 500, /^internal error \(see the sensor log\)$/);
      expect(logged.at(-1)).toMatch(/^serve: GET \/v1\/flows\?limit=1 failed: no such table: flows/);
    } finally {
      const back = new Database(fx.db);
      back.exec('ALTER TABLE flows_gone RENAME TO flows');
      back.close();
    }
    expect((await send('GET', '/v1/flows?limit=1')).status).toBe(200);
  });

  function connections(): Promise<number> {
    return new Promise<number>((resolve) => server.app.server.getConnections((_e, n) => resolve(n)));
  }
});

function droppedCount(metrics: { text: string }): number {
  return Number(/sensor_api_connections_dropped_total (\d+)/.exec(metrics.text)?.[1] ?? NaN);
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(out.slice(0, nl));
    });
    child.on('exit', (code) => reject(new Error(`flood client exited ${code} before reporting`)));
  });
}
