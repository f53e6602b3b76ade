import { describe, expect, it, vi } from 'vitest';

// The CPU count the module sees, set by each test (os.availableParallelism() follows taskset and cgroups).
const cpus = vi.hoisted(() => ({ n: 2 }));
vi.mock('node:os', async (importOriginal) => {
  const os = await importOriginal<typeof import('node:os')>();
  return { ...os, availableParallelism: () => cpus.n };
});

import { applyEnv, ConfigError, defaultConfig } from '../../src/config/config';
import { FILE_RUN_THREAD_CPUS, HELPER_THREADS, helperThread } from '../../src/config/helperThreads';

describe('helper threads of a run over capture files', () => {
  it('get a thread from FILE_RUN_THREAD_CPUS CPUs on; streams (live, stdin) from two', () => {
    expect(FILE_RUN_THREAD_CPUS).toBe(3);
    for (const [n, files, stream] of [
      [1, false, false],
      [2, false, true],
      [3, true, true],
      [16, true, true],
    ] as const) {
      cpus.n = n;
      for (const part of HELPER_THREADS) {
        expect(helperThread(part, {}, true), `${part} on ${n} CPUs, files`).toBe(files);
        expect(helperThread(part, {}, false), `${part} on ${n} CPUs, stream`).toBe(stream);
        expect(helperThread(part, {}), `${part} on ${n} CPUs, default kind`).toBe(stream);
      }
    }
  });

  it('SENSOR_THREADS_ON gives the parts it names their threads on two CPUs, never on one', () => {
    cpus.n = 2;
    const env = { SENSOR_THREADS_ON: 'Inference, database' };
    expect(helperThread('inference', env, true)).toBe(true);
    expect(helperThread('database', env, true)).toBe(true);
    expect(helperThread('readahead', env, true)).toBe(false);
    for (const part of HELPER_THREADS) expect(helperThread(part, { SENSOR_THREADS_ON: 'all' }, true)).toBe(true);
    cpus.n = 1;
    for (const part of HELPER_THREADS) expect(helperThread(part, { SENSOR_THREADS_ON: 'all' }, true)).toBe(false);
  });

  it('SENSOR_THREADS_OFF wins over SENSOR_THREADS_ON, on any number of CPUs', () => {
    for (const n of [2, 8]) {
      cpus.n = n;
      const env = { SENSOR_THREADS_ON: 'all', SENSOR_THREADS_OFF: 'database' };
      expect(helperThread('database', env, true)).toBe(false);
      expect(helperThread('database', env, false)).toBe(false);
      expect(helperThread('inference', env, true)).toBe(true);
    }
  });

  it('refuses a SENSOR_THREADS_ON name that is no thread, as SENSOR_THREADS_OFF does', () => {
    expect(() => applyEnv(defaultConfig(), { SENSOR_THREADS_ON: 'infrence' })).toThrow(ConfigError);
    expect(() => applyEnv(defaultConfig(), { SENSOR_THREADS_ON: 'infrence' })).toThrow(
      'environment SENSOR_THREADS_ON: no thread "infrence"; name any of inference, database, readahead, anomaly or all, comma-separated',
    );
    expect(() => applyEnv(defaultConfig(), { SENSOR_THREADS_ON: 'all', SENSOR_THREADS_OFF: 'readahead' })).not.toThrow();
  });
});
