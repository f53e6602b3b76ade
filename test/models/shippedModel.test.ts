import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

import { loadModelInfo } from '../../src/classify/classifier';
import { readOnnxMetadata } from '../../src/classify/onnxMetadata';
import { ort } from '../../src/classify/ortBinding';

const MODEL = path.resolve(__dirname, '../../models/sensor.onnx');

interface InputReference {
  version: number;
  n_flows: number;
  edges: number[];
  positions: number[][];
  payload_packets: number[];
  class_priors: Record<string, number>;
  confidence: { edges: number[]; probs: number[] };
  unknown_share: number;
}

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

describe('the shipped model (models/sensor.onnx)', () => {
  it('meets the contract and carries its unknown rule: a background class and its own threshold', async () => {
    const info = await loadModelInfo(MODEL);
    expect(info.sequenceLength).toBe(30);
    expect(info.backgroundClasses.length).toBeGreaterThan(0);
    for (const c of info.backgroundClasses) expect(info.classes).toContain(c);
    expect(info.unknownThreshold).not.toBeNull();
    expect(info.unknownThreshold!).toBeGreaterThanOrEqual(0);
    expect(info.unknownThreshold!).toBeLessThanOrEqual(1);
    expect(readFileSync(MODEL).length).toBeLessThan(2 * 1024 * 1024);
  });

  it('carries input_reference for drift monitoring in the documented format (models/README.md)', async () => {
    const info = await loadModelInfo(MODEL);
    const props = readOnnxMetadata(readFileSync(MODEL)).props;
    const text = props.get('input_reference');
    expect(text, 'metadata input_reference is missing').toBeDefined();
    const ref = JSON.parse(text!) as InputReference;
    expect(ref.version).toBe(1);
    expect(ref.n_flows).toBeGreaterThan(1000);
    // ascending edges, with the padding value 0 alone in its bin [0, 1)
    const B = ref.edges.length - 1;
    for (let i = 1; i <= B; i++) expect(ref.edges[i]!).toBeGreaterThan(ref.edges[i - 1]!);
    expect(ref.edges).toContain(0);
    expect(ref.edges[ref.edges.indexOf(0) + 1]).toBe(1);
    expect(ref.positions).toHaveLength(info.sequenceLength);
    for (const row of ref.positions) {
      expect(row).toHaveLength(B);
      expect(sum(row)).toBeCloseTo(1, 4);
    }
    // later positions are padding more often than the first (short flows)
    const zeroBin = ref.edges.indexOf(0);
    expect(ref.positions[29]![zeroBin]!).toBeGreaterThan(ref.positions[0]![zeroBin]!);
    expect(ref.payload_packets).toHaveLength(info.sequenceLength + 1);
    expect(sum(ref.payload_packets)).toBeCloseTo(1, 4);
    expect(Object.keys(ref.class_priors).sort()).toEqual([...info.classes].sort());
    expect(sum(Object.values(ref.class_priors))).toBeCloseTo(1, 4);
    expect(ref.confidence.edges[0]).toBe(0);
    expect(ref.confidence.edges[ref.confidence.edges.length - 1]).toBe(1);
    expect(ref.confidence.probs).toHaveLength(ref.confidence.edges.length - 1);
    expect(sum(ref.confidence.probs)).toBeCloseTo(1, 4);
    expect(ref.unknown_share).toBeGreaterThanOrEqual(0);
    expect(ref.unknown_share).toBeLessThanOrEqual(1);
  });

  it('answers every row of an even batch as the same rows with the last one repeated (ensemble.py pad_even_batch)', async () => {
    // The graph runs an even batch with its last row repeated once and drops it from the output (4 KiB cache-set
    // conflicts of its member-major transposes at batch 256, models/README.md): an odd batch of the same rows plus that
    // repeat takes no padding path, and per-call activation quantization sees the same range, so the two must agree
    // to the bit.
    const lines = readFileSync(path.resolve(__dirname, '../../models/lab/sample.csv'), 'utf8').trim().split('\n').slice(1);
    const L = 30;
    const session = await ort.InferenceSession.create(MODEL, { executionProviders: ['cpu'], intraOpNumThreads: 1 });
    try {
      for (const B of [2, 64, 256]) {
        const X = new Float32Array((B + 1) * L);
        for (let i = 0; i < B; i++) X.set(lines[(i * 7) % lines.length]!.split(',').slice(1, L + 1).map(Number), i * L);
        X.copyWithin(B * L, (B - 1) * L, B * L);
        const run = async (rows: number): Promise<Float32Array> => {
          const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', X.subarray(0, rows * L), [rows, L]) });
          return out[session.outputNames[0]!]!.data as Float32Array;
        };
        const even = await run(B);
        const odd = await run(B + 1);
        expect(even.length).toBe(B * 30);
        expect(Array.from(even)).toEqual(Array.from(odd.subarray(0, B * 30)));
      }
    } finally {
      await session.release();
    }
  });
});
