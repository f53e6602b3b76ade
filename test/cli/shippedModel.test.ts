import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pcapBytes, session } from '../helpers/frames';
import { KNOWN_FLOWS, knownFlowClient, SHIPPED_MODEL, UNKNOWN_THRESHOLD, writeKnownFlowsCapture } from '../helpers/shippedModel';

/**
 * The CLI with its defaults (no --model: the shipped models/sensor.onnx, the default unknown threshold) names
 * the known flows of test/helpers/shippedModel.ts.
 */

const ROOT = path.resolve(__dirname, '../..');

describe('sensor CLI with the shipped model', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sensor-shipped-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it(`names each known flow (${KNOWN_FLOWS.map((f) => f.label).join(', ')}) with a probability above the unknown threshold`, () => {
    const file = path.join(dir, 'known.pcap');
    writeKnownFlowsCapture(file);
    const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/sensor.js'), '--pcap', file, '--jsonl', '-', '--device', 'cpu'], { cwd: ROOT, encoding: 'utf8', timeout: 60000 });
    expect(r.status, r.stderr).toBe(0);
    const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows).toHaveLength(KNOWN_FLOWS.length);
    KNOWN_FLOWS.forEach((f, i) => {
      const row = rows.find((x) => x.client_ip === knownFlowClient(i))!;
      console.log(`shipped model (${String(row.model_version)}, ${SHIPPED_MODEL}): ${f.label} flow -> ${String(row.label)} ${String(row.confidence)}`);
      expect(row).toMatchObject({ server_port: f.serverPort, lengths: f.lengths, label: f.label });
      expect(row.confidence).toBeGreaterThanOrEqual(UNKNOWN_THRESHOLD);
    });
  });

  it('answers each repeated sequence once (the verdict memo), with the labels a run without it gives', () => {
    // Each known flow five times over, from other client ports, a second apart: 15 flows, 3 sequences.
    const file = path.join(dir, 'repeated.pcap');
    const frames = Array.from({ length: 5 }, (_, r) =>
      KNOWN_FLOWS.flatMap((f, i) => session(1_700_000_000 + r * 10 + i, knownFlowClient(i), '10.0.9.100', 41000 + r * 10 + i, f.serverPort, f.lengths)),
    ).flat();
    writeFileSync(file, pcapBytes(frames));
    const run = (env: Record<string, string>): { rows: Record<string, unknown>[]; reused: number } => {
      const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/sensor.js'), '--pcap', file, '--jsonl', '-', '--device', 'cpu', '--log-format', 'json'], {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 60000,
        env: { ...process.env, ...env },
      });
      expect(r.status, r.stderr).toBe(0);
      const done = r.stderr.split('\n').filter((l) => l.includes('"capture done"')).map((l) => JSON.parse(l) as { inference: { reused: number; flows: number } })[0]!;
      expect(done.inference.flows).toBe(15);
      return { rows: r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>), reused: done.inference.reused };
    };
    const on = run({});
    const off = run({ SENSOR_CLASSIFY__VERDICTCACHE: '0' });
    expect(on.reused).toBe(12);
    expect(off.reused).toBe(0);
    expect(on.rows.map((r) => [r.client_port, r.label])).toEqual(off.rows.map((r) => [r.client_port, r.label]));
    for (const [i, f] of KNOWN_FLOWS.entries()) {
      const mine = on.rows.filter((r) => r.client_ip === knownFlowClient(i));
      expect(mine).toHaveLength(5);
      // One answer for the five: the same label, confidence and top-k.
      expect(new Set(mine.map((r) => JSON.stringify([r.label, r.confidence, r.topk_labels, r.topk_scores]))).size).toBe(1);
      expect(mine[0]!.label).toBe(f.label);
    }
  });
});
