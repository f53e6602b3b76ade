import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { expectSameScores } from '../helpers/sameScores';
import { PYTHON, trainingPythonMissing } from '../helpers/trainingPython';

const ROOT = path.resolve(__dirname, '../..');
const missing = trainingPythonMissing();
const dir = mkdtempSync(path.join(tmpdir(), 'anomaly-streamline-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function python(code: string): string {
  const r = spawnSync(PYTHON, ['-c', `import sys\nsys.path.insert(0, ${JSON.stringify(path.join(ROOT, 'models/anomaly'))})\n${code}`], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

/**
 * models/anomaly/streamline.py (round perf14; models/ANOMALY.md "Graph rebuilt"): the graph of a model as fit.py
 * exports it, with a port shift from calibrate.py, rewritten for speed; every score must stay bit-identical.
 */
describe.skipIf(missing !== null)(`anomaly graph streamline.py${missing ? ` (skipped: ${missing})` : ''}`, () => {
  it('scores every row bit-identically to the graph fit.py and calibrate.py wrote, at any batch size', async () => {
    const a = path.join(dir, 'fitted.onnx');
    const b = path.join(dir, 'streamlined.onnx');
    // A fit.py Scorer with untrained members: 6 sequence positions, 5 counters, 4 server port indicators (weight 0,
    // as fit.py's group_weights() gives them), 2 context counters.
    python(`
import json
import numpy as np, onnx, torch
import fit as F
from calibrate import add_port_shift
torch.manual_seed(3)
L = 6
counters = ["duration", "c2s_bytes", "s2c_bytes", "conn_state=SF", "conn_state=S0",
            "server_port=22", "server_port=80", "server_port=443", "server_port=53", "ctx_pair_flows", "ctx_pair_retries"]
W = L + len(counters)
rng = np.random.default_rng(5)
t = F.Transform(L, rng.normal(0, 1, W).astype(np.float32), rng.uniform(0.5, 2, W).astype(np.float32))
aes = [F.AutoEncoder(W, 16, 4, n_ctx=2) for _ in range(3)]
weights = [1 / 18] * L + [1 / 15] * 5 + [0.0] * 4 + [1 / 6] * 2
parts = [0] * L + [1] * 5 + [1] * 4 + [2] * 2
s = F.Scorer(t, aes, weights, parts)
s.gains[:] = torch.tensor([0.0, 1.5, 1.1])
s.floor[:] = torch.tensor([0.0, 0.0, 0.2])
s.eval()
torch.onnx.export(s, torch.zeros(2, W), ${JSON.stringify(a)}, input_names=["features"], output_names=["score"],
                  dynamic_axes={"features": {0: "N"}, "score": {0: "N"}}, opset_version=13)
m = onnx.load(${JSON.stringify(a)})
for k, v in (("sequence_length", str(L)), ("anomaly_counters", json.dumps(counters))):
    e = m.metadata_props.add(); e.key, e.value = k, v
add_port_shift(m, {22: 0.3, 443: -0.2, 53: 0.05})
onnx.save(m, ${JSON.stringify(a)})
`);
    const run = spawnSync(PYTHON, [path.join(ROOT, 'models/anomaly/streamline.py'), a, b], { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    const out = run.stdout;
    expect(out).toMatch(/decoder outputs 17 -> 13 columns/);
    const kinds = python(`import onnx; print(" ".join(sorted({n.op_type for n in onnx.load(${JSON.stringify(b)}).graph.node})))`);
    expect(kinds).not.toMatch(/\bPow\b|\bGather\b/);

    // Lengths with a fifth of them 0 (short sequences), at odd batch sizes too.
    await expectSameScores(a, b, rowsOf(600, 7, 0.2), 600, [256, 255, 512, 7, 1]);
  }, 120_000);

  it('keeps a graph it already rewrote, and makes a later port shift (calibrate.py --write) a Slice, scores bit-identical', async () => {
    // Needs the first test's graphs: the plain one (a) and the streamlined one (b).
    const a = path.join(dir, 'fitted.onnx');
    const b = path.join(dir, 'streamlined.onnx');
    const again = path.join(dir, 'again.onnx');
    const run = spawnSync(PYTHON, [path.join(ROOT, 'models/anomaly/streamline.py'), b, again], { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/already rewritten; unchanged/);
    expect(readFileSync(again).equals(readFileSync(b))).toBe(true);
    // A second port shift on both graphs, as calibrate.py --write adds it; the streamlined one rewritten again.
    const a2 = path.join(dir, 'fitted-shifted.onnx');
    const b2 = path.join(dir, 'streamlined-shifted.onnx');
    const out = python(`
import json, onnx
from calibrate import add_port_shift
from streamline import streamline
m = add_port_shift(onnx.load(${JSON.stringify(a)}), {80: 0.4, 443: 0.1})
onnx.save(m, ${JSON.stringify(a2)})
m = add_port_shift(onnx.load(${JSON.stringify(b)}), {80: 0.4, 443: 0.1})
print(streamline(m))
onnx.save(m, ${JSON.stringify(b2)})
print(json.dumps(sorted({n.op_type for n in m.graph.node})))
`);
    expect(out).toMatch(/already rewritten; 1 port shift Gather\(s\) made Slices/);
    expect(out).not.toMatch(/Gather"|Pow"/);
    const x = rowsOf(300);
    await expectSameScores(a2, b2, x, 300, [1, 7, 256]);
  }, 120_000);

  it('fit.py keeps the graph as fitted, in one log line, where streamline.py refuses it (no server port indicators)', () => {
    const features = path.join(dir, 'features');
    const model = path.join(dir, 'noports.onnx');
    python(`
import json, os
import numpy as np
os.makedirs(${JSON.stringify(features)})
L, n = 6, 2000
counters = ["duration", "c2s_bytes", "s2c_bytes", "conn_state=SF", "conn_state=S0", "ctx_pair_flows", "ctx_pair_retries"]
rng = np.random.default_rng(2)
x = np.abs(rng.normal(100, 30, (n, L + len(counters)))).astype("<f4")
x.tofile(os.path.join(${JSON.stringify(features)}, "features.f32"))
json.dump({"rows": n, "width": L + len(counters), "sequence_length": L, "counters": counters, "context_hold": 5,
           "groups": 1, "training_data": "synthetic"}, open(os.path.join(${JSON.stringify(features)}, "features.json"), "w"))
`);
    const r = spawnSync(PYTHON, [path.join(ROOT, 'models/anomaly/fit.py'), '--features', features, '--out', model, '--epochs', '1', '--hidden', '8', '--code', '4'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('graph '))).toEqual(['graph plain (streamline.py refused: every error weight is non-zero: nothing to cut)']);
    const kinds = python(`import onnx; print(" ".join(sorted({n.op_type for n in onnx.load(${JSON.stringify(model)}).graph.node})))`);
    expect(kinds).toMatch(/\bPow\b/);
  }, 120_000);
});

/** n rows of 17 columns, shaped as the first test's graph reads them. */
/** n feature rows of the test graphs (17 columns), from a fixed seed; `zeroShare` of the lengths are 0. */
function rowsOf(n: number, seed = 11, zeroShare = 0): Float32Array {
  const W = 17;
  const x = new Float32Array(n * W);
  const rand = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (let i = 0; i < n; i++) {
    const r = x.subarray(i * W, (i + 1) * W);
    for (let k = 0; k < 6; k++) {
      r[k] = (rand() < 0.5 ? -1 : 1) * Math.floor(rand() * 1500);
      if (zeroShare > 0 && rand() < zeroShare) r[k] = 0;
    }
    r[6] = rand() * 30;
    r[7] = Math.floor(rand() * 1e5);
    r[8] = Math.floor(rand() * 1e6);
    r[9 + Math.floor(rand() * 2)] = 1;
    const port = Math.floor(rand() * 5);
    if (port < 4) r[11 + port] = 1;
    r[15] = Math.floor(rand() * 300);
    r[16] = Math.floor(rand() * 50);
  }
  return x;
}
