import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { ConfigError } from '../config/config';
import { SinkError } from '../sink/sinkError';
import { openReadOnly } from '../sink/sqliteBinding';
import { loadAnomalyModelInfo } from './anomalyModel';
import { CONTEXT_COUNTERS } from './context';
import { ContextWindow, DEFAULT_HOLD_SECONDS, MAX_HELD } from './contextWindow';
import { defaultCounters, FeatureExtractor, serverPortCounters, type FeatureSource } from './features';
import type { SetMethod } from './setMethods';

/** The fitting script, shipped with the package (models/anomaly/fit.py). */
export const FIT_SCRIPT = path.resolve(__dirname, '..', '..', 'models', 'anomaly', 'fit.py');
/** Rows exported per write: bounds the buffer whatever the database size. */
const CHUNK_ROWS = 4096;
/** A server port gets an indicator counter (features.ts serverPortCounters()) when this many fitting flows went to it. */
export const PORT_COUNTER_MIN_FLOWS = 100;
/** At most this many server port indicators, the ports with most flows first. */
export const MAX_PORT_COUNTERS = 40;

export interface AnomalyFitOptions {
  db: string;
  out: string;
  /** Default false-positive rate of the new model. */
  fpr: number;
  /** Only flows whose first packet is at or after this Unix time (null = all). */
  since: number | null;
  until: number | null;
  sequenceLength: number;
  seed: number;
  epochs: number | null;
  python: string;
  /** fit.py writes its figures (calibration, thresholds) here as JSON; null = nowhere. */
  report: string | null;
  /**
   * fit.py writes the graph as fitted here too, before streamline.py's rewrite (which `out` gets where it applies); null
   * = nowhere.
   */
  plainOut?: string | null;
  /** Seconds each flow waits for its context (contextWindow.ts; the model's `anomaly_context_hold`). */
  hold: number;
  /** Seconds a flow that repeated an exchange waits instead (contextWindow.ts; `anomaly_context_retry_hold`); 0 = none. */
  retryHold?: number;
  /**
   * Other databases of normal traffic, not fitted on: all their finished flows (within since/until) join the
   * calibration flows that set the thresholds (models/ANOMALY.md "Calibration"); [] = none.
   */
  calibrationDbs?: readonly string[];
  /**
   * Context error up to this quantile of the normal flows' (out-of-bag) counts as none (fit.py --context-floor-quantile;
   * 0 or absent = no floor, as the bundled model).
   */
  contextFloor?: number;
  /**
   * Floor of the standard deviations the features are standardised with (fit.py --std-floor; absent = fit.py's 0.05): a
   * feature that hardly moved in the fitting flows (a connection state few runs had) weighs less when it does.
   */
  stdFloor?: number | null;
  /**
   * Share of the fitting flows added again with run-level conditions varied: duration scaled, the closing connection
   * state drawn at random (fit.py --augment; 0 or absent = none; models/ANOMALY.md "Round anomaly9").
   */
  augment?: number;
  /** One threshold for every flow instead of per-port thresholds above the global one (fit.py --no-port-thresholds). */
  oneThreshold?: boolean;
  /**
   * One threshold with every set of calibration flows weighing the same (this database's held-out captures one set,
   * each of `calibrationDbs` another) and every capture file or hour within a set the same (fit.py --balance-sets).
   */
  balanceSets?: boolean;
  /**
   * With `balanceSets`: how the sets' flagged shares meet the rate (fit.py --set-method): 'balanced' (their mean; the
   * default), 'median' (the median set's), 'geometric' (their geometric mean), 'extremes' (lowest and highest centred).
   */
  setMethod?: SetMethod;
  /**
   * Shift each server port's scores inside the model so that its quantile `portShift` of the calibration scores meets
   * the global one, shrunk toward it by the port's groups (fit.py --port-shift; null or absent = no shift).
   */
  portShift?: number | null;
  /** Where fit.py's progress goes. */
  log: (line: string) => void;
}

type Row = Omit<FeatureSource, 'lengths'> & { id: number; pcap_filename: string | null; last_ts: number; lengths: string };
type Source = Omit<Row, 'lengths'> & { lengths: number[] };

/** What exportFeatures() wrote. */
export interface ExportedFeatures {
  rows: number;
  width: number;
  /** One line per row when asked for: id, client_ip, server_ip, server_port, pcap_filename (tab-separated). */
  withRows: boolean;
  /** The counters of each row, in order. */
  counters: string[];
}

/** Seconds of traffic per calibration group where flows carry no capture file name (live capture). */
const GROUP_SECONDS = 3600;

/**
 * The calibration group of a flow: its capture file (one lab run, one capture) or, for live capture, the hour it
 * started in. fit.py keeps whole groups out of fitting to set the thresholds: flows of one capture or hour are alike,
 * so a threshold set on flows whose neighbours were fitted on would flag fewer new flows than it states.
 */
function groupOf(pcap: string | null, firstTs: number): string {
  return pcap !== null && pcap !== '' ? `f:${pcap}` : `h:${Math.floor(firstTs / GROUP_SECONDS)}`;
}

/**
 * Writes the feature rows of a database's finished flows to `dir`: features.f32 (float32 rows, little endian),
 * groups.i32 (each row's calibration group, groupOf(), int32 little endian), ports.i32 (each row's server port, for
 * fit.py's per-port thresholds), features.json (rows, width, sequence_length, counters, groups, training_data) and,
 * with `withRows`, rows.tsv (which flow each row is). The counters are `o.counters`, or defaultCounters() with an
 * indicator for each server port of at least PORT_COUNTER_MIN_FLOWS of the flows (at most MAX_PORT_COUNTERS). Rows
 * are made by the sensor's own extractor and context (features.ts, context.ts), records taken in write order as the
 * sensor scores them; interim `active` records go through the context but get no row.
 */
export function exportFeatures(
  dbPath: string,
  dir: string,
  o: { sequenceLength: number; since: number | null; until: number | null; withRows: boolean; counters?: readonly string[]; hold?: number; retryHold?: number },
): ExportedFeatures {
  const db = openReadOnly(dbPath);
  let rows = 0;
  try {
    const where: string[] = ['1'];
    const params: number[] = [];
    if (o.since !== null) {
      where.push('first_ts >= ?');
      params.push(o.since);
    }
    if (o.until !== null) {
      where.push('first_ts < ?');
      params.push(o.until);
    }
    let stmt;
    let counters: string[];
    try {
      if (o.counters !== undefined) counters = [...o.counters];
      else {
        const byPort = new Map<number, number>();
        const q = db.prepare<number[], { p: number; n: number }>(
          `SELECT server_port AS p, count(*) AS n FROM flows WHERE ${where.join(' AND ')} AND end_reason != 'active' GROUP BY server_port`,
        );
        for (const r of q.iterate(...params)) byPort.set(r.p, r.n);
        counters = defaultCounters(serverPortCounters(byPort, PORT_COUNTER_MIN_FLOWS, MAX_PORT_COUNTERS));
      }
      stmt = db.prepare<number[], Row>(
        'SELECT id, pcap_filename, client_ip, server_ip, server_port, first_ts, duration, c2s_packets, s2c_packets, c2s_bytes, ' +
          's2c_bytes, c2s_payload_bytes, s2c_payload_bytes, payload_packets, retrans_skipped, midstream, conn_state, history, end_reason, last_ts, ' +
          `lengths FROM flows WHERE ${where.join(' AND ')} ORDER BY id`,
      );
    } catch (e) {
      throw new SinkError(`database ${dbPath} has no sensor flows table (${(e as Error).message})`);
    }
    const fx = new FeatureExtractor(o.sequenceLength, counters);
    const fd = openSync(path.join(dir, 'features.f32'), 'w');
    const gd = openSync(path.join(dir, 'groups.i32'), 'w');
    const pd = openSync(path.join(dir, 'ports.i32'), 'w');
    const ids = o.withRows ? openSync(path.join(dir, 'rows.tsv'), 'w') : -1;
    const buf = new Float32Array(CHUNK_ROWS * fx.width);
    const groupBuf = new Int32Array(CHUNK_ROWS);
    const portBuf = new Int32Array(CHUNK_ROWS);
    const groupIds = new Map<string, number>();
    const hold = o.hold ?? DEFAULT_HOLD_SECONDS;
    const retryHold = o.retryHold ?? 0;
    const window = new ContextWindow<Source>(hold, MAX_HELD, undefined, retryHold);
    const ctx = new Float64Array(CONTEXT_COUNTERS.length);
    let inBuf = 0;
    let lines = '';
    const flush = (): void => {
      if (inBuf > 0) {
        writeSync(fd, new Uint8Array(buf.buffer, 0, inBuf * fx.width * 4));
        writeSync(gd, new Uint8Array(groupBuf.buffer, 0, inBuf * 4));
        writeSync(pd, new Uint8Array(portBuf.buffer, 0, inBuf * 4));
      }
      if (ids >= 0 && lines !== '') writeSync(ids, lines);
      inBuf = 0;
      lines = '';
    };
    const emit = (f: Source): void => {
      if (f.end_reason === 'active') return;
      fx.fill(f, ctx, buf, inBuf * fx.width);
      const g = groupOf(f.pcap_filename, f.first_ts);
      let gi = groupIds.get(g);
      if (gi === undefined) {
        gi = groupIds.size;
        groupIds.set(g, gi);
      }
      groupBuf[inBuf] = gi;
      portBuf[inBuf] = f.server_port;
      if (ids >= 0) lines += `${f.id}\t${f.client_ip}\t${f.server_ip}\t${f.server_port}\t${f.pcap_filename ?? ''}\n`;
      rows++;
      if (++inBuf === CHUNK_ROWS) flush();
    };
    const release = (all: boolean): void => {
      for (let f = window.next(ctx, all); f !== undefined; f = window.next(ctx, all)) emit(f);
    };
    let file: string | null = null;
    try {
      for (const r of stmt.iterate(...params)) {
        let lengths: number[];
        try {
          lengths = JSON.parse(r.lengths) as number[];
        } catch {
          continue;
        }
        // The sensor releases every held flow at the end of each capture file (Pipeline.flush('eof')).
        const pcap = r.pcap_filename ?? '';
        if (file !== null && pcap !== file) {
          release(true);
          window.endOfInput();
        }
        file = pcap;
        const f: Source = { ...r, lengths };
        window.add(f, f);
        release(false);
      }
      release(true);
      flush();
    } finally {
      closeSync(fd);
      closeSync(gd);
      closeSync(pd);
      if (ids >= 0) closeSync(ids);
    }
    const span = o.since !== null || o.until !== null ? ` (first_ts ${o.since ?? '-inf'} to ${o.until ?? 'now'})` : '';
    writeFileSync(
      path.join(dir, 'features.json'),
      JSON.stringify({
        rows,
        width: fx.width,
        sequence_length: o.sequenceLength,
        counters,
        context_hold: hold,
        context_retry_hold: retryHold,
        groups: groupIds.size,
        training_data: `${rows} finished flows of ${path.basename(dbPath)}${span}`,
      }),
    );
    return { rows, width: fx.width, withRows: o.withRows, counters };
  } finally {
    db.close();
  }
}

/**
 * `sensor anomaly-fit`: reads the finished flows of a database through the sensor's own feature extractor (the
 * rows a model sees when it scores), hands them to models/anomaly/fit.py (Python 3 with torch and onnx, as the
 * classifier's training uses), which writes the graph rewritten for speed with bit-identical scores (streamline.py; the
 * graph as fitted, with one log line, where the rewrite does not apply), and checks the model it writes against the
 * contract. Returns the number of flows
 * it was fitted on.
 */
export async function anomalyFit(o: AnomalyFitOptions): Promise<{ flows: number; version: string; thresholds: { fpr: number; threshold: number }[] }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sensor-anomaly-fit-'));
  let rows: number;
  try {
    const main = exportFeatures(o.db, dir, { sequenceLength: o.sequenceLength, since: o.since, until: o.until, withRows: false, hold: o.hold, retryHold: o.retryHold ?? 0 });
    rows = main.rows;
    if (rows < 200) throw new ConfigError(`database ${o.db} has ${rows} finished flows; an anomaly model needs at least 200`);
    const args = [FIT_SCRIPT, '--features', dir, '--out', o.out, '--fpr', String(o.fpr), '--seed', String(o.seed)];
    (o.calibrationDbs ?? []).forEach((db, i) => {
      // The same counters as the fitting rows (the server port indicators come from the fitting database).
      const sub = path.join(dir, `calibration-${i}`);
      mkdirSync(sub);
      const n = exportFeatures(db, sub, { sequenceLength: o.sequenceLength, since: o.since, until: o.until, withRows: false, hold: o.hold, retryHold: o.retryHold ?? 0, counters: main.counters }).rows;
      if (n === 0) throw new ConfigError(`calibration database ${db} has no finished flows`);
      args.push('--calibration-features', sub);
    });
    if (o.epochs !== null) args.push('--epochs', String(o.epochs));
    if (o.contextFloor !== undefined && o.contextFloor > 0) args.push('--context-floor-quantile', String(o.contextFloor));
    if (o.stdFloor !== undefined && o.stdFloor !== null) args.push('--std-floor', String(o.stdFloor));
    if (o.augment !== undefined && o.augment > 0) args.push('--augment', String(o.augment));
    if (o.oneThreshold === true) args.push('--no-port-thresholds');
    if (o.balanceSets === true) args.push('--balance-sets');
    if (o.balanceSets === true && o.setMethod !== undefined) args.push('--set-method', o.setMethod);
    if (o.portShift !== undefined && o.portShift !== null) args.push('--port-shift', String(o.portShift));
    if (o.report !== null) args.push('--report', o.report);
    if (o.plainOut !== undefined && o.plainOut !== null) args.push('--plain-out', o.plainOut);
    await runPython(o.python, args, o.log);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const info = await loadAnomalyModelInfo(o.out);
  return { flows: rows, version: info.version, thresholds: info.thresholds };
}

function runPython(python: string, args: string[], log: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const onData = (d: Buffer): void => {
      const text = d.toString('utf8');
      tail = (tail + text).slice(-2000);
      for (const line of text.split('\n')) if (line.trim() !== '') log(line);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (e) =>
      reject(new ConfigError(`cannot run ${python} (${e.message}): anomaly-fit needs Python 3 with torch and onnx (Debian: apt-get install python3-torch python3-onnx)`)),
    );
    child.on('close', (code) => {
      if (code === 0) return resolve();
      const last = tail.trim().split('\n').pop() ?? '';
      const hint = /No module named '(torch|onnx|numpy)'/.test(tail) ? ' (Debian: apt-get install python3-torch python3-onnx)' : '';
      reject(new ConfigError(`models/anomaly/fit.py failed (exit ${code}): ${last}${hint}`));
    });
  });
}
