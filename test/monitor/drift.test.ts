import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { Classifier } from '../../src/classify/classifier';
import type { FlowRecord } from '../../src/flow/flowRecord';
import { writePcap } from '../learn/handshakes';
import { buildReference, labFlow, rng, sequenceSession, webFlow, writeReferenceModel } from './referenceModel';

const ROOT = path.resolve(__dirname, '../..');
const BIN = path.join(ROOT, 'bin/sensor.js');
const FIXTURE = path.join(ROOT, 'test/fixtures/model/fixture.onnx');
/** A window boundary (multiple of 3600), so each hour of generated traffic is one window. */
const T0 = 1750003200;
const FLOWS_PER_HOUR = 400;
const THRESHOLD = 0.5;

async function verdicts(lengths: number[][]): Promise<{ top1: string; confidence: number; label: string }[]> {
  const c = await Classifier.load({ modelPath: FIXTURE, device: 'cpu', batchSize: 256, batchDeadlineMs: 1, unknownThreshold: THRESHOLD, minPayloadPackets: 1, topK: 1 });
  const out: { top1: string; confidence: number; label: string }[] = [];
  c.onResult = (batch) => {
    for (const { verdict } of batch) out.push({ top1: verdict.topk[0]!.label, confidence: verdict.confidence, label: verdict.label });
  };
  for (const l of lengths) c.submit({ lengths: l, payload_packets: l.filter((v) => v !== 0).length } as unknown as FlowRecord);
  await c.close();
  return out;
}

let dir: string;
let model: string;
let capture: string;
let config: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'sensor-drift-'));
  // The reference: the model's inputs and verdicts on 2000 flows of "lab" traffic.
  const r = rng(1);
  const ref = Array.from({ length: 2000 }, () => labFlow(r));
  const v = await verdicts(ref);
  model = path.join(dir, 'fixture-ref.onnx');
  writeReferenceModel(FIXTURE, buildReference(ref.map((lengths, i) => ({ lengths, ...v[i]! })), ['bulk-upload', 'bulk-download', 'interactive'], 30), model);
  // Hour 1: more lab traffic (a new draw). Hour 2: web sessions of another client, unlike anything in the reference.
  const lab = rng(2);
  const web = rng(3);
  const frames = [
    ...Array.from({ length: FLOWS_PER_HOUR }, (_, i) => sequenceSession(T0 + i * 5, i, labFlow(lab))).flat(),
    ...Array.from({ length: FLOWS_PER_HOUR }, (_, i) => sequenceSession(T0 + 3600 + i * 5, FLOWS_PER_HOUR + i, webFlow(web))).flat(),
  ];
  capture = path.join(dir, 'two-hours.pcap');
  writePcap(capture, frames);
  config = path.join(dir, 'sensor.json');
  writeFileSync(config, JSON.stringify({ monitor: { minFlows: 100 } }));
});

interface WindowRow {
  window_start: number;
  complete: number;
  flows: number;
  classified: number;
  unknown_share: number;
  input_psi: number;
  input_psi_max: number;
  input_psi_positions: string;
  payload_psi: number;
  class_psi: number;
  confidence_psi: number;
  label_counts: string;
  alerts: string;
}

describe('drift monitoring against the model\'s input_reference', () => {
  it('stays below the threshold on traffic like the reference and alerts on traffic unlike it', () => {
    const db = path.join(dir, 'flows.db');
    const r = spawnSync(process.execPath, [BIN, '--pcap', capture, '--db', db, '--model', model, '--unknown-threshold', String(THRESHOLD), '--config', config], {
      encoding: 'utf8',
      cwd: ROOT,
      timeout: 120000,
    });
    expect(r.stderr).not.toContain('"level":"error"');
    expect(r.status).toBe(0);
    const rows = new Database(db, { readonly: true }).prepare('SELECT * FROM monitor_windows ORDER BY window_start').all() as WindowRow[];
    expect(rows.map((w) => w.window_start)).toEqual([T0, T0 + 3600]);
    const [like, unlike] = rows as [WindowRow, WindowRow];
    expect(like.flows).toBe(FLOWS_PER_HOUR);
    expect(unlike.flows).toBe(FLOWS_PER_HOUR);
    expect(like.complete).toBe(1);
    expect(unlike.complete).toBe(0); // the capture ended inside it
    expect(Object.values(JSON.parse(like.label_counts) as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(FLOWS_PER_HOUR);
    expect(JSON.parse(like.input_psi_positions)).toHaveLength(30);
    // The figures the README quotes come from this test's output.
    process.stdout.write(`drift fixture: like input_psi=${like.input_psi} class_psi=${like.class_psi} confidence_psi=${like.confidence_psi}; unlike input_psi=${unlike.input_psi} class_psi=${unlike.class_psi} confidence_psi=${unlike.confidence_psi}\n`);
    expect(like.input_psi).toBeLessThan(0.1);
    expect(like.class_psi).toBeLessThan(0.1);
    expect(JSON.parse(like.alerts)).toEqual([]);
    expect(unlike.input_psi).toBeGreaterThan(0.25);
    expect(JSON.parse(unlike.alerts)).toContain('input_drift');
    const alertLines = r.stderr.split('\n').filter((l) => l.includes('monitor alert'));
    expect(alertLines.some((l) => l.includes('"alert":"input_drift"'))).toBe(true);
    expect(alertLines.every((l) => l.includes(`"window_start":"${new Date((T0 + 3600) * 1000).toISOString()}"`))).toBe(true);
  });

  it('a model without input_reference still loads: one info line, windows without drift scores', () => {
    const db = path.join(dir, 'noref.db');
    const r = spawnSync(process.execPath, [BIN, '--pcap', capture, '--db', db, '--model', FIXTURE, '--unknown-threshold', String(THRESHOLD)], { encoding: 'utf8', cwd: ROOT, timeout: 120000 });
    expect(r.status).toBe(0);
    expect(r.stderr.split('\n').filter((l) => l.includes('has no input_reference'))).toHaveLength(1);
    const rows = new Database(db, { readonly: true }).prepare('SELECT flows, input_psi, class_counts FROM monitor_windows ORDER BY window_start').all() as WindowRow[];
    expect(rows).toHaveLength(2);
    expect(rows.every((w) => w.input_psi === null && w.flows === FLOWS_PER_HOUR)).toBe(true);
  });
});

describe('README "Watching the model" queries', () => {
  it('run as written and answer on a monitor database with recent windows', () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const open = '```sql monitor\n';
    const start = readme.indexOf(open + '-- what changed this week');
    expect(start).toBeGreaterThan(0);
    const block = readme.slice(start + open.length, readme.indexOf('```', start + open.length));
    const statements = block.split(/;\s*\n/).map((s) => s.trim()).filter((s) => s !== '');
    expect(statements).toHaveLength(3);
    // The drift test's database, its windows moved to the last days (the generated traffic is from 2025).
    const src = path.join(dir, 'flows.db');
    const db = new Database(src);
    db.prepare('UPDATE monitor_windows SET window_start = unixepoch() - 86400 * (3 - id), window_end = unixepoch() - 86400 * (3 - id) + 3600').run();
    db.prepare("INSERT INTO monitor_accuracy (window_start, window_end, model_version, class, support, predicted, correct, recall, precision) VALUES (unixepoch() - 3600, unixepoch(), 'x', 'ssh', 4, 3, 3, 0.75, 1)").run();
    const [week, mix, perClass] = statements.map((s) => db.prepare(s).all() as Record<string, unknown>[]);
    db.close();
    expect(week!.length).toBe(2);
    expect(week![1]!.alerts).toContain('input_drift');
    expect(mix!.length).toBeGreaterThan(0);
    expect(perClass).toEqual([expect.objectContaining({ class: 'ssh', flows: 4, recall: 0.75, precision: 1 })]);
  });
});
