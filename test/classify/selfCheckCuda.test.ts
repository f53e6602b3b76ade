import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';

import { readOnnxMetadata } from '../../src/classify/onnxMetadata';
import { openModel } from '../../src/classify/openModel';
import { SelfCheckError } from '../../src/classify/selfCheck';
import type { OrtSession } from '../../src/classify/ortBinding';
import { withMetadata } from '../monitor/referenceModel';

// This machine has no GPU: the "CUDA" session is a real CPU session of the model whose outputs the test can spoil, as a
// CUDA execution provider that computes the model otherwise would. Everything else (the contract, the self-check, the
// fallback's CPU session) is the sensor's own code on the real model.
const cuda = vi.hoisted(() => ({ broken: false, created: 0 }));

vi.mock('../../src/classify/deviceSession', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/classify/deviceSession')>();
  return {
    ...real,
    createDeviceSession: async (...args: Parameters<typeof real.createDeviceSession>) => {
      const [model, device, threads, logger] = args;
      const made = await real.createDeviceSession(model, 'cpu', threads, logger);
      if (device === 'cpu') return made;
      cuda.created++;
      const inner = made.session;
      const session = new Proxy(inner, {
        get(target, key) {
          if (key === 'run') {
            return async (feeds: Parameters<OrtSession['run']>[0]) => {
              const out = await target.run(feeds);
              if (cuda.broken) {
                // Row 31 of every batch gets another top class, as round perf38's fault did.
                const t = Object.values(out)[0]!;
                const data = t.data as Float32Array;
                const K = t.dims[1] as number;
                if (t.dims[0]! > 31) {
                  const row = data.subarray(31 * K, 32 * K);
                  const top = row.indexOf(Math.max(...row));
                  row.fill(0);
                  row[(top + 1) % K] = 1;
                }
              }
              return out;
            };
          }
          const v = Reflect.get(target, key) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      });
      return { session, device: 'cuda' as const, cudaError: null };
    },
  };
});

const MODEL = path.resolve(__dirname, '../../models/sensor.onnx');
const tmp = mkdtempSync(path.join(tmpdir(), 'selfcheck-cuda-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function logger() {
  const warnings: string[] = [];
  return { warnings, log: { warn: (m: string) => warnings.push(m), info: () => {} } };
}

beforeEach(() => {
  cuda.broken = false;
  cuda.created = 0;
});

describe('a CUDA session that fails the self-check', () => {
  it('falls back to the CPU with one warning, and the CPU session passes', async () => {
    cuda.broken = true;
    const { warnings, log } = logger();
    const m = await openModel(MODEL, 'auto', 1, log);
    try {
      expect(cuda.created).toBe(1);
      expect(m.info.device).toBe('cpu');
      expect(m.cudaError).toMatch(/^the CUDA execution provider does not reproduce the model's reference outputs on 1 of \d+ rows \(rows 31;/);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain(`model ${MODEL}: the CUDA execution provider does not reproduce`);
      expect(warnings[0]).toMatch(/; classifying on CPU$/);
      expect(warnings[0]).not.toContain('\n');
    } finally {
      await m.session.release();
    }
  });

  it('is used when it reproduces the reference', async () => {
    const { warnings, log } = logger();
    const m = await openModel(MODEL, 'auto', 1, log);
    try {
      expect(m.info.device).toBe('cuda');
      expect(m.cudaError).toBeNull();
      expect(warnings).toEqual([]);
    } finally {
      await m.session.release();
    }
  });

  it('is refused with the CPU check when the CPU does not reproduce it either', async () => {
    // A copy whose reference is off on row 3: every runtime fails it, the CPU fallback included.
    const bytes = readFileSync(MODEL);
    const entry = JSON.parse(readOnnxMetadata(bytes).props.get('self_check')!) as { expected: number[][] };
    const row = entry.expected[3]!;
    const top = row.indexOf(Math.max(...row));
    entry.expected[3] = row.map((_, i) => (i === (top + 1) % row.length ? 1 : 0));
    const file = path.join(tmp, 'off.onnx');
    writeFileSync(file, withMetadata(bytes, 'self_check', JSON.stringify(entry)));
    cuda.broken = true;
    const { warnings, log } = logger();
    const err = await openModel(file, 'auto', 1, log).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SelfCheckError);
    expect((err as Error).message).toMatch(new RegExp(`^model ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: self-check failed: .* on 1 of \\d+ rows \\(rows 3;`));
    expect(warnings).toHaveLength(1);
  });

  it('on a CPU session is refused, not retried', async () => {
    const bytes = readFileSync(MODEL);
    const entry = JSON.parse(readOnnxMetadata(bytes).props.get('self_check')!) as { expected: number[][] };
    entry.expected[0] = entry.expected[0]!.map((p, i) => (i === 0 ? p + 0.5 : p));
    const file = path.join(tmp, 'off-cpu.onnx');
    writeFileSync(file, withMetadata(bytes, 'self_check', JSON.stringify(entry)));
    const { warnings, log } = logger();
    await expect(openModel(file, 'cpu', 1, log)).rejects.toBeInstanceOf(SelfCheckError);
    expect(cuda.created).toBe(0);
    expect(warnings).toEqual([]);
  });
});
