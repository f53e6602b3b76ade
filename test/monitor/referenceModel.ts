import { readFileSync, writeFileSync } from 'node:fs';
import { binOf } from '../../src/monitor/inputReference';
import { session } from '../learn/handshakes';

/**
 * Test models with an `input_reference`: the reference is computed here from flows and the model's verdicts on
 * them (the format of src/monitor/inputReference.ts), and appended to an ONNX file as one more metadata_props
 * entry. Protobuf merges a repeated field that appears again at the end of a message, so the result is a valid
 * ModelProto (onnxruntime and onnx.load read it) without re-serialising the graph.
 */

/** Signed-length bin edges of the test references: fine near the handshake sizes, the zero padding alone in [0, 1). */
export const TEST_EDGES = [-65536, -1449, -1200, -900, -600, -300, -150, -60, -1, 0, 1, 60, 150, 300, 600, 900, 1200, 1449, 65536];
export const CONFIDENCE_EDGES = [0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0000001];

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

function lenField(field: number, bytes: Buffer): Buffer {
  return Buffer.concat([Buffer.from([(field << 3) | 2, ...varint(bytes.length)]), bytes]);
}

/** The ONNX bytes with one more metadata_props entry (ModelProto field 14). */
export function withMetadata(model: Buffer, key: string, value: string): Buffer {
  const entry = Buffer.concat([lenField(1, Buffer.from(key, 'utf8')), lenField(2, Buffer.from(value, 'utf8'))]);
  return Buffer.concat([model, lenField(14, entry)]);
}

export interface ReferenceFlow {
  lengths: number[];
  /** The model's top-1 class and its probability on this flow. */
  top1: string;
  confidence: number;
  /** The verdict after the unknown rule. */
  label: string;
}

/** The input_reference JSON of a set of reference flows. */
export function buildReference(flows: ReferenceFlow[], classes: string[], L: number, edges = TEST_EDGES): string {
  const B = edges.length - 1;
  const positions = Array.from({ length: L }, () => new Array<number>(B).fill(0));
  const payload = new Array<number>(L + 1).fill(0);
  const conf = new Array<number>(CONFIDENCE_EDGES.length - 1).fill(0);
  const priors: Record<string, number> = Object.fromEntries(classes.map((c) => [c, 0]));
  let unknown = 0;
  for (const f of flows) {
    for (let k = 0; k < L; k++) positions[k]![binOf(edges, f.lengths[k] ?? 0)]!++;
    payload[Math.min(L, f.lengths.filter((v) => v !== 0).length)]!++;
    conf[binOf(CONFIDENCE_EDGES, f.confidence)]!++;
    priors[f.top1] = (priors[f.top1] ?? 0) + 1;
    if (f.label === 'unknown') unknown++;
  }
  const n = flows.length;
  const share = (a: number[]): number[] => a.map((v) => v / n);
  return JSON.stringify({
    version: 1,
    n_flows: n,
    edges,
    positions: positions.map(share),
    payload_packets: share(payload),
    class_priors: Object.fromEntries(Object.entries(priors).map(([c, v]) => [c, v / n])),
    confidence: { edges: CONFIDENCE_EDGES, probs: share(conf) },
    unknown_share: unknown / n,
  });
}

/** Writes a copy of `model` with `reference` as its input_reference. */
export function writeReferenceModel(model: string, reference: string, out: string): void {
  writeFileSync(out, withMetadata(readFileSync(model), 'input_reference', reference));
}

/** A seeded generator (mulberry32), the one the bench and test captures use. */
export { mulberry32 as rng } from '../../bench/synth';

const pad = (a: number[], L: number): number[] => [...a, ...new Array<number>(Math.max(0, L - a.length)).fill(0)].slice(0, L);

/**
 * "Lab" traffic of the fixture model's three classes: interactive exchanges of small messages, downloads (a small
 * request, then full segments back) and uploads. Each call draws a fresh flow.
 */
export function labFlow(r: () => number, L = 30): number[] {
  const kind = r();
  const n = 4 + Math.floor(r() * 26);
  if (kind < 0.4) return pad(Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 1 : -1) * (20 + Math.floor(r() * 60))), L);
  if (kind < 0.75) return pad([80 + Math.floor(r() * 300), ...Array.from({ length: n - 1 }, () => -(r() < 0.85 ? 1448 : 200 + Math.floor(r() * 1200)))], L);
  return pad([...Array.from({ length: n - 1 }, () => (r() < 0.85 ? 1448 : 200 + Math.floor(r() * 1200))), -(20 + Math.floor(r() * 40))], L);
}

/** Traffic unlike it: TLS web sessions of another client (a large hello, certificates, a few requests and responses). */
export function webFlow(r: () => number, L = 30): number[] {
  const seq = [1700 + Math.floor(r() * 300), -(2500 + Math.floor(r() * 2000)), 64 + Math.floor(r() * 30), -(250 + Math.floor(r() * 40))];
  const requests = 1 + Math.floor(r() * 5);
  for (let i = 0; i < requests; i++) seq.push(400 + Math.floor(r() * 700), -(600 + Math.floor(r() * 900)), -(1000 + Math.floor(r() * 3000)));
  return pad(seq, L);
}

/** Frames of one session whose payload segments are exactly `lengths` (+ client, - server). */
export function sequenceSession(t0: number, i: number, lengths: number[]): { ts: number; data: Buffer }[] {
  const messages = lengths.filter((v) => v !== 0).map((v): ['c' | 's', Buffer] => [v > 0 ? 'c' : 's', Buffer.alloc(Math.abs(v), 0x61)]);
  return session({ t0, client: `10.${(i >> 8) & 0xff}.${i & 0xff}.1`, server: '192.0.2.80', cport: 20000 + (i % 40000), sport: 443, messages, mss: 65000 });
}

