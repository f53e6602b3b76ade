import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { buildFlowsDb, REPO, type FlowsDb } from './helpers/flowsDb';

const BIN = path.join(REPO, 'bin/sensor.js');

function sensor(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: REPO, timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Starts `sensor ARGS` and resolves with the URL it logs once it serves. */
function serving(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcess; url: string; log: () => string }> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      log += d.toString();
      const m = /"url":"(http:\/\/[^"]+)"/.exec(log);
      if (m !== null && log.includes('serving the HTTP API')) resolve({ child, url: m[1]!, log: () => log });
    });
    child.on('exit', (code) => reject(new Error(`sensor exited ${code} before serving: ${log}`)));
  });
}

function exitCode(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.on('exit', (code) => resolve(code)));
}

describe('sensor serve / --serve / report on the command line', () => {
  let fx: FlowsDb;
  beforeAll(async () => {
    fx = await buildFlowsDb('sensor-serve-cli-');
  }, 120_000);
  afterAll(() => {
    if (fx !== undefined) rmSync(fx.dir, { recursive: true, force: true });
  });

  it('sensor serve answers until SIGTERM, then exits 0', async () => {
    const { child, url } = await serving(['serve', '--db', fx.db, '--listen', '127.0.0.1:0']);
    const done = exitCode(child);
    try {
      const s = (await (await fetch(`${url}/v1/summary`)).json()) as { totals: { flows: number } };
      expect(s.totals.flows).toBe(fx.expected.length);
      const c = (await (await fetch(`${url}/v1/classify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([[41, -41, ...new Array(28).fill(0)]]) })).json()) as { results: unknown[] };
      expect(c.results).toHaveLength(1);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await done).toBe(0);
  }, 60_000);

  it('refuses with one line and exit 2: a missing database, a non-loopback address without --allow-remote and token, a port in use, a token on argv', async () => {
    const missing = sensor(['serve', '--db', path.join(fx.dir, 'none.db')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim().split('\n').pop()).toMatch(/^sensor: cannot open database .*none\.db read-only/);

    const remote = sensor(['serve', '--db', fx.db, '--listen', '0.0.0.0:0']);
    expect(remote.code).toBe(2);
    expect(remote.stderr).toMatch(/Refusing to serve on 0\.0\.0\.0: only loopback addresses are served by default/);

    const noToken = sensor(['serve', '--db', fx.db, '--listen', '0.0.0.0:0', '--allow-remote']);
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toMatch(/needs a bearer token/);

    const argv = sensor(['serve', '--db', fx.db, '--token', 'x'.repeat(20)]);
    expect(argv.code).toBe(2);
    expect(argv.stderr).toMatch(/token/);

    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as { port: number }).port;
    const busy = sensor(['serve', '--db', fx.db, '--listen', `127.0.0.1:${port}`]);
    taken.close();
    expect(busy.code).toBe(2);
    expect(busy.stderr).toMatch(new RegExp(`sensor: Cannot serve on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`));
  }, 60_000);

  it('sensor --pcap ... --serve serves the flows of the run, and keeps serving after it until SIGTERM', async () => {
    const db = path.join(fx.dir, 'served.db');
    const { child, url } = await serving(['--pcap', fx.pcap, '--db', db, '--serve', '127.0.0.1:0']);
    const done = exitCode(child);
    try {
      let flows = 0;
      for (let i = 0; i < 100 && flows < fx.expected.length; i++) {
        const r = await fetch(`${url}/v1/summary`);
        if (r.status === 200) flows = ((await r.json()) as { totals: { flows: number } }).totals.flows;
        if (flows < fx.expected.length) await new Promise((res) => setTimeout(res, 100));
      }
      expect(flows).toBe(fx.expected.length);
      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(metrics).toContain('sensor_api_requests_total');
    } finally {
      child.kill('SIGTERM');
    }
    expect(await done).toBe(0);
  }, 60_000);

  it('sensor report writes one self-contained HTML file', () => {
    const out = path.join(fx.dir, 'report.html');
    const r = sensor(['report', '--db', fx.db, '--out', out, '--from', '2026-11-29T12:00:00Z']);
    expect(r.code, r.stderr).toBe(0);
    // Every flow of the database is after --from (the capture starts there).
    expect(r.stderr).toMatch(new RegExp(`wrote .*report\\.html \\(\\d\\.\\d MB, ${fx.expected.length} latest flows in its table\\)`));
    const html = readFileSync(out, 'utf8');
    expect(html).toContain('id="report-data"');
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect(html).not.toMatch(/<link[^>]+stylesheet/);
    const bad = sensor(['report', '--db', fx.db, '--out', out, '--from', 'last tuesday']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--from 'last tuesday' is not a time/);
    expect(existsSync(out)).toBe(true);
  });
});
