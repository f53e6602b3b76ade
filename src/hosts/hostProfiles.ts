import { performance } from 'node:perf_hooks';

import type { ScoredFlow } from '../anomaly/scoredFlow';
import { isoMicros } from '../sink/isoTime';
import type { SqliteDatabase, SqliteStatement } from '../sink/sqliteBinding';
import { assignGroup, GROUP_FEATURES, groupVector, standardise, type GroupModel } from './behaviourGroups';
import { warmUpDistinct } from './distinct';
import { HostProfile, type ProfileRow, type ProfiledFlow } from './hostProfile';

export interface HostProfilesOptions {
  /** The sensor name rows are written under (config `sensor.name`). */
  sensor: string;
  /** Length of a profile window in seconds (config hosts.windowSeconds, default 3600). */
  windowSeconds: number;
  /** Hosts profiled per window; flows of further hosts are counted in `hosts_over_cap` (default 100,000). */
  maxHosts: number;
  /** Flows at least this long count as long-lived (default 600 s). */
  longFlowSeconds: number;
  /** A window closes when flows this far past its end were seen (default 300 s: idle timeout plus margin). */
  lateSeconds: number;
  /** Behaviour groups to assign when a window closes; null = profiles without groups. */
  groups: GroupModel | null;
  /** Open windows' profiles are written at most this often (default 10 s), so queries see the current window. */
  flushEveryMs: number;
  /** Called for each host whose group changed (the daemon logs it). */
  onEvent?: (e: HostEvent) => void;
}

export const DEFAULT_HOSTS_OPTIONS: Omit<HostProfilesOptions, 'sensor' | 'groups'> = {
  windowSeconds: 3600,
  maxHosts: 100_000,
  longFlowSeconds: 600,
  lateSeconds: 300,
  flushEveryMs: 10_000,
};

/** Windows open at once at most; an older one is closed when a flow opens one more. */
const MAX_OPEN_WINDOWS = 16;

/** A host whose behaviour group differs from the one of its previous profiled window. */
export interface HostEvent {
  ts: number;
  time: string;
  sensor: string;
  host: string;
  window_start: number;
  old_group: string;
  new_group: string;
  reason: string;
}

/** Counters of the profiler, reported in the stats line. */
export interface HostStats {
  /** Flow sides not profiled because their window already had maxHosts hosts. */
  hosts_over_cap: number;
  /** Flows that ended in a window already closed (written, but not in its profile). */
  hosts_late_flows: number;
  hosts_windows_closed: number;
  host_events: number;
}

const ROW_COLUMNS: readonly (keyof ProfileRow)[] = [
  'flows_client', 'flows_server', 'peers', 'server_ports', 'distinct_exact', 'failed_client', 'failed_server',
  'reset_flows', 'bytes_sent', 'bytes_received', 'duration_mean', 'duration_max', 'long_flows', 'label_entropy',
  'unknown_share', 'top_peer', 'top_peer_flows', 'top_peer_interval_cv', 'anomalous_flows', 'anomaly_max',
];
const ALL_COLUMNS = ['sensor', 'host', 'window_start', 'window_seconds', 'start', 'final', ...ROW_COLUMNS, 'behaviour_group', 'group_distance'];
const UPSERT_SQL =
  `INSERT INTO hosts (${ALL_COLUMNS.join(', ')}) VALUES (${ALL_COLUMNS.map(() => '?').join(', ')}) ` +
  `ON CONFLICT (sensor, host, window_start) DO UPDATE SET ${ALL_COLUMNS.slice(3).map((c) => `${c} = excluded.${c}`).join(', ')}`;

/**
 * An open window's profiles by host, and whether table `hosts` held a row of its (sensor, window) when it opened:
 * without one, a host new to the window has no earlier row to merge (Entry.base), and is not looked up (round perf33).
 * Rows of the window written since are this window's own (flush()), whose hosts are in `hosts`.
 */
class OpenWindow {
  readonly hosts = new Map<string, Entry>();
  constructor(readonly stored: boolean) {}
}

/** A profile plus what an earlier run wrote for the same host and window (a window split across two runs). */
interface Entry {
  profile: HostProfile;
  base: ProfileRow | null;
}

function merged(e: Entry): ProfileRow {
  const r = e.profile.toRow();
  const b = e.base;
  if (b === null) return r;
  const flowsNew = r.flows_client + r.flows_server;
  const flowsOld = b.flows_client + b.flows_server;
  const flows = flowsNew + flowsOld;
  const w = (x: number, y: number): number => (flows > 0 ? (x * flowsNew + y * flowsOld) / flows : 0);
  const useNew = r.top_peer_flows >= b.top_peer_flows;
  return {
    flows_client: r.flows_client + b.flows_client,
    flows_server: r.flows_server + b.flows_server,
    // Distinct sets were not kept across runs: the larger count is a lower bound.
    peers: Math.max(r.peers, b.peers),
    server_ports: Math.max(r.server_ports, b.server_ports),
    distinct_exact: 0,
    failed_client: r.failed_client + b.failed_client,
    failed_server: r.failed_server + b.failed_server,
    reset_flows: r.reset_flows + b.reset_flows,
    bytes_sent: r.bytes_sent + b.bytes_sent,
    bytes_received: r.bytes_received + b.bytes_received,
    duration_mean: w(r.duration_mean, b.duration_mean),
    duration_max: Math.max(r.duration_max, b.duration_max),
    long_flows: r.long_flows + b.long_flows,
    label_entropy: w(r.label_entropy, b.label_entropy),
    unknown_share: w(r.unknown_share, b.unknown_share),
    top_peer: useNew ? r.top_peer : b.top_peer,
    top_peer_flows: useNew ? r.top_peer_flows : b.top_peer_flows,
    top_peer_interval_cv: useNew ? r.top_peer_interval_cv : b.top_peer_interval_cv,
    anomalous_flows: r.anomalous_flows + b.anomalous_flows,
    anomaly_max: r.anomaly_max === null ? b.anomaly_max : b.anomaly_max === null ? r.anomaly_max : Math.max(r.anomaly_max, b.anomaly_max),
  };
}

/** How a group feature is shown in an event's reason: the profile value it comes from. */
function shown(f: (typeof GROUP_FEATURES)[number], r: ProfileRow): string {
  const flows = r.flows_client + r.flows_server;
  const pct = (a: number, b: number): string => `${b > 0 ? Math.round((100 * a) / b) : 0}%`;
  switch (f) {
    case 'failed_share': return pct(r.failed_client, r.flows_client);
    case 'failed_server_share': return pct(r.failed_server, r.flows_server);
    case 'long_share': return pct(r.long_flows, flows);
    case 'top_peer_share': return pct(r.top_peer_flows, r.flows_client);
    case 'anomalous_share': return pct(r.anomalous_flows, flows);
    case 'unknown_share': return `${Math.round(100 * r.unknown_share)}%`;
    case 'periodicity': return r.top_peer_interval_cv === null ? 'none' : `cv ${r.top_peer_interval_cv.toFixed(2)}`;
    case 'label_entropy': return `${r.label_entropy.toFixed(2)} bits`;
    case 'duration_mean': return `${r.duration_mean.toFixed(1)} s`;
    default: return String(Math.round(r[f]));
  }
}

/**
 * Host profiles (README "Host profiles"): every written flow updates the profile of its client (as client) and of
 * its server (as server) in the time window its last packet falls in, in memory and in constant space per host.
 * Open windows are written to table `hosts` at most every flushEveryMs; a window closes once flows lateSeconds past
 * its end arrive (or at the end of the run): its rows are written final, with their behaviour group, and a host
 * whose group differs from its previous window's gets a `host_events` row. No query scans the table: each write is
 * an upsert by (sensor, host, window_start) and the previous window is found through that unique index.
 * Interim `active` records are skipped (the flow's final record counts it once).
 */
export class HostProfiles {
  readonly stats: HostStats = { hosts_over_cap: 0, hosts_late_flows: 0, hosts_windows_closed: 0, host_events: 0 };
  private readonly windows = new Map<number, OpenWindow>();
  /** Latest flow end seen (data time): windows close relative to it. */
  private now = -Infinity;
  private lastFlush = performance.now();
  private readonly upsert: SqliteStatement<unknown[]>;
  private readonly insertEvent: SqliteStatement<unknown[]>;
  private readonly previous: SqliteStatement<[string, string, number]>;
  private readonly existing: SqliteStatement<[string, string, number]>;
  private readonly anyStored: SqliteStatement<[number, string]>;
  private readonly anyEarlier: SqliteStatement<[number, string]>;
  private readonly flushTx: (rows: { host: string; ws: number; e: Entry }[]) => void;
  private readonly closeTx: (ws: number, w: OpenWindow) => void;
  private groups: GroupModel | null;
  /** The flow being added, filled in place for each flow (HostProfile.add() keeps no reference to it). */
  private readonly scratch: ProfiledFlow = {
    client_ip: '',
    server_ip: '',
    server_port: 0,
    first_ts: 0,
    duration: 0,
    c2s_bytes: 0,
    s2c_bytes: 0,
    conn_state: '',
    label: '',
    verdict: '',
    anomaly: null,
    anomaly_score: null,
  };

  constructor(
    private readonly db: SqliteDatabase,
    private readonly o: HostProfilesOptions,
  ) {
    warmUpDistinct();
    this.groups = o.groups;
    this.upsert = db.prepare(UPSERT_SQL);
    this.insertEvent = db.prepare(
      'INSERT INTO host_events (ts, time, sensor, host, window_start, old_group, new_group, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.previous = db.prepare(
      'SELECT * FROM hosts WHERE sensor = ? AND host = ? AND window_start < ? AND behaviour_group IS NOT NULL ORDER BY window_start DESC LIMIT 1',
    );
    this.existing = db.prepare('SELECT * FROM hosts WHERE sensor = ? AND host = ? AND window_start = ?');
    // Through hosts_window_start (`+sensor`: the unique index by sensor would read every row of the sensor).
    this.anyStored = db.prepare('SELECT 1 FROM hosts WHERE window_start = ? AND +sensor = ? LIMIT 1');
    this.anyEarlier = db.prepare(
      'SELECT 1 FROM hosts WHERE window_start < ? AND +sensor = ? AND behaviour_group IS NOT NULL LIMIT 1',
    );
    // BEGIN IMMEDIATE: the flows may be written by another connection (the database thread, SqliteThreadSink), and
    // a deferred transaction that reads before it writes cannot wait for that writer (SQLITE_BUSY at once); taking
    // the write lock first waits for it under busy_timeout.
    this.flushTx = db.transaction((rows: { host: string; ws: number; e: Entry }[]) => {
      for (const { host, ws, e } of rows) this.store(host, ws, e, false, null, null);
    }).immediate;
    this.closeTx = db.transaction((ws: number, w: OpenWindow) => {
      // Whether any host has an earlier grouped window to compare with: without one, no host is looked up (round
      // perf33). The rows this close writes are of window ws, not earlier, so the answer holds for the whole close.
      const earlier = this.groups !== null && this.anyEarlier.get(ws, this.o.sensor) !== undefined;
      for (const [host, e] of w.hosts) this.finish(host, ws, e, earlier);
    }).immediate;
  }

  /** Swaps the behaviour groups (SIGHUP reload); windows closed from now on use them. */
  setGroups(groups: GroupModel | null): void {
    this.groups = groups;
  }

  write(batch: readonly ScoredFlow[]): void {
    // One call per flow: the loop alone is too short for V8 to compile on the stack while it runs (an on-stack compile
    // of the whole body besides the regular one, round perf17).
    for (let i = 0; i < batch.length; i++) this.add(batch[i]!);
    this.advance(this.now);
    if (performance.now() - this.lastFlush >= this.o.flushEveryMs) this.flush();
  }

  private add(sf: ScoredFlow): void {
    const W = this.o.windowSeconds;
    const f = sf.flow;
    if (f.end_reason === 'active') return;
    if (f.last_ts > this.now) this.now = f.last_ts;
    const ws = Math.floor(f.last_ts / W) * W;
    let w = this.windows.get(ws);
    if (w === undefined) {
      if (ws + W + this.o.lateSeconds <= this.now) {
        this.stats.hosts_late_flows++;
        return;
      }
      w = new OpenWindow(this.anyStored.get(ws, this.o.sensor) !== undefined);
      this.windows.set(ws, w);
      if (this.windows.size > MAX_OPEN_WINDOWS) this.closeWindow(Math.min(...this.windows.keys()));
    }
    const p = this.scratch;
    p.client_ip = f.client_ip;
    p.server_ip = f.server_ip;
    p.server_port = f.server_port;
    p.first_ts = f.first_ts;
    p.duration = f.duration;
    p.c2s_bytes = f.c2s_bytes;
    p.s2c_bytes = f.s2c_bytes;
    p.conn_state = f.conn_state;
    p.label = sf.verdict.label;
    p.verdict = sf.verdict.status;
    p.anomaly = sf.anomaly?.anomaly ?? null;
    p.anomaly_score = sf.anomaly?.score ?? null;
    this.entry(w, ws, f.client_ip)?.profile.add(p, true, this.o.longFlowSeconds);
    this.entry(w, ws, f.server_ip)?.profile.add(p, false, this.o.longFlowSeconds);
  }

  /** Closes the windows that ended more than lateSeconds before `now` (Unix seconds; the daemon's wall clock). */
  advance(now: number): void {
    if (now > this.now) this.now = now;
    const W = this.o.windowSeconds;
    for (const ws of [...this.windows.keys()].sort((a, b) => a - b)) {
      if (ws + W + this.o.lateSeconds <= this.now) this.closeWindow(ws);
    }
  }

  /** Writes every changed profile of the open windows. */
  flush(): void {
    this.lastFlush = performance.now();
    const rows: { host: string; ws: number; e: Entry }[] = [];
    for (const [ws, w] of this.windows) for (const [host, e] of w.hosts) if (e.profile.dirty) rows.push({ host, ws, e });
    if (rows.length > 0) this.flushTx(rows);
  }

  /** Closes every open window (end of the run). */
  close(): void {
    for (const ws of [...this.windows.keys()].sort((a, b) => a - b)) this.closeWindow(ws);
  }

  /** Hosts in the open windows (for the stats line). */
  get openHosts(): number {
    let n = 0;
    for (const w of this.windows.values()) n += w.hosts.size;
    return n;
  }

  private entry(w: OpenWindow, ws: number, host: string): Entry | null {
    const hosts = w.hosts;
    let e = hosts.get(host);
    if (e !== undefined) return e;
    if (hosts.size >= this.o.maxHosts) {
      this.stats.hosts_over_cap++;
      return null;
    }
    const prior = w.stored ? (this.existing.get(this.o.sensor, host, ws) as ProfileRow | undefined) : undefined;
    e = { profile: new HostProfile(), base: prior ?? null };
    hosts.set(host, e);
    return e;
  }

  private closeWindow(ws: number): void {
    const w = this.windows.get(ws);
    if (w === undefined) return;
    this.windows.delete(ws);
    this.closeTx(ws, w);
    this.stats.hosts_windows_closed++;
  }

  /** Writes `host`'s final row of window ws; `earlier`: some host has a grouped row of an earlier window. */
  private finish(host: string, ws: number, e: Entry, earlier: boolean): void {
    const row = merged(e);
    const g = this.groups !== null ? assignGroup(this.groups, row) : null;
    if (g !== null && earlier) {
      const prev = this.previous.get(this.o.sensor, host, ws) as (ProfileRow & { behaviour_group: string }) | undefined;
      if (prev !== undefined && prev.behaviour_group !== g.name) this.event(host, ws, prev, row, g.name);
    }
    this.store(host, ws, e, true, g?.name ?? null, g?.distance ?? null, row);
  }

  private event(host: string, ws: number, prev: ProfileRow & { behaviour_group: string }, row: ProfileRow, group: string): void {
    const m = this.groups!;
    const a = standardise(m, groupVector(prev));
    const b = standardise(m, groupVector(row));
    const moved = GROUP_FEATURES.map((f, i) => ({ f, d: Math.abs(b[i]! - a[i]!) }))
      .sort((x, y) => y.d - x.d)
      .slice(0, 3)
      .filter((x) => x.d > 0)
      .map(({ f }) => `${f} ${shown(f, prev)} -> ${shown(f, row)}`);
    const ts = ws + this.o.windowSeconds;
    const e: HostEvent = {
      ts,
      time: isoMicros(ts),
      sensor: this.o.sensor,
      host,
      window_start: ws,
      old_group: prev.behaviour_group,
      new_group: group,
      reason: moved.join(', '),
    };
    this.insertEvent.run(e.ts, e.time, e.sensor, e.host, e.window_start, e.old_group, e.new_group, e.reason);
    this.stats.host_events++;
    this.o.onEvent?.(e);
  }

  private store(host: string, ws: number, e: Entry, final: boolean, group: string | null, distance: number | null, row = merged(e)): void {
    // The parameters as run()'s arguments in ALL_COLUMNS order (test/hosts/hostProfiles.test.ts reads every column back): no
    // array per row, whose push() past the literal's length threw the optimized code away (round perf17).
    const r = row;
    this.upsert.run(
      this.o.sensor, host, ws, this.o.windowSeconds, isoMicros(ws), final ? 1 : 0,
      r.flows_client, r.flows_server, r.peers, r.server_ports, r.distinct_exact, r.failed_client, r.failed_server,
      r.reset_flows, r.bytes_sent, r.bytes_received, r.duration_mean, r.duration_max, r.long_flows, r.label_entropy,
      r.unknown_share, r.top_peer, r.top_peer_flows, r.top_peer_interval_cv, r.anomalous_flows, r.anomaly_max,
      group, distance,
    );
    e.profile.dirty = false;
  }
}
