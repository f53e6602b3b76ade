import { ChildProcess, execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADDON_PATH } from '../../src/capture/liveBinding';
import { LiveSource } from '../../src/capture/liveSource';
import { until } from '../helpers/until';
import { BridgeLab, createBridgeLab, netnsUnavailable, startHttpServer } from './helpers/netns';
import { TcpCounter } from './helpers/tcpCounter';

/**
 * Live capture of real TCP connections between two network namespaces, with the addon engine. The
 * capture runs in this process on the root-namespace bridge port facing the client.
 */

const exec = promisify(execFile);
const HTTP_PORT = 8080;
const CONNECTIONS = 5;

const nsReason = netnsUnavailable();
const engines = (['addon'] as const).filter(() => existsSync(ADDON_PATH));
const skipped = nsReason ?? (engines.length === 0 ? 'the capture addon is not built (npm run build:native)' : null);
if (skipped !== null) console.warn(`live capture on veth skipped: ${skipped}`);

describe.skipIf(skipped !== null)(`live capture on a veth between namespaces${skipped ? ` (skipped: ${skipped})` : ''}`, () => {
  let lab: BridgeLab;
  let server: ChildProcess | null = null;
  let dir = '';

  beforeAll(async () => {
    lab = createBridgeLab();
    dir = mkdtempSync(path.join(tmpdir(), 'sensor-veth-'));
    writeFileSync(path.join(dir, 'index.html'), 'x'.repeat(20000));
    server = await startHttpServer(lab, HTTP_PORT, dir);
  });

  afterAll(() => {
    server?.kill('SIGTERM');
    lab?.destroy();
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it(`captures ${CONNECTIONS} HTTP connections with ${engines.join(' and ')}: every SYN, headers only, stats readable`, async () => {
    const sources = engines.map((engine) => ({
      engine,
      counter: new TcpCounter(HTTP_PORT),
      source: new LiveSource({ interface: lab.captureIf, engine, snaplen: 96, filter: `tcp port ${HTTP_PORT}` }),
    }));
    const t0 = Date.now() / 1000;
    for (const s of sources) s.source.start(s.counter.onFrame, (err) => { throw err; });
    // Asynchronous, so that the capture callbacks run while the connections are open (live, not replayed).
    for (let i = 0; i < CONNECTIONS; i++) {
      await exec('ip', ['netns', 'exec', lab.client, 'curl', '-s', '-o', '/dev/null', '--max-time', '10', `http://${lab.serverAddr}:${HTTP_PORT}/index.html`]);
    }
    await until(() => sources.every((s) => s.counter.synsTo >= CONNECTIONS && s.counter.fins >= 2 * CONNECTIONS));
    const t1 = Date.now() / 1000;
    for (const { engine, counter, source } of sources) {
      const stats = source.stats();
      source.stop();
      console.log(`veth ${engine}: ${JSON.stringify({ frames: counter.frames, syns: counter.synsTo, fins: counter.fins, ...stats })}`);
      expect(source.linkType).toBe(1);
      expect(counter.linkType).toBe(1);
      expect(counter.synsTo).toBe(CONNECTIONS);
      expect(counter.fins).toBeGreaterThanOrEqual(2 * CONNECTIONS);
      expect(counter.tcp).toBe(counter.frames);
      expect(counter.badLengths).toBe(0);
      // 20 kB bodies in full-size segments: the frames on the wire are larger than what is kept.
      expect(counter.maxCapLen).toBe(96);
      expect(counter.minTs).toBeGreaterThanOrEqual(Math.floor(t0));
      expect(counter.maxTs).toBeLessThanOrEqual(t1 + 1);
      expect(stats.delivered).toBe(counter.frames);
      expect(stats.batches).toBeLessThan(stats.delivered);
      expect(stats.dropped).toBe(0);
      expect(stats.received).toBe(stats.delivered);
      expect(stats.ifDropped).toBeGreaterThanOrEqual(0);
    }
  });
});
