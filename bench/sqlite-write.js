'use strict';
/**
 * What the flows database costs per written flow, alone: the records of a database an earlier run wrote (every
 * column, so the rows are the real ones) go back through SqliteSink as an offline run writes them (bulk mode into a
 * new file, batches of 1,024, group commits), timed in phases by CPU time of this process (SQLite writes on the
 * calling thread):
 *
 *   uid       flowUid() of every record (FlowRecord.uid computes it on first read, when the row is built)
 *   params    flowParams() of every record (the INSERT's parameters), without inserting
 *   write     SqliteSink.write() of every batch (parameters, inserts, the commits made on the way)
 *   close     SqliteSink.close(): the last commit, the deferred indexes, PRAGMA optimize, the close's checkpoint
 *   open_wall, total_wall   wall ms of opening a new database, and of write() + close() (CPU plus the file system's waits)
 *
 * Usage: node bench/sqlite-write.js SOURCE.db [--dist DIR]... [--rounds N] [--alloc]. With several --dist (built trees,
 * e.g. a base and this one), the rounds alternate between them. Prints the medians per tree as one JSON object.
 *
 * --alloc adds the megabytes each phase allocates on the JavaScript heap (`*_mb`: heap used after minus before, from
 * a collected heap), which needs a young generation no phase fills, so that no collection runs inside one:
 *   node --expose-gc --min-semi-space-size=256 --max-semi-space-size=256 bench/sqlite-write.js SOURCE.db --alloc
 * A phase during which a collection ran anyway is reported as null.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { median } = require('./report');

function args(argv) {
  const o = { source: null, dists: [], rounds: 5, alloc: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--dist') o.dists.push(path.resolve(argv[++i]));
    else if (argv[i] === '--rounds') o.rounds = Number(argv[++i]);
    else if (argv[i] === '--alloc') o.alloc = true;
    else if (o.source === null) o.source = argv[i];
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (o.source === null) throw new Error('usage: node bench/sqlite-write.js SOURCE.db [--dist DIR]... [--rounds N]');
  if (o.dists.length === 0) o.dists.push(path.resolve(__dirname, '..', 'dist'));
  return o;
}


function cpuMs(fn) {
  const c0 = process.cpuUsage();
  fn();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000;
}

/** Collections seen (--alloc), by a PerformanceObserver. */
let gcs = 0;

/** MB of JavaScript heap `fn` allocates, or null when a collection ran during it (--alloc). */
function allocMb(fn) {
  global.gc();
  const before = gcs;
  const h0 = process.memoryUsage().heapUsed;
  fn();
  const h1 = process.memoryUsage().heapUsed;
  return gcs === before ? (h1 - h0) / 1e6 : null;
}

/** The source database's flows as the ScoredFlows a run hands to the sink. */
function records(dist, source) {
  const { openReadOnly } = require(path.join(dist, 'sink', 'sqliteBinding.js'));
  const db = openReadOnly(source);
  const rows = db.prepare('SELECT * FROM flows ORDER BY id').all();
  db.close();
  return rows.map((r) => {
    const labels = JSON.parse(r.topk_labels);
    const scores = JSON.parse(r.topk_scores);
    return {
      flow: {
        source: r.source, first_ts: r.first_ts, last_ts: r.last_ts, duration: r.duration, ip_version: r.ip_version,
        client_ip: r.client_ip, client_port: r.client_port, server_ip: r.server_ip, server_port: r.server_port, vlan: r.vlan,
        c2s_packets: r.c2s_packets, s2c_packets: r.s2c_packets, c2s_bytes: r.c2s_bytes, s2c_bytes: r.s2c_bytes,
        c2s_payload_bytes: r.c2s_payload_bytes, s2c_payload_bytes: r.s2c_payload_bytes, payload_packets: r.payload_packets,
        retrans_skipped: r.retrans_skipped, midstream: r.midstream === 1, conn_state: r.conn_state, history: r.history,
        community_id: r.community_id, end_reason: r.end_reason, lengths: JSON.parse(r.lengths), uid: r.uid,
        sensor: r.sensor, live: r.in_iface !== null,
      },
      verdict: {
        label: r.label, confidence: r.confidence, model_version: r.model_version, status: r.verdict,
        topk: labels.map((label, i) => ({ label, p: scores[i] })),
      },
      anomaly: r.anomaly_score === null ? null : { score: r.anomaly_score, anomaly: r.anomaly === 1, fpr: r.anomaly_fpr },
    };
  });
}

function round(dist, flows, tmp, alloc) {
  const { SqliteSink, flowParams, GROUP_COMMIT_MS } = require(path.join(dist, 'sink', 'sqliteSink.js'));
  const db = path.join(tmp, `r${Math.random().toString(36).slice(2)}.db`);
  const { flowUid } = require(path.join(dist, 'flow', 'flowUid.js'));
  const out = {};
  out.uid = cpuMs(() => {
    for (const { flow: f } of flows) flowUid(f.sensor, f.ip_version, f.client_ip, f.client_port, f.server_ip, f.server_port, f.vlan, f.first_ts);
  });
  out.params = cpuMs(() => {
    for (const cf of flows) flowParams(cf);
  });
  const w0 = performance.now();
  const sink = new SqliteSink(db, { deferIndexes: true, groupMs: GROUP_COMMIT_MS, sensorName: 'bench' });
  const w1 = performance.now();
  out.write = cpuMs(() => {
    for (let i = 0; i < flows.length; i += 1024) sink.write(flows.slice(i, i + 1024));
  });
  out.close = cpuMs(() => sink.close());
  out.total = out.write + out.close;
  // Wall times: what the file system's waits (fsync at the checkpoints) add to a one-core run's wall.
  out.open_wall = w1 - w0;
  out.total_wall = performance.now() - w1;
  if (alloc) {
    out.uid_alloc = allocMb(() => {
      for (const { flow: f } of flows) flowUid(f.sensor, f.ip_version, f.client_ip, f.client_port, f.server_ip, f.server_port, f.vlan, f.first_ts);
    });
    const again = new SqliteSink(`${db}.alloc`, { deferIndexes: true, groupMs: GROUP_COMMIT_MS, sensorName: 'bench' });
    const batches = [];
    for (let i = 0; i < flows.length; i += 1024) batches.push(flows.slice(i, i + 1024));
    out.write_alloc = allocMb(() => {
      for (const b of batches) again.write(b);
    });
    again.close();
    for (const f of [`${db}.alloc`, `${db}.alloc-wal`, `${db}.alloc-shm`]) fs.rmSync(f, { force: true });
  }
  for (const f of [db, `${db}-wal`, `${db}-shm`]) fs.rmSync(f, { force: true });
  return out;
}

function main() {
  const o = args(process.argv.slice(2));
  if (o.alloc) {
    if (typeof global.gc !== 'function') throw new Error('--alloc needs node --expose-gc (and a large young generation, see the usage)');
    const { PerformanceObserver } = require('node:perf_hooks');
    new PerformanceObserver((list) => (gcs += list.getEntries().length)).observe({ entryTypes: ['gc'] });
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlite-write-'));
  const flows = records(o.dists[0], o.source);
  const per = o.dists.map(() => []);
  // One warm-up round per tree, then the timed rounds alternate.
  for (const d of o.dists) round(d, flows, tmp, o.alloc);
  for (let r = 0; r < o.rounds; r++) o.dists.forEach((d, i) => per[i].push(round(d, flows, tmp, o.alloc)));
  fs.rmSync(tmp, { recursive: true, force: true });
  const result = { flows: flows.length, rounds: o.rounds, load: os.loadavg()[0], trees: {} };
  o.dists.forEach((d, i) => {
    const m = {};
    for (const k of Object.keys(per[i][0])) {
      const values = per[i].map((x) => x[k]).filter((x) => x !== null);
      const name = k.endsWith('_alloc') ? `${k.slice(0, -6)}_mb` : `${k}_ms`;
      m[name] = values.length === 0 ? null : Math.round(median(values) * 10) / 10;
    }
    result.trees[d] = m;
  });
  console.log(JSON.stringify(result, null, 1));
}

if (require.main === module) main();
else module.exports = { records };
