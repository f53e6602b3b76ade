import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import Module from 'node:module';
import * as path from 'node:path';
import * as vm from 'node:vm';
import { threadId } from 'node:worker_threads';

/**
 * A V8 code cache for the package's own CommonJS files (dist/ and node_modules/), so that a run does not parse
 * and compile the same ~360 modules again every time (issue 11: start-up counts in the end-to-end time).
 *
 * Each module is compiled through `vm.Script` with the cached data of its last compilation when there is one.
 * The data is taken at the process's exit, after the run, so it holds the functions the run compiled lazily
 * (V8 compiles a function's body on its first call), not only the top level: that is what makes it pay, where
 * `v8-compile-cache` (data taken right after the top level compiled) measured no gain (README "Design notes").
 *
 * Safety: an entry is found by the SHA-1 of the file's name and full text, so an edited file never meets old code;
 * V8 itself refuses data of another V8 version or flags (then the module compiles as usual and the entry is
 * rewritten). The directory must be the user's own and writable by nobody else (cached data is code), else no
 * cache is used. Anything unusual (no home, read-only disk, a file that uses `import()`, an ES module) falls back
 * to Node's own loader for that module, silently: the cache only ever changes how fast a module loads. With
 * --enable-source-maps it is not installed (Node maps stack traces only for modules its own loader compiled).
 *
 * Where: $SENSOR_CODE_CACHE (a directory; `off` or `0` disables it), else $XDG_CACHE_HOME/tcp-flow-sensor, else
 * ~/.cache/tcp-flow-sensor; one subdirectory per Node version and architecture.
 */

/** The package root: dist/startup/ -> the root. Only files under it are cached. */
const ROOT = path.resolve(__dirname, '..', '..');

/** Above this many entries the directory is emptied before new ones are written (old builds' entries). */
const MAX_ENTRIES = 4000;

interface CjsModule {
  exports: unknown;
  require(id: string): unknown;
}

type Compile = (this: CjsModule, content: string, filename: string, format?: string) => unknown;

interface ModuleInternals {
  prototype: { _compile: Compile };
  _resolveFilename(request: string, parent: CjsModule, isMain: boolean, options?: unknown): string;
  _resolveLookupPaths(request: string, parent: CjsModule): string[] | null;
  _extensions: unknown;
  _cache: unknown;
}

/** The environment installCodeCache() took its directory from; null until it installed the cache in this thread. */
let installedEnv: NodeJS.ProcessEnv | null = null;

/** Modules of this thread compiled from cached data (hits), without (misses: none yet, or V8 refused it), or by Node's own loader (passed). */
export const codeCacheStats = { hits: 0, misses: 0, passed: 0 };

/** The cache directory the environment names, or null when the cache is off or there is nowhere to put it. */
export function codeCacheDir(env: NodeJS.ProcessEnv = process.env): string | null {
  return location(env)?.dir ?? null;
}

/** The directory, and the existing directory it goes under (never created here: a service user's HOME=/nonexistent stays so). */
function location(env: NodeJS.ProcessEnv, version: string = `v8-${process.version}-${process.arch}`): { dir: string; under: string } | null {
  const named = env['SENSOR_CODE_CACHE'];
  if (named === 'off' || named === '0') return null;
  if (named !== undefined && named !== '') {
    const base = path.resolve(named);
    return { dir: path.join(base, version), under: path.dirname(base) };
  }
  const xdg = env['XDG_CACHE_HOME'];
  if (xdg !== undefined && path.isAbsolute(xdg)) return { dir: path.join(xdg, 'tcp-flow-sensor', version), under: path.dirname(xdg) };
  const home = env['HOME'];
  if (home !== undefined && path.isAbsolute(home) && home !== '/') return { dir: path.join(home, '.cache', 'tcp-flow-sensor', version), under: home };
  return null;
}

/** Creates `dir` (mode 0700) below the existing `under` and checks that it is a directory of this user's that no one else can write. */
function usable(dir: string, under: string): boolean {
  try {
    if (!fs.statSync(under).isDirectory()) return false;
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = fs.lstatSync(dir);
    if (!st.isDirectory() || (st.mode & 0o022) !== 0) return false;
    return process.getuid === undefined || st.uid === process.getuid();
  } catch {
    return false;
  }
}

function makeRequire(mod: CjsModule, M: ModuleInternals): NodeJS.Require {
  const req = ((id: string) => mod.require(id)) as NodeJS.Require;
  const resolve = ((request: string, options?: { paths?: string[] }) => M._resolveFilename(request, mod, false, options)) as NodeJS.RequireResolve;
  resolve.paths = (request: string) => M._resolveLookupPaths(request, mod);
  req.resolve = resolve;
  req.main = require.main;
  req.extensions = M._extensions as NodeJS.RequireExtensions;
  req.cache = M._cache as NodeJS.Dict<NodeModule>;
  return req;
}

function writeEntries(dir: string, pending: Array<{ script: vm.Script; file: string }>): void {
  if (pending.length === 0) return;
  try {
    const entries = fs.readdirSync(dir);
    if (entries.length + pending.length > MAX_ENTRIES) {
      for (const f of entries) fs.rmSync(path.join(dir, f), { force: true });
    }
    for (const { script, file } of pending) {
      // A temporary name (per process and thread) and a rename: a module loading meanwhile reads the old entry or
      // the new one, never half of one.
      const tmp = `${file}.${process.pid}.${threadId}.tmp`;
      fs.writeFileSync(tmp, script.createCachedData(), { mode: 0o600 });
      fs.renameSync(tmp, file);
    }
  } catch {
    // A full or read-only disk: the next run compiles as usual.
  }
}

/**
 * Installs the cache for the modules this thread loads from now on. Returns false (and changes nothing) when the
 * cache is off or its directory is not usable. Call it once, first thing, in the entry point.
 */
export function installCodeCache(env: NodeJS.ProcessEnv = process.env): boolean {
  if (installedEnv !== null) return true;
  // Node maps stack traces through source maps only for modules its own loader compiled (--enable-source-maps).
  if ((process as { sourceMapsEnabled?: boolean }).sourceMapsEnabled === true) return false;
  const at = location(env);
  if (at === null || !usable(at.dir, at.under)) return false;
  const dir = at.dir;
  installedEnv = env;
  const M = Module as unknown as ModuleInternals;
  const original = M.prototype._compile;
  const pending: Array<{ script: vm.Script; file: string }> = [];
  const prefix = ROOT + path.sep;
  M.prototype._compile = function compileCached(this: CjsModule, content: string, filename: string, format?: string): unknown {
    if ((format !== undefined && format !== 'commonjs') || !filename.startsWith(prefix) || content.includes('import(')) {
      codeCacheStats.passed++;
      return original.call(this, content, filename, format);
    }
    const file = path.join(dir, crypto.createHash('sha1').update(filename).update('\0').update(content).digest('hex'));
    let cachedData: Buffer | undefined;
    try {
      cachedData = fs.readFileSync(file);
    } catch {
      cachedData = undefined;
    }
    let script: vm.Script;
    try {
      // The wrapper Node puts around a CommonJS module; a leading #! line becomes a comment (same line numbers).
      const source = content.startsWith('#!') ? `//${content}` : content;
      script = new vm.Script(Module.wrap(source), cachedData !== undefined ? { filename, cachedData } : { filename });
    } catch {
      // A syntax error: Node's own loader reports it as it always does.
      codeCacheStats.passed++;
      return original.call(this, content, filename, format);
    }
    if (cachedData === undefined || script.cachedDataRejected === true) {
      codeCacheStats.misses++;
      pending.push({ script, file });
    } else {
      codeCacheStats.hits++;
    }
    const fn = script.runInThisContext({ displayErrors: true }) as (...args: unknown[]) => unknown;
    return fn.call(this.exports, this.exports, makeRequire(this, M), this, filename, path.dirname(filename));
  };
  process.once('exit', () => writeEntries(dir, pending));
  return true;
}

/**
 * A directory for another start-up cache of this thread (`sub`, e.g. onnxruntime's optimised graphs, graphCache.ts),
 * beside the code cache's own and under the same rules (same place, same `SENSOR_CODE_CACHE=off`, the user's own and
 * writable by no one else), created when missing; null unless installCodeCache() installed the code cache in this
 * thread (so a library user or a test that never ran bin/sensor.js or a worker entry writes nothing), or when the
 * directory is not usable.
 */
export function startupCacheDir(sub: string): string | null {
  if (installedEnv === null) return null;
  const at = location(installedEnv, sub);
  return at !== null && usable(at.dir, at.under) ? at.dir : null;
}
