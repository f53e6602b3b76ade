import { setFlagsFromString } from 'node:v8';

/**
 * V8 flags the sensor sets for itself before it loads its modules (bin/sensor.js), for every thread of the process
 * (V8's flags are process-wide, so the database and inference threads get them too).
 *
 * Less inlining in TurboFan, V8's optimizing compiler: a function inlines callees of at most 230 bytes of bytecode
 * (V8's default 460) and 230 in all (default 920). TurboFan compiles on V8's background threads, and in a run of the
 * 1M bench capture those threads took ~1.0 s of a ~3.3 s process on two cores (0.6 s on one): ~200 optimizing
 * compiles, a third of them recompiles, of functions such as the flow table's per-packet update with everything
 * it calls inlined. Measured side by side (10 alternating rounds on both cores, 8 pinned to one, load 7-9): V8's
 * threads 1.02 -> 0.84 s and 0.60 -> 0.46 s of CPU, the main thread the same (1.36 / 1.37 s and 2.04 / 2.08 s), the
 * process 3.30 -> 3.18 s and 2.69 -> 2.58 s (README "Design notes"). Records do not depend on it.
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
