#!/usr/bin/env node
'use strict';
// Packs the compiled CLI (dist/cli/main.js) and each worker thread's entry into one file each, under dist/bundle/,
// with esbuild, so that a run loads a handful of files instead of ~370 (src/startup/bundle.ts says when they are
// used). Run after `tsc -p tsconfig.json`: `npm run build`, `prepare` and `npm test` do both.
//
//   node scripts/bundle.js     writes dist/bundle/{sensor,sqliteWorker,inferenceWorker,scorerWorker,queryWorker}.js,
//                              their *.body.js and manifest.json
//
// Without esbuild (an install without dev dependencies) it prints one line and exits 0: the sensor then loads dist/
// module by module, as it always could. A failed build is an error (exit 1).
const fs = require('node:fs');
const path = require('node:path');
const { builtinModules } = require('node:module');

const ROOT = path.resolve(__dirname, '..');
const DIST = path.join(ROOT, 'dist');
const OUT = path.join(DIST, 'bundle');

/**
 * npm packages packed into the bundles, with whatever they require: pure JavaScript that finds no file of its own
 * by path (yargs' message catalogues excepted, see LOCALES). Every other package stays a plain `require` at run time:
 * onnxruntime-node and better-sqlite3 load their native addons from their own directories, and the HTTP server's
 * packages (fastify, pino, ...) read files next to their code; those load only for the commands that need them.
 */
const PACKED = new Set(['zod', 'winston', 'yargs', 'prom-client']);

/** The worker threads' entry files (dist/FOLDER/NAME.js), started through src/startup/bundle.ts's workerEntry(). */
const WORKERS = [
  ['sink', 'sqliteWorker'],
  ['classify', 'inferenceWorker'],
  ['anomaly', 'scorerWorker'],
  ['serve', 'queryWorker'],
];

const BUILTIN = new Set(builtinModules);

function packageName(request) {
  const parts = request.split('/');
  return request.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

function rel(file) {
  return path.relative(ROOT, file).split(path.sep).join('/');
}

/**
 * Resolution rules: dist/startup/ stays outside (bin/sensor.js and the worker stubs load it first, and the bundle
 * must share that one copy: the code cache and the bundle switch are per thread); npm packages outside PACKED stay
 * outside; everything else is packed.
 */
const plugin = {
  name: 'sensor-bundle',
  setup(build) {
    build.onResolve({ filter: /.*/ }, (args) => {
      if (args.kind === 'entry-point') return undefined;
      const p = args.path;
      if (p.startsWith('node:') || BUILTIN.has(p) || BUILTIN.has(p.split('/')[0])) return { path: p, external: true };
      if (p.startsWith('.') || path.isAbsolute(p)) {
        const target = path.resolve(args.resolveDir, p);
        if (target.startsWith(path.join(DIST, 'startup') + path.sep)) {
          return { path: './' + path.relative(OUT, target).split(path.sep).join('/'), external: true };
        }
        return undefined;
      }
      const fromDist = args.importer.startsWith(DIST + path.sep);
      if (fromDist && !PACKED.has(packageName(p))) return { path: p, external: true };
      return undefined;
    });
    // yargs finds its message catalogues (locales/*.json) next to its own code: point it at the installed package.
    build.onLoad({ filter: /[\\/]node_modules[\\/]yargs[\\/]build[\\/]index\.cjs$/ }, (args) => {
      const text = fs.readFileSync(args.path, 'utf8');
      const from = 'directory:re(__dirname,"../locales")';
      if (text.split(from).length !== 2) throw new Error(`yargs changed: ${rel(args.path)} no longer has ${from} once; update scripts/bundle.js`);
      return { contents: text.replace(from, 'directory:re(require("path").dirname(require.resolve("yargs")),"locales")'), loader: 'js' };
    });
  },
};

async function bundle(esbuild, entry, outfile) {
  const r = await esbuild.build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // Whitespace and comments out: a smaller file to read and hash, and no `import(` in a comment, which would make
    // the code cache (src/startup/codeCache.ts) leave the file to Node's own loader. Names stay as they are.
    minifyWhitespace: true,
    keepNames: true,
    metafile: true,
    logLevel: 'silent',
    plugins: [plugin],
  });
  const text = fs.readFileSync(outfile, 'utf8');
  if (text.includes('import(')) throw new Error(`${rel(outfile)} contains "import(": the code cache would not take it`);
  const inputs = Object.keys(r.metafile.inputs).map((f) => path.resolve(ROOT, f));
  // In the bundle __dirname is dist/bundle/, which stands in for dist/FOLDER/ (same depth): a module deeper down that
  // finds files from its own directory would look in the wrong place.
  for (const f of inputs) {
    const depth = path.relative(DIST, f).split(path.sep).length;
    if (f.startsWith(DIST + path.sep) && depth !== 2 && /\b__(dirname|filename)\b/.test(fs.readFileSync(f, 'utf8'))) {
      throw new Error(`${rel(f)} uses __dirname or __filename below dist/FOLDER/: its paths would be wrong in the bundle`);
    }
  }
  return inputs;
}

async function main() {
  let esbuild;
  try {
    esbuild = require('esbuild');
  } catch {
    process.stderr.write('sensor: esbuild is not installed, so no start-up bundle (dist/bundle/) was built; the sensor loads dist/ module by module\n');
    return;
  }
  if (!fs.existsSync(path.join(DIST, 'cli', 'main.js'))) throw new Error('dist/cli/main.js is missing: run tsc -p tsconfig.json first');
  fs.rmSync(OUT, { recursive: true, force: true });
  fs.mkdirSync(OUT, { recursive: true });
  const inputs = new Set();
  const outputs = [];
  const main = path.join(OUT, 'sensor.js');
  for (const f of await bundle(esbuild, path.join(DIST, 'cli', 'main.js'), main)) inputs.add(f);
  outputs.push(main);
  for (const [folder, name] of WORKERS) {
    const body = path.join(OUT, `${name}.body.js`);
    for (const f of await bundle(esbuild, path.join(DIST, folder, `${name}.js`), body)) inputs.add(f);
    // The thread's entry: the code cache first, so that the bundled body compiles through it.
    const stub = path.join(OUT, `${name}.js`);
    fs.writeFileSync(stub, `'use strict';\n// Written by scripts/bundle.js: dist/${folder}/${name}.js and its modules in one file, loaded through the code cache.\nrequire('../startup/installCodeCache.js');\nrequire('./${name}.body.js');\n`);
    outputs.push(body, stub);
  }
  // dist/startup/ is loaded outside the bundles: it belongs to what they were built with. npm packages are not
  // listed (an installed sensor's dependencies may sit elsewhere; `npm install` rebuilds the bundle through prepare).
  for (const f of fs.readdirSync(path.join(DIST, 'startup'))) if (f.endsWith('.js')) inputs.add(path.join(DIST, 'startup', f));
  const modules = [...inputs].filter((f) => f.startsWith(DIST + path.sep));
  const files = [...modules, ...outputs].sort().map((f) => {
    const st = fs.statSync(f);
    return [rel(f), st.size, st.mtimeMs];
  });
  fs.writeFileSync(path.join(OUT, 'manifest.json'), JSON.stringify({ version: 3, files }) + '\n');
  const bytes = outputs.reduce((n, f) => n + fs.statSync(f).size, 0);
  process.stderr.write(`sensor: start-up bundle: ${outputs.length} files (${(bytes / 1e6).toFixed(1)} MB) from ${inputs.size} modules in dist/bundle/\n`);
}

main().catch((e) => {
  process.stderr.write(`sensor: building the start-up bundle failed: ${e && e.message ? e.message : e}\n`);
  process.exit(1);
});
