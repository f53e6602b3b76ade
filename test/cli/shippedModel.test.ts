import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
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
});
