import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import winston from 'winston';
import type { ModelInfo } from '../../src/classify/modelContract';
import { Verdict } from '../../src/classify/verdict';
import { FlowRecord } from '../../src/flow/flowRecord';
import { Monitor } from '../../src/monitor/monitor';
import { OTHER_CLASS } from '../../src/monitor/window';
import { writeServicesCapture } from '../learn/handshakes';
import { captureSummary } from '../helpers/captureSummary';

const ROOT = path.resolve(__dirname, '../..');
const BIN = path.join(ROOT, 'bin/sensor.js');

/** What the handshake of each services-capture session says it is, in the bundled model's classes (by client). */
const TRUTH: Record<string, string> = {
  '10.1.0.1': 'tls', // api.github.com -> label github, not a class -> protocol
  '10.1.0.2': 'tls',
  '10.1.0.3': 'tls',
  '10.1.0.4': 'http',
  '10.1.0.5': 'http',
  '10.1.0.6': 'ssh',
  '10.1.0.7': 'smtp',
  '10.1.0.8': 'smtp', // STARTTLS: the cleartext protocol
  '10.1.0.9': 'ftp',
  '10.1.0.10': 'imap',
  '10.1.0.11': 'pop3',
  '10.1.0.12': 'imaps', // TLS on 993
  '10.2.0.2': 'tls', // mid-stream, but its ClientHello is seen
};

let dir: string;
let capture: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'sensor-gt-'));
  capture = path.join(dir, 'services.pcap');
  writeServicesCapture(capture);
});

describe('monitor.groundTruth', () => {
  it('scores the verdicts of handshake-named flows per class, as the flows table shows them', () => {
    const db = path.join(dir, 'flows.db');
    const r = spawnSync(process.execPath, [BIN, '--pcap', capture, '--db', db, '--ground-truth'], { encoding: 'utf8', cwd: ROOT, timeout: 120000 });
    expect(r.stderr).not.toContain('"level":"error"');
    expect(r.status).toBe(0);
    const d = new Database(db, { readonly: true });
    const flows = d.prepare("SELECT client_ip, label FROM flows WHERE end_reason != 'active'").all() as { client_ip: string; label: string }[];
    // Expected counts from the flows table's verdicts and the known truth.
    const want = new Map<string, { support: number; predicted: number; correct: number }>();
    const at = (c: string): { support: number; predicted: number; correct: number } => {
      if (!want.has(c)) want.set(c, { support: 0, predicted: 0, correct: 0 });
      return want.get(c)!;
    };
    let correct = 0;
    for (const f of flows) {
      const truth = TRUTH[f.client_ip];
      if (truth === undefined || f.label === 'no-payload') continue;
      at(truth).support++;
      at(f.label).predicted++;
      if (f.label === truth) {
        at(truth).correct++;
        correct++;
      }
    }
    const w = d.prepare('SELECT gt_scored, gt_correct, gt_accuracy FROM monitor_windows').all() as { gt_scored: number; gt_correct: number; gt_accuracy: number }[];
    expect(w).toEqual([{ gt_scored: Object.keys(TRUTH).length, gt_correct: correct, gt_accuracy: Math.round((correct / Object.keys(TRUTH).length) * 1e6) / 1e6 }]);
    const rows = d.prepare('SELECT class, support, predicted, correct, recall, precision FROM monitor_accuracy ORDER BY class').all() as {
      class: string;
      support: number;
      predicted: number;
      correct: number;
      recall: number | null;
      precision: number | null;
    }[];
    expect(Object.fromEntries(rows.map((x) => [x.class, { support: x.support, predicted: x.predicted, correct: x.correct }]))).toEqual(Object.fromEntries(want));
    for (const x of rows) {
      expect(x.recall).toBe(x.support > 0 ? Math.round((x.correct / x.support) * 1e6) / 1e6 : null);
      if (x.class !== 'unknown') expect(x.precision).toBe(x.predicted > 0 ? Math.round((x.correct / x.predicted) * 1e6) / 1e6 : null);
    }
    // The names the labeller read stay in memory: neither the database nor the log has them.
    d.close();
    const written = readFileSync(db).toString('latin1') + r.stderr;
    for (const name of ['api.github.com', 'www.example.co.uk', 'en.wikipedia.org', 'mail.example.org', 'Postfix']) expect(written).not.toContain(name);
    const done = captureSummary<{ monitor: { ground_truth: { scored: number; correct: number } } }>(r.stderr);
    expect(done.monitor.ground_truth).toMatchObject({ scored: Object.keys(TRUTH).length, correct });
  });

  it('is off by default: no flow is scored and the labeller does not run', () => {
    const db = path.join(dir, 'off.db');
    const r = spawnSync(process.execPath, [BIN, '--pcap', capture, '--db', db], { encoding: 'utf8', cwd: ROOT, timeout: 120000 });
    expect(r.status).toBe(0);
    const w = new Database(db, { readonly: true }).prepare('SELECT gt_scored FROM monitor_windows').all();
    expect(w).toEqual([{ gt_scored: 0 }]);
    expect(new Database(db, { readonly: true }).prepare('SELECT count(*) AS n FROM monitor_accuracy').get()).toEqual({ n: 0 });
  });
});

describe('Monitor on /metrics', () => {
  const info: ModelInfo = { path: 'm.onnx', version: 'v-test', classes: ['ssh', 'tls'], sequenceLength: 30, device: 'cpu', trainingData: 'test', inputReference: null, backgroundClasses: [], unknownThreshold: null };
  const flow = (ts: number, label: string | null, protocol: string | null): FlowRecord => {
    const f = new FlowRecord('t', ts, ts + 1, 4, '10.0.0.1', 1, '10.0.0.2', 22, 0, 1, 1, 1, 1, 1, 1, 2, 0, false, 'SF', 'ShADadFf', '', 'fin', [10, -10]);
    f.learned = { label, protocol, name: null, alpn: '', evidence: '' };
    return f;
  };

  it('counts scored flows by truth class and result, and serves the last window\'s accuracy', async () => {
    const log = winston.createLogger({ silent: true });
    const m = new Monitor(info, { groundTruth: true, windowSeconds: 3600, minFlows: 1, driftThreshold: 0.25, unknownSurge: 0.2 }, null, log);
    const v = (label: string): Verdict =>
      new Verdict(label, 0.9, [{ label: label === 'unknown' ? 'tls' : label, p: 0.9 }], 'v-test', label === 'unknown' ? 'unknown' : 'classified');
    m.write([
      { flow: flow(3600, 'ssh', 'ssh'), verdict: v('ssh') },
      { flow: flow(3601, 'github', 'tls'), verdict: v('ssh') },
      { flow: flow(3602, 'zoom', 'rdp'), verdict: v('unknown') },
      { flow: flow(3603, null, null), verdict: v('tls') },
    ]);
    m.tick(7200);
    const rep = m.report();
    expect(rep.ground_truth).toEqual({ scored: 3, correct: 2, accuracy: 2 / 3 });
    expect(rep.last?.gt_accuracy).toBeCloseTo(2 / 3, 5);
    // The page the daemon serves merges this registry with its own (test/daemon/operations.test.ts scrapes it).
    const text = await m.registry.metrics();
    expect(text).toContain('sensor_ground_truth_flows_total{class="ssh",result="correct"} 1');
    expect(text).toContain('sensor_ground_truth_flows_total{class="tls",result="wrong"} 1');
    expect(text).toContain(`sensor_ground_truth_flows_total{class="${OTHER_CLASS}",result="correct"} 1`);
    expect(text).toContain('sensor_monitor_ground_truth_accuracy{model_version="v-test"} 0.666667');
    expect(text).not.toContain('sensor_monitor_input_psi{'); // no reference: the series is absent, not 0
  });
});
