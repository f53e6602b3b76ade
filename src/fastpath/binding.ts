import { existsSync } from 'node:fs';
import * as path from 'node:path';

/**
 * The one module that loads the offline fast path addon (native/fastpath/, no libpcap). Missing addon, a failed
 * load, or SENSOR_FASTPATH=0: null, and offline analysis runs on the JavaScript path.
 */

/** Where node-gyp puts the addon (scripts/build-native.js); the same from src/, dist/ and dist/bundle/. */
export const FAST_PATH_ADDON = path.resolve(__dirname, '..', '..', 'native', 'fastpath', 'build', 'Release', 'sensor_fastpath.node');

/** One native fast path: set() registers an array (FastRegion), walk() takes records (fast_path.cc). */
export interface NativeFastPath {
  set(which: number, data: ArrayBufferView): boolean;
  walk(start: number, end: number): number;
}

export interface FastPathBinding {
  create(): NativeFastPath;
  /** Float64 slots of the io block, where the per-reason counts start, and how many reasons there are. */
  readonly ioLength: number;
  readonly stopCounts: number;
  readonly stopReasons: number;
}

let loaded: FastPathBinding | null | undefined;

/** Whether SENSOR_FASTPATH turns the fast path off (`0`, `off`, `false`, `no`). */
export function fastPathDisabled(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = (env.SENSOR_FASTPATH ?? '').trim().toLowerCase();
  return v === '0' || v === 'off' || v === 'false' || v === 'no';
}

/** The addon, or null when it is not built (or cannot be loaded here). Loaded once per thread. */
export function fastPathBinding(): FastPathBinding | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  if (!existsSync(FAST_PATH_ADDON)) return null;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const b = require(FAST_PATH_ADDON) as FastPathBinding;
    if (typeof b.create === 'function' && b.ioLength >= 64) loaded = b;
  } catch {
    // A build for another Node ABI or architecture: the JavaScript path does the same work.
  }
  return loaded;
}
