'use strict';
/**
 * Mutation check: does the suite catch a wrong sensor? For each mutant below, a scratch copy of the committed
 * tree (git archive HEAD) gets one change, is built, and the named test files are run in it; the mutant must make
 * at least one test fail. test/MUTATIONS.md lists the results.
 *
 *   node test/mutants.js            # every mutant
 *   node test/mutants.js cid-v6     # the named ones
 *
 * Scratch copies live in $TMPDIR/sensor-mutants/<name>/repo with node_modules linked from this checkout and
 * ../shared linked beside them, so the tests that use the public captures run there too.
 */
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');

/** [name, what it breaks, file, exact text, replacement, test files to run]. The text must occur exactly once. */
const MUTANTS = [
  ['connstate-rstr-rsth', 'conn_state: RSTR and RSTRH swapped', 'src/flow/connState.ts',
    "return oInactive ? 'RSTRH' : 'RSTR';", "return oInactive ? 'RSTR' : 'RSTRH';", ['test/flow/zeekConn.test.ts']],
  ['connstate-s1-oth', 'conn_state: S1 reported as OTH', 'src/flow/connState.ts',
    "if (orig === EP_ESTABLISHED && resp === EP_ESTABLISHED) return 'S1';", "if (orig === EP_ESTABLISHED && resp === EP_ESTABLISHED) return 'OTH';", ['test/flow/zeekConn.test.ts']],
  ['connstate-rst-after-fins', 'conn_state (own choice): a RST after the FIN exchange resets the sender (SF becomes RSTR/RSTO)', 'src/flow/tcpTransitions.ts',
    'if (rst && peer !== Ep.Closed) state = Ep.ResetAfterClose;', 'if (rst) state = Ep.ResetAfterClose;', ['test/flow/zeekConn.test.ts']],
  ['history-d-with-fin', 'history (own choice): D also for payload in a FIN/SYN/RST segment', 'src/flow/tcpTransitions.ts',
    '  if (hist === 0) {\n    if (payload) hist = Hist.Data;', '  if (payload) hist |= Hist.Data;\n  if (hist === 0 || hist === Hist.Data) {\n    if (payload) hist = Hist.Data;', ['test/flow/zeekConn.test.ts']],
  ['cid-v6', 'Community ID: only the first 4 bytes of an IPv6 address hashed', 'src/flow/communityId.ts',
    'const addrBytes = ipVersion === 4 ? 4 : 16;', 'const addrBytes = 4;', ['test/flow/knownAnswers.test.ts']],
  ['cid-seed', 'Community ID (own choice): the seed ignored', 'src/flow/communityId.ts',
    'buf.writeUInt16BE(seed & 0xffff, o);', 'buf.writeUInt16BE(0, o);', ['test/flow/knownAnswers.test.ts']],
  ['pseudo-no-key', 'pseudonymiser: the site key ignored (a plain, reversible-by-guessing hash)', 'src/flow/pseudonymizer.ts',
    "createHmac('sha256', this.key)", "createHmac('sha256', '')", ['test/flow/knownAnswers.test.ts', 'test/cli/cli.test.ts']],
  ['pseudo-keeps-cid', 'pseudonymiser (own choice): the Community ID (an unkeyed hash of the real tuple) kept', 'src/flow/pseudonymizer.ts',
    "    r.community_id = '';\n", '', ['test/flow/knownAnswers.test.ts', 'test/cli/cli.test.ts']],
  ['metrics-no-evictions', 'metrics (own choice): a stats field the README lists not served on /metrics', 'src/daemon/metrics.ts',
    "  counter('sensor_evictions_total', 'Flows written early because the flow table was full', [], (s) => s.evictions);\n", '', ['test/daemon/metrics.test.ts']],
  ['model-fixture-default', 'shipped model (own choice): the default model is the test fixture', 'src/config/config.ts',
    "path.resolve(__dirname, '..', '..', 'models', 'sensor.onnx')", "path.resolve(__dirname, '..', '..', 'test', 'fixtures', 'model', 'fixture.onnx')", ['test/cli/shippedModel.test.ts']],
  ['golden-no-retx-rule', 'sequences (own choice): the retransmission rule off by default', 'src/flow/flowTable.ts',
    '  skipRetransmissions: true,', '  skipRetransmissions: false,', ['test/golden/oracle.test.ts']],
];

function sh(cmd, args, cwd) {
  return execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: 1 << 28 });
}

function run(m) {
  const [name, what, file, from, to, tests] = m;
  const base = path.join(os.tmpdir(), 'sensor-mutants', name);
  const repo = path.join(base, 'repo');
  fs.rmSync(base, { recursive: true, force: true });
  fs.mkdirSync(repo, { recursive: true });
  execFileSync('sh', ['-c', `git -C '${ROOT}' archive HEAD | tar -x -C '${repo}'`]);
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(repo, 'node_modules'));
  fs.symlinkSync(path.resolve(ROOT, '..', 'shared'), path.join(base, 'shared'));
  const target = path.join(repo, file);
  const text = fs.readFileSync(target, 'utf8');
  const count = text.split(from).length - 1;
  if (count !== 1) throw new Error(`${name}: the text to change occurs ${count} times in ${file}`);
  fs.writeFileSync(target, text.replace(from, to));
  sh(process.execPath, [path.join(repo, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], repo);
  const r = spawnSync(process.execPath, [path.join(repo, 'node_modules/vitest/vitest.mjs'), 'run', ...tests], { cwd: repo, encoding: 'utf8', maxBuffer: 1 << 28 });
  const out = (r.stdout + r.stderr).replace(/\x1b\[[0-9;]*m/g, '');
  const failed = [...out.matchAll(/^ FAIL {2}(.+)$/gm)].map((x) => x[1].trim());
  const summary = /^ {6}Tests {2}(.+)$/m.exec(out)?.[1] ?? '(no summary)';
  fs.rmSync(base, { recursive: true, force: true });
  return { name, what, file, caught: r.status !== 0 && failed.length > 0, failed: [...new Set(failed)], summary };
}

const only = process.argv.slice(2);
let missed = 0;
for (const m of MUTANTS.filter((x) => only.length === 0 || only.includes(x[0]))) {
  const r = run(m);
  if (!r.caught) missed++;
  process.stdout.write(`${r.caught ? 'CAUGHT' : 'MISSED'} ${r.name} (${r.what}, ${r.file}): ${r.summary}\n${r.failed.map((f) => `    ${f}`).join('\n')}\n`);
}
process.exit(missed === 0 ? 0 : 1);
