import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadAnomalyModelInfo } from '../../src/anomaly/anomalyModel';
import { exportFeatures } from '../../src/anomaly/fitCommand';
import { readMetadataProps } from '../../src/classify/onnxMetadata';
import { loadGroupModel } from '../../src/hosts/behaviourGroups';
import { readWhoIsTalkingCsv } from '../../src/sink/readWhoIsTalkingCsv';
import { ACK, pcapBytes, RST, session, SYN, tcpFrame } from '../helpers/frames';
import { expectSameScores } from '../helpers/sameScores';

const ROOT = path.resolve(__dirname, '../..');
const BIN = path.join(ROOT, 'bin/sensor.js');
const PYTHON = '/usr/bin/python3';

function sensor(args: string[], timeout = 120_000): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: ROOT, timeout });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** The README's SQL statement that follows the comment line `-- ${title}` (one line). */
function readmeQuery(title: string): string {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf(`-- ${title}\n`);
  if (at < 0) throw new Error(`README has no query "-- ${title}"`);
  return readme.slice(at).split('\n')[1]!;
}

function pythonMissing(): string | null {
  const r = spawnSync(PYTHON, ['-c', 'import torch, onnx, numpy'], { encoding: 'utf8' });
  if (r.error !== undefined || r.status !== 0) return `${PYTHON} lacks torch/onnx (apt install python3-torch python3-onnx)`;
  return null;
}
const noPython = pythonMissing();

/**
 * A capture of the last two hours: six clients using the lab's applications (the labelled sequences of
 * models/lab/sample.csv) for forty minutes, ending in the hour before the one in which 10.1.0.1, thirty minutes ago,
 * scans 300 ports of one server.
 * The sensor runs on it with its defaults: the bundled classifier, anomaly model and behaviour groups, host profiles
 * in one-hour windows.
 */
describe('anomaly scores and host profiles through the CLI', () => {
  let dir: string;
  let capture: string;
  let db: string;
  let jsonl: string;
  let run: { code: number; stdout: string; stderr: string };
  let scanStart: number;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sensor-anomaly-'));
    capture = path.join(dir, 'two-hours.pcap');
    db = path.join(dir, 'flows.db');
    jsonl = path.join(dir, 'flows.jsonl');
    const now = Math.floor(Date.now() / 1000);
    scanStart = now - 1800;
    // The normal sessions end ten minutes before the one-hour window the scan falls in, whatever the time of day.
    const scanWindow = Math.floor(scanStart / 3600) * 3600;
    const start = scanWindow - 3000;
    const { rows } = await readWhoIsTalkingCsv(path.join(ROOT, 'models/lab/sample.csv'));
    const frames: { ts: number; data: Buffer }[] = [];
    rows.forEach((r, i) => {
      const end = r.lengths.indexOf(0);
      const lengths = end < 0 ? r.lengths : r.lengths.slice(0, end);
      frames.push(...session(start + (i * 2400) / rows.length, `10.1.0.${1 + (i % 6)}`, `10.2.0.${1 + (i % 4)}`, 40000 + i, 443, lengths));
    });
    for (let p = 1; p <= 300; p++) {
      const ts = scanStart + p * 0.01;
      frames.push({ ts, data: tcpFrame({ src: '10.1.0.1', dst: '10.2.1.1', sport: 50000, dport: p, seq: 1000, flags: SYN }) });
      frames.push({ ts: ts + 0.001, data: tcpFrame({ src: '10.2.1.1', dst: '10.1.0.1', sport: p, dport: 50000, seq: 0, ack: 1001, flags: RST | ACK }) });
    }
    frames.sort((a, b) => a.ts - b.ts);
    writeFileSync(capture, pcapBytes(frames));
    run = sensor(['--pcap', capture, '--db', db, '--jsonl', jsonl, '--sensor-name', 'tap-1']);
  }, 180_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes a score, a flag and the stated false-positive rate into every record, in SQLite and JSON lines', () => {
    expect(run.code, run.stderr).toBe(0);
    const d = new Database(db, { readonly: true });
    const rows = d.prepare('SELECT client_ip, conn_state, anomaly_score, anomaly, anomaly_fpr FROM flows').all() as {
      client_ip: string;
      conn_state: string;
      anomaly_score: number;
      anomaly: number;
      anomaly_fpr: number;
    }[];
    d.close();
    expect(rows.length).toBeGreaterThan(300);
    for (const r of rows) {
      expect(Number.isFinite(r.anomaly_score)).toBe(true);
      expect([0, 1]).toContain(r.anomaly);
      expect(r.anomaly_fpr).toBe(0.01);
    }
    const scan = rows.filter((r) => r.conn_state === 'REJ');
    expect(scan).toHaveLength(300);
    expect(scan.filter((r) => r.anomaly === 1).length).toBeGreaterThanOrEqual(270);
    const lines = readFileSync(jsonl, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(rows.length);
    for (const l of lines) {
      expect(typeof l.anomaly_score).toBe('number');
      expect(typeof l.anomaly).toBe('boolean');
      expect(l.anomaly_fpr).toBe(0.01);
    }
    // The summary line counts the flagged flows and the host profile counters.
    expect(run.stderr).toMatch(/"anomalous_flows":\d+/);
  });

  it('keeps host profiles per one-hour window and records the scanning host\'s change of group, with a log line', () => {
    const d = new Database(db, { readonly: true });
    const scanner = d.prepare("SELECT * FROM hosts WHERE host = '10.1.0.1' ORDER BY window_start").all() as Record<string, any>[];
    const events = d.prepare("SELECT * FROM host_events WHERE host = '10.1.0.1'").all() as Record<string, any>[];
    d.close();
    expect(scanner.length).toBeGreaterThanOrEqual(2);
    expect(scanner.every((r) => r.final === 1 && r.window_seconds === 3600 && r.sensor === 'tap-1')).toBe(true);
    const last = scanner[scanner.length - 1]!;
    expect(last).toMatchObject({ failed_client: 300, server_ports: 300, distinct_exact: 0 });
    expect(last.behaviour_group).toMatch(/^scanner-like/);
    expect(scanner[0]!.behaviour_group).not.toMatch(/^scanner-like/);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ old_group: scanner[scanner.length - 2]!.behaviour_group, new_group: last.behaviour_group });
    expect(run.stderr).toContain('"message":"host changed group"');
  });

  it('answers the README\'s two questions in one statement each', () => {
    const d = new Database(db, { readonly: true });
    const changed = d.prepare(readmeQuery('which hosts changed behaviour today')).all() as Record<string, any>[];
    const top = d.prepare(readmeQuery('the most anomalous flows of the last hour')).all() as Record<string, any>[];
    d.close();
    expect(changed.map((r) => r.host)).toContain('10.1.0.1');
    expect(changed.find((r) => r.host === '10.1.0.1')!.new_group).toMatch(/^scanner-like/);
    expect(top).toHaveLength(20);
    expect(top.every((r) => r.client_ip === '10.1.0.1' && r.anomaly === 1)).toBe(true);
  });

  it('takes another stored false-positive rate, and refuses one the model has no threshold for', () => {
    const other = path.join(dir, 'fpr.db');
    const r = sensor(['--pcap', capture, '--db', other, '--anomaly-fpr', '0.05', '--no-hosts']);
    expect(r.code, r.stderr).toBe(0);
    const d = new Database(other, { readonly: true });
    expect(d.prepare('SELECT DISTINCT anomaly_fpr FROM flows').all()).toEqual([{ anomaly_fpr: 0.05 }]);
    d.close();
    const bad = sensor(['--pcap', capture, '--anomaly-fpr', '0.03', '--log-level', 'warn']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/has thresholds for false-positive rates 0.001, 0.005, 0.01, 0.02, 0.05; anomaly.falsePositiveRate 0.03 is not one of them/);
  });

  it('says in one line what is wrong with a missing anomaly model or groups file, and runs without either', () => {
    const m = sensor(['--pcap', capture, '--anomaly-model', path.join(dir, 'none.onnx'), '--log-level', 'warn']);
    expect(m.code).toBe(2);
    expect(m.stderr.trim().split('\n')).toHaveLength(1);
    expect(m.stderr).toContain('file not found');
    const g = sensor(['--pcap', capture, '--db', path.join(dir, 'g.db'), '--host-groups', path.join(dir, 'none.json')]);
    expect(g.code).toBe(2);
    expect(g.stderr).toMatch(/hosts.groups: behaviour groups .*none.json: file not found/);
    const plain = path.join(dir, 'plain.db');
    expect(sensor(['--pcap', capture, '--db', plain, '--no-anomaly', '--host-groups', 'none']).code).toBe(0);
    const d = new Database(plain, { readonly: true });
    expect(d.prepare('SELECT count(*) AS n FROM flows WHERE anomaly_score IS NOT NULL').get()).toEqual({ n: 0 });
    expect(d.prepare('SELECT count(*) AS n FROM hosts WHERE behaviour_group IS NOT NULL').get()).toEqual({ n: 0 });
    expect((d.prepare('SELECT count(*) AS n FROM hosts').get() as { n: number }).n).toBeGreaterThan(0);
    d.close();
  });

  it('sensor hosts-fit fits behaviour groups on a database\'s profiles, and the sensor uses them', () => {
    const out = path.join(dir, 'groups.json');
    const r = sensor(['hosts-fit', '--db', db, '--out', out, '--k', '3']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/fitted .*groups.json: 3 groups on \d+ profiles/);
    const model = loadGroupModel(out);
    expect(model.groups).toHaveLength(3);
    const again = path.join(dir, 'again.db');
    expect(sensor(['--pcap', capture, '--db', again, '--host-groups', out]).code).toBe(0);
    const d = new Database(again, { readonly: true });
    const groups = (d.prepare('SELECT DISTINCT behaviour_group AS g FROM hosts').all() as { g: string }[]).map((x) => x.g);
    d.close();
    expect(groups.every((g) => model.groups.some((m) => m.name === g))).toBe(true);
    expect(sensor(['hosts-fit', '--db', path.join(dir, 'fpr.db'), '--out', out]).stderr).toMatch(/has no host profiles|too few/);
  });

  it.skipIf(noPython !== null)(`sensor anomaly-fit writes the streamlined graph, scoring bit-identically to the graph as fitted${noPython ? ` (skipped: ${noPython})` : ''}`, async () => {
    const out = path.join(dir, 'streamlined.onnx');
    const plain = path.join(dir, 'plain.onnx');
    const report = path.join(dir, 'fit-streamlined.json');
    const r = sensor(['anomaly-fit', '--db', db, '--calibration-db', path.join(dir, 'fpr.db'), '--out', out, '--plain-out', plain, '--epochs', '2',
      '--python', PYTHON, '--report', report, '--balance-sets', '--port-shift', '0.9'], 300_000);
    expect(r.code, r.stderr).toBe(0);
    // One log line says which graph was written.
    expect(r.stderr.split('\n').filter((l) => l.startsWith('fit: graph '))).toEqual([expect.stringMatching(/^fit: graph streamlined: \d+ nodes; decoder outputs \d+ -> \d+ columns$/)]);
    expect(JSON.parse(readFileSync(report, 'utf8')).graph).toMatch(/^streamlined: /);
    // The written graph has streamline.py's shape: the decoders compare with the cut target, no Pow, no Gather.
    const shape = (f: string): { ops: string[]; names: string[] } => {
      const p = spawnSync(PYTHON, ['-c', `import json, onnx; g = onnx.load(${JSON.stringify(f)}).graph; print(json.dumps({"ops": [n.op_type for n in g.node], "names": [n.name for n in g.node]}))`], { encoding: 'utf8' });
      expect(p.status, p.stderr).toBe(0);
      return JSON.parse(p.stdout) as { ops: string[]; names: string[] };
    };
    const a = shape(plain);
    const b = shape(out);
    expect(a.ops).toContain('Pow');
    expect(b.names).toContain('streamline_concat');
    expect(b.ops).not.toContain('Pow');
    expect(b.ops).not.toContain('Gather');
    expect(b.ops.length).toBeLessThan(a.ops.length);
    // Same metadata (thresholds, counters, port shift), so the sensor loads it the same.
    expect(readMetadataProps(readFileSync(out), (w) => new Error(w))).toEqual(readMetadataProps(readFileSync(plain), (w) => new Error(w)));
    // Every score bit-equal on the fitting database's rows, made by the sensor's own feature code, at batches 1, 7, 256.
    const info = await loadAnomalyModelInfo(out);
    const rowsDir = mkdtempSync(path.join(tmpdir(), 'anomaly-rows-'));
    try {
      const x = exportFeatures(db, rowsDir, { sequenceLength: 30, since: null, until: null, withRows: false, counters: info.counters, hold: info.contextHold, retryHold: info.contextRetryHold });
      const buf = readFileSync(path.join(rowsDir, 'features.f32'));
      const all = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
      const W = x.width;
      const n = Math.min(x.rows, 700);
      expect(n).toBeGreaterThan(300);
      await expectSameScores(plain, out, all.subarray(0, n * W), n, [1, 7, 256], 0.25);
    } finally {
      rmSync(rowsDir, { recursive: true, force: true });
    }
  }, 400_000);

  it.skipIf(noPython !== null)(`sensor anomaly-fit fits a model on a database that the sensor then loads${noPython ? ` (skipped: ${noPython})` : ''}`, async () => {
    const out = path.join(dir, 'own.onnx');
    const report = path.join(dir, 'fit.json');
    const r = sensor(['anomaly-fit', '--db', db, '--out', out, '--epochs', '3', '--python', PYTHON, '--report', report], 300_000);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/sensor: fitted .*own.onnx \(anomaly-ae-\d+\) on \d+ flows; thresholds by false-positive rate 0.001: /);
    const info = await loadAnomalyModelInfo(out);
    expect(info.defaultFpr).toBe(0.01);
    expect(info.thresholds.map((t) => t.fpr)).toEqual([0.001, 0.005, 0.01, 0.02, 0.05]);
    expect(info.trainingData).toMatch(/finished flows of flows.db/);
    // One server port indicator per port of at least 100 of the flows, most flows first, just before the context.
    const src = new Database(db, { readonly: true });
    const common = (src.prepare("SELECT server_port AS p FROM flows WHERE end_reason != 'active' GROUP BY server_port " +
      'HAVING count(*) >= 100 ORDER BY count(*) DESC, server_port LIMIT 40').all() as { p: number }[]).map((x) => `server_port=${x.p}`);
    src.close();
    expect(common).toContain('server_port=443'); // the normal sessions' port
    expect(info.counters.filter((c) => c.startsWith('server_port='))).toEqual(common);
    expect(info.counters.slice(-4 - common.length, -4)).toEqual(common);
    // One capture file is one group: too few to keep whole groups out, so the thresholds are set on blocks of flows
    // kept out of fitting, and on them the default threshold flags at most its rate (split conformal).
    const rep = JSON.parse(readFileSync(report, 'utf8'));
    expect(rep.calibration_rows).toBeGreaterThan(0);
    expect(rep.fitting_rows + rep.calibration_rows).toBe(rep.rows);
    expect(rep.group_kind).toBe('blocks of 256 consecutive flows');
    expect(rep.calibration_flagged['0.01'].overall).toBeLessThanOrEqual(0.01);
    const scored = path.join(dir, 'own.db');
    expect(sensor(['--pcap', capture, '--db', scored, '--anomaly-model', out, '--no-hosts']).code).toBe(0);
    const d = new Database(scored, { readonly: true });
    expect(d.prepare('SELECT count(*) AS n FROM flows WHERE anomaly_score IS NULL').get()).toEqual({ n: 0 });
    d.close();
    // Another database's flows join the calibration set whole (--calibration-db), with the fitting database's counters.
    const other = path.join(dir, 'fpr.db');
    const od = new Database(other, { readonly: true });
    const otherFlows = (od.prepare("SELECT count(*) AS n FROM flows WHERE end_reason != 'active'").get() as { n: number }).n;
    od.close();
    const pooledReport = path.join(dir, 'fit-pooled.json');
    // With round anomaly6's options: a context floor and one threshold for every flow.
    const pooled = sensor(['anomaly-fit', '--db', db, '--calibration-db', other, '--out', path.join(dir, 'pooled.onnx'), '--epochs', '3',
      '--python', PYTHON, '--report', pooledReport, '--context-floor', '0.975', '--one-threshold'], 300_000);
    expect(pooled.code, pooled.stderr).toBe(0);
    expect(pooled.stderr).toContain(`calibration: ${otherFlows} more flows`);
    const prep = JSON.parse(readFileSync(pooledReport, 'utf8'));
    expect(prep.calibration_rows_of_other_databases).toBe(otherFlows);
    expect(prep.calibration_rows).toBe(prep.rows - prep.fitting_rows + otherFlows);
    const pooledInfo = await loadAnomalyModelInfo(path.join(dir, 'pooled.onnx'));
    expect(pooledInfo.method).toMatch(new RegExp(`${otherFlows} of other databases`));
    expect(prep.context_floor_quantile).toBe(0.975);
    expect(prep.context_floor).toBeGreaterThan(0);
    expect(pooledInfo.method).toMatch(/context error up to [0-9.e-]+ \(its out-of-bag 0.975 quantile\) counts as none/);
    expect(prep.port_thresholds).toEqual({});
    expect(pooledInfo.portThresholds).toEqual([]);
    expect(pooledInfo.method).toContain('one threshold for every flow');
    // Round anomaly7's calibration: the fitting database's held-out captures and the other database are two sets that
    // weigh the same (--balance-sets): the mean of the two sets' flagged shares (captures weighing the same) is the rate.
    // With round anomaly8's --port-shift the scores are first shifted per server port (inside the graph), and the
    // threshold is set on the shifted scores. Round anomaly11's --set-method median: the median set's share is the rate
    // (with two sets, their mean, so the check below holds for either method).
    const balancedReport = path.join(dir, 'fit-balanced.json');
    const balanced = sensor(['anomaly-fit', '--db', db, '--calibration-db', other, '--out', path.join(dir, 'balanced.onnx'), '--epochs', '3',
      '--python', PYTHON, '--report', balancedReport, '--balance-sets', '--set-method', 'median', '--port-shift', '0.9', '--std-floor', '0.15', '--augment', '0.3', '--context-retry-hold', '40'], 300_000);
    expect(balanced.code, balanced.stderr).toBe(0);
    const brep = JSON.parse(readFileSync(balancedReport, 'utf8'));
    expect(brep.params.balance_sets).toBe(true);
    expect(brep.params.set_method).toBe('median');
    // With round anomaly9's options: a higher floor of the standard deviations, and a share of the fitting flows
    // added again with their run-level conditions varied (fit.py augment_conditions()).
    expect(brep.params.std_floor).toBe(0.15);
    expect(brep.params.augment).toBe(0.3);
    expect(balanced.stderr).toMatch(new RegExp(`augment: ${Math.round(0.3 * brep.fitting_rows)} fitting rows added`));
    expect(brep.port_thresholds).toEqual({});
    const sets = Object.values(brep.calibration_sets) as { flows: number; flagged_share_groups_equal: number }[];
    expect(sets.map((s) => s.flows)).toEqual([brep.calibration_rows - otherFlows, otherFlows]);
    const meanShare = (sets[0]!.flagged_share_groups_equal + sets[1]!.flagged_share_groups_equal) / 2;
    expect(meanShare).toBeLessThanOrEqual(0.01 + 1e-9);
    const balancedInfo = await loadAnomalyModelInfo(path.join(dir, 'balanced.onnx'));
    expect(balancedInfo.method).toContain('2 sets (this database\'s and each other one) weighing the same');
    expect(balancedInfo.method).toContain("set so that the median set's flagged share is the stated rate");
    expect(sensor(['anomaly-fit', '--db', db, '--out', out, '--balance-sets', '--set-method', 'mean', '--python', PYTHON]).stderr)
      .toMatch(/--set-method must be one of balanced, median, geometric, extremes, got "?mean/);
    expect(sensor(['anomaly-fit', '--db', db, '--out', out, '--set-method', 'median', '--python', PYTHON]).stderr).toMatch(/--set-method needs --balance-sets/);
    expect(balancedInfo.portThresholds).toEqual([]);
    // --context-retry-hold: flows that repeated an exchange wait 40 s for their context (round anomaly10), stored in the model.
    expect(balancedInfo.contextRetryHold).toBe(40);
    expect(balancedInfo.contextHold).toBe(5);
    expect(brep.context_retry_hold).toBe(40);
    expect(brep.params.port_shift).toBe(0.9);
    expect(brep.port_shift.quantile).toBe(0.9);
    const shifts = brep.port_shift.shifts as Record<string, number>;
    for (const p of Object.keys(shifts)) expect(balancedInfo.counters).toContain(`server_port=${p}`);
    const nonzero = Object.fromEntries(Object.entries(shifts).filter(([, v]) => v !== 0));
    const shiftMeta = readMetadataProps(readFileSync(path.join(dir, 'balanced.onnx')), (w) => new Error(w)).get('anomaly_port_shift');
    if (Object.keys(nonzero).length > 0) expect(JSON.parse(shiftMeta!)).toEqual(nonzero);
    else expect(shiftMeta).toBeUndefined();
    expect(balancedInfo.method).toContain('score shifted per server port');
    expect(sensor(['anomaly-fit', '--db', db, '--out', out, '--port-shift', '1.5', '--python', PYTHON]).stderr).toMatch(/--port-shift must be a quantile/);
    expect(balancedInfo.method).toContain('standard deviations floored at 0.15');
    expect(balancedInfo.method).toContain('fitted with 0.3 of the fitting flows again with their duration scaled');
    expect(info.method).not.toContain('floored at');
    expect(info.method).not.toContain('fitted with');
    // Without them (the default, as the bundled model): no floor.
    expect(rep.context_floor).toBe(0);
    expect(info.method).not.toContain('counts as none');
    expect(sensor(['anomaly-fit', '--db', db, '--out', out, '--context-floor', '1.5', '--python', PYTHON]).stderr).toMatch(/--context-floor must be a quantile/);
    expect(sensor(['anomaly-fit', '--db', db, '--out', out, '--std-floor', '0', '--python', PYTHON]).stderr).toMatch(/--std-floor must be a number from 0.01 to 1/);
    expect(sensor(['anomaly-fit', '--db', db, '--out', out, '--augment', '1.5', '--python', PYTHON]).stderr).toMatch(/--augment must be a share from 0 to 1/);
    const few = sensor(['anomaly-fit', '--db', db, '--out', out, '--since', String(Math.floor(Date.now() / 1000) + 86400), '--python', PYTHON]);
    expect(few.code).toBe(2);
    expect(few.stderr).toMatch(/has 0 finished flows; an anomaly model needs at least 200/);
  }, 620_000);
});
