import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { mulberry32 as rng } from '../../bench/synth';
import { FileSource } from '../../src/capture/fileSource';
import type { ClassifiedFlow } from '../../src/classify/verdict';
import type { FastPath, FastPathSummary } from '../../src/fastpath/fastPath';
import { DEFAULT_FLOW_OPTIONS, type FlowTableOptions } from '../../src/flow/flowTable';
import { Pipeline } from '../../src/pipeline/pipeline';

/**
 * Fuzzing the offline fast path (round perf32) against the JavaScript packet path: a real capture mutated with a seeded
 * RNG where the fast path reads (record headers, Ethernet/VLAN/IP/TCP headers, lengths, record order), run with the
 * fast path on and off, must give the same records, stats and counters, and never crash. Used by fuzz.test.ts (fixed
 * seeds, a few seconds; many seeds with FASTPATH_FUZZ_SEEDS, minutes).
 */

interface Rec {
  /** Offset of the record header in the file. */
  at: number;
  /** Bytes of the whole record (header + captured bytes). */
  bytes: number;
}

/** The records of a classic pcap (stops at the first length that does not fit). */
function records(buf: Buffer): { le: boolean; recs: Rec[] } {
  const le = buf.readUInt32LE(0) === 0xa1b2c3d4 || buf.readUInt32LE(0) === 0xa1b23c4d;
  const recs: Rec[] = [];
  for (let at = 24; at + 16 <= buf.length; ) {
    const capLen = le ? buf.readUInt32LE(at + 8) : buf.readUInt32BE(at + 8);
    if (at + 16 + capLen > buf.length) break;
    recs.push({ at, bytes: 16 + capLen });
    at += 16 + capLen;
  }
  return { le, recs };
}

/** What one mutant did, for a failure message. */
export interface Mutant {
  bytes: Buffer;
  ops: string[];
}

/**
 * A mutant of a classic pcap: `count` mutations, each one of bit flips and byte overwrites in a record header or the
 * first 80 bytes of a frame (link, VLAN, IP, TCP headers), a lying captured or wire length, a duplicated, swapped or
 * dropped record, or a truncation of the file.
 */
export function mutate(src: Buffer, seed: number, count: number): Mutant {
  const r = rng(seed);
  const int = (n: number): number => Math.floor(r() * n);
  const { le, recs } = records(src);
  // Records as separate buffers so that duplication and reordering keep the rest parseable.
  const parts: Buffer[] = recs.map((x) => Buffer.from(src.subarray(x.at, x.at + x.bytes)));
  const ops: string[] = [];
  const u32 = (b: Buffer, off: number, v: number): void => {
    if (off + 4 > b.length) return;
    if (le) b.writeUInt32LE(v >>> 0, off);
    else b.writeUInt32BE(v >>> 0, off);
  };
  // Values that sit on the boundaries the code checks.
  const lengths = [0, 1, 13, 14, 17, 18, 33, 34, 53, 54, 61, 73, 74, 93, 94, 262143, 262144, 262145, 1048576, 1048577,
    0x7fffffff, 0x80000000, 0xfffffff0, 0xffffffef, 0xffffffff];
  let truncateAt = -1;
  for (let k = 0; k < count && parts.length > 0; k++) {
    const i = int(parts.length);
    const p = parts[i]!;
    const kind = int(12);
    switch (kind) {
      case 0: case 1: case 2: {
        // bit flips in the frame's headers
        const n = 1 + int(3);
        for (let j = 0; j < n; j++) {
          const off = 16 + int(Math.min(80, Math.max(1, p.length - 16)));
          if (off < p.length) p[off]! ^= 1 << int(8);
        }
        ops.push(`flip#${i}`);
        break;
      }
      case 3: case 4: {
        // byte overwrite with a boundary value
        const off = 16 + int(Math.min(80, Math.max(1, p.length - 16)));
        const vals = [0x00, 0xff, 0x81, 0x88, 0xa8, 0x91, 0x86, 0xdd, 0x08, 0x06, 0x45, 0x4f, 0x40, 0x60, 0x50, 0xf0, 0x02, 0x12, 0x11, 0x04, 0x01, 0x2c];
        if (off < p.length) p[off] = vals[int(vals.length)]!;
        ops.push(`byte#${i}@${off}`);
        break;
      }
      case 5: {
        // record header bit flip (timestamps, lengths)
        const off = int(16);
        p[off]! ^= 1 << int(8);
        ops.push(`hdrflip#${i}@${off}`);
        break;
      }
      case 6: {
        // lying captured length
        const v = r() < 0.5 ? lengths[int(lengths.length)]! : p.length - 16 + int(40) - 20;
        u32(p, 8, v);
        ops.push(`caplen#${i}=${v >>> 0}`);
        break;
      }
      case 7: {
        // lying wire length
        const v = r() < 0.5 ? lengths[int(lengths.length)]! : p.length - 16 + int(40) - 20;
        u32(p, 12, v);
        ops.push(`wirelen#${i}=${v >>> 0}`);
        break;
      }
      case 8: {
        // a VLAN tag run: EtherType 0x8100 repeated up to the frame's end
        for (let off = 28; off + 2 <= p.length && off < 28 + 4 * (1 + int(6)); off += 4) p.writeUInt16BE(0x8100, off);
        ops.push(`vlanrun#${i}`);
        break;
      }
      case 9: {
        parts.splice(i, 0, Buffer.from(p));
        ops.push(`dup#${i}`);
        break;
      }
      case 10: {
        const j = int(parts.length);
        parts[i] = parts[j]!;
        parts[j] = p;
        ops.push(`swap#${i},${j}`);
        break;
      }
      default: {
        if (r() < 0.3) {
          truncateAt = int(src.length);
          ops.push(`truncate@${truncateAt}`);
        } else {
          // cut the frame short but keep the header's lengths (the next record header lands inside a frame)
          const keep = 16 + int(Math.max(1, p.length - 16));
          parts[i] = p.subarray(0, keep);
          ops.push(`cut#${i}@${keep}`);
        }
      }
    }
  }
  let bytes = Buffer.concat([src.subarray(0, 24), ...parts]);
  if (truncateAt >= 0 && truncateAt < bytes.length) bytes = bytes.subarray(0, truncateAt);
  return { bytes, ops };
}

export interface PathRun {
  records: string[];
  tableStats: string;
  anomalies: string;
  decoder: string;
  frames: number;
  error: string | null;
  fast: FastPathSummary | null;
}

/** Reader + decoder + flow table through the real Pipeline, fast path on or off (fastPath.test.ts's runPath). */
export async function runPath(
  file: string,
  fast: boolean,
  opts: Partial<FlowTableOptions> = {},
  chunkSize?: number,
  tweak?: (fp: FastPath) => void,
): Promise<PathRun> {
  const records: string[] = [];
  const sink = { write: (b: ClassifiedFlow[]) => { for (const c of b) records.push(JSON.stringify(c.flow)); }, close: () => {} };
  const pipeline = new Pipeline({ ...DEFAULT_FLOW_OPTIONS, source: 'x', ...opts }, null, [sink], null, { sensor: 't', live: false });
  const fp = fast ? pipeline.fastPath : null;
  if (fp !== null && tweak !== undefined) tweak(fp);
  const src = new FileSource(file, chunkSize !== undefined ? { chunkSize } : undefined);
  const result = await src.run(pipeline.onFrame, () => pipeline.settle(), fp);
  await pipeline.flush('eof');
  await pipeline.close();
  const st = pipeline.decoder.stats;
  return {
    records,
    tableStats: JSON.stringify(pipeline.table.stats),
    anomalies: JSON.stringify(pipeline.anomalies),
    decoder: JSON.stringify({ frames: st.frames, tcp: st.tcp, links: [...st.linkTypes], fragments: st.fragments, reassembled: st.fragmentsReassembled }),
    frames: result.frames,
    error: result.error,
    fast: fp !== null ? fp.summary() : null,
  };
}

/** Flow options that reach the rarer paths: idle and active timeouts, grace, evictions (also fastPath.test.ts's). */
export const TIGHT: Partial<FlowTableOptions> = { idleTimeout: 2, activeTimeout: 5, finGrace: 1, length: 40, maxFlows: 64 };

/** The first records of a classic pcap up to about `max` bytes (a whole number of records). */
export function head(file: string, max: number): Buffer {
  const b = readFileSync(file);
  if (b.length <= max) return b;
  const { recs } = records(b.subarray(0, max));
  const last = recs[recs.length - 1];
  return b.subarray(0, last === undefined ? 24 : last.at + last.bytes);
}

/**
 * Runs `file` through the packet path with the fast path off, then on, and asserts the same read result, frames,
 * anomaly and decoder counters, table stats and records; returns the fast run.
 */
export async function bothWays(file: string, what: string, opts: Partial<FlowTableOptions> = {}, chunkSize?: number): Promise<PathRun> {
  const js = await runPath(file, false, opts, chunkSize);
  const fast = await runPath(file, true, opts, chunkSize);
  expect(fast.fast, `${what}: the fast path is on`).not.toBeNull();
  expect(fast.error, what).toBe(js.error);
  expect(fast.frames, what).toBe(js.frames);
  expect(fast.anomalies, what).toBe(js.anomalies);
  expect(fast.decoder, what).toBe(js.decoder);
  expect(fast.tableStats, what).toBe(js.tableStats);
  expect(fast.records, what).toEqual(js.records);
  return fast;
}

/** Runs one mutant of `src` both ways and compares; returns the packets the fast path took. */
export async function fuzzOne(src: Buffer, seed: number, dir: string, label: string, stops?: Record<string, number>): Promise<number> {
  const r = rng(seed ^ 0x5bd1e995);
  const m = mutate(src, seed, 1 + Math.floor(r() * 24));
  const file = path.join(dir, `m-${seed}.pcap`);
  writeFileSync(file, m.bytes);
  const opts = r() < 0.5 ? {} : TIGHT;
  const chunk = r() < 0.3 ? 300 + Math.floor(r() * 5000) : undefined;
  const what = `${label} seed ${seed} chunk ${chunk ?? 'default'} ${opts === TIGHT ? 'tight' : 'default'}: ${m.ops.join(' ')}`;
  const fast = await bothWays(file, what, opts, chunk);
  if (stops !== undefined) for (const [k, v] of Object.entries(fast.fast?.stops ?? {})) stops[k] = (stops[k] ?? 0) + v;
  return fast.fast?.packets ?? 0;
}

export function scratch(): string {
  return mkdtempSync(path.join(tmpdir(), 'fastpath-fuzz-'));
}
