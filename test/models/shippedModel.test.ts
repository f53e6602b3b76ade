import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

import { loadModelInfo } from '../../src/classify/classifier';
import { readOnnxMetadata } from '../../src/classify/onnxMetadata';

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
});
