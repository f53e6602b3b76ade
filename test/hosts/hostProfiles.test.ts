import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';

import { AnomalyScore, type ScoredFlow } from '../../src/anomaly/scoredFlow';
import { Verdict } from '../../src/classify/verdict';
import { HostProfile, type ProfileRow } from '../../src/hosts/hostProfile';
import { HostProfiles, type HostEvent, type HostProfilesOptions } from '../../src/hosts/hostProfiles';
import { SqliteSink } from '../../src/sink/sqliteSink';
import { makeFlow } from '../classify/makeFlow';
import { scannerGroups } from '../helpers/hostGroups';

const tmp = mkdtempSync(path.join(tmpdir(), 'hosts-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const open: SqliteSink[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

function db(): SqliteSink {
  const s = new SqliteSink(path.join(tmp, `h${n++}.db`));
  open.push(s);
  return s;
}

const W = 300;
const T0 = 1_700_000_100; // inside the window [1699999800, 1700000100 + ...): window starts are multiples of W
const WS = Math.floor(T0 / W) * W;

function sf(o: Record<string, unknown>, score = 0.1, flagged = false): ScoredFlow {
  const f = makeFlow([517, -1448], { first_ts: T0, last_ts: T0 + 1, ...o });
  return { flow: f, verdict: new Verdict('tls', 0.99, [], 'm', 'classified'), anomaly: new AnomalyScore(score, flagged, 0.01) };
}

function profiles(s: SqliteSink, o: Partial<HostProfilesOptions> = {}): HostProfiles {
  return new HostProfiles(s.db, { sensor: 'tap', windowSeconds: W, maxHosts: 1000, longFlowSeconds: 600, lateSeconds: 60, groups: null, flushEveryMs: 0, ...o });
}

function rows(s: SqliteSink): (ProfileRow & Record<string, unknown>)[] {
  return s.db.prepare('SELECT * FROM hosts ORDER BY window_start, host').all() as (ProfileRow & Record<string, unknown>)[];
}

const groups = scannerGroups;

describe('HostProfiles', () => {
  it('keeps one row per host and window, for the client and the server of each flow, written as flows come', () => {
    const s = db();
    const h = profiles(s);
    h.write([sf({}), sf({ server_port: 22, conn_state: 'REJ' }, 9, true), sf({ client_ip: '192.0.2.11' })]);
    let r = rows(s);
    expect(r.map((x) => [x.host, x.flows_client, x.flows_server, x.final])).toEqual([
      ['192.0.2.10', 2, 0, 0],
      ['192.0.2.11', 1, 0, 0],
      ['198.51.100.7', 0, 3, 0],
    ]);
    expect(r[0]).toMatchObject({ sensor: 'tap', window_start: WS, window_seconds: W, server_ports: 2, failed_client: 1, anomalous_flows: 1, anomaly_max: 9, behaviour_group: null });
    expect(r[2]).toMatchObject({ peers: 2, failed_server: 1 });
    h.close();
    r = rows(s);
    expect(r.every((x) => x.final === 1)).toBe(true);
    expect(r[0]!.start).toBe(new Date(WS * 1000).toISOString().replace('.000Z', '.000000Z'));
  });

  it('writes every column of a profile in its place (the row as HostProfile.toRow() makes it)', () => {
    const s = db();
    const h = profiles(s);
    const batch = [
      sf({}, 0.25),
      sf({ server_port: 22, conn_state: 'REJ', first_ts: T0 + 2, last_ts: T0 + 9, c2s_bytes: 700, s2c_bytes: 90 }, 9, true),
      sf({ server_ip: '198.51.100.8', first_ts: T0 + 5, last_ts: T0 + 5.5, conn_state: 'RSTO' }, 3.5),
      sf({ server_ip: '198.51.100.8', first_ts: T0 + 11, last_ts: T0 + 12, c2s_bytes: 5, s2c_bytes: 123456 }, 0.5),
    ];
    h.write(batch);
    h.close();
    const p = new HostProfile();
    for (const x of batch) {
      const f = x.flow;
      p.add(
        {
          client_ip: f.client_ip, server_ip: f.server_ip, server_port: f.server_port, first_ts: f.first_ts, duration: f.duration,
          c2s_bytes: f.c2s_bytes, s2c_bytes: f.s2c_bytes, conn_state: f.conn_state, label: x.verdict.label, verdict: x.verdict.status,
          anomaly: x.anomaly!.anomaly, anomaly_score: x.anomaly!.score,
        },
        true,
        600,
      );
    }
    const want = p.toRow();
    const got = rows(s).find((r) => r.host === '192.0.2.10')!;
    expect(Object.keys(want).length).toBe(20);
    for (const [k, v] of Object.entries(want)) expect([k, got[k]]).toEqual([k, v]);
    expect([got.window_start, got.window_seconds, got.final, got.behaviour_group, got.group_distance]).toEqual([WS, W, 1, null, null]);
  });

  it('closes a window when flows lateSeconds past its end arrive, and counts later flows of it as late', () => {
    const s = db();
    const h = profiles(s);
    h.write([sf({})]);
    h.write([sf({ first_ts: WS + W + 70, last_ts: WS + W + 70 })]);
    expect(rows(s).map((x) => [x.window_start, x.final])).toEqual([[WS, 1], [WS, 1], [WS + W, 0], [WS + W, 0]]);
    h.write([sf({ client_ip: '192.0.2.99' })]);
    expect(h.stats.hosts_late_flows).toBe(1);
    expect(h.stats.hosts_windows_closed).toBe(1);
    // advance() closes on the wall clock too (a quiet network).
    h.advance(WS + 2 * W + 61);
    expect(rows(s).every((x) => x.final === 1)).toBe(true);
  });

  it('profiles at most maxHosts hosts per window and counts the flow sides it leaves out', () => {
    const s = db();
    const h = profiles(s, { maxHosts: 2 });
    h.write([sf({}), sf({ client_ip: '192.0.2.11' }), sf({ client_ip: '192.0.2.12' })]);
    expect(rows(s).map((x) => x.host)).toEqual(['192.0.2.10', '198.51.100.7']);
    expect(h.stats.hosts_over_cap).toBe(2);
  });

  it('skips interim active records (the final record counts the flow once)', () => {
    const s = db();
    const h = profiles(s);
    h.write([sf({ end_reason: 'active' }), sf({})]);
    expect(rows(s)[0]!.flows_client).toBe(1);
  });

  it('assigns behaviour groups when a window closes, and records a host whose group changed, with why', () => {
    const s = db();
    const events: HostEvent[] = [];
    const h = profiles(s, { groups: groups(), onEvent: (e) => events.push(e) });
    const normal: ScoredFlow[] = [];
    for (let i = 0; i < 20; i++) normal.push(sf({ server_ip: `198.51.100.${i % 3}`, server_port: i % 2 ? 443 : 80, first_ts: T0 + i, last_ts: T0 + i + 2, s2c_bytes: 30_000 }));
    h.write(normal);
    const scan: ScoredFlow[] = [];
    for (let p = 1; p <= 500; p++) scan.push(sf({ server_port: p, conn_state: 'REJ', first_ts: WS + W + 10, last_ts: WS + W + 10, c2s_bytes: 60, s2c_bytes: 40 }, 20, true));
    h.write(scan);
    h.close();
    const client = rows(s).filter((x) => x.host === '192.0.2.10');
    expect(client.map((x) => x.behaviour_group)).toEqual([expect.not.stringMatching(/scanner/), expect.stringMatching(/^scanner-like/)]);
    expect(client.every((x) => typeof x.group_distance === 'number')).toBe(true);
    const stored = s.db.prepare('SELECT * FROM host_events').all() as HostEvent[];
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ host: '192.0.2.10', window_start: WS + W, ts: WS + 2 * W, sensor: 'tap', old_group: client[0]!.behaviour_group, new_group: client[1]!.behaviour_group });
    // The three group features that moved furthest (in the groups' standardised units), old -> new.
    expect(stored[0]!.reason).toMatch(/^\w+ [^,]+ -> [^,]+, \w+ [^,]+ -> [^,]+, \w+ [^,]+ -> [^,]+$/);
    expect(stored[0]!.reason).toContain('anomalous_share 0% -> 100%');
    expect(events).toEqual([expect.objectContaining({ host: '192.0.2.10', reason: stored[0]!.reason })]);
    expect(h.stats.host_events).toBe(1);
  });

  it('adds to what an earlier run wrote for the same window instead of replacing it', () => {
    const s = db();
    const first = profiles(s);
    first.write([sf({}), sf({ server_port: 22 })]);
    first.close();
    const second = profiles(s);
    second.write([sf({ server_port: 25, s2c_bytes: 1 })]);
    second.close();
    const r = rows(s).find((x) => x.host === '192.0.2.10')!;
    expect(r).toMatchObject({ flows_client: 3, server_ports: 2, distinct_exact: 0, final: 1 });
  });

  it('reads and writes through the unique index: no statement scans the table', () => {
    const s = db();
    profiles(s);
    const plans = [
      'SELECT * FROM hosts WHERE sensor = ? AND host = ? AND window_start < ? AND behaviour_group IS NOT NULL ORDER BY window_start DESC LIMIT 1',
      'SELECT * FROM hosts WHERE sensor = ? AND host = ? AND window_start = ?',
    ].map((q) => (s.db.prepare(`EXPLAIN QUERY PLAN ${q}`).all('a', 'b', 1) as { detail: string }[]).map((p) => p.detail).join('; '));
    for (const p of plans) {
      expect(p).toMatch(/SEARCH hosts USING INDEX sqlite_autoindex_hosts_1/);
      expect(p).not.toMatch(/SCAN hosts/);
    }
    // Whether a window has rows, or an earlier grouped one exists (round perf33): by window_start, not by sensor.
    const windowPlans = [
      'SELECT 1 FROM hosts WHERE window_start = ? AND +sensor = ? LIMIT 1',
      'SELECT 1 FROM hosts WHERE window_start < ? AND +sensor = ? AND behaviour_group IS NOT NULL LIMIT 1',
    ].map((q) => (s.db.prepare(`EXPLAIN QUERY PLAN ${q}`).all(1, 'a') as { detail: string }[]).map((p) => p.detail).join('; '));
    for (const p of windowPlans) expect(p).toMatch(/^SEARCH hosts USING INDEX hosts_window_start \(window_start[=<]\?\)$/);
  });

  it('compares with the previous window that an earlier run wrote, and looks up no host where no run wrote one', () => {
    const s = db();
    const first = profiles(s, { groups: groups() });
    const normal: ScoredFlow[] = [];
    for (let i = 0; i < 20; i++) normal.push(sf({ server_ip: `198.51.100.${i % 3}`, server_port: i % 2 ? 443 : 80, first_ts: T0 + i, last_ts: T0 + i + 2, s2c_bytes: 30_000 }));
    first.write(normal);
    first.close();
    expect(s.db.prepare('SELECT count(*) AS n FROM host_events').get()).toEqual({ n: 0 });
    const events: HostEvent[] = [];
    const second = profiles(s, { groups: groups(), onEvent: (e) => events.push(e) });
    const scan: ScoredFlow[] = [];
    for (let p = 1; p <= 500; p++) scan.push(sf({ server_port: p, conn_state: 'REJ', first_ts: WS + W + 10, last_ts: WS + W + 10, c2s_bytes: 60, s2c_bytes: 40 }, 20, true));
    second.write(scan);
    second.close();
    expect(events).toEqual([expect.objectContaining({ host: '192.0.2.10', window_start: WS + W, new_group: expect.stringMatching(/^scanner-like/) })]);
    expect(s.db.prepare('SELECT count(*) AS n FROM host_events').get()).toEqual({ n: 1 });
  });
});
