import { setFlagsFromString } from 'node:v8';

/**
 * V8 flags the sensor sets for itself before it loads its modules (bin/sensor.js), for every thread of the process
 * (V8's flags are process-wide, so the database and inference threads get them too).
 *
 * Less inlining in TurboFan, V8's optimizing compiler: a function inlines callees of at most 230 bytes of bytecode
 * (V8's default 460) and 230 in all (default 920). TurboFan compiles on V8's background threads, and in a run of the
 * 1M bench capture those threads took ~1.0 s of a ~3.3 s process on two cores (0.6 s on one): ~200 optimizing
 * compiles, a third of them recompiles, of functions such as the flow table's per-packet update with everything it
 * calls inlined. Measured side by side (this against SENSOR_V8_FLAGS=off, 8 alternating rounds on both cores and 8
 * pinned to one, load average 8.0-8.3, per-thread CPU from /proc/self/task/N/stat): V8's threads 1.09 -> 0.90 s and
 * 0.62 -> 0.46 s of CPU, the main thread the same (1.49 / 1.51 s, 2.15 / 2.13 s), the process 3.59 -> 3.40 s and 2.81
 * -> 2.63 s (README "Design notes"). A limit of 120 (5 rounds) took no less on V8's threads and more on the main
 * thread. Records do not depend on it.
 *
 * SENSOR_V8_FLAGS=off leaves V8's defaults (for measuring; a NODE_OPTIONS or command-line flag is overridden here
 * otherwise).
 */
export const COMPILER_FLAGS: readonly string[] = ['--max-inlined-bytecode-size=230', '--max-inlined-bytecode-size-cumulative=230'];

/** Sets COMPILER_FLAGS unless SENSOR_V8_FLAGS is `off` or `0`; whether it did. Call before any module is compiled. */
export function setCompilerFlags(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env.SENSOR_V8_FLAGS;
  if (v === 'off' || v === '0') return false;
  for (const f of COMPILER_FLAGS) setFlagsFromString(f);
  return true;
}
