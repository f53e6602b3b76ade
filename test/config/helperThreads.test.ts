import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { HELPER_THREADS, helperThread, helperThreadOff } from '../../src/config/helperThreads';

describe('SENSOR_THREADS_OFF', () => {
  it('names nothing by default: every part follows availableParallelism()', () => {
    for (const part of HELPER_THREADS) {
      expect(helperThreadOff(part, {})).toBe(false);
      expect(helperThreadOff(part, { SENSOR_THREADS_OFF: '' })).toBe(false);
      expect(helperThread(part, {})).toBe(availableParallelism() > 1);
    }
  });

  it('turns off the parts it names, or all of them', () => {
    const env = { SENSOR_THREADS_OFF: 'inference, Database' };
    expect(helperThreadOff('inference', env)).toBe(true);
    expect(helperThreadOff('database', env)).toBe(true);
    expect(helperThreadOff('readahead', env)).toBe(false);
    expect(helperThreadOff('anomaly', env)).toBe(false);
    expect(helperThread('inference', env)).toBe(false);
    for (const part of HELPER_THREADS) expect(helperThread(part, { SENSOR_THREADS_OFF: 'all' })).toBe(false);
  });

  it('ignores names it does not know', () => {
    for (const part of HELPER_THREADS) expect(helperThreadOff(part, { SENSOR_THREADS_OFF: 'gpu,other' })).toBe(false);
  });
});
