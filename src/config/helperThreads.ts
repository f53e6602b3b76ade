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

/** Whether SENSOR_THREADS_OFF names `part` (or `all`). Unknown names are ignored. */
export function helperThreadOff(part: HelperThread, env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env['SENSOR_THREADS_OFF'];
  if (v === undefined || v === '') return false;
  const names = v.split(',').map((s) => s.trim().toLowerCase());
  return names.includes('all') || names.includes(part);
}
