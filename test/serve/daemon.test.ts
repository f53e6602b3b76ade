import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createTalkLab, labUnavailable, type TalkLab } from '../daemon/helpers/daemonLab';
import { Daemon, freePort, NsProcess, openConnections, ROOT, startServer } from '../daemon/helpers/daemonProcess';

/** `sensor --interface IF --serve ADDR`: the API of a live sensor, in a network namespace lab of its own. */
const PEER_PORT = 7012;
const MODEL = path.join(ROOT, 'test/fixtures/model/fixture.onnx');
const skipped = labUnavailable();
if (skipped !== null) console.warn(`live --serve test skipped: ${skipped}`);


describe.skipIf(skipped !== null)(`live sensor with --serve${skipped ? ` (skipped: ${skipped})` : ''}`, () => {
  let lab: TalkLab;
  let peer: NsProcess;
  let dir = '';
  let daemon: Daemon | null = null;

  beforeAll(async () => {
    lab = createTalkLab('w', 2);
    dir = mkdtempSync(path.join(tmpdir(), 'sensor-serve-live-'));
    peer = await startServer(lab.server, lab.serverAddr, PEER_PORT);
  });
  afterAll(() => {
    daemon?.kill();
    peer?.kill();
    lab?.destroy();
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('serves the flows it writes, its own numbers on /metrics, and classifies with the model a SIGHUP swapped in', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const db = path.join(dir, 'live.db');
    const cfg = path.join(dir, 'live.json');
    // fixture.onnx with another model_version: the reload is visible on /v1/model.
    const v2 = path.join(dir, 'fixture-v2.onnx');
    const bytes = readFileSync(MODEL);
    bytes.write('fixture-2', bytes.indexOf('fixture-1'), 'latin1');
    writeFileSync(v2, bytes);
    const config = (model: string): string => JSON.stringify({ classify: { model }, flow: { finGrace: 0 }, stats: { intervalSeconds: 1 }, serve: { listen: `127.0.0.1:${port}` } });
    writeFileSync(cfg, config(MODEL));
    daemon = new Daemon(['--interface', lab.captureIf, '--db', db, '--config', cfg]);
    await daemon.started();
    expect(daemon.messages('serving the HTTP API and web view')[0]?.url).toBe(url);

    const c = await openConnections(lab.client, lab.serverAddr, PEER_PORT, 3, 111, 'close');
    c.kill();
    let flows: { label: string; model_version: string }[] = [];
    for (let i = 0; i < 100 && flows.length < 3; i++) {
      const r = await fetch(`${url}/v1/flows?port=${PEER_PORT}`);
      if (r.status === 200) flows = ((await r.json()) as { flows: typeof flows }).flows;
      if (flows.length < 3) await new Promise((res) => setTimeout(res, 200));
    }
    expect(flows.map((f) => f.model_version)).toEqual(['fixture-1', 'fixture-1', 'fixture-1']);

    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/sensor_packets_received_total\{interface="[^"]+"\} \d+/);
    expect(metrics).toMatch(/sensor_flows_ended_total\{reason="fin"\} 3/);
    expect(metrics).toContain('sensor_api_requests_total');

    const before = (await (await fetch(`${url}/v1/model`)).json()) as { version: string };
    expect(before.version).toBe('fixture-1');
    writeFileSync(cfg, config(v2));
    daemon.proc.kill('SIGHUP');
    await daemon.waitForLine((l) => l.message === 'reloaded', 30000);
    const after = (await (await fetch(`${url}/v1/model`)).json()) as { version: string };
    expect(after.version).toBe('fixture-2');
    const classified = (await (
      await fetch(`${url}/v1/classify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([new Array(30).fill(1448)]) })
    ).json()) as { model_version: string };
    expect(classified.model_version).toBe('fixture-2');

    const exit = await daemon.stop('SIGTERM');
    expect(exit.code).toBe(0);
    await expect(fetch(`${url}/v1/model`)).rejects.toThrow();
  }, 120_000);
});
