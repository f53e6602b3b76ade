#!/usr/bin/env node
'use strict';
// Builds the native addons with node-gyp:
//   native/fastpath/   the offline fast path (src/fastpath/): no libpcap, built wherever a C++ compiler is
//   native/            the live capture addon, over libpcap (needs pcap.h: Debian's libpcap-dev)
//
//   node scripts/build-native.js            install hook: a failed build prints one line and exits 0, so
//                                           `npm install` still succeeds; without the fast path offline analysis
//                                           runs on the JavaScript path, without the live addon live capture falls
//                                           back to `cap`
//   node scripts/build-native.js --strict   same builds, but a failure exits 1 (npm run build:native, CI)
//
// node-gyp is taken from the project (if installed) or from the copy bundled with npm; with nodedir set in
// npmrc (or node headers in /usr/include/node) no header download is needed.
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const strict = process.argv.includes('--strict');
const nativeDir = path.resolve(__dirname, '..', 'native');
const fastPathDir = path.join(nativeDir, 'fastpath');
const FIX = 'apt-get install libpcap-dev, then npm run build:native (or npm rebuild)';
function unavailable(reason) {
  process.stderr.write(`sensor: live capture via the native addon is unavailable (${reason}): ${FIX}\n`);
  process.exit(strict ? 1 : 0);
}

/** pcap.h in the usual places, or wherever pcap-config says. */
function findPcapHeader() {
  const dirs = ['/usr/include', '/usr/local/include', '/opt/homebrew/include', '/usr/include/pcap'];
  const cfg = spawnSync('pcap-config', ['--cflags'], { encoding: 'utf8' });
  if (cfg.status === 0) {
    for (const flag of cfg.stdout.split(/\s+/)) if (flag.startsWith('-I')) dirs.unshift(flag.slice(2));
  }
  return dirs.map((d) => path.join(d, 'pcap.h')).find((f) => fs.existsSync(f)) ?? null;
}

/** node-gyp's entry script: the project's own, else npm's bundled copy. */
function findNodeGyp() {
  const candidates = [];
  try {
    candidates.push(require.resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // not a project dependency; npm's copy below
  }
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp);
  if (process.env.npm_execpath) {
    candidates.push(path.join(path.dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  }
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  candidates.push(path.join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  return candidates.find((f) => fs.existsSync(f)) ?? null;
}

/** node-gyp rebuild in `dir`; null when it worked, else why not. */
function rebuild(nodeGyp, dir) {
  const args = [nodeGyp, 'rebuild'];
  // Headers from the local Node install (/usr/include/node) when npm did not pass a nodedir.
  if (!process.env.npm_config_nodedir && fs.existsSync(path.join('/usr/include/node', 'node_api.h'))) {
    args.push('--nodedir=/usr');
  }
  // The install hook keeps node-gyp's output for a failure (one line then says what failed); --strict shows it.
  const built = spawnSync(process.execPath, args, { cwd: dir, stdio: ['ignore', strict ? 'inherit' : 'pipe', strict ? 'inherit' : 'pipe'] });
  if (built.error !== undefined) return `node-gyp did not start: ${built.error.message}`;
  if (built.status !== 0) return `node-gyp rebuild failed with ${built.status ?? built.signal}`;
  return null;
}

if (process.env.SENSOR_SKIP_NATIVE === '1') unavailable('SENSOR_SKIP_NATIVE=1');
const nodeGyp = findNodeGyp();
if (nodeGyp === null) {
  process.stderr.write('sensor: native addons unavailable (node-gyp not found): offline analysis runs on the JavaScript path\n');
  unavailable('node-gyp not found');
}

// The offline fast path first: it needs no libpcap, so a machine without libpcap-dev still gets it. (A package without
// its sources, as an old copy, builds the live addon only.)
const fastFailure = fs.existsSync(path.join(fastPathDir, 'binding.gyp')) ? rebuild(nodeGyp, fastPathDir) : 'absent';
if (fastFailure === 'absent') {
  // nothing to build
} else if (fastFailure !== null) {
  // No working compiler (or node headers): the live addon would fail the same way, so one line says it for both.
  process.stderr.write(
    `sensor: native addons unavailable (${fastFailure}): offline analysis runs on the JavaScript path; live capture falls back to \`cap\` (${FIX})\n`,
  );
  process.exit(strict ? 1 : 0);
} else {
  process.stdout.write(`sensor: offline fast path built: ${path.join(fastPathDir, 'build', 'Release', 'sensor_fastpath.node')}\n`);
}

if (findPcapHeader() === null) unavailable('pcap.h not found');
const liveFailure = rebuild(nodeGyp, nativeDir);
if (liveFailure !== null) unavailable(liveFailure);
process.stdout.write(`sensor: live capture addon built: ${path.join(nativeDir, 'build', 'Release', 'sensor_pcap.node')}\n`);
