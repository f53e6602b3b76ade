import { describe, expect, it } from 'vitest';
import type { ClassifiedFlow } from '../../src/classify/verdict';
import { GuardedSink } from '../../src/pipeline/flowSink';
import { SinkError } from '../../src/sink/sinkError';
import { classified } from '../sink/classified';

/** A sink that fails from its `failAt`-th write on, with `rowsLost` rows of that batch lost, and again at close. */
function failing(failAt: number, rowsLost?: number): { writes: number; write(b: ClassifiedFlow[]): void; close(): void } {
  return {
    writes: 0,
    write(b) {
      if (++this.writes >= failAt) throw new SinkError(`writing ${b.length} flows failed: database or disk is full`, undefined, rowsLost);
    },
    close() {
      throw new Error('PRAGMA optimize: database or disk is full');
    },
  };
}

const batch = (n: number): ClassifiedFlow[] => Array.from({ length: n }, (_, i) => classified(i));

describe('GuardedSink', () => {
  it('reports the first failure once, counts the lost records, and never lets close() mask it', async () => {
    const errors: string[] = [];
    const g = new GuardedSink(failing(2), (e) => errors.push(e.message));
    g.write(batch(10));
    g.write(batch(7));
    g.write(batch(5));
    await g.close();
    expect(errors).toEqual(['writing 7 flows failed: database or disk is full']);
    expect(g.lost).toBe(12);
  });

  it('counts only the rows the failing write says it lost (transactions committed before the failure stay)', () => {
    const g = new GuardedSink(failing(1, 3), () => undefined);
    g.write(batch(10));
    expect(g.lost).toBe(3);
  });

  it('reports a failure at close() when nothing failed before', async () => {
    const errors: string[] = [];
    const g = new GuardedSink(failing(99), (e) => errors.push(e.message));
    g.write(batch(2));
    await g.close();
    expect(errors).toEqual(['PRAGMA optimize: database or disk is full']);
    expect(g.lost).toBe(0);
  });
});
