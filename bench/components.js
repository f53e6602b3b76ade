'use strict';
/**
 * One stage of the pipeline on its own, for the component breakdown (where the time goes):
 *   read    FileSource.run with an empty callback
 *   decode  + Decoder.decode into one reused PacketMeta
 *   flow    + FlowTable.packet, flows flushed `eof` at the end and turned into FlowRecords (no classify, no sink);
 *           with the offline fast path (src/fastpath/, as the sensor runs it) unless SENSOR_FASTPATH=0 or the addon is
 *           not built: the output's `fastPath` then gives the packets it took and why it handed records back
 *   learn   the flow stage with the learn labeller installed (sensor learn, monitor.groundTruth): payload of the
 *           first packets read, TLS/HTTP/banners parsed, each flow named with the shipped rules
 * The per-frame code mirrors src/pipeline/pipeline.ts (decode, then table.packet; fragment expiry every 65536 frames).
 * Times the stage inside the process (module loading and node start-up excluded) and prints one JSON object.
 *
 * Usage: node bench/components.js read|decode|flow|learn FILE
 */
const path = require('node:path');

const dist = path.resolve(__dirname, '..', 'dist');
/** Same cadence as Pipeline's FRAGMENT_EXPIRY_EVERY, so the decode stage does the work the sensor does. */
const FRAGMENT_EXPIRY_EVERY = 65536;

const STAGES = {
  read() {
    let frames = 0;
    return { onFrame: () => { frames++; }, finish: () => ({ callbackFrames: frames }) };
  },
  decode() {
    const { Decoder } = require(path.join(dist, 'decode', 'decoder.js'));
    const { PacketMeta } = require(path.join(dist, 'decode', 'packetMeta.js'));
    const { newAnomalies } = require(path.join(dist, 'decode', 'anomalies.js'));
    const anomalies = newAnomalies();
    const decoder = new Decoder(anomalies);
    const meta = new PacketMeta();
    let tcp = 0;
    let n = 0;
    const onFrame = (frame) => {
      if (decoder.decode(frame, meta)) tcp++;
      if (++n === FRAGMENT_EXPIRY_EVERY) {
        n = 0;
        decoder.expireFragments(frame.ts);
      }
    };
    return { onFrame, finish: () => ({ tcpPackets: tcp, anomalies: nonZero(anomalies) }) };
  },
  learn(file) {
    const { HandshakeInspector } = require(path.join(dist, 'learn', 'handshakeInspector.js'));
    const { Labeller } = require(path.join(dist, 'learn', 'labeller.js'));
    const { loadRules } = require(path.join(dist, 'learn', 'rules.js'));
    const inspector = new HandshakeInspector(new Labeller(loadRules()));
    const s = STAGES.flow(file, inspector);
    const finish = s.finish;
    return { ...s, finish: () => ({ ...finish(), labelled: inspector.stats.labelled, names: inspector.stats.names }) };
  },
  flow(file, inspector = null) {
    const { Decoder } = require(path.join(dist, 'decode', 'decoder.js'));
    const { PacketMeta } = require(path.join(dist, 'decode', 'packetMeta.js'));
    const { newAnomalies } = require(path.join(dist, 'decode', 'anomalies.js'));
    const { FlowTable, DEFAULT_FLOW_OPTIONS } = require(path.join(dist, 'flow', 'flowTable.js'));
    const anomalies = newAnomalies();
    const decoder = new Decoder(anomalies);
    const meta = new PacketMeta();
    let records = 0;
    let payloadEntries = 0;
    const table = new FlowTable({ ...DEFAULT_FLOW_OPTIONS, source: file }, (r) => {
      records++;
      payloadEntries += r.payload_packets;
    }, inspector);
    // The pipeline's frame count for the fragment expiry, which the fast path also reads and adds to.
    const budget = { framesSinceExpiry: 0, expiryDue: FRAGMENT_EXPIRY_EVERY };
    const fastPath = inspector === null ? require(path.join(dist, 'fastpath', 'fastPath.js')).FastPath.open(decoder, table, budget) : null;
    const onFrame = (frame) => {
      if (inspector !== null) inspector.buf = frame.buf;
      if (decoder.decode(frame, meta)) table.packet(meta);
      if (++budget.framesSinceExpiry === FRAGMENT_EXPIRY_EVERY) {
        budget.framesSinceExpiry = 0;
        decoder.expireFragments(frame.ts);
      }
    };
    return {
      onFrame,
      fastPath,
      end: () => table.flush('eof'),
      finish: () => ({
        tcpPackets: table.stats.packets,
        flows: records,
        payloadEntries,
        ended: { ...table.stats.ended },
        anomalies: nonZero(anomalies),
        ...(fastPath !== null ? { fastPath: fastPath.summary() } : {}),
      }),
    };
  },
};

function nonZero(counters) {
  const out = {};
  for (const [k, v] of Object.entries(counters)) if (v > 0) out[k] = v;
  return out;
}

async function main() {
  const [stage, file] = process.argv.slice(2);
  if (!(stage in STAGES) || file === undefined) {
    process.stderr.write(`usage: node bench/components.js ${Object.keys(STAGES).join('|')} FILE\n`);
    process.exit(2);
  }
  const { FileSource } = require(path.join(dist, 'capture', 'fileSource.js'));
  const s = STAGES[stage](file);
  const src = new FileSource(file);
  const t0 = process.hrtime.bigint();
  const r = await src.run(s.onFrame, undefined, s.fastPath ?? null);
  if (s.end !== undefined) s.end();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.error !== null) {
    process.stderr.write(`components: ${r.error}\n`);
    process.exit(1);
  }
  const out = { stage, frames: r.frames, bytes: r.bytes, seconds, framesPerSecond: r.frames / seconds, ...s.finish() };
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
  process.stderr.write(`components: ${e && e.message ? e.message : e}\n`);
  process.exit(1);
});
