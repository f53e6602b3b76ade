import { ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADDON_PATH } from '../../src/capture/liveBinding';
import { BridgeLab, createBridgeLab, netnsUnavailable, startHttpServer } from '../capture-live/helpers/netns';
import { until } from '../helpers/until';

/**
 * `sensor learn --interface` on real connections between two network namespaces this test creates: curl asks
 * Python's http.server for a page by name, and the live learner writes one row per connection, labelled with the
 * name's registrable domain.
 */
const exec = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');
const BIN = path.join(ROOT, 'bin/sensor.js');
const PORT = 8080;
const CONNECTIONS = 3;

const nsReason = netnsUnavailable();
const skipped = nsReason ?? (existsSync(ADDON_PATH) ? null : 'the capture addon is not built (npm run build:native)');

describe.skipIf(skipped !== null)(`sensor learn on a live interface${skipped !== null ? ` (skipped: ${skipped})` : ''}`, () => {
  let lab: BridgeLab;
  let server: ChildProcess | null = null;
  let dir = '';

  beforeAll(async () => {
    lab = createBridgeLab(`snsl${process.pid % 100000}`, '10.213.7');
    dir = mkdtempSync(path.join(tmpdir(), 'sensor-learn-live-'));
    writeFileSync(path.join(dir, 'index.html'), 'x'.repeat(5000));
    server = await startHttpServer(lab, PORT, dir);
  });

  afterAll(() => {
    server?.kill('SIGTERM');
    lab?.destroy();
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('labels live connections by their Host and stops at SIGTERM with every row written', async () => {
    const out = path.join(dir, 'live.csv');
    const learner = spawn(process.execPath, [BIN, 'learn', '--interface', lab.captureIf, '--filter', `tcp port ${PORT}`, '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    learner.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    await until(() => err.includes('capture started'), 20000);
    expect(err).toContain('capture started');
    expect(err).toContain('"snaplen":65535');
    for (let i = 0; i < CONNECTIONS; i++) {
      await exec('ip', ['netns', 'exec', lab.client, 'curl', '-s', '-o', '/dev/null', '--max-time', '10', '--resolve', `www.learn-live.example:${PORT}:${lab.serverAddr}`, `http://www.learn-live.example:${PORT}/index.html`]);
    }
    // The kernel hands packets over in blocks retired every capture.timeoutMs (100 ms); a stop drains what libpcap
    // can read, but not a block still open, so the last connection's packets need that long to become readable.
    await new Promise((r) => setTimeout(r, 300));
    const exited = new Promise<number | null>((resolve) => learner.on('exit', (code) => resolve(code)));
    learner.kill('SIGTERM');
    expect(await exited).toBe(0);
    const rows = readFileSync(out, 'utf8').trim().split('\n').slice(1);
    expect(rows).toHaveLength(CONNECTIONS);
    for (const r of rows) {
      const f = r.split(',');
      expect(f[0]).toBe('learn-live.example');
      expect(Number(f[1])).toBeGreaterThan(0); // the GET, client -> server
      expect(Number(f[2])).toBeLessThan(0); // the response
    }
    expect(err).toContain(`sensor learn: ${CONNECTIONS} rows from ${CONNECTIONS} flows`);
  });
});
