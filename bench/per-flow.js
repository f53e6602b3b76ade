'use strict';
/**
 * What each written flow costs, stage by stage, on the bench capture's own flows: the flow records of the capture
 * (reader, decoder and flow table run first, untimed) go through each per-flow stage of the sensor in turn, each
 * timed alone in this process (CPU time of the process, so a busy machine inflates it less than the wall clock):
 *
 *   uid                 FlowRecord.uid (SHA-256 of the record's key, computed on first read)
 *   sqlite rows         flowToRow + SQLite's insert parameters, without inserting
 *   sqlite insert       SqliteSink.write of the whole set (bulk mode: no secondary index), then its secondary indexes
 *   jsonl               the JSON-lines text of every record
 *   pack / unpack       the hand-over of a batch to the database thread (recordPack.ts), each side
 *   structuredClone     what the hand-over would cost as postMessage's clone of the records themselves
 *   inference           Classifier with each model, batches of 256, on this thread and in a worker thread:
 *                       flows per second (wall) and per CPU second of the process (all its threads)
 *
 * Prints one JSON object on stdout. Usage: node bench/per-flow.js CAPTURE [--model PATH]... [--rounds N]
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { median } = require('./report');

const dist = path.resolve(__dirname, '..', 'dist');
const ROOT = path.resolve(__dirname, '..');

function args(argv) {
  const o = { capture: null, models: [], rounds: 3 };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--model') o.models.push(path.resolve(argv[++i]));
    else if (argv[i] === '--rounds') o.rounds = Number(argv[++i]);
    else if (o.capture === null) o.capture = argv[i];
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (o.capture === null) throw new Error('usage: node bench/per-flow.js CAPTURE [--model PATH]... [--rounds N]');
  if (o.models.length === 0) o.models.push(path.join(ROOT, 'models', 'sensor.onnx'));
  return o;
}


/** CPU seconds of the process (every thread) and wall seconds of `fn`. */
async function timed(fn) {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await fn();
  const c = process.cpuUsage(c0);
  return { cpu: (c.user + c.system) / 1e6, wall: Number(process.hrtime.bigint() - t0) / 1e9 };
}

/** The capture's flow records, classified 'unclassified' (the stages below replace the verdict where they classify). */
async function records(capture) {
  const { FileSource } = require(path.join(dist, 'capture', 'fileSource.js'));
  const { Decoder } = require(path.join(dist, 'decode', 'decoder.js'));
  const { PacketMeta } = require(path.join(dist, 'decode', 'packetMeta.js'));
  const { newAnomalies } = require(path.join(dist, 'decode', 'anomalies.js'));
  const { FlowTable, DEFAULT_FLOW_OPTIONS } = require(path.join(dist, 'flow', 'flowTable.js'));
  const out = [];
  const decoder = new Decoder(newAnomalies());
  const meta = new PacketMeta();
  const table = new FlowTable({ ...DEFAULT_FLOW_OPTIONS, source: capture }, (r) => {
    r.sensor = 'bench';
    out.push(r);
  });
  await new FileSource(capture).run((f) => {
    if (decoder.decode(f, meta)) table.packet(meta);
  });
  table.flush('eof');
  return out;
}

async function main() {
  const o = args(process.argv.slice(2));
  const { FlowRecord } = require(path.join(dist, 'flow', 'flowRecord.js'));
  const { Verdict } = require(path.join(dist, 'classify', 'verdict.js'));
  const { flowToRow, rowToJson } = require(path.join(dist, 'sink', 'flowRow.js'));
  const { toParams, SqliteSink } = require(path.join(dist, 'sink', 'sqliteSink.js'));
  const { packBatch, unpackBatch } = require(path.join(dist, 'sink', 'recordPack.js'));
  const { Classifier } = require(path.join(dist, 'classify', 'classifier.js'));
  const { createIndexes } = require(path.join(dist, 'sink', 'schema.js'));

  const flows = await records(o.capture);
  const n = flows.length;
  const verdict = new Verdict('tls', 0.97, [{ label: 'tls', p: 0.97 }, { label: 'http', p: 0.02 }, { label: 'ssh', p: 0.01 }], 'bench', 'classified');
  /** Fresh copies each round: the uid is cached on a record once read. */
  const copies = () =>
    flows.map((f) => {
      const c = Object.assign(Object.create(FlowRecord.prototype), f);
      c.uidText = null;
      return { flow: c, verdict };
    });
  const stages = {};
  const add = (name, t) => {
    (stages[name] ??= []).push({ usPerFlowCpu: (t.cpu * 1e6) / n, flowsPerCpuSecond: n / t.cpu, flowsPerSecond: n / t.wall });
  };
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'per-flow-'));
  try {
    for (let r = 0; r < o.rounds; r++) {
      let batch = copies();
      add('uid', await timed(() => batch.forEach((cf) => cf.flow.uid)));
      add('sqlite rows', await timed(() => batch.forEach((cf) => toParams(flowToRow(cf)))));
      batch = copies();
      const db = path.join(tmp, `r${r}.db`);
      const sink = new SqliteSink(db, { deferIndexes: true });
      // Batches of 16,384 (the database's transaction size), as the sensor writes them.
      add('sqlite insert (no index, uid included)', await timed(() => {
        for (let i = 0; i < batch.length; i += 16384) sink.write(batch.slice(i, i + 16384));
      }));
      add('sqlite indexes (built at the end)', await timed(() => createIndexes(sink.db)));
      sink.close();
      batch = copies();
      add('jsonl text (uid included)', await timed(() => batch.forEach((cf) => rowToJson(flowToRow(cf)))));
      batch = copies();
      let packed = [];
      add('pack (capture thread)', await timed(() => {
        packed = [];
        for (let i = 0; i < batch.length; i += 1024) packed.push(packBatch(batch.slice(i, i + 1024)));
      }));
      add('unpack (database thread)', await timed(() => packed.forEach(unpackBatch)));
      // What packing replaced: postMessage's structured clone of the records themselves.
      add('structuredClone (instead of pack)', await timed(() => {
        for (let i = 0; i < batch.length; i += 1024) structuredClone(batch.slice(i, i + 1024));
      }));
    }
    const inference = [];
    for (const model of o.models) {
      for (const thread of [false, true]) {
        const runs = [];
        for (let r = 0; r < o.rounds; r++) {
          const c = await Classifier.load({
            modelPath: model, device: 'cpu', batchSize: 256, batchDeadlineMs: 5, unknownThreshold: 0.5,
            minPayloadPackets: 1, topK: 3, intraOpThreads: 1, thread,
          });
          let got = 0;
          c.onResult = (b) => (got += b.length);
          const t = await timed(async () => {
            for (const f of flows) c.submit(f);
            await c.drain();
          });
          await c.close();
          if (got !== n) throw new Error(`classifier answered ${got} of ${n} flows`);
          runs.push({ flowsPerSecond: n / t.wall, flowsPerCpuSecond: n / t.cpu, usPerFlowCpu: (t.cpu * 1e6) / n });
        }
        inference.push({
          model: path.relative(ROOT, model).startsWith('..') ? model : path.relative(ROOT, model),
          where: thread ? 'worker thread' : 'calling thread',
          runs,
          median: { flowsPerSecond: median(runs.map((x) => x.flowsPerSecond)), flowsPerCpuSecond: median(runs.map((x) => x.flowsPerCpuSecond)), usPerFlowCpu: median(runs.map((x) => x.usPerFlowCpu)) },
        });
      }
    }
    const out = { flows: n, stages: {}, inference, loadAverage1m: os.loadavg()[0] };
    for (const [k, runs] of Object.entries(stages)) {
      out.stages[k] = { runs, median: { usPerFlowCpu: median(runs.map((x) => x.usPerFlowCpu)), flowsPerCpuSecond: median(runs.map((x) => x.flowsPerCpuSecond)) } };
    }
    process.stdout.write(JSON.stringify(out) + '\n');
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`per-flow: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
