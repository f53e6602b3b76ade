'use strict';
/**
 * Flood benchmark (issue 9): an offline SYN flood, every packet a flow of its own, through the sensor with the
 * bundled model into SQLite (or JSON lines), measured for wall time, CPU time, peak RSS and the bytes the run
 * wrote to disk. With --compare DIR the sensor checked out in DIR (its bin/sensor.js and dist/, e.g. the previous
 * commit) runs in alternating rounds on the same file, and the report gives medians and per-round ratios.
 *
 * With --into-existing each run writes into a database that already holds one flow (made by the same sensor from
 * a one-packet capture), so the secondary indexes are kept up to date row by row, as in a live sensor, instead of
 * being built once at the end of a bulk load into an empty database.
 *
 * Usage: node bench/flood.js [--packets 2000000] [--max-flows N] [--rounds 3] [--output db|jsonl]
 *                            [--into-existing] [--compare DIR] [--out bench/out]
 * Needs dist/ (npm run build). Writes bench/out/flood.json. The flood is bench/synth.js's writeFlood().
 */
const fs = require('node:fs');
const path = require('node:path');
const { measure } = require('./measure');
const { writeFlood } = require('./synth');
const { median, fmtFixed, table } = require('./report');

const ROOT = path.resolve(__dirname, '..');

function args() {
  const a = { packets: 2_000_000, maxFlows: null, rounds: 3, output: 'db', intoExisting: false, compare: null, out: path.join(ROOT, 'bench', 'out') };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    switch (argv[i]) {
      case '--packets': a.packets = Number(v); i++; break;
      case '--max-flows': a.maxFlows = Number(v); i++; break;
      case '--rounds': a.rounds = Number(v); i++; break;
      case '--output': a.output = v; i++; break;
      case '--into-existing': a.intoExisting = true; break;
      case '--compare': a.compare = path.resolve(v); i++; break;
      case '--out': a.out = path.resolve(v); i++; break;
      default: throw new Error(`unknown argument ${argv[i]} (see the comment at the top of bench/flood.js)`);
    }
  }
  return a;
}

/** Bytes the process wrote to storage, from /proc/PID/io polled while it runs (the last sample before exit). */
function ioPoller(pidOf) {
  let last = 0;
  const timer = setInterval(() => {
    const pid = pidOf();
    if (pid === null) return;
    try {
      const m = /write_bytes: (\d+)/.exec(fs.readFileSync(`/proc/${pid}/io`, 'utf8'));
      if (m !== null) last = Number(m[1]);
    } catch {
      // the process just ended
    }
  }, 100);
  return { stop: () => (clearInterval(timer), last) };
}

async function runOnce(label, root, a, file, round) {
  const dir = path.join(a.out, 'flood');
  const target = path.join(dir, `${label}-${round}.${a.output === 'db' ? 'db' : 'jsonl'}`);
  for (const s of ['', '-wal', '-shm']) fs.rmSync(target + s, { force: true });
  if (a.intoExisting) fs.copyFileSync(seedDb(label, root, a), target);
  const argv = [path.join(root, 'bin', 'sensor.js'), '--pcap', file, a.output === 'db' ? '--db' : '--jsonl', target];
  if (a.maxFlows !== null) argv.push('--max-flows', String(a.maxFlows));
  // The child's pid is known only inside measure(): find it by its unique output path.
  const pidOf = () => {
    for (const p of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(p)) continue;
      try {
        if (fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(target) && fs.readFileSync(`/proc/${p}/comm`, 'utf8').startsWith('node')) return p;
      } catch {
        // gone
      }
    }
    return null;
  };
  let pid = null;
  const io = ioPoller(() => (pid ??= pidOf()));
  const m = await measure(process.execPath, argv, { cpus: null, stdout: path.join(dir, `${label}-${round}.out`), stderr: path.join(dir, `${label}-${round}.err`) });
  const written = io.stop();
  const size = ['', '-wal'].reduce((n, s) => n + (fs.existsSync(target + s) ? fs.statSync(target + s).size : 0), 0);
  for (const s of ['', '-wal', '-shm']) fs.rmSync(target + s, { force: true });
  if (m.code !== 0) throw new Error(`${label} round ${round} exited ${m.code}: see ${path.join(dir, `${label}-${round}.err`)}`);
  return { wall: m.wallSeconds, cpu: (m.userSeconds ?? NaN) + (m.sysSeconds ?? NaN), rssMB: (m.maxRssKB * 1024) / 1e6, writtenMB: written / 1e6, outputMB: size / 1e6 };
}

/** A database holding one flow, written by the sensor in `root` (its own schema version), made once per sensor. */
function seedDb(label, root, a) {
  const dir = path.join(a.out, 'flood');
  const seed = path.join(dir, `seed-${label}.db`);
  if (fs.existsSync(seed)) return seed;
  const one = path.join(dir, 'syn-1.pcap');
  if (!fs.existsSync(one)) writeFlood(one, 1);
  const r = require('node:child_process').spawnSync(process.execPath, [path.join(root, 'bin', 'sensor.js'), '--pcap', one, '--db', seed], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`making ${seed} failed: ${r.stderr}`);
  // One file, no WAL beside it, so that a copy is the whole database.
  const Database = require(path.join(ROOT, 'node_modules', 'better-sqlite3'));
  const db = new Database(seed);
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.pragma('journal_mode = DELETE');
  db.close();
  return seed;
}

async function main() {
  const a = args();
  const dir = path.join(a.out, 'flood');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `syn-${a.packets}.pcap`);
  if (!fs.existsSync(file)) writeFlood(file, a.packets);
  const sensors = [['this', ROOT], ...(a.compare !== null ? [['compare', a.compare]] : [])];
  const results = Object.fromEntries(sensors.map(([l]) => [l, []]));
  const load = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  for (let r = 0; r < a.rounds; r++) {
    for (const [label, root] of r % 2 === 0 ? sensors : [...sensors].reverse()) {
      const res = await runOnce(label, root, a, file, r);
      results[label].push(res);
      console.log(`round ${r} ${label}: ${fmtFixed(res.wall, 1)} s wall, ${fmtFixed(res.cpu, 1)} s CPU, ${fmtFixed(res.rssMB, 0)} MB peak RSS, ${fmtFixed(res.writtenMB, 0)} MB written`);
    }
  }
  const rows = sensors.map(([label]) => {
    const xs = results[label];
    return [label, fmtFixed(median(xs.map((x) => x.wall)), 1), fmtFixed(median(xs.map((x) => x.cpu)), 1), fmtFixed(median(xs.map((x) => x.rssMB)), 0), fmtFixed(median(xs.map((x) => x.writtenMB)), 0)];
  });
  console.log(`\n${a.packets} SYNs, ${a.output}${a.intoExisting ? ' (into a database with rows: indexes kept row by row)' : ''}, model on, ${a.rounds} rounds, load average before: ${load}`);
  console.log(table(['sensor', 'wall s', 'CPU s', 'peak RSS MB', 'disk writes MB'], rows));
  if (a.compare !== null) {
    const ratio = (k) => median(results.this.map((x, i) => results.compare[i][k] / x[k]));
    console.log(`compare / this (median of per-round ratios): wall ${fmtFixed(ratio('wall'), 2)}x, CPU ${fmtFixed(ratio('cpu'), 2)}x, peak RSS ${fmtFixed(ratio('rssMB'), 2)}x, disk writes ${fmtFixed(ratio('writtenMB'), 2)}x`);
  }
  fs.writeFileSync(path.join(a.out, 'flood.json'), JSON.stringify({ args: a, load, results }, null, 2));
}

main().catch((e) => {
  process.stderr.write(`bench/flood.js: ${e.message}\n`);
  process.exitCode = 1;
});
