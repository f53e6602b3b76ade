import { mulberry32, payloadPool, type ScriptPacket, type SynthFlow, writeCaptures } from '../../bench/synth';

/**
 * The tests' replay captures, written by bench/synth.js (the repository's one capture generator, which the
 * benchmark capture uses too): Ethernet/IPv4/TCP connections between 10.<net>.x.x hosts, interleaved at random,
 * each a handshake, data segments and ACKs both ways (downloads dominate: 40% bare ACKs, 30% 1-400 bytes, 30% full
 * size), and a FIN exchange or a RST. Same arguments, same bytes.
 */
export interface SynthSummary {
  packets: number;
  flows: number;
  /** Bytes on the wire (frames without pcap headers). */
  bytes: number;
}

const SYN = 0x02;
const ACK = 0x10;
const PSH = 0x08;
const FIN = 0x01;
const RST = 0x04;
const MSS = 1460;
const SERVER_PORTS = [443, 80, 22, 8443, 993];
const POOL_BYTES = 1 << 16;

/** One connection of `total` packets: handshake, data and ACKs, then FIN both ways and an ACK, or the server's RST. */
function sessionScript(rand: () => number, total: number, rst: boolean): ScriptPacket[] {
  const p = (fromClient: boolean, flags: number, len = 0): ScriptPacket => ({ fromClient, flags, len, prefix: null });
  const script = [p(true, SYN), p(false, SYN | ACK), p(true, ACK)];
  const close = rst ? [p(false, RST | ACK)] : [p(true, FIN | ACK), p(false, FIN | ACK), p(true, ACK)];
  while (script.length < total - close.length) {
    const fromClient = rand() < 1 / 3;
    const r = (rand() * 10) | 0;
    const len = r < 4 ? 0 : r < 7 ? 1 + ((rand() * 400) | 0) : MSS;
    script.push(p(fromClient, len === 0 ? ACK : ACK | PSH, len));
  }
  return [...script, ...close];
}

interface SynthOptions {
  seed: number;
  /** Second octet of every address: keeps the captures of different labs apart. */
  net: number;
  packets: number;
  concurrency: number;
  /** Packets of connection `id`. */
  flowPackets: (rand: () => number, id: number) => number;
  /** Server ports, used in turn. */
  serverPorts: number[];
  rstShare: number;
}

function write(file: string, o: SynthOptions): SynthSummary {
  const rand = mulberry32(o.seed);
  const pool = payloadPool(rand, POOL_BYTES);
  const newFlow = (id: number): SynthFlow => ({
    id,
    v6: false,
    vlan: 0,
    client: [((10 << 24) | (o.net << 16) | ((10 + (Math.floor(id / 250) % 100)) << 8) | (1 + (id % 250))) >>> 0, 0, 0, 0],
    server: [((10 << 24) | (o.net << 16) | (200 << 8) | (1 + (id % 8))) >>> 0, 0, 0, 0],
    cport: 30000 + ((id * 7) % 30000),
    sport: o.serverPorts[id % o.serverPorts.length]!,
    mss: MSS,
    cseq: (rand() * 4294967296) >>> 0,
    sseq: (rand() * 4294967296) >>> 0,
    ipId: id & 0xffff,
    script: sessionScript(rand, o.flowPackets(rand, id), rand() < o.rstShare),
  });
  const r = writeCaptures({
    rand,
    pool,
    packets: o.packets,
    concurrency: o.concurrency,
    newFlow,
    finishFlows: true,
    startSec: 1_700_000_000,
    gapMinUs: 10,
    gapMaxUs: 10,
    fullPath: file,
  });
  return { packets: r.frames, flows: r.flows, bytes: r.wireBytes };
}

/**
 * `flows` connections to port 443, open all through the file, and exactly `packets` frames (the live-capture
 * tests count them): connection i has packets/flows of them, the first ones one more where it does not divide.
 */
export function writeSynthCapture(file: string, packets: number, flows: number): SynthSummary {
  const base = Math.floor(packets / flows);
  if (base < 6) throw new RangeError(`writeSynthCapture: ${packets} packets are too few for ${flows} connections`);
  return write(file, {
    seed: 0x5e5507,
    net: 213,
    packets,
    concurrency: flows,
    flowPackets: (_rand, id) => base + (id < packets % flows ? 1 : 0),
    serverPorts: [443],
    rstShare: 0,
  });
}

/**
 * Connections that start and end all through the file, as on a real link (`concurrency` open at a time, several
 * thousand in all): 40 to 80 packets each, one in twenty ends with the server's RST. Every connection is written
 * to its end, so the file holds a few packets more than `packets`.
 */
export function writeReplayCapture(file: string, packets: number, concurrency = 400): SynthSummary {
  return write(file, {
    seed: 0x214,
    net: 214,
    packets,
    concurrency,
    flowPackets: (rand) => 40 + ((rand() * 41) | 0),
    serverPorts: SERVER_PORTS,
    rstShare: 0.05,
  });
}
