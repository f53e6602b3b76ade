import { spawn } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { findClickHouse, query, startCluster, whyMissing, type ClickHouseCluster } from '../helpers/clickhouseServer';
import { labUnavailable, talkSuite } from './helpers/daemonLab';
import { Daemon, freePort, type LogLine, openConnections, ROOT } from './helpers/daemonProcess';
import { readFlows } from './helpers/flowsDb';

/**
 * The live daemon with a ClickHouse output: records made while ClickHouse is down wait in the spool (the stats
 * line and /metrics say so) and are sent by the running sensor when it is back; a SIGTERM while ClickHouse is
 * down spools what was in flight, and the process still exits 0 promptly.
 */
const PORT = 7003;
const MODEL = path.join(ROOT, 'test/fixtures/model/fixture.onnx');

const skipped = labUnavailable() ?? (findClickHouse() === null ? whyMissing() : null);
if (skipped !== null) console.warn(`daemon ClickHouse tests skipped: ${skipped}`);

type Ch = { spool_rows: number; sent_rows: number; retried: number; dropped_rows: number; queued_rows: number; rejected: boolean };

describe.skipIf(skipped !== null)(`sensor daemon with a ClickHouse output${skipped ? ` (skipped: ${skipped})` : ''}`, () => {
  const suite = talkSuite('ch', 'c', 3, PORT);
  let ch: ClickHouseCluster;

  beforeAll(async () => {
    ch = await startCluster({ root: path.join(suite.dir, 'ch'), shards: 1 });
  });

  // Registered after the suite's own afterAll, so it runs before the scratch directory is removed.
  afterAll(async () => {
    await ch?.stop();
  });

  it('spools while ClickHouse is down, sends when it is back, and spools what is in flight at SIGTERM', async () => {
    const url = ch.servers[0]!.url;
    const applied = await new Promise<number | null>((resolve) => {
      // The schema through the CLI, as a user would apply it.
      spawn(process.execPath, [path.join(ROOT, 'bin/sensor.js'), 'clickhouse-schema', '--apply', url], { stdio: 'ignore' }).on('exit', resolve);
    });
    expect(applied).toBe(0);
    const port = await freePort();
    const db = path.join(suite.dir, 'live.db');
    const cfg = path.join(suite.dir, 'live.json');
    writeFileSync(
      cfg,
      JSON.stringify({
        sensor: { name: 'live@bridge' },
        flow: { finGrace: 0 },
        stats: { intervalSeconds: 1, prometheusPort: port },
        output: { clickhouse: { url, batchDeadlineMs: 200 } },
      }),
    );
    await ch.servers[0]!.kill();
    const d = suite.track(new Daemon(['--interface', suite.lab.captureIf, '--db', db, '--config', cfg, '--model', MODEL]));
    await d.started();
    const chOf = (l: LogLine | undefined): Ch | undefined => l?.clickhouse as Ch | undefined;

    // 1. ClickHouse down: four finished connections go to the spool, the stats line and /metrics show it.
    (await openConnections(suite.lab.client, suite.lab.serverAddr, PORT, 4, 120, 'close')).kill();
    const spooled = await d.waitForLine((l) => l.message === 'stats' && chOf(l)?.spool_rows === 4, 30000);
    expect(spooled, d.logText()).toBeDefined();
    expect(chOf(spooled)!.retried).toBeGreaterThanOrEqual(1);
    expect(d.lines.filter((l) => String(l.message).startsWith('ClickHouse insert failed'))).toHaveLength(1);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toMatch(/^sensor_clickhouse_spool_rows 4$/m);
    expect(metrics).toMatch(/^sensor_clickhouse_sent_rows_total 0$/m);
    expect(metrics).toMatch(/^sensor_clickhouse_dropped_rows_total 0$/m);
    expect(Number(/^sensor_clickhouse_retried_total (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);

    // 2. Back: the running sensor sends the spool (the pause between attempts is at most 30 s).
    await ch.servers[0]!.start();
    const sent = await d.waitForLine((l) => l.message === 'stats' && chOf(l)?.sent_rows === 4 && chOf(l)?.spool_rows === 0, 45000);
    expect(sent, d.logText()).toBeDefined();
    expect(d.messages('ClickHouse inserts succeed again')).toHaveLength(1);
    expect((await query(url, "SELECT count() FROM sensor.flows WHERE sensor = 'live@bridge'")).trim()).toBe('4');

    // 3. Down again with three connections held open: SIGTERM flushes them (end_reason shutdown) into the spool.
    suite.track(await openConnections(suite.lab.client, suite.lab.serverAddr, PORT, 3, 121, 'hold'));
    await d.packetsSettled(4 * 10 + 3 * 6, 1500, 30000);
    await ch.servers[0]!.kill();
    const exit = await d.stop('SIGTERM');
    expect(exit.code, d.logText()).toBe(0);
    expect(exit.ms).toBeLessThan(15000);
    const final = d.messages('stopped')[0];
    expect(chOf(final), d.logText()).toMatchObject({ sent_rows: 4, spool_rows: 3, queued_rows: 0, dropped_rows: 0 });
    expect(readFlows(db)).toHaveLength(7);
    const spool = readdirSync(`${db}.clickhouse-spool`).filter((n) => n.endsWith('.rowbinary'));
    expect(spool.reduce((n, f) => n + Number(/-(\d+)\.rowbinary$/.exec(f)![1]), 0)).toBe(3);
  });
});
