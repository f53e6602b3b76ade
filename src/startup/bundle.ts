import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The start-up bundle (issue 11: start-up counts in the end-to-end time). `scripts/bundle.js` (run by `npm run
 * build`, `prepare` and `npm test`) packs the CLI's compiled modules, zod, winston, yargs and prom-client (with their
 * own dependencies) into one file, dist/bundle/sensor.js, and each worker thread's modules into one file of its own.
 * A run then loads a handful of files instead of ~370, each resolved, read, hashed and compiled on its own; the code
 * cache (codeCache.ts) works on the bundle as on any module. Packages that find files next to their own code
 * (onnxruntime-node, better-sqlite3 and the HTTP server's packages) stay outside and load as usual.
 *
 * The bundle is used only while every compiled module it was built from is as it was (dist/bundle/manifest.json):
 * in a checkout with the sources (a tsconfig.json beside package.json) each module must have the size and the
 * modification time it had when the bundle was built, so that after a plain `tsc` build (which rewrites every file of
 * dist/) or a `tsc --watch` rebuild of one file the bundle is stale and the sensor loads dist/ module by module, as it
 * did before there was a bundle (same code, same records, only slower to start). An installed package has no sources
 * to rebuild from (npm ships dist/ only, with the dates of the unpacking), so there the sizes must match. The npm
 * packages packed in are not checked: `npm install` rebuilds the bundle (`prepare`). SENSOR_BUNDLE=off loads dist/
 * on purpose (measuring, or stack traces with dist/ file names).
 */

const ROOT = path.resolve(__dirname, '..', '..');
/** Where scripts/bundle.js writes the bundles and their manifest. */
export const BUNDLE_DIR = path.join(ROOT, 'dist', 'bundle');
export const BUNDLE_MANIFEST = path.join(BUNDLE_DIR, 'manifest.json');

/** What scripts/bundle.js writes: every compiled module the bundles were built from, and the bundles, as [path relative to the package root, size, mtimeMs]. */
export interface BundleManifest {
  version: 3;
  files: Array<[string, number, number]>;
}

let active = false;

/**
 * Whether every file of the manifest is still what it was: the same size, and where `times` (a checkout with sources,
 * where tsc may have rewritten dist/) the same modification time. ~180 stat calls, ~1 ms.
 */
export function bundleFresh(manifest: BundleManifest, root: string = ROOT, times: boolean = fs.existsSync(path.join(root, 'tsconfig.json'))): boolean {
  if (manifest.version !== 3 || !Array.isArray(manifest.files) || manifest.files.length === 0) return false;
  for (const [rel, size, mtimeMs] of manifest.files) {
    const st = fs.statSync(path.join(root, rel), { throwIfNoEntry: false });
    if (st === undefined || st.size !== size || (times && st.mtimeMs !== mtimeMs)) return false;
  }
  return true;
}

/**
 * The entry file of the CLI's bundle when there is a fresh one and SENSOR_BUNDLE is not `off`/`0`, else null (load
 * dist/cli/main.js). When it returns a file, the worker threads this process starts load their bundles too
 * (workerEntry()). Called once by bin/sensor.js, before the CLI's modules load.
 */
export function useBundle(env: NodeJS.ProcessEnv = process.env): string | null {
  const v = env['SENSOR_BUNDLE'];
  if (v === 'off' || v === '0') return null;
  let manifest: BundleManifest;
  try {
    manifest = JSON.parse(fs.readFileSync(BUNDLE_MANIFEST, 'utf8')) as BundleManifest;
  } catch {
    return null;
  }
  if (!bundleFresh(manifest)) return null;
  active = true;
  return path.join(BUNDLE_DIR, 'sensor.js');
}

/**
 * The file a worker thread starts with: its bundle (dist/bundle/NAME.js) when this process loaded the CLI's bundle,
 * else the compiled module dist/FOLDER/NAME.js (also when the caller runs from the TypeScript sources, as the
 * tests do: a worker thread cannot load .ts, and `npm test` builds dist/ first).
 */
export function workerEntry(folder: string, name: string): string {
  return active ? path.join(BUNDLE_DIR, `${name}.js`) : path.join(ROOT, 'dist', folder, `${name}.js`);
}
