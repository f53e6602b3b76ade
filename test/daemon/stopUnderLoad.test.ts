import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFlood } from '../helpers/floodCapture';
import { availableEngines, createWireLab, labUnavailable, WireLab } from './helpers/daemonLab';
import { Daemon, LogLine } from './helpers/daemonProcess';
import { writeReplayCapture } from '../helpers/synthCapture';

/**
 * The daemon stopped while packets pour in (issue 9):
 * - every packet the kernel accepted is accounted for: decoded, dropped by the kernel, or left unread in the
 *   capture buffer when capture closed (`packets_unread`), never silently missing;
 * - with the flow table full of a flood, SIGTERM writes every open flow (or counts it) well within the unit's stop
 *   timeout (systemd/sensor@.service TimeoutStopSec=30).
 *
 * The flood is sized for CI (--max-flows 200000); SENSOR_FLOOD_FULL=1 runs the issue's size instead: the default
 * table of 1,000,000 flows, filled by 1,100,000 SYNs (takes minutes).
 */

const exec = promisify(execFile);
const FULL = process.env.SENSOR_FLOOD_FULL === '1';
const MAX_FLOWS = FULL ? 1_000_000 : 200_000;
const FLOOD_PACKETS = Math.round(MAX_FLOWS * 1.1);
/**
 * Seconds a stop may take: the daemon gives up writing after 60 s (SHUTDOWN_DROP_AFTER_MS), and the unit's
 * TimeoutStopSec is 90; the step in flight at 60 s must end well before that.
 */
const STOP_BUDGET_S = 75;

const labReason = labUnavailable();
const tcpreplayReason = spawnSync('tcpreplay', ['--version']).status === 0 ? null : 'tcpreplay is not installed (apt-get install tcpreplay)';
const addonReason = availableEngines().includes('addon') ? null : 'the capture addon is not built (npm run build:native)';
const skipped = labReason ?? tcpreplayReason ?? addonReason;
if (skipped !== null) console.warn(`daemon stop-under-load tests skipped: ${skipped}`);

/** The fields of the final `stopped` line these tests read. */
type Stats = LogLine &
  Record<
    | 'packets_received' | 'kernel_drops' | 'packets_unread' | 'frames_decoded' | 'tcp_packets' | 'flows_created' | 'flows_unwritten'
    | 'db_rows_shed' | 'flows_unclassified_at_stop' | 'flows_shed_at_stop' | 'stop_seconds' | 'stop_cpu_seconds' | 'rss_bytes',
    number
  > & { flows_ended: Record<string, number>; anomalies: Record<string, number> };

describe.skipIf(skipped !== null)(`sensor daemon stopped under load${skipped ? ` (skipped: ${skipped})` : ''}`, () => {
  let lab: WireLab;
  let dir = '';
  const cleanup: { kill(): void }[] = [];

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'sensor-daemon-load-'));
    lab = createWireLab('l');
  });

  afterAll(() => {
    for (const c of cleanup) c.kill();
    lab?.destroy();
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('SIGTERM during a replay: packets_received = kernel_drops + packets_unread + frames_decoded', async () => {
    const file = path.join(dir, 'replay.pcap');
    writeReplayCapture(file, 600_000);
    const db = path.join(dir, 'load.db');
    const d = new Daemon(['--interface', lab.captureIf, '--db', db, '--no-classify', '--engine', 'addon']);
    cleanup.push(d);
    await d.started();
    const replay = exec('ip', ['netns', 'exec', lab.ns, 'tcpreplay', '--topspeed', '-i', lab.replayIf, file], { timeout: 120000 }).catch(() => null);
    await new Promise((r) => setTimeout(r, 700));
    const exit = await d.stop('SIGTERM', 60000);
    await replay;
    expect(exit.code, d.logText()).toBe(0);
    const final = d.messages('stopped')[0] as Stats | undefined;
    expect(final, d.logText()).toBeDefined();
    const s = final!;
    console.log(
      `stop under load: received=${s.packets_received} decoded=${s.frames_decoded} kernel_drops=${s.kernel_drops} unread=${s.packets_unread} stop ${exit.ms} ms`,
    );
    expect(s.frames_decoded).toBeGreaterThan(0);
    expect(typeof s.packets_unread).toBe('number');
    expect(s.packets_received).toBe(s.kernel_drops + s.packets_unread + s.frames_decoded);
    // Every decoded frame is a TCP segment of the replay or a named anomaly.
    const anomalies = Object.values(s.anomalies).reduce((n, v) => n + v, 0);
    expect(s.frames_decoded).toBe(s.tcp_packets + anomalies);
  }, 180000);

  // SYN flood: flows without payload (the campaign's case). Data flood (full size only): one payload packet per flow,
  // so every flow goes through the model and has a record worth keeping.
  for (const kind of FULL ? (['syn', 'data'] as const) : (['syn'] as const)) {
    it(`a ${kind === 'syn' ? 'SYN' : 'data'} flood that fills the table (${MAX_FLOWS} flows): SIGTERM writes or counts every flow within ${STOP_BUDGET_S} s`, async () => {
      const file = path.join(dir, `flood-${kind}.pcap`);
      writeFlood(file, FLOOD_PACKETS, { kind });
      const db = path.join(dir, `flood-${kind}.db`);
      const cfg = path.join(dir, 'flood.json');
      writeFileSync(cfg, JSON.stringify({ stats: { intervalSeconds: 1 }, flow: { maxFlows: MAX_FLOWS } }));
      // The bundled model, as a default install runs.
      const d = new Daemon(['--interface', lab.captureIf, '--db', db, '--config', cfg, '--engine', 'addon']);
      cleanup.push(d);
      await d.started(60000);
      await exec('ip', ['netns', 'exec', lab.ns, 'tcpreplay', '--topspeed', '-i', lab.replayIf, file], { timeout: 600000 });
      await d.packetsSettled(1, 2000, 600000);
      const exit = await d.stop('SIGTERM', FULL ? 600000 : 120000);
      const active = Number(d.messages('stopping')[0]?.flows_active ?? 0);
      expect(exit.code, d.logText()).toBe(0);
      const s = d.messages('stopped')[0] as Stats | undefined;
      expect(s, d.logText()).toBeDefined();
      const stopSeconds = s!.stop_seconds;
      const conn = new Database(db, { readonly: true });
      const rows = (conn.prepare('SELECT COUNT(*) AS n FROM flows').get() as { n: number }).n;
      const shutdownRows = (conn.prepare("SELECT COUNT(*) AS n FROM flows WHERE end_reason = 'shutdown'").get() as { n: number }).n;
      conn.close();
      console.log(
        `${kind} flood stop: flows_active=${active} created=${s!.flows_created} received=${s!.packets_received} drops=${s!.kernel_drops} ` +
          `stop ${stopSeconds} s (${s!.stop_cpu_seconds} s CPU; process ${exit.ms} ms), rows=${rows} (shutdown ${shutdownRows}), db shed=${s!.db_rows_shed}, ` +
          `shed at stop=${s!.flows_shed_at_stop}, ` +
          `unclassified at stop=${s!.flows_unclassified_at_stop}, unwritten=${s!.flows_unwritten}, rss=${Math.round(s!.rss_bytes / 1e6)} MB`,
      );
      expect(active).toBeGreaterThan(MAX_FLOWS * 0.9);
      expect(stopSeconds).toBeLessThan(STOP_BUDGET_S);
      expect(exit.ms).toBeLessThan(STOP_BUDGET_S * 1000);
      expect(s!.flows_unwritten).toBe(0);
      // Every flow the table made is in the database or counted as shed (by the database under load, or at the stop).
      expect(rows + s!.db_rows_shed + s!.flows_shed_at_stop).toBe(s!.flows_created);
      expect(s!.flows_ended['shutdown']).toBe(active);
    }, FULL ? 1_200_000 : 300_000);
  }
});
