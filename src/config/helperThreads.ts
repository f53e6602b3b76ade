import { availableParallelism } from 'node:os';

/** The parts of a run that get a thread of their own where the process may use more than one CPU. */
export type HelperThread = 'inference' | 'database' | 'readahead' | 'anomaly';

export const HELPER_THREADS: readonly HelperThread[] = ['inference', 'database', 'readahead', 'anomaly'];

/**
 * Fewest CPUs the process must be able to use before a part of a run over regular capture files gets a thread of its
 * own by default (`files` below). On 2-vCPU guests the second CPU is taken by V8's background compiles and garbage
 * collection and the kernel already, and a file run is not paced by the traffic: there the threads' handoffs cost
 * more than their overlap gives back. The 1M bench capture on both CPUs of the Zen 4 guest of round perf49 (11
 * alternating rounds): every thread off 1.63 s against 2.26 s with them (lower in 11 of 11), 2.12 against 3.29 s
 * of process CPU; on the Intel guest of round perf23 the same wall time for ~25% less CPU; on the Zen 3 guest of runs
 * N and O both cores were slower than one pinned core (README "Design notes").
 */
export const FILE_RUN_THREAD_CPUS = 3;

/**
 * Whether `part` gets a thread of its own by default: where the process may use more than one CPU
 * (os.availableParallelism(), which follows taskset, CPUAffinity= and cgroup CPU sets), and for a run over regular
 * capture files (`files`) at least FILE_RUN_THREAD_CPUS, unless the environment variable SENSOR_THREADS_OFF names it
 * (a comma-separated list of `inference`, `database`, `readahead`, `anomaly`, or `all`). SENSOR_THREADS_ON (the same
 * names) gives the parts it names their threads in a file run on two CPUs too; SENSOR_THREADS_OFF wins over it. A
 * part without its thread runs on the capture thread as it does on one CPU; records do not depend on it.
 *
 * For measuring which thread pays on a machine, and for machines where none does: on the 2-vCPU Intel KVM guest of
 * round perf23 (bench/HISTORY.md) the threads took ~25% more process CPU for about the same wall time, where on the
 * AMD guest of earlier rounds they took ~13% more CPU for ~27% less wall time. An explicit choice in code (a `thread`
 * option) or in the config (`anomaly.thread: false`) still decides first; `anomaly` only turns a configured
 * `anomaly.thread: true` off.
 */
export function helperThread(part: HelperThread, env: NodeJS.ProcessEnv = process.env, files = false): boolean {
  if (helperThreadOff(part, env)) return false;
  const cpus = availableParallelism();
  if (cpus < 2) return false;
  return !files || cpus >= FILE_RUN_THREAD_CPUS || named(threadNames(env, 'SENSOR_THREADS_ON'), part);
}

/** Whether SENSOR_THREADS_OFF names `part` (or `all`). A name that is no part is refused where the configuration is
 * read (applyEnv(), unknownThreadNames()), so a typo does not silently leave a thread on. */
export function helperThreadOff(part: HelperThread, env: NodeJS.ProcessEnv = process.env): boolean {
  return named(threadNames(env, 'SENSOR_THREADS_OFF'), part);
}

/** The variables that name threads: SENSOR_THREADS_OFF and SENSOR_THREADS_ON. */
export const THREAD_VARIABLES = ['SENSOR_THREADS_OFF', 'SENSOR_THREADS_ON'] as const;

/** The names in `variable` (SENSOR_THREADS_OFF by default) that are neither a part nor `all`. */
export function unknownThreadNames(env: NodeJS.ProcessEnv, variable: (typeof THREAD_VARIABLES)[number] = 'SENSOR_THREADS_OFF'): string[] {
  return threadNames(env, variable).filter((n) => n !== 'all' && !(HELPER_THREADS as readonly string[]).includes(n));
}

function named(names: string[], part: HelperThread): boolean {
  return names.includes('all') || names.includes(part);
}

function threadNames(env: NodeJS.ProcessEnv, variable: string): string[] {
  const v = env[variable];
  if (v === undefined || v === '') return [];
  return v.split(',').map((s) => s.trim().toLowerCase()).filter((s) => s.length > 0);
}
