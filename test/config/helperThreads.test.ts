import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { applyEnv, ConfigError, defaultConfig } from '../../src/config/config';
import { HELPER_THREADS, helperThread, helperThreadOff, unknownThreadNames } from '../../src/config/helperThreads';

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

  it('turns no part off for a name it does not know', () => {
    for (const part of HELPER_THREADS) expect(helperThreadOff(part, { SENSOR_THREADS_OFF: 'gpu,other' })).toBe(false);
  });
});

describe('SENSOR_THREADS_OFF with a name that is no thread', () => {
  it('is refused where the environment is read, with the names it takes', () => {
    expect(unknownThreadNames({ SENSOR_THREADS_OFF: 'inference,databse' })).toEqual(['databse']);
    expect(unknownThreadNames({ SENSOR_THREADS_OFF: 'all, ,readahead,' })).toEqual([]);
    expect(() => applyEnv(defaultConfig(), { SENSOR_THREADS_OFF: 'inference,databse' })).toThrow(ConfigError);
    expect(() => applyEnv(defaultConfig(), { SENSOR_THREADS_OFF: 'databse' })).toThrow(
      'environment SENSOR_THREADS_OFF: no thread "databse"; name any of inference, database, readahead, anomaly or all, comma-separated',
    );
    expect(() => applyEnv(defaultConfig(), { SENSOR_THREADS_OFF: 'Database, all' })).not.toThrow();
  });
});
