import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { Classifier } from '../../src/classify/classifier';
import type { FlowRecord } from '../../src/flow/flowRecord';
import { HAVE_SHARED, SHARED_PCAPS, SKIP_SHARED_MSG } from '../helpers/sharedPcaps';
import { writePcap } from '../learn/handshakes';
import { buildReference, sequenceSession, writeReferenceModel } from './referenceModel';

/**
 * The bundled model's drift score on lab traffic and on traffic from other networks. Until the shipped model carries
 * its own input_reference, the reference is built here from half of the lab rows (split by lab run within each
 * class when a .runs file is beside the CSV, else every other row), and the other half is the lab-like traffic.
 * By default the rows are models/sensor.sample.csv (330 flows, the shipped model's own sample); SENSOR_LAB_CORPUS=/path/corpus.csv uses a lab corpus
 * (the README figures). Traffic unlike the lab: every public capture in ../shared/pcaps (other networks, browsers).
 */
const ROOT = path.resolve(__dirname, '../..');
const BIN = path.join(ROOT, 'bin/sensor.js');
const MODEL = path.join(ROOT, 'models/sensor.onnx');
const CORPUS = process.env.SENSOR_LAB_CORPUS ?? path.join(ROOT, 'models/sensor.sample.csv');
/** Coarse bins: a reference of a few hundred flows has few per bin, and finer bins would measure sampling noise. */
const EDGES = [-65536, -1400, -600, -200, -1, 0, 1, 200, 600, 1400, 65536];
const THRESHOLD = 0.25;

let dir: string;
let model: string;
let config: string;
let labCapture: string;
let labFlows = 0;

interface Row {
  flows: number;
  classified: number;
  input_psi: number;
  class_psi: number;
  confidence_psi: number;
  payload_psi: number;
  unknown_share: number;
  reference_unknown_share: number;
  alerts: string;
}

function run(pcaps: string[], db: string): { row: Row; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...pcaps.flatMap((p) => ['--pcap', p]), '--db', db, '--model', model, '--config', config], { encoding: 'utf8', cwd: ROOT, timeout: 300000 });
  // The public captures include damaged files on purpose (exit 1, one error line each); nothing may crash.
  expect(r.stderr).not.toContain('internal error');
  expect([0, 1]).toContain(r.status);
  const rows = new Database(db, { readonly: true }).prepare('SELECT * FROM monitor_windows').all() as Row[];
  expect(rows).toHaveLength(1);
  return { row: rows[0]!, stderr: r.stderr };
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'sensor-bundled-drift-'));
  const lines = readFileSync(CORPUS, 'utf8').trim().split('\n').slice(1);
  const rows = lines.map((l) => {
    const f = l.split(',');
    return { label: f[0]!, lengths: f.slice(1, 31).map(Number) };
  });
  const runsFile = CORPUS.replace(/\.csv$/, '.runs');
  const runs = existsSync(runsFile) ? readFileSync(runsFile, 'utf8').trim().split('\n') : null;
  const perClass = new Map<string, string[]>();
  if (runs !== null) rows.forEach((r, i) => perClass.set(r.label, [...new Set([...(perClass.get(r.label) ?? []), runs[i]!])]));
  const side = (i: number): number => (runs !== null ? perClass.get(rows[i]!.label)!.indexOf(runs[i]!) % 2 : i % 2);

  const c = await Classifier.load({ modelPath: MODEL, device: 'cpu', batchSize: 256, batchDeadlineMs: 1, unknownThreshold: 0.99, minPayloadPackets: 1, topK: 1 });
  const v: { top1: string; confidence: number; label: string }[] = [];
  c.onResult = (b) => {
    for (const x of b) v.push({ top1: x.verdict.topk[0]!.label, confidence: x.verdict.confidence, label: x.verdict.label });
  };
  for (const r of rows) c.submit({ lengths: r.lengths, payload_packets: r.lengths.filter((x) => x !== 0).length } as unknown as FlowRecord);
  await c.close();
  const reference = rows.map((r, i) => ({ lengths: r.lengths, ...v[i]! })).filter((_, i) => side(i) === 0);
  model = path.join(dir, 'sensor-with-reference.onnx');
  writeReferenceModel(MODEL, buildReference(reference, c.modelInfo.classes, 30, EDGES), model);

  const lab = rows.filter((_, i) => side(i) === 1);
  labFlows = lab.length;
  labCapture = path.join(dir, 'lab-like.pcap');
  writePcap(labCapture, lab.flatMap((r, i) => sequenceSession(1750003200 + i * 2, i, r.lengths)));
  config = path.join(dir, 'sensor.json');
  // One window for the whole input (the public captures span decades of timestamps, one pcapng even the year 586,000); alerts from 100 flows on.
  writeFileSync(config, JSON.stringify({ monitor: { windowSeconds: 1e15, minFlows: 100 } }));
}, 300000);

describe('the bundled model\'s drift score', () => {
  it('stays below the alert threshold on lab-like traffic', () => {
    const { row } = run([labCapture], path.join(dir, 'lab.db'));
    process.stdout.write(`bundled model, lab-like (${path.basename(CORPUS)}, ${row.classified} flows): ${JSON.stringify(row)}\n`);
    expect(row.classified).toBe(labFlows);
    expect(row.input_psi).toBeLessThan(THRESHOLD);
    expect(JSON.parse(row.alerts)).not.toContain('input_drift');
  });

  it.skipIf(!HAVE_SHARED)(`crosses it on traffic from other networks${HAVE_SHARED ? '' : ` (skipped: ${SKIP_SHARED_MSG})`}`, () => {
    // Each folder of captures (the sensor reads the captures of a folder, not its subfolders).
    const folders = readdirSync(SHARED_PCAPS, { withFileTypes: true }).filter((e) => e.isDirectory() && e.name !== 'expected').map((e) => path.join(SHARED_PCAPS, e.name));
    const { row, stderr } = run(folders, path.join(dir, 'public.db'));
    process.stdout.write(`bundled model, public captures (${row.classified} flows): ${JSON.stringify(row)}\n`);
    expect(row.input_psi).toBeGreaterThan(THRESHOLD);
    expect(JSON.parse(row.alerts)).toContain('input_drift');
    expect(stderr).toContain('monitor alert: the model\'s inputs drifted from its training data');
  });
});
