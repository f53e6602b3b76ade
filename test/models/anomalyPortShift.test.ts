import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { openAnomalyModel } from '../../src/anomaly/anomalyModel';
import { readMetadataProps } from '../../src/classify/onnxMetadata';
import { ort } from '../../src/classify/ortBinding';
import { PYTHON } from '../helpers/trainingPython';

// models/anomaly/calibrate.py port_shifts() and add_port_shift() (models/ANOMALY.md "Round anomaly8"): a per-port shift
// of the score computed from normal scores and written into the graph, so that the sensor's own scores carry it.
const ROOT = path.resolve(__dirname, '../..');
const BUNDLED = path.join(ROOT, 'models/anomaly.onnx');
const missing = ((): string | null => {
  const r = spawnSync(PYTHON, ['-c', 'import numpy, onnx'], { encoding: 'utf8' });
  return r.status === 0 ? null : `${PYTHON} with numpy and onnx is needed (apt install python3-numpy python3-onnx)`;
})();
if (missing !== null) console.warn(`skipping anomaly port shift tests: ${missing}`);

function python(code: string): string {
  const r = spawnSync(PYTHON, ['-c', code], { encoding: 'utf8', cwd: path.join(ROOT, 'models/anomaly') });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

describe.skipIf(missing !== null)('anomaly port shift (calibrate.py)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sensor-port-shift-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('port_shifts(): each port quantile minus the global one, shrunk by runs / (runs + k); too few runs or ports without an indicator get none', () => {
    const out = JSON.parse(python(`
import json, numpy as np
from calibrate import port_shifts
# set "a": port 22 scores 1.0 in 4 runs, port 80 scores 0.0 in 4 runs; port 23 one run only; port 99 not allowed.
sc = [1.0] * 40 + [0.0] * 40 + [5.0] * 10 + [7.0] * 10
po = [22] * 40 + [80] * 40 + [23] * 10 + [99] * 10
gr = [f"r{i // 10}" for i in range(80)] + ["r23"] * 10 + ["r99a", "r99b", "r99c", "r99d", "r99e"] * 2
print(json.dumps(port_shifts(sc, po, ["a"] * 100, gr, quantile=0.5, shrink_runs=4.0, min_runs=3, allowed={22, 80, 23})))
`));
    // Runs weigh the same: 10 runs, 4 of 22 (score 1), 4 of 80 (0), 1 of 23 (5), 1 of 99 (7): the global median is 1.
    // Port 22: 4 / (4 + 4) * (1 - 1) = 0; port 80: 4 / 8 * (0 - 1) = -0.5; 23 has 1 run (< 3); 99 has no indicator.
    expect(out).toEqual({ '22': 0, '80': -0.5 });
  });

  it('add_port_shift(): the sensor scores a flow of a shifted port exactly its shift lower, other ports as before; applied twice the shifts add', async () => {
    const shifted = path.join(dir, 'shifted.onnx');
    copyFileSync(BUNDLED, shifted);
    python(`
import onnx
from calibrate import add_port_shift
m = onnx.load(${JSON.stringify(shifted)})
add_port_shift(m, {22: 0.5, 80: -0.25, 12345: 9.0})
add_port_shift(m, {22: 0.25})
onnx.checker.check_model(m)
onnx.save(m, ${JSON.stringify(shifted)})
`);
    // The shifts add to those the model has already (the bundled model may carry some).
    const had = readMetadataProps(readFileSync(BUNDLED), (what) => new Error(what)).get('anomaly_port_shift');
    const before0: Record<string, number> = had === undefined ? {} : JSON.parse(had);
    const props = readMetadataProps(readFileSync(shifted), (what) => new Error(what));
    const now = JSON.parse(props.get('anomaly_port_shift')!) as Record<string, number>;
    expect(now['22']).toBeCloseTo((before0['22'] ?? 0) + 0.75, 6);
    expect(now['80']).toBeCloseTo((before0['80'] ?? 0) - 0.25, 6);
    expect(now['12345']).toBeUndefined();
    expect(Object.keys(now).sort()).toEqual([...new Set([...Object.keys(before0), '22', '80'])].sort());
    const log = { warn() {}, info() {} };
    const a = await openAnomalyModel(BUNDLED, 'cpu', 1, log);
    const b = await openAnomalyModel(shifted, 'cpu', 1, log);
    try {
      const L = a.info.sequenceLength;
      const width = L + a.info.counters.length;
      const col = (port: number): number => L + a.info.counters.indexOf(`server_port=${port}`);
      expect(col(22)).toBeGreaterThanOrEqual(L);
      expect(col(80)).toBeGreaterThanOrEqual(L);
      const rows = 3;
      const input = new Float32Array(rows * width);
      for (let r = 0; r < rows; r++) input.set([517, -1448, 300, -900], r * width);
      input[0 * width + col(22)] = 1;
      input[1 * width + col(80)] = 1;
      // row 2: a port without an indicator (all zero): unshifted.
      const run = async (m: typeof a): Promise<Float32Array> =>
        (await m.session.run({ [m.inputName]: new ort.Tensor('float32', input, [rows, width]) }))[m.outputName]!.data as Float32Array;
      const before = await run(a);
      const after = await run(b);
      expect(after[0]! - before[0]!).toBeCloseTo(-0.75, 5);
      expect(after[1]! - before[1]!).toBeCloseTo(0.25, 5);
      expect(after[2]!).toBeCloseTo(before[2]!, 6);
    } finally {
      await a.session.release();
      await b.session.release();
    }
  });
});
