import { describe, expect, it } from 'vitest';
import { binOf, parseInputReference, psi } from '../../src/monitor/inputReference';
import { buildReference, labFlow, rng } from './referenceModel';

describe('binOf()', () => {
  const edges = [-1500, -100, 0, 1, 100, 1500];
  it('puts v in [edges[i], edges[i+1]) and clips below the first and from the last edge', () => {
    expect(binOf(edges, -99999)).toBe(0);
    expect(binOf(edges, -1500)).toBe(0);
    expect(binOf(edges, -100)).toBe(1);
    expect(binOf(edges, -1)).toBe(1);
    expect(binOf(edges, 0)).toBe(2);
    expect(binOf(edges, 1)).toBe(3);
    expect(binOf(edges, 99)).toBe(3);
    expect(binOf(edges, 100)).toBe(4);
    expect(binOf(edges, 1500)).toBe(4);
    expect(binOf(edges, 99999)).toBe(4);
  });
});

describe('psi()', () => {
  it('is 0 for the expected distribution and grows with the shift', () => {
    expect(psi([50, 30, 20], 100, [0.5, 0.3, 0.2])).toBeCloseTo(0, 12);
    const small = psi([45, 33, 22], 100, [0.5, 0.3, 0.2])!;
    const large = psi([10, 30, 60], 100, [0.5, 0.3, 0.2])!;
    expect(small).toBeGreaterThan(0);
    expect(small).toBeLessThan(0.1);
    expect(large).toBeGreaterThan(0.25);
    expect(psi([0, 0, 0], 0, [0.5, 0.3, 0.2])).toBeNull();
  });

  it('stays finite when a bin is empty on either side', () => {
    const v = psi([100, 0, 0], 100, [0, 0.5, 0.5])!;
    expect(Number.isFinite(v)).toBe(true);
    expect(v).toBeGreaterThan(5);
  });
});

describe('parseInputReference()', () => {
  const r = rng(1);
  const flows = Array.from({ length: 200 }, () => ({ lengths: labFlow(r), top1: 'interactive', confidence: 0.97, label: 'interactive' }));
  const good = buildReference(flows, ['bulk-upload', 'bulk-download', 'interactive'], 30);

  it('reads the agreed format', () => {
    const ref = parseInputReference(good, 30, ['bulk-upload', 'bulk-download', 'interactive']);
    expect(typeof ref).toBe('object');
    if (typeof ref === 'string') return;
    expect(ref.positions).toHaveLength(30);
    expect(ref.classPriors.get('interactive')).toBe(1);
    expect(ref.nFlows).toBe(200);
  });

  it('says in one line why a reference cannot be used', () => {
    expect(parseInputReference(good, 20, ['bulk-upload', 'bulk-download', 'interactive'])).toBe(
      "input_reference: positions must have one histogram per position of the model's sequence (20)",
    );
    expect(parseInputReference(good, 30, ['bulk-upload', 'interactive'])).toBe(
      'input_reference: class_priors names "bulk-download", which is not one of the model\'s classes',
    );
    expect(parseInputReference('{', 30, ['a'])).toMatch(/^input_reference is not JSON/);
    const doc = JSON.parse(good) as { version: number; positions: number[][]; edges: number[] };
    expect(parseInputReference(JSON.stringify({ ...doc, version: 2 }), 30, ['bulk-upload', 'bulk-download', 'interactive'])).toContain('version 2 is not supported');
    doc.positions[3]![0] = doc.positions[3]![0]! + 0.5;
    expect(parseInputReference(JSON.stringify(doc), 30, ['bulk-upload', 'bulk-download', 'interactive'])).toMatch(/positions\[3\] sums to 1\.5/);
  });
});
