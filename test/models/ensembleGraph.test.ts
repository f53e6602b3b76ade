import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { openModel } from '../../src/classify/openModel';
import { ort } from '../../src/classify/ortBinding';
import { readWhoIsTalkingCsv } from '../../src/sink/readWhoIsTalkingCsv';
import { PYTHON, trainingPythonMissing } from '../helpers/trainingPython';

const REPO = path.resolve(__dirname, '../..');
const SAMPLE = path.join(REPO, 'models/lab/sample.csv');

const missing = trainingPythonMissing();
if (missing !== null) process.stderr.write(`test/models/ensembleGraph: skipped: ${missing}\n`);

// Three small members of the shipped architecture (PpiMlp with exact lengths and buckets, a fitted exact-length
// vocabulary and a temperature), exported the way train.py exports them, then averaged by ensemble.py three ways.
const BUILD = `
import sys, json, collections
sys.path.insert(0, ${JSON.stringify(path.join(REPO, 'models/train'))})
import numpy as np, onnx, torch
from net import PpiMlp, EXACT_UNSEEN
from train import export
import ensemble
out = sys.argv[1]
classes = ["a", "b", "c", "d", "other"]
paths = []
for seed in range(3):
    torch.manual_seed(seed)
    m = PpiMlp(len(classes), hidden=24, hidden2=12, exact=True)
    with torch.no_grad():
        for p in m.parameters():
            p.mul_(3.0)  # confident members: top-1 decisions that mean something
        counts = torch.from_numpy(np.random.default_rng(seed).integers(0, 6, EXACT_UNSEEN))
        m.set_exact_counts(counts, 3)
        m.temperature.fill_(1.0 + 0.3 * seed)
    p = f"{out}/m{seed}.onnx"
    export(m, classes, p, 30, f"member-{seed}", "test member", [("background_classes", json.dumps(["other"]))])
    paths.append(p)
props = [(p.key, p.value) for p in onnx.load(paths[0]).metadata_props]
info = {}
for name, kw in (("unfused", {"fuse": False}), ("fused", {}), ("int8", {"int8": True})):
    info[name] = ensemble.merge_onnx(paths, f"{out}/{name}.onnx", props, **kw)
    info[name]["ops"] = collections.Counter(n.op_type for n in onnx.load(f"{out}/{name}.onnx").graph.node)
print(json.dumps(info))
`;

// The int8 graph's integer products computed with float ops by bench/self-check-avx2.py: exactly (0, as VNNI, AMX, ARM
// and SSE-only CPUs compute them) and with the int16 saturation of onnxruntime's u8 x s8 kernels on x86 CPUs without
// VNNI (1: AVX2, AVX-512 without VNNI, VPMADDUBSW). Every product is an integer below 2^24, so both are exact in float.
const EMULATE = path.join(REPO, 'bench/self-check-avx2.py');

/** Which of the two this CPU's onnxruntime computes: 'saturating' on x86 with AVX2 and no VNNI, else 'exact'. */
function int8Products(): 'exact' | 'saturating' {
  const info = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'latin1') : '';
  const flags = new Set((/^flags\s*:(.*)$/m.exec(info)?.[1] ?? '').trim().split(/\s+/));
  return flags.has('avx2') && !flags.has('avx512_vnni') && !flags.has('avx_vnni') ? 'saturating' : 'exact';
}

type Info = Record<string, { ops: Record<string, number>; fused_heads?: { members: number }; scattered_runs?: unknown[]; int8_products?: number; flattened_features?: { flattened: number; inlined: number } | null }>;

describe.skipIf(missing !== null)(`models/train/ensemble.py averaged graph${missing ? ` (skipped: ${missing})` : ''}`, () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sensor-ensemble-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('stacked heads and scattered run sums compute what the members side by side compute; int8 keeps the decisions; the CPU computes its products exactly or saturated', async () => {
    const r = spawnSync(PYTHON, ['-c', BUILD, dir], { encoding: 'utf8', timeout: 240_000 });
    expect(r.status, `build failed:\n${r.stdout}\n${r.stderr}`).toBe(0);
    const info = JSON.parse(r.stdout.trim().split('\n').pop() as string) as Info;
    for (const [name, sat] of [['int8exact', '0'], ['int8sat', '1']] as const) {
      const e = spawnSync(PYTHON, [EMULATE, path.join(dir, 'int8.onnx'), path.join(dir, `${name}.onnx`), sat], { encoding: 'utf8', timeout: 120_000 });
      expect(e.status, `${EMULATE} failed:\n${e.stdout}\n${e.stderr}`).toBe(0);
    }

    // the side-by-side graph: one Softmax per member and their Mean; the fused one: one Softmax, one ReduceMean
    expect(info.unfused!.ops.Softmax).toBe(3);
    expect(info.unfused!.ops.Mean).toBe(1);
    expect(info.fused!.fused_heads?.members).toBe(3);
    expect(info.fused!.scattered_runs).toHaveLength(1);
    expect(info.fused!.ops.Softmax).toBe(1);
    expect(info.fused!.ops.ReduceMean).toBe(1);
    expect(info.fused!.ops.Mean).toBeUndefined();
    expect(info.fused!.ops.ScatterElements).toBe(3); // run bytes, signs and packets
    expect(info.fused!.ops.Gemm).toBe(1); // the shared features' columns of every member's first layer
    expect(info.int8!.int8_products).toBe(4); // that Gemm, the members' embeddings (one batched product), 2 batched layers
    expect(info.int8!.ops.MatMulInteger).toBe(4);
    // the features' layout flattened (flatten_features): no Flatten or Range left, and the per-position features
    // and flow features are inputs of the dense head input's Concat itself
    expect(info.fused!.flattened_features).toEqual({ flattened: 1, inlined: 2 });
    expect(info.fused!.ops.Flatten).toBeUndefined();
    expect(info.fused!.ops.Range).toBeUndefined();
    expect(info.unfused!.ops.Flatten).toBeGreaterThan(0);

    // real rows, plus rows with more than 10 direction runs (the runs past the 10th are dropped, not summed in)
    const sample = await readWhoIsTalkingCsv(SAMPLE);
    const rows = sample.rows.map((row) => row.lengths);
    rows.push(Array.from({ length: 30 }, (_, i) => (i % 2 ? -1 : 1) * (40 + 37 * i)));
    rows.push(Array.from({ length: 30 }, (_, i) => (i % 3 === 2 ? -1460 : 517 + i)));
    rows.push(Array.from({ length: 30 }, () => 0));
    const n = rows.length;
    const input = new Float32Array(n * 30);
    rows.forEach((row, i) => row.forEach((v, j) => { input[i * 30 + j] = v; }));

    const probs: Record<string, Float32Array> = {};
    for (const name of ['unfused', 'fused', 'int8', 'int8exact', 'int8sat']) {
      const model = await openModel(path.join(dir, `${name}.onnx`), 'cpu', 1);
      try {
        expect(model.info.classes).toEqual(['a', 'b', 'c', 'd', 'other']);
        const out = await model.session.run({ [model.inputName]: new ort.Tensor('float32', input, [n, 30]) });
        probs[name] = out[model.outputName]!.data as Float32Array;
      } finally {
        await model.session.release();
      }
    }
    const K = 5;
    const top = (p: Float32Array, i: number) => {
      let best = 0;
      for (let k = 1; k < K; k++) if (p[i * K + k]! > p[i * K + best]!) best = k;
      return best;
    };
    const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
    const topAgree = (a: Float32Array, b: Float32Array) => {
      let same = 0;
      for (let i = 0; i < n; i++) if (top(a, i) === top(b, i)) same++;
      return same / n;
    };
    expect(maxDiff(probs.fused!, probs.unfused!)).toBeLessThanOrEqual(2e-6); // an exact rewrite, up to float summation order
    // The quantization's own error, with the integer products exact: int8 really is another computation, and it keeps
    // the decisions.
    const maxInt8 = maxDiff(probs.int8exact!, probs.unfused!);
    expect(maxInt8).toBeGreaterThan(0);
    expect(maxInt8).toBeLessThanOrEqual(0.05);
    expect(topAgree(probs.int8exact!, probs.unfused!)).toBeGreaterThanOrEqual(0.98);
    // This CPU's onnxruntime computes the int8 graph as one of the two: exactly, or with AVX2's saturation, which on
    // these confident members moves probabilities by up to ~0.26 and changes ~10% of the top classes (on an AMD Zen 3:
    // 0.257, 90.0% the same; the bundled model moves by at most 0.024 there: README, round perf43's tolerance).
    const kind = int8Products();
    const other = kind === 'exact' ? probs.int8sat! : probs.int8exact!;
    const mine = kind === 'exact' ? probs.int8exact! : probs.int8sat!;
    expect(maxDiff(probs.int8!, mine), `this CPU computes the int8 products ${kind === 'exact' ? 'exactly' : 'with int16 saturation'}`).toBeLessThanOrEqual(1e-6);
    expect(maxDiff(mine, other)).toBeGreaterThan(0.01); // the two really differ on these rows
  }, 300_000);
});
