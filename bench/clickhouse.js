'use strict';
/**
 * `npm run bench:clickhouse`: the ClickHouse output's speed (issue 14), against Debian's clickhouse-server started
 * here on a loopback port (test/helpers/clickhouseServer.js).
 *
 *  1. Insert rate of one sensor into one server: the ClickHouse sink alone (encode, batch, INSERT, in this
 *     process pinned to --cpus) fed --rows synthetic flow records in chunks of 256 (the classifier's batch), timed
 *     from the first write until close() returned with every row acknowledged; the table's count is checked.
 *     Also the encoding alone, to show where the time goes.
 *  2. The sensor end to end on bench/out's 1M-packet capture (bench/gen-capture.js) with the bundled model:
 *     `--db` (SQLite only) against `--db --clickhouse URL`, alternating in each round; packets/s = frames / wall s,
 *     the ratio per round and the medians. Every ClickHouse run's rows are counted against its SQLite file.
 *
 * The sensor (or the sink) is pinned to --cpus (default CPU 0) and the server to the others (default CPU 1), so
 * that on this 2-core machine they do not take turns on one core. Results: bench/out/clickhouse.json.
 *
 * The ClickHouse server's CPU seconds are read from /proc for each round: on a machine where it shares cores with the
 * sensor, its work shows in the sensor's wall time. --gzip adds rounds with gzip request bodies
 * (output.clickhouse.compression) next to the plain ones, to weigh the server's decompression against the bytes.
 *
 * Options: --runs N (3)  --rows N (500000)  --batch N (output.clickhouse.batchSize, 10000)  --cpus LIST (0)
 *   --server-cpus LIST (1)  --skip sink,e2e  --gzip
 */
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { ensureCaptures } = require('./gen-capture');
const { measure, hasTaskset } = require('./measure');
const { median, fmtInt, fmtFixed, table } = require('./report');
const { findClickHouse, whyMissing, startCluster, query } = require('../test/helpers/clickhouseServer');

const ROOT = path.resolve(__dirname, '..');
const OUT = path.join(__dirname, 'out');
const LOGS = path.join(OUT, 'logs');
const DIST = path.join(ROOT, 'dist');
const DB = path.join(OUT, 'bench-ch.db');
/** Flow records per write() in the sink bench: the classifier's default batch. */
const CHUNK = 256;
/** Rows queued in the sink above which the producer waits (the sink aborts an insert above 64 MiB, ~150k RowBinary rows). */
const QUEUE_PACE_ROWS = 32_768;
/** Distinct records the sink bench cycles through (their first_ts is changed per row, so every uid differs). */
const POOL = 4096;

function parseOptions(argv) {
  const o = { runs: 3, rows: 500_000, batch: 10_000, cpus: '0', serverCpus: '1', skip: new Set(), gzip: false };
  for (let i = 0; i < argv.length; i += 2) {
    const [a, v] = [argv[i], argv[i + 1]];
    if (a === '--gzip') {
      o.gzip = true;
      i--;
    } else if (a === '--runs') o.runs = Number(v);
    else if (a === '--rows') o.rows = Number(v);
    else if (a === '--batch') o.batch = Number(v);
    else if (a === '--cpus') o.cpus = v;
    else if (a === '--server-cpus') o.serverCpus = v;
    else if (a === '--skip') for (const s of String(v).split(',')) o.skip.add(s.trim());
    else {
      process.stderr.write(`bench:clickhouse: unknown option ${a}\noptions: --runs N  --rows N  --batch N  --cpus LIST  --server-cpus LIST  --skip sink,e2e  --gzip\n`);
      process.exit(2);
    }
  }
  return o;
}

function records() {
  const { FlowRecord } = require(path.join(DIST, 'flow/flowRecord'));
  const { Verdict } = require(path.join(DIST, 'classify/verdict'));
  const { AnomalyScore } = require(path.join(DIST, 'anomaly/scoredFlow'));
  const pool = [];
  for (let i = 0; i < POOL; i++) {
    const lengths = Array.from({ length: 30 }, (_, k) => (k < 12 ? (k % 2 === 0 ? 517 + i : -1448) : 0));
    const flow = new FlowRecord(
      'eth1', 1_800_000_000 + i, 1_800_000_002.5 + i, 4, `10.${i >> 8}.${i & 255}.7`, 40000 + (i % 20000), '192.0.2.80', 443, 0,
      14, 12, 4200, 17000, 3100, 15000, 12, 0, false, 'SF', 'ShADadFf', '1:LQU9qZlK+B5F3KDmev6m5PMibrg=', 'fin', lengths,
    );
    flow.sensor = 'bench@eth1';
    flow.live = true;
    const label = ['tls-web', 'ssh', 'video'][i % 3];
    pool.push({
      flow,
      verdict: new Verdict(label, 0.97, [{ label, p: 0.97 }, { label: 'other', p: 0.02 }, { label: 'x', p: 0.01 }], 'bench-1', 'classified'),
      anomaly: new AnomalyScore(0.5 + (i % 7) / 10, i % 50 === 0, 0.01),
    });
  }
  return pool;
}

/** CPU seconds (user + system) a process has used so far, from /proc (null where there is no /proc). */
function cpuSecondsOf(pid) {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat(5), in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

/** A distinct uid of the usual length per row (the pipeline computes real ones before the sinks; not timed here). */
function uidOf(n) {
  return 'C' + n.toString(36).padStart(17, '0');
}

async function sinkRound(url, rows, round, serverPid, compression, batchSize) {
  const { ClickHouseSink } = require(path.join(DIST, 'sink/clickhouse/clickhouseSink'));
  const { openEndpoint } = require(path.join(DIST, 'sink/clickhouse/client'));
  const { Spool } = require(path.join(DIST, 'sink/clickhouse/spool'));
  const { defaultClickHouseConfig } = require(path.join(DIST, 'config/clickhouseConfig'));
  await query(url, 'TRUNCATE TABLE sensor.flows');
  const cfg = { ...defaultClickHouseConfig(), url: [url], compression, batchSize };
  const spoolDir = path.join(OUT, `ch-spool-${round}`);
  fs.rmSync(spoolDir, { recursive: true, force: true });
  const warnings = [];
  const log = { info: () => {}, warn: (m) => warnings.push(m), error: (m) => warnings.push(m) };
  const pool = records();
  // Two batches may wait besides the one being filled (larger batches: --batch).
  const pace = Math.max(QUEUE_PACE_ROWS, 2 * batchSize);
  const sink = new ClickHouseSink({ config: cfg, spool: Spool.open(spoolDir, cfg.spoolMaxBytes), endpoints: [openEndpoint(url, cfg, undefined)], log });
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const server0 = cpuSecondsOf(serverPid);
  for (let i = 0; i < rows; i += CHUNK) {
    const n = Math.min(CHUNK, rows - i);
    const chunk = new Array(n);
    for (let j = 0; j < n; j++) {
      const cf = pool[(i + j) % POOL];
      cf.flow.first_ts = 1_800_000_000 + (i + j) * 0.001;
      cf.flow.uid = uidOf(i + j);
      chunk[j] = cf;
    }
    sink.write(chunk);
    // The capture loop yields between chunks too; here it lets the sender run. A sensor's flows end at the link's
    // pace (~20k flows/s on the 1M bench capture); this loop makes rows far faster, so it waits while more than
    // half the sink's memory bound is queued: what is measured is the rate ClickHouse sustains, not how fast the
    // sink fills its memory and spools (which the tests cover).
    await new Promise((r) => setImmediate(r));
    while (sink.stats().queued_rows > pace) await new Promise((r) => setTimeout(r, 2));
  }
  await sink.close();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const server1 = cpuSecondsOf(serverPid);
  fs.rmSync(spoolDir, { recursive: true, force: true });
  const counted = Number((await query(url, 'SELECT count() FROM sensor.flows')).trim());
  const st = sink.stats();
  if (counted !== rows || st.sent_rows !== rows) throw new Error(`sink round ${round}: ${rows} rows written, ${st.sent_rows} acknowledged, ${counted} in the table; ${warnings.join('; ')}`);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const serverCpuSeconds = server0 !== null && server1 !== null ? server1 - server0 : null;
  return {
    rows,
    seconds,
    rowsPerSecond: rows / seconds,
    cpuSeconds,
    serverCpuSeconds,
    // What each side could do with a core to itself: rows per CPU second (the two run in parallel, pipelined).
    rowsPerSinkCpuSecond: rows / cpuSeconds,
    rowsPerServerCpuSecond: serverCpuSeconds !== null && serverCpuSeconds > 0 ? rows / serverCpuSeconds : null,
    batches: st.sent_batches,
    retried: st.retried,
  };
}

function encodeRate(rows) {
  const { RowBinaryBatch } = require(path.join(DIST, 'sink/clickhouse/columns'));
  const pool = records();
  const batch = new RowBinaryBatch();
  let bytes = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < rows; i++) {
    const cf = pool[i % POOL];
    cf.flow.first_ts = 1_800_000_000 + i * 0.001;
    cf.flow.uid = uidOf(i);
    batch.add(cf);
    if (batch.rows === 10_000) bytes += batch.take().length;
  }
  bytes += batch.take().length;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { rowsPerSecond: rows / seconds, bytesPerRow: bytes / rows };
}

function sqliteRows() {
  const Database = require('better-sqlite3');
  const db = new Database(DB, { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT COUNT(*) AS n FROM flows').get().n;
  } finally {
    db.close();
  }
}

async function e2eRound(capture, variant, url, round, cpus, serverPid, compression) {
  for (const suffix of ['', '-wal', '-shm']) fs.rmSync(DB + suffix, { force: true });
  fs.rmSync(DB + '.clickhouse-spool', { recursive: true, force: true });
  const args = [path.join(ROOT, 'bin/sensor.js'), '--pcap', capture.path, '--db', DB, '--no-progress', '--model', path.join(ROOT, 'models/sensor.onnx')];
  if (variant === 'clickhouse') {
    await query(url, 'TRUNCATE TABLE sensor.flows');
    args.push('--clickhouse', url, '--sensor-name', 'bench');
    if (compression) {
      const cfg = path.join(OUT, 'ch-compression.json');
      fs.writeFileSync(cfg, JSON.stringify({ output: { clickhouse: { compression: true } } }));
      args.push('--config', cfg);
    }
  }
  const server0 = cpuSecondsOf(serverPid);
  const tag = `ch-e2e-${variant}-${round}`;
  const stderr = path.join(LOGS, `${tag}.err`);
  const m = await measure(process.execPath, args, { cpus, stdout: path.join(LOGS, `${tag}.out`), stderr, cwd: ROOT });
  if (m.code !== 0) throw new Error(`sensor exited ${m.code ?? m.signal} (${variant}); see ${stderr}`);
  const server1 = cpuSecondsOf(serverPid);
  const rows = sqliteRows();
  if (variant === 'clickhouse') {
    const counted = Number((await query(url, 'SELECT count() FROM sensor.flows')).trim());
    if (counted !== rows) throw new Error(`round ${round}: ${rows} flows in SQLite but ${counted} in ClickHouse; see ${stderr}`);
  }
  const cpuSeconds = m.userSeconds !== null ? m.userSeconds + m.sysSeconds : null;
  return {
    wallSeconds: m.wallSeconds,
    packetsPerSecond: capture.frames / m.wallSeconds,
    // Less sensitive to other load on the machine than the wall clock: what the sensor's own work costs.
    packetsPerCpuSecond: cpuSeconds !== null ? capture.frames / cpuSeconds : null,
    flows: rows,
    maxRssMB: m.maxRssKB / 1024,
    cpuSeconds,
    // The ClickHouse server's CPU during the run (it runs beside the sensor: on a shared machine it shows in the wall time).
    serverCpuSeconds: server0 !== null && server1 !== null ? server1 - server0 : null,
  };
}

async function main() {
  const opts = parseOptions(process.argv.slice(2));
  if (findClickHouse() === null) {
    process.stderr.write(`bench:clickhouse: ${whyMissing()}\n`);
    process.exit(2);
  }
  fs.mkdirSync(LOGS, { recursive: true });
  const pin = hasTaskset();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sensor-bench-ch-'));
  const cluster = await startCluster({ root, shards: 1, cpus: pin ? opts.serverCpus : null });
  const url = cluster.servers[0].url;
  const results = {
    date: new Date().toISOString(),
    machine: { cpuModel: os.cpus()[0]?.model, cores: os.cpus().length, node: process.version, loadavg: os.loadavg() },
    clickhouse: cluster.version,
    pinned: pin ? { sensor: opts.cpus, server: opts.serverCpus } : null,
  };
  try {
    const { schemaStatements } = require(path.join(DIST, 'sink/clickhouse/ddl'));
    for (const s of schemaStatements({ database: 'sensor', table: 'flows', cluster: null, onCluster: false })) await query(url, s);
    console.log(`clickhouse-server ${cluster.version} at ${url}; load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);

    if (!opts.skip.has('sink')) {
      if (pin) execFileSync('taskset', ['-cp', opts.cpus, String(process.pid)], { stdio: 'ignore' });
      const enc = encodeRate(Math.min(opts.rows, 200_000));
      const rounds = [];
      const gzipRounds = [];
      for (let r = 0; r < opts.runs; r++) {
        rounds.push(await sinkRound(url, opts.rows, r, cluster.servers[0].proc.pid, false, opts.batch));
        if (opts.gzip) gzipRounds.push(await sinkRound(url, opts.rows, r, cluster.servers[0].proc.pid, true, opts.batch));
      }
      results.sink = { rounds, medianRowsPerSecond: median(rounds.map((x) => x.rowsPerSecond)), encode: enc };
      // What a row costs on disk once merged (MergeTree's default LZ4 compression).
      await query(url, 'OPTIMIZE TABLE sensor.flows FINAL');
      const disk = (await query(url, "SELECT sum(rows), sum(bytes) FROM system.parts WHERE active AND database = 'sensor' AND table = 'flows' FORMAT TSV")).trim().split('\t').map(Number);
      results.sink.diskBytesPerRow = disk[1] / disk[0];
      console.log(`\nOne sensor's ClickHouse output into one server (${fmtInt(opts.rows)} rows, batches of ${fmtInt(opts.batch)}, ${opts.runs} rounds)`);
      console.log(
        table(
          ['round', 'seconds', 'rows/s', 'sink CPU s', 'server CPU s', 'rows/sink CPU s', 'rows/server CPU s', 'INSERTs'],
          rounds.map((x, i) => [i + 1, fmtFixed(x.seconds, 2), fmtInt(x.rowsPerSecond), fmtFixed(x.cpuSeconds, 2), fmtFixed(x.serverCpuSeconds, 2), fmtInt(x.rowsPerSinkCpuSecond), fmtInt(x.rowsPerServerCpuSecond), x.batches]),
        ),
      );
      results.sink.medianRowsPerSinkCpuSecond = median(rounds.map((x) => x.rowsPerSinkCpuSecond));
      results.sink.medianRowsPerServerCpuSecond = median(rounds.map((x) => x.rowsPerServerCpuSecond));
      console.log(
        `median ${fmtInt(results.sink.medianRowsPerSecond)} rows/s wall; ${fmtInt(results.sink.medianRowsPerSinkCpuSecond)} rows per sink CPU second, ${fmtInt(results.sink.medianRowsPerServerCpuSecond)} per server CPU second; encoding alone ${fmtInt(enc.rowsPerSecond)} rows/s, ${fmtInt(enc.bytesPerRow)} bytes/row sent, ${fmtFixed(results.sink.diskBytesPerRow, 1)} bytes/row on disk`,
      );
      if (opts.gzip) {
        results.sinkGzip = {
          rounds: gzipRounds,
          medianRowsPerSecond: median(gzipRounds.map((x) => x.rowsPerSecond)),
          medianRowsPerSinkCpuSecond: median(gzipRounds.map((x) => x.rowsPerSinkCpuSecond)),
          medianRowsPerServerCpuSecond: median(gzipRounds.map((x) => x.rowsPerServerCpuSecond)),
        };
        const g = results.sinkGzip;
        console.log(`with gzip bodies: median ${fmtInt(g.medianRowsPerSecond)} rows/s wall; ${fmtInt(g.medianRowsPerSinkCpuSecond)} rows per sink CPU second, ${fmtInt(g.medianRowsPerServerCpuSecond)} per server CPU second`);
      }
      if (pin) execFileSync('taskset', ['-cp', os.cpus().map((_, i) => i).join(','), String(process.pid)], { stdio: 'ignore' });
    }

    if (!opts.skip.has('e2e')) {
      const captures = ensureCaptures(OUT);
      const capture = captures.full;
      const rounds = [];
      for (let r = 0; r < opts.runs; r++) {
        const pid = cluster.servers[0].proc.pid;
        const sqlite = await e2eRound(capture, 'sqlite', url, r, pin ? opts.cpus : null, pid, false);
        const ch = await e2eRound(capture, 'clickhouse', url, r, pin ? opts.cpus : null, pid, false);
        const cpuRatio = sqlite.packetsPerCpuSecond !== null && ch.packetsPerCpuSecond !== null ? ch.packetsPerCpuSecond / sqlite.packetsPerCpuSecond : null;
        const round = { sqlite, clickhouse: ch, ratio: ch.packetsPerSecond / sqlite.packetsPerSecond, cpuRatio };
        if (opts.gzip) {
          const gz = await e2eRound(capture, 'clickhouse', url, r, pin ? opts.cpus : null, pid, true);
          Object.assign(round, { gzip: gz, gzipRatio: gz.packetsPerSecond / sqlite.packetsPerSecond, gzipCpuRatio: gz.packetsPerCpuSecond / sqlite.packetsPerCpuSecond });
        }
        rounds.push(round);
      }
      results.e2e = {
        capture: capture.path,
        frames: capture.frames,
        rounds,
        medianSqlite: median(rounds.map((x) => x.sqlite.packetsPerSecond)),
        medianClickhouse: median(rounds.map((x) => x.clickhouse.packetsPerSecond)),
        medianRatio: median(rounds.map((x) => x.ratio)),
        medianCpuRatio: median(rounds.map((x) => x.cpuRatio)),
        medianServerCpuSeconds: median(rounds.map((x) => x.clickhouse.serverCpuSeconds)),
      };
      console.log(`\nThe sensor end to end (${fmtInt(capture.frames)} packets, ${fmtInt(rounds[0].sqlite.flows)} flows, bundled model), alternating`);
      console.log(
        table(
          ['round', 'SQLite only pkt/s', 'SQLite + ClickHouse pkt/s', 'ratio', 'SQLite only pkt/CPU s', 'SQLite + ClickHouse pkt/CPU s', 'ratio', 'server CPU s'],
          rounds.map((x, i) => [
            i + 1,
            fmtInt(x.sqlite.packetsPerSecond),
            fmtInt(x.clickhouse.packetsPerSecond),
            fmtFixed(x.ratio, 3),
            fmtInt(x.sqlite.packetsPerCpuSecond),
            fmtInt(x.clickhouse.packetsPerCpuSecond),
            fmtFixed(x.cpuRatio, 3),
            fmtFixed(x.clickhouse.serverCpuSeconds, 2),
          ]),
        ),
      );
      console.log(
        `median ${fmtInt(results.e2e.medianSqlite)} vs ${fmtInt(results.e2e.medianClickhouse)} packets/s; median ratio ${fmtFixed(results.e2e.medianRatio, 3)} (wall), ${fmtFixed(results.e2e.medianCpuRatio, 3)} (per CPU second); ClickHouse server ${fmtFixed(results.e2e.medianServerCpuSeconds, 2)} CPU s per run`,
      );
      if (opts.gzip) {
        results.e2e.medianGzipRatio = median(rounds.map((x) => x.gzipRatio));
        results.e2e.medianGzipCpuRatio = median(rounds.map((x) => x.gzipCpuRatio));
        results.e2e.medianGzipServerCpuSeconds = median(rounds.map((x) => x.gzip.serverCpuSeconds));
        console.log(
          `with gzip bodies: median ratio ${fmtFixed(results.e2e.medianGzipRatio, 3)} (wall), ${fmtFixed(results.e2e.medianGzipCpuRatio, 3)} (per CPU second); ClickHouse server ${fmtFixed(results.e2e.medianGzipServerCpuSeconds, 2)} CPU s per run`,
        );
      }
    }
  } finally {
    await cluster.stop();
    fs.rmSync(root, { recursive: true, force: true });
  }
  results.loadavgAfter = os.loadavg();
  fs.writeFileSync(path.join(OUT, 'clickhouse.json'), JSON.stringify(results, null, 2) + '\n');
  console.log(`\nbench/out/clickhouse.json written; load average after ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
}

main().catch((e) => {
  process.stderr.write(`bench:clickhouse: ${e.stack || e.message}\n`);
  process.exit(1);
});
