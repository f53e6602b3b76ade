'use strict';
/**
 * What anomaly scoring and host profiles cost: the sensor on the benchmark's headers-only capture (bench/gen-capture.js,
 * 1,000,000 frames, 20,000 connections) into a database, in alternating rounds, with both off, with anomaly scores
 * only, and with both on (the defaults). Reports the median wall time of each and the ratios to "both off".
 *
 * Usage: node bench/anomaly-hosts.js [--rounds N] [--capture FILE]   (after npm run build; writes bench/out/anomaly-hosts.json)
 */
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const BIN = path.join(ROOT, 'bin', 'sensor.js');

function arg(name, def) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : def;
}

const rounds = Number(arg('--rounds', '5'));
const capture = arg('--capture', path.join(ROOT, 'bench', 'out', 'bench-1m-snap128.pcap'));
if (!fs.existsSync(capture)) {
  process.stderr.write(`no capture ${capture}: run node bench/gen-capture.js first (or give --capture)\n`);
  process.exit(2);
}
const variants = [
  { name: 'both off', args: ['--no-anomaly', '--no-hosts'] },
  { name: 'anomaly scores', args: ['--no-hosts'] },
  { name: 'anomaly scores and host profiles', args: [] },
];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-anomaly-'));
const times = Object.fromEntries(variants.map((v) => [v.name, []]));
let flows = 0;
try {
  for (let r = 0; r < rounds; r++) {
    for (const v of r % 2 === 0 ? variants : [...variants].reverse()) {
      const db = path.join(dir, `r${r}.db`);
      for (const s of ['', '-wal', '-shm']) fs.rmSync(db + s, { force: true });
      const t0 = process.hrtime.bigint();
      const p = spawnSync(process.execPath, [BIN, '--pcap', capture, '--db', db, '--log-level', 'warn', ...v.args], { encoding: 'utf8' });
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      if (p.status !== 0) throw new Error(`${v.name}: exit ${p.status}: ${p.stderr}`);
      times[v.name].push(s);
      const n = spawnSync('sqlite3', [db, 'SELECT count(*) FROM flows'], { encoding: 'utf8' });
      if (n.status === 0) flows = Number(n.stdout.trim());
    }
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const base = median(times['both off']);
const out = {
  capture: path.basename(capture),
  flows,
  rounds,
  load_average: os.loadavg().map((x) => x.toFixed(1)),
  node: process.version,
  results: variants.map((v) => ({
    variant: v.name,
    median_s: Number(median(times[v.name]).toFixed(3)),
    flows_per_s: Math.round(flows / median(times[v.name])),
    ratio_to_both_off: Number((median(times[v.name]) / base).toFixed(3)),
    rounds_s: times[v.name].map((x) => Number(x.toFixed(3))),
  })),
};
fs.mkdirSync(path.join(ROOT, 'bench', 'out'), { recursive: true });
fs.writeFileSync(path.join(ROOT, 'bench', 'out', 'anomaly-hosts.json'), JSON.stringify(out, null, 1));
process.stdout.write(JSON.stringify(out, null, 1) + '\n');
