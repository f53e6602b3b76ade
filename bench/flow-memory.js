'use strict';
/**
 * Flow-table memory and speed: N concurrent flows (default 1,000,000), each opened by a SYN and given E data
 * segments (default 1) so it holds E sequence entries, then pure lookups of existing flows in a scattered order.
 * Prints one JSON object on stdout.
 *
 * Usage: node --expose-gc bench/flow-memory.js [--flows N] [--entries E] [--lookups M]
 */
const path = require('node:path');

const dist = path.resolve(__dirname, '..', 'dist');
const { FlowTable, DEFAULT_FLOW_OPTIONS } = require(path.join(dist, 'flow', 'flowTable.js'));
const { PacketMeta, TCP_ACK, TCP_PSH, TCP_SYN } = require(path.join(dist, 'decode', 'packetMeta.js'));

/** Traffic time between packets: small enough that 1M flows stay far inside the 120 s idle timeout. */
const TICK = 1e-6;
const START_TS = 1_700_000_000;
/** Stride of the scattered visiting order: odd and large, so consecutive packets hit distant flows (as interleaved traffic does). */
const STRIDE = 7_368_787;

function gcHard() {
  // Two passes: the first can leave weak/finalizable objects for the second.
  global.gc();
  global.gc();
}

function mem() {
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, rss: m.rss, external: m.external, arrayBuffers: m.arrayBuffers };
}

function gcd(a, b) {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

function main() {
  if (typeof global.gc !== 'function') {
    process.stderr.write('flow-memory: run with node --expose-gc (npm run bench does)\n');
    process.exit(2);
  }
  const args = process.argv.slice(2);
  let flows = 1_000_000;
  let lookups = 0;
  let entries = 1;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--flows') flows = Number(args[++i]);
    else if (args[i] === '--lookups') lookups = Number(args[++i]);
    else if (args[i] === '--entries') entries = Number(args[++i]);
    else {
      process.stderr.write(`flow-memory: unknown option ${args[i]} (options: --flows N, --entries E, --lookups M)\n`);
      process.exit(2);
    }
  }
  if (lookups === 0) lookups = 3 * flows;
  let stride = STRIDE % flows;
  while (gcd(stride, flows) !== 1) stride++;

  let emitted = 0;
  const table = new FlowTable({ ...DEFAULT_FLOW_OPTIONS, source: 'bench', maxFlows: 2 * flows }, () => {
    emitted++;
  });
  const p = new PacketMeta();
  p.ipVersion = 4;
  p.dst[0] = 0xc0a80001; // 192.168.0.1, the server of every flow
  p.dstPort = 443;
  p.window = 502;
  let ts = START_TS;

  // Flow i: client 10.0.0.0 + (i / 60000), port 1024 + i % 60000: distinct tuples for up to 3.9 billion flows.
  const setClient = (i) => {
    p.src[0] = 0x0a000000 + Math.floor(i / 60000);
    p.srcPort = 1024 + (i % 60000);
  };

  gcHard();
  const before = mem();

  // 1. Inserts: one SYN per flow.
  p.flags = TCP_SYN;
  p.payloadLen = 0;
  p.ipLen = 60;
  let t0 = process.hrtime.bigint();
  for (let i = 0; i < flows; i++) {
    setClient(i);
    p.seq = i;
    p.ts = ts;
    ts += TICK;
    table.packet(p);
  }
  const insertSeconds = Number(process.hrtime.bigint() - t0) / 1e9;

  // 2. E data segments per flow (client -> server), scattered order: each flow gets E sequence entries.
  p.flags = TCP_ACK | TCP_PSH;
  p.payloadLen = 517;
  p.ipLen = 557;
  t0 = process.hrtime.bigint();
  for (let e = 0; e < entries; e++) {
    for (let k = 0, i = 0; k < flows; k++, i = (i + stride) % flows) {
      setClient(i);
      p.seq = i + 1 + e * 517; // after the previous segment: not a retransmission
      p.ts = ts;
      ts += TICK;
      table.packet(p);
    }
  }
  const dataSeconds = Number(process.hrtime.bigint() - t0) / 1e9;

  gcHard();
  const after = mem();

  // 3. Pure lookups: ACKs without payload for existing flows, scattered order (hash lookup, recency move, counters).
  p.flags = TCP_ACK;
  p.payloadLen = 0;
  p.ipLen = 40;
  t0 = process.hrtime.bigint();
  for (let k = 0, i = 0; k < lookups; k++, i = (i + stride) % flows) {
    setClient(i);
    p.ts = ts;
    ts += TICK;
    table.packet(p);
  }
  const lookupSeconds = Number(process.hrtime.bigint() - t0) / 1e9;

  const tracked = table.size;
  const heapPerFlow = (after.heapUsed - before.heapUsed) / tracked;
  const rssPerFlow = (after.rss - before.rss) / tracked;
  const result = {
    flows,
    entriesPerFlow: entries,
    tracked,
    emittedDuringRun: emitted,
    heapUsedBefore: before.heapUsed,
    heapUsedAfter: after.heapUsed,
    rssBefore: before.rss,
    rssAfter: after.rss,
    externalAfter: after.external,
    heapBytesPerFlow: heapPerFlow,
    rssBytesPerFlow: rssPerFlow,
    projectedHeapFor1M: heapPerFlow * 1e6,
    projectedRssFor1M: rssPerFlow * 1e6,
    insertFlowsPerSecond: flows / insertSeconds,
    dataPacketsPerSecond: (flows * entries) / dataSeconds,
    lookups,
    lookupPacketsPerSecond: lookups / lookupSeconds,
    insertSeconds,
    dataSeconds,
    lookupSeconds,
  };
  // Keep the table reachable until after the measurements.
  if (table.size !== tracked) throw new Error('flow table changed size during measurement');
  process.stdout.write(JSON.stringify(result) + '\n');
}

main();
