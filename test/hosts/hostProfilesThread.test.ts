import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';

import { AnomalyScore, type ScoredFlow } from '../../src/anomaly/scoredFlow';
import { Verdict } from '../../src/classify/verdict';
import { HostProfiles, type HostEvent, type HostProfilesOptions } from '../../src/hosts/hostProfiles';
import { SqliteSink } from '../../src/sink/sqliteSink';
import { SqliteThreadSink } from '../../src/sink/sqliteThreadSink';
import { makeFlow } from '../classify/makeFlow';
import { scannerGroups } from '../helpers/hostGroups';

const tmp = mkdtempSync(path.join(tmpdir(), 'hosts-thread-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const W = 300;
const T0 = 1_700_000_100;

const groups = scannerGroups;

/** Three windows of traffic: clients that behave normally, then one of them scans, plus late and active records. */
function batches(): ScoredFlow[][] {
  const out: ScoredFlow[][] = [];
  for (let w = 0; w < 3; w++) {
    const batch: ScoredFlow[] = [];
    const tls = new Verdict('tls', 0.9, [], 'm', 'classified');
    // 192.0.2.10 is a normal client in the first window and scans in the second: a host_events row.
    if (w === 0) {
      for (let i = 0; i < 20; i++) {
        const f = makeFlow([517, -1448], { client_ip: '192.0.2.10', server_ip: `198.51.100.${i % 3}`, server_port: i % 2 ? 443 : 80, first_ts: T0 + i, last_ts: T0 + i + 2, s2c_bytes: 30_000 });
        batch.push({ flow: f, verdict: tls, anomaly: new AnomalyScore(0.1, false, 0.01) });
      }
    }
    if (w === 1) {
      for (let p = 1; p <= 500; p++) {
        const f = makeFlow([], { client_ip: '192.0.2.10', server_port: p, conn_state: 'REJ', first_ts: T0 + W + 10, last_ts: T0 + W + 10, c2s_bytes: 60, s2c_bytes: 40 });
        batch.push({ flow: f, verdict: tls, anomaly: new AnomalyScore(20, true, 0.01) });
      }
    }
    for (let i = 0; i < 400; i++) {
      const t = T0 + w * W + (i * W) / 400;
      const scanning = w === 1 && i % 2 === 0;
      const f = makeFlow(scanning ? [] : [517, -1448 - (i % 5)], {
        first_ts: t,
        last_ts: t + 1 + (i % 3),
        client_ip: `192.0.2.${i % 9}`,
        server_ip: `198.51.100.${i % 4}`,
        server_port: scanning ? 1000 + i : 443,
        conn_state: scanning ? 'REJ' : 'SF',
        end_reason: i === 7 ? 'active' : 'fin',
      });
      const label = i % 10 === 0 ? 'unknown' : 'tls';
      batch.push({ flow: f, verdict: new Verdict(label, 0.9, [], 'm', label === 'unknown' ? 'unknown' : 'classified'), anomaly: new AnomalyScore(scanning ? 8 : 0.1, scanning, 0.01) });
    }
    // A record whose window has long closed (counted as late) once the third window is under way.
    if (w === 2) batch.push({ flow: makeFlow([1], { first_ts: T0 - 5 * W, last_ts: T0 - 5 * W }), verdict: new Verdict('tls', 0.9, [], 'm', 'classified'), anomaly: null });
    out.push(batch);
  }
  return out;
}

function tables(file: string): { hosts: unknown[]; events: unknown[] } {
  const db = new Database(file, { readonly: true });
  try {
    return {
      hosts: db.prepare('SELECT * FROM hosts ORDER BY window_start, host').all(),
      events: db.prepare('SELECT * FROM host_events ORDER BY ts, host').all(),
    };
  } finally {
    db.close();
  }
}

describe('host profiles kept by the database thread', () => {
  it('write the same hosts and host_events rows, events and counters as HostProfiles on the capture thread', async () => {
    const g = groups();
    const opts = (onEvent: (e: HostEvent) => void): HostProfilesOptions => ({
      sensor: 'tap', windowSeconds: W, maxHosts: 6, longFlowSeconds: 2, lateSeconds: 60, groups: g, flushEveryMs: 0, onEvent,
    });
    const data = batches();

    const inlineFile = path.join(tmp, 'inline.db');
    const inlineEvents: HostEvent[] = [];
    const sink = new SqliteSink(inlineFile, { groupMs: 250, deferIndexes: true });
    const inline = new HostProfiles(sink.db, opts((e) => inlineEvents.push(e)));
    for (const b of data) {
      inline.write(b);
      sink.write(b);
    }
    inline.close();
    sink.close();

    const threadFile = path.join(tmp, 'thread.db');
    const threadEvents: HostEvent[] = [];
    const ts = await SqliteThreadSink.open(threadFile, { groupMs: 250, deferIndexes: true }, opts((e) => threadEvents.push(e)));
    const view = ts.hosts!;
    expect(view).not.toBeNull();
    for (const b of data) {
      view.write(b);
      ts.write(b);
    }
    view.close();
    await ts.close();

    const a = tables(inlineFile);
    const b = tables(threadFile);
    expect(a.hosts.length).toBeGreaterThan(0);
    expect(b.hosts).toEqual(a.hosts);
    expect(b.events).toEqual(a.events);
    expect(a.events.length).toBeGreaterThan(0);
    expect(threadEvents).toEqual(inlineEvents);
    expect(view.stats).toEqual(inline.stats);
    // Over the cap of 6 hosts per window, and the late record: the counters that say so came back.
    expect(view.stats.hosts_over_cap).toBeGreaterThan(0);
    expect(view.stats.hosts_late_flows).toBe(1);
  });

  it('advance() and setGroups() reach the thread: a window closes on the wall clock and is written final', async () => {
    const file = path.join(tmp, 'advance.db');
    const ts = await SqliteThreadSink.open(file, { groupMs: 0 }, {
      sensor: 'tap', windowSeconds: W, maxHosts: 100, longFlowSeconds: 600, lateSeconds: 60, groups: null, flushEveryMs: 0,
    });
    const view = ts.hosts!;
    ts.write(batches()[0]!.slice(0, 20));
    view.setGroups(groups());
    view.advance(T0 + 10 * W);
    await ts.drained();
    await ts.close();
    const { hosts } = tables(file);
    expect(hosts.length).toBeGreaterThan(0);
    expect(hosts.every((r) => (r as { final: number }).final === 1 && (r as { behaviour_group: string | null }).behaviour_group !== null)).toBe(true);
    expect(view.stats.hosts_windows_closed).toBe(1);
  });
});
