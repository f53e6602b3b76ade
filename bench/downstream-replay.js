'use strict';
/**
 * Round perf28: the sensor's work after the packet path, alone. Preloaded (`node -r`) into a real offline run of the
 * CLI loaded module by module (SENSOR_BUNDLE=off, so that the classes below are the ones the CLI uses), it either
 *
 *   DOWNSTREAM_DUMP=FILE    records every finished flow record the flow table hands to the pipeline, in order, and
 *                           writes them to FILE (one JSON array per line, FlowRecord's constructor arguments) at exit;
 *   DOWNSTREAM_REPLAY=FILE  reads no packet (FileSource.run returns at once, as for an empty capture) and, when the
 *                           run's end-of-file flush starts, hands the records of FILE to the pipeline in the same
 *                           order, in steps of DOWNSTREAM_STEP (64) with Pipeline.settle() between (as after every
 *                           window of the file) and the event loop turned every 20 ms (as FileSource does), then
 *                           lets the real flush, drain and close run.
 *
 * Everything after the flow record is the real code of dist/: classifier and its inference thread (or the calling
 * thread on one core), anomaly scorer, host profiles, uid, SQLite with its deferred indexes, JSON lines, the model
 * monitor, the run summary. With DOWNSTREAM_TIMES=1 it prints to stderr, at exit, the wall and process CPU seconds
 * from process start to the first replayed record (start-up, less the reading of FILE) and from there to exit (the
 * downstream work). With DOWNSTREAM_NULL_JSONL=1 (round perf29) the JSON lines sink takes its batches and writes
 * nothing (no row, no text), so that a run with every stage off (`--jsonl /dev/null --no-classify --no-anomaly
 * --no-hosts`) measures what is left: the pipeline's own hand-over, the summary, close and exit.
 *
 * Usage (one core, the 1M capture):
 *   SENSOR_BUNDLE=off DOWNSTREAM_DUMP=/tmp/rec.jsonl node -r ./bench/downstream-replay.js bin/sensor.js \
 *     --pcap bench/out/bench-1m.pcap --db /tmp/a.db --no-progress
 *   SENSOR_BUNDLE=off DOWNSTREAM_REPLAY=/tmp/rec.jsonl DOWNSTREAM_TIMES=1 taskset -c 0 node -r \
 *     ./bench/downstream-replay.js bin/sensor.js --pcap bench/out/bench-1m.pcap --db /tmp/b.db --no-progress
 * The replayed database holds the real run's rows, labels and anomaly scores; some confidences differ in the third
 * decimal, because the int8 model scales each batch by its own range and the batches are cut at other records.
 */
const fs = require('node:fs');
const path = require('node:path');
const { setImmediate: yieldToEventLoop } = require('node:timers/promises');

const dist = path.resolve(__dirname, '..', 'dist');
const { Pipeline } = require(path.join(dist, 'pipeline', 'pipeline.js'));
const { FileSource } = require(path.join(dist, 'capture', 'fileSource.js'));
const { FlowRecord } = require(path.join(dist, 'flow', 'flowRecord.js'));

const FIELDS = [
  'source', 'first_ts', 'last_ts', 'ip_version', 'client_ip', 'client_port', 'server_ip', 'server_port', 'vlan',
  'c2s_packets', 's2c_packets', 'c2s_bytes', 's2c_bytes', 'c2s_payload_bytes', 's2c_payload_bytes', 'payload_packets',
  'retrans_skipped', 'midstream', 'conn_state', 'history', 'community_id', 'end_reason', 'lengths',
];

const dumpFile = process.env.DOWNSTREAM_DUMP;
/**
 * Records handed over between two Pipeline.settle() calls: in the real run the flows end (FIN) while the file is read,
 * ~70 per 4 MiB window of the 1M capture (20,000 flows, ~290 windows), with settle() after every window.
 */
const STEP = Number(process.env.DOWNSTREAM_STEP ?? 64);
/** As FileSource's reading loop: the event loop turns (inference, timers, threads' answers) at least this often. */
const YIELD_EVERY_MS = 20;
const replayFile = process.env.DOWNSTREAM_REPLAY;
const submit = Pipeline.prototype.submit;

if (process.env.DOWNSTREAM_NULL_JSONL === '1') {
  const { JsonlSink } = require(path.join(dist, 'sink', 'jsonlSink.js'));
  JsonlSink.prototype.write = function (batch) {
    this.rows += batch.length;
    return true;
  };
}

if (dumpFile !== undefined) {
  const lines = [];
  Pipeline.prototype.submit = function (r) {
    lines.push(JSON.stringify(FIELDS.map((f) => r[f])));
    return submit.call(this, r);
  };
  process.on('exit', () => fs.writeFileSync(dumpFile, lines.join('\n') + '\n'));
}

if (replayFile !== undefined) {
  let records = [];
  let loadSeconds = 0;
  FileSource.prototype.run = async function () {
    return { frames: 0, bytes: 0, error: null, stopped: false };
  };
  const flush = Pipeline.prototype.flush;
  let fed = false;
  let mark = null;
  Pipeline.prototype.flush = async function (...args) {
    if (!fed) {
      fed = true;
      // Read at the flush, not at preload, so that the start-up figure is the CLI's own; the load is reported apart.
      const l0 = process.hrtime.bigint();
      records = fs
        .readFileSync(replayFile, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => new FlowRecord(...JSON.parse(l)));
      loadSeconds = Number(process.hrtime.bigint() - l0) / 1e9;
      mark = { t: process.hrtime.bigint(), cpu: process.cpuUsage() };
      let lastYield = performance.now();
      for (let i = 0; i < records.length; i += STEP) {
        const end = Math.min(records.length, i + STEP);
        for (let j = i; j < end; j++) submit.call(this, records[j]);
        await this.settle();
        if (performance.now() - lastYield >= YIELD_EVERY_MS) {
          await yieldToEventLoop();
          lastYield = performance.now();
        }
      }
    }
    return flush.apply(this, args);
  };
  if (process.env.DOWNSTREAM_TIMES === '1') {
    const t0 = process.hrtime.bigint() - BigInt(Math.round(process.uptime() * 1e9));
    process.on('exit', () => {
      const t = process.hrtime.bigint();
      const cpu = process.cpuUsage();
      const s = (a, b) => Number(b - a) / 1e9;
      const c = (u) => (u.user + u.system) / 1e6;
      const out = {
        records: records.length,
        loadSeconds,
        startWall: s(t0, mark.t) - loadSeconds,
        startCpu: c(mark.cpu) - loadSeconds,
        downstreamWall: s(mark.t, t),
        downstreamCpu: c(cpu) - c(mark.cpu),
      };
      process.stderr.write(`downstream-replay ${JSON.stringify(out)}\n`);
    });
  }
}
