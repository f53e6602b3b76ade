import { availableParallelism } from 'node:os';

/** The parts of a run that get a thread of their own where the process may use more than one CPU. */
export type HelperThread = 'inference' | 'database' | 'readahead' | 'anomaly';

export const HELPER_THREADS: readonly HelperThread[] = ['inference', 'database', 'readahead', 'anomaly'];

/**
 * Whether `part` gets a thread of its own by default: where the process may use more than one CPU
 * (os.availableParallelism(), which follows taskset, CPUAffinity= and cgroup CPU sets), unless the environment
 * variable SENSOR_THREADS_OFF names it (a comma-separated list of `inference`, `database`, `readahead`, `anomaly`,
 * or `all`). The part then runs on the capture thread as it does on one CPU; records do not depend on it.
 *
 * For measuring which thread pays on a machine, and for machines where none does: on the 2-vCPU Intel KVM guest of
 * round perf23 (bench/HISTORY.md) the threads took ~25% more process CPU for about the same wall time, where on the
 * AMD guest of earlier rounds they took ~13% more CPU for ~27% less wall time. An explicit choice in code (a `thread`
 * option) or in the config (`anomaly.thread: false`) still decides first; `anomaly` only turns a configured
 * `anomaly.thread: true` off.
 */
export function helperThread(part: HelperThread, env: NodeJS.ProcessEnv = process.env): boolean {
  return !helperThreadOff(part, env) && availableParallelism() > 1;
}

/** Whether SENSOR_THREADS_OFF names `part` (or `all`). A name that is no part is refused where the configuration is
 * read (applyEnv(), unknownThreadNames()), so a typo does not silently leave a thread on. */
export function helperThreadOff(part: HelperThread, env: NodeJS.ProcessEnv = process.env): boolean {
  const names = threadNames(env);
  return names.includes('all') || names.includes(part);
}

/** The names in SENSOR_THREADS_OFF that are neither a part nor `all`. */
export function unknownThreadNames(env: NodeJS.ProcessEnv): string[] {
  return threadNames(env).filter((n) => n !== 'all' && !(HELPER_THREADS as readonly string[]).includes(n));
}

function threadNames(env: NodeJS.ProcessEnv): string[] {
  const v = env['SENSOR_THREADS_OFF'];
  if (v === undefined || v === '') return [];
  return v.split(',').map((s) => s.trim().toLowerCase()).filter((s) => s.length > 0);
}
