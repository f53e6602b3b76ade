/** Types of bench/synth.js, the repository's one capture generator, for the tests written in TypeScript. */

export interface ScriptPacket {
  fromClient: boolean;
  flags: number;
  len: number;
  /** Bytes the payload starts with (the rest comes from the pool), or null. */
  prefix: Buffer | null;
}

export interface SynthFlow {
  id: number;
  v6: boolean;
  vlan: number;
  /** Four 32-bit address words each (IPv4: word 0). */
  client: number[];
  server: number[];
  cport: number;
  sport: number;
  mss: number;
  cseq: number;
  sseq: number;
  ipId: number;
  script: ScriptPacket[];
}

export interface WriteCapturesOptions {
  rand: () => number;
  pool: Buffer;
  packets: number;
  concurrency: number;
  newFlow: (id: number) => SynthFlow;
  onStart?: (f: SynthFlow) => void;
  finishFlows?: boolean;
  startSec: number;
  gapMinUs: number;
  gapMaxUs: number;
  fullPath: string;
  snapPath?: string;
  snaplen?: number;
}

export interface WriteCapturesResult {
  frames: number;
  flows: number;
  fullBytes: number;
  snapBytes: number;
  wireBytes: number;
  fullSize: number;
  maxConcurrent: number;
  trafficSeconds: number;
}

export function mulberry32(seed: number): () => number;
export function payloadPool(rand: () => number, n: number): Buffer;
export function pcapHeader(snaplen: number): Buffer;
export function writeCaptures(o: WriteCapturesOptions): WriteCapturesResult;
export const PCAP_HEADER: number;
export function writeFlood(file: string, packets: number, opts?: { kind?: 'syn' | 'ack' | 'data'; gapUs?: number }): WriteCapturesResult;
