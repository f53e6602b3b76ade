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

/** Byte values that sit on the boundaries the decoder checks (EtherTypes, VLAN TPIDs, IP versions and lengths, flags). */
export const BOUNDARY_BYTES = [0x00, 0xff, 0x81, 0x88, 0xa8, 0x91, 0x86, 0xdd, 0x08, 0x06, 0x45, 0x4f, 0x40, 0x60, 0x50, 0xf0, 0x02, 0x12, 0x11, 0x04, 0x01, 0x2c];

/**
 * The mutation steps both formats share, on a file cut into its records (classic pcap) or blocks (pcapng): each draws
 * from the one seeded RNG in a fixed order, so a seed always gives the same mutant, and names what it did in `ops`.
 */
export class Mutations {
  readonly ops: string[] = [];
  /** Where the file is cut at the end (-1: not cut); a later truncation replaces an earlier one. */
  truncateAt = -1;
  /** Where vlanRun() starts in a part: the frame's EtherType after a 16-byte header (linkEtherTypeAt(); round perf44). */
  etherTypeAt = 28;
  readonly int = (n: number): number => Math.floor(this.r() * n);

  constructor(
    readonly r: () => number,
    private readonly le: boolean,
    readonly parts: Buffer[],
  ) {}

  /** Writes a u32 in the file's byte order where it fits. */
  u32(b: Buffer, off: number, v: number): void {
    if (off + 4 > b.length) return;
    if (this.le) b.writeUInt32LE(v >>> 0, off);
    else b.writeUInt32BE(v >>> 0, off);
  }

  /** One to three bit flips in the first 80 bytes of part i's frame, which starts at `frame`. */
  flipFrame(i: number, frame: number): void {
    const p = this.parts[i]!;
    const n = 1 + this.int(3);
    for (let j = 0; j < n; j++) {
      const off = frame + this.int(Math.min(80, Math.max(1, p.length - frame)));
      if (off < p.length) p[off]! ^= 1 << this.int(8);
    }
    this.ops.push(`flip#${i}`);
  }

  /** A bit flip in the first `span` bytes of part i (its record header or block's fixed fields). */
  flipHeader(i: number, span: number): void {
    const p = this.parts[i]!;
    const off = this.int(span);
    p[off]! ^= 1 << this.int(8);
    this.ops.push(`hdrflip#${i}@${off}`);
  }

  /** A VLAN tag run in part i: EtherType 0x8100 repeated from its frame's EtherType (etherTypeAt on). */
  vlanRun(i: number): void {
    const p = this.parts[i]!;
    const at = this.etherTypeAt;
    for (let off = at; off + 2 <= p.length && off < at + 4 * (1 + this.int(6)); off += 4) p.writeUInt16BE(0x8100, off);
    this.ops.push(`vlanrun#${i}`);
  }

  /** A byte of the first 80 of part i's frame (at `frame`) overwritten with a boundary value. */
  overwriteFrame(i: number, frame: number): void {
    const p = this.parts[i]!;
    const off = frame + this.int(Math.min(80, Math.max(1, p.length - frame)));
    if (off < p.length) p[off] = BOUNDARY_BYTES[this.int(BOUNDARY_BYTES.length)]!;
    this.ops.push(`byte#${i}@${off}`);
  }

  /**
   * A lying length at `off` of part i (its header `header` bytes long): half the time one of `lengths`, else within
   * 20 bytes of the frame's own length; `name` labels it in ops.
   */
  lieLength(i: number, off: number, header: number, lengths: readonly number[], name: string): void {
    const p = this.parts[i]!;
    const v = this.r() < 0.5 ? lengths[this.int(lengths.length)]! : p.length - header + this.int(40) - 20;
    this.u32(p, off, v);
    this.ops.push(`${name}#${i}=${v >>> 0}`);
  }

  /** Part i twice in a row. */
  duplicate(i: number): void {
    this.parts.splice(i, 0, Buffer.from(this.parts[i]!));
    this.ops.push(`dup#${i}`);
  }

  /** Part i swapped with a part drawn at random. */
  swap(i: number): void {
    const p = this.parts[i]!;
    const j = this.int(this.parts.length);
    this.parts[i] = this.parts[j]!;
    this.parts[j] = p;
    this.ops.push(`swap#${i},${j}`);
  }

  /**
   * The file truncated at a random offset (of `fileLength`), or part i cut short at `keepFrom` bytes or more while its
   * header keeps its lengths (the next header lands inside a frame).
   */
  truncateOrCut(i: number, fileLength: number, keepFrom: number): void {
    if (this.r() < 0.3) {
      this.truncateAt = this.int(fileLength);
      this.ops.push(`truncate@${this.truncateAt}`);
    } else {
      const p = this.parts[i]!;
      const keep = keepFrom + this.int(Math.max(1, p.length - keepFrom));
      this.parts[i] = p.subarray(0, keep);
      this.ops.push(`cut#${i}@${keep}`);
    }
  }

  /** The mutant: `head` (the file header, classic pcap) and the parts, truncated where a step said so. */
  mutant(head: Buffer | null): Mutant {
    let bytes = Buffer.concat(head === null ? this.parts : [head, ...this.parts]);
    if (this.truncateAt >= 0 && this.truncateAt < bytes.length) bytes = bytes.subarray(0, this.truncateAt);
    return { bytes, ops: this.ops };
  }
}

/**
 * A mutant of a classic pcap: `count` mutations, each one of bit flips and byte overwrites in a record header or the
 * first 80 bytes of a frame (link, VLAN, IP, TCP headers), a lying captured or wire length, a duplicated, swapped or
 * dropped record, or a truncation of the file.
 */
export function mutate(src: Buffer, seed: number, count: number): Mutant {
  const { le, recs } = records(src);
  // Records as separate buffers so that duplication and reordering keep the rest parseable.
  const m = new Mutations(rng(seed), le, recs.map((x) => Buffer.from(src.subarray(x.at, x.at + x.bytes))));
  m.etherTypeAt = linkEtherTypeAt((le ? src.readUInt32LE(20) : src.readUInt32BE(20)) & 0xffff);
  const { int, parts } = m;
  // Values that sit on the boundaries the code checks.
  const lengths = [0, 1, 13, 14, 17, 18, 33, 34, 53, 54, 61, 73, 74, 93, 94, 262143, 262144, 262145, 1048576, 1048577,
    0x7fffffff, 0x80000000, 0xfffffff0, 0xffffffef, 0xffffffff];
  for (let k = 0; k < count && parts.length > 0; k++) {
    const i = int(parts.length);
    switch (int(12)) {
      case 0: case 1: case 2:
        // bit flips in the frame's headers
        m.flipFrame(i, 16);
        break;
      case 3: case 4:
        // byte overwrite with a boundary value
        m.overwriteFrame(i, 16);
        break;
      case 5:
        // record header bit flip (timestamps, lengths)
        m.flipHeader(i, 16);
        break;
      case 6:
        m.lieLength(i, 8, 16, lengths, 'caplen');
        break;
      case 7:
        m.lieLength(i, 12, 16, lengths, 'wirelen');
        break;
      case 8:
        // a VLAN tag run: EtherType 0x8100 repeated up to the frame's end
        m.vlanRun(i);
        break;
      case 9:
        m.duplicate(i);
        break;
      case 10:
        m.swap(i);
        break;
      default:
        m.truncateOrCut(i, src.length, 16);
    }
  }
  return m.mutant(src.subarray(0, 24));
}

/**
 * Where a record's EtherType is (its 16-byte header included) under link type `link`: Ethernet 28, Linux cooked SLL 30,
 * SLL2 16; raw IP has none, 16 is its version byte (round perf44).
 */
export function linkEtherTypeAt(link: number): number {
  return link === 113 ? 30 : link === 1 ? 28 : 16;
}

/** What the two ways of one input must agree on: the records, the pipeline's counters and the error, as text. */
export interface PipelineRun {
  records: string[];
  tableStats: string;
  anomalies: string;
  decoder: string;
  error: string | null;
  fast: FastPathSummary | null;
}

export interface PathRun extends PipelineRun {
  frames: number;
}

/** A Pipeline without a model whose one sink keeps each flow record as JSON text (runPath, live.ts runLive). */
export function recordingPipeline(opts: Partial<FlowTableOptions>, live: boolean): { pipeline: Pipeline; records: string[] } {
  const records: string[] = [];
  const sink = { write: (b: ClassifiedFlow[]) => { for (const c of b) records.push(JSON.stringify(c.flow)); }, close: () => {} };
  const pipeline = new Pipeline({ ...DEFAULT_FLOW_OPTIONS, source: 'x', ...opts }, null, [sink], null, { sensor: 't', live });
  return { pipeline, records };
}

/** The counters of a closed recordingPipeline(), as text. */
export function pipelineCounters(pipeline: Pipeline): Pick<PipelineRun, 'tableStats' | 'anomalies' | 'decoder'> {
  const st = pipeline.decoder.stats;
  return {
    tableStats: JSON.stringify(pipeline.table.stats),
    anomalies: JSON.stringify(pipeline.anomalies),
    decoder: JSON.stringify({ frames: st.frames, tcp: st.tcp, links: [...st.linkTypes], fragments: st.fragments, reassembled: st.fragmentsReassembled }),
  };
}

/** Asserts that the fast run found the fast path on and agrees with the JavaScript run (bothWays, live.ts bothWaysLive). */
export function expectSameRun(fast: PipelineRun, js: PipelineRun, what: string): void {
  expect(fast.fast, `${what}: the fast path is on`).not.toBeNull();
  expect(fast.error, what).toBe(js.error);
  expect(fast.anomalies, what).toBe(js.anomalies);
  expect(fast.decoder, what).toBe(js.decoder);
  expect(fast.tableStats, what).toBe(js.tableStats);
  expect(fast.records, what).toEqual(js.records);
}

/** Reader + decoder + flow table through the real Pipeline, fast path on or off (fastPath.test.ts's runPath). */
export async function runPath(
  file: string,
  fast: boolean,
  opts: Partial<FlowTableOptions> = {},
  chunkSize?: number,
  tweak?: (fp: FastPath) => void,
): Promise<PathRun> {
  const { pipeline, records } = recordingPipeline(opts, false);
  const fp = fast ? pipeline.fastPath : null;
  if (fp !== null && tweak !== undefined) tweak(fp);
  const src = new FileSource(file, chunkSize !== undefined ? { chunkSize } : undefined);
  const result = await src.run(pipeline.onFrame, () => pipeline.settle(), fp);
  await pipeline.flush('eof');
  await pipeline.close();
  return {
    records,
    ...pipelineCounters(pipeline),
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
  expectSameRun(fast, js, what);
  expect(fast.frames, what).toBe(js.frames);
  return fast;
}

/** Runs one mutant of `src` both ways and compares; returns the packets the fast path took. */
export async function fuzzOne(src: Buffer, seed: number, dir: string, label: string, stops?: Record<string, number>): Promise<number> {
  return fuzzMutant(mutate, 0x5bd1e995, 'pcap', src, seed, dir, label, stops);
}

/**
 * One mutant of `src` made by `mutator` (its mutation count, flow options and chunk size drawn from `seed ^ salt`),
 * written to dir as m-SEED.EXT, run both ways and compared; adds the fast path's stops to `stops` and returns the packets
 * it took.
 */
async function fuzzMutant(
  mutator: (src: Buffer, seed: number, count: number) => Mutant,
  salt: number,
  ext: string,
  src: Buffer,
  seed: number,
  dir: string,
  label: string,
  stops?: Record<string, number>,
): Promise<number> {
  const r = rng(seed ^ salt);
  const m = mutator(src, seed, 1 + Math.floor(r() * 24));
  const file = path.join(dir, `m-${seed}.${ext}`);
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

// ---- pcapng (round perf37) ----

/** A pcapng block in a file: where it is and how long (its leading length). */
interface Block {
  at: number;
  bytes: number;
  type: number;
}

/** The blocks of a pcapng file of one section (byte order from its SHB); stops at the first length that does not fit. */
function blocks(buf: Buffer): { le: boolean; blocks: Block[] } {
  const le = buf.length >= 12 && buf.readUInt32LE(8) === 0x1a2b3c4d;
  const out: Block[] = [];
  for (let at = 0; at + 12 <= buf.length; ) {
    const len = le ? buf.readUInt32LE(at + 4) : buf.readUInt32BE(at + 4);
    if (len < 12 || at + len > buf.length) break;
    out.push({ at, bytes: len, type: le ? buf.readUInt32LE(at) : buf.readUInt32BE(at) });
    at += len;
  }
  return { le, blocks: out };
}

/** A pcapng block (type, length, body padded to 4, length) in byte order `le`. */
function ngBlock(type: number, body: Buffer, le: boolean): Buffer {
  const total = 12 + ((body.length + 3) & ~3);
  const b = Buffer.alloc(total);
  const w = (off: number, v: number): void => void (le ? b.writeUInt32LE(v >>> 0, off) : b.writeUInt32BE(v >>> 0, off));
  w(0, type);
  w(4, total);
  body.copy(b, 8);
  w(total - 4, total);
  return b;
}

/** An IDB with an optional if_tsresol byte and if_tsoffset (seconds). */
function ngIdb(linkType: number, le: boolean, tsresol?: number, tsoffset?: number): Buffer {
  const opts: Buffer[] = [];
  const opt = (code: number, value: Buffer): void => {
    const h = Buffer.alloc(4);
    if (le) {
      h.writeUInt16LE(code, 0);
      h.writeUInt16LE(value.length, 2);
    } else {
      h.writeUInt16BE(code, 0);
      h.writeUInt16BE(value.length, 2);
    }
    opts.push(h, value, Buffer.alloc(((value.length + 3) & ~3) - value.length));
  };
  if (tsresol !== undefined) opt(9, Buffer.from([tsresol]));
  if (tsoffset !== undefined) {
    const v = Buffer.alloc(8);
    if (le) v.writeBigInt64LE(BigInt(tsoffset));
    else v.writeBigInt64BE(BigInt(tsoffset));
    opt(14, v);
  }
  if (opts.length > 0) opts.push(Buffer.alloc(4));
  const fixed = Buffer.alloc(8);
  if (le) {
    fixed.writeUInt16LE(linkType, 0);
    fixed.writeUInt32LE(0, 4);
  } else {
    fixed.writeUInt16BE(linkType, 0);
    fixed.writeUInt32BE(0, 4);
  }
  return ngBlock(1, Buffer.concat([fixed, ...opts]), le);
}

function ngShb(le: boolean): Buffer {
  const body = Buffer.alloc(16, 0xff);
  if (le) {
    body.writeUInt32LE(0x1a2b3c4d, 0);
    body.writeUInt16LE(1, 4);
    body.writeUInt16LE(0, 6);
  } else {
    body.writeUInt32BE(0x1a2b3c4d, 0);
    body.writeUInt16BE(1, 4);
    body.writeUInt16BE(0, 6);
  }
  return ngBlock(0x0a0d0d0a, body, le);
}

/** An EPB for interface `ifId` with `ticks` of its resolution, and EPB options (opt_comment) when `comment` is set. */
function ngEpb(ifId: number, ticks: bigint, data: Buffer, wireLen: number, le: boolean, comment?: string): Buffer {
  const h = Buffer.alloc(20);
  const w = (off: number, v: number): void => void (le ? h.writeUInt32LE(v >>> 0, off) : h.writeUInt32BE(v >>> 0, off));
  w(0, ifId);
  w(4, Number(ticks >> 32n));
  w(8, Number(ticks & 0xffffffffn));
  w(12, data.length);
  w(16, wireLen);
  const parts = [h, data, Buffer.alloc(((data.length + 3) & ~3) - data.length)];
  if (comment !== undefined) {
    const c = Buffer.from(comment);
    const o = Buffer.alloc(4);
    if (le) {
      o.writeUInt16LE(1, 0);
      o.writeUInt16LE(c.length, 2);
    } else {
      o.writeUInt16BE(1, 0);
      o.writeUInt16BE(c.length, 2);
    }
    parts.push(o, c, Buffer.alloc(((c.length + 3) & ~3) - c.length), Buffer.alloc(4));
  }
  return ngBlock(6, Buffer.concat(parts), le);
}

/**
 * A classic pcap (µs or ns) as one pcapng section in byte order `le`: interface 0 its link type (Ethernet, or SLL,
 * SLL2, raw IP since round perf44) µs, 1 another link type (no packet of it), 2 the file's link type ns with an if_tsoffset, 3 Ethernet 2^-20 s, 4 Ethernet 2^-32 s (the plain division of
 * ticksToSeconds); each record goes to interface 0, 2, 3 or 4 in turn, some with an option, and a name resolution and
 * an interface statistics block come every 97 records. Every timestamp branch of pcapngTime.ts is reached.
 */
export function toPcapng(classic: Buffer, le: boolean): Buffer {
  const cle = classic.readUInt32LE(0) === 0xa1b2c3d4 || classic.readUInt32LE(0) === 0xa1b23c4d;
  const nano = classic.readUInt32LE(0) === 0xa1b23c4d || classic.readUInt32BE(0) === 0xa1b23c4d;
  const offset = -3600;
  // The classic file's link type (round perf44: re-framed captures too); interface 1 has another one.
  const link = (cle ? classic.readUInt32LE(20) : classic.readUInt32BE(20)) & 0xffff;
  const other = link === 113 ? 1 : 113;
  const out: Buffer[] = [ngShb(le), ngIdb(link, le), ngIdb(other, le), ngIdb(link, le, 9, offset), ngIdb(link, le, 0x80 | 20), ngIdb(link, le, 0x80 | 32)];
  const { recs } = records(classic);
  const ifs = [0, 2, 3, 4];
  recs.forEach((r, i) => {
    const rd = (off: number): number => (cle ? classic.readUInt32LE(r.at + off) : classic.readUInt32BE(r.at + off));
    const sec = BigInt(rd(0));
    const frac = BigInt(rd(4));
    const ns = sec * 1_000_000_000n + (nano ? frac : frac * 1000n);
    const ifId = ifs[i % ifs.length]!;
    const ticks =
      ifId === 0 ? ns / 1000n : ifId === 2 ? ns - BigInt(offset) * 1_000_000_000n : ifId === 3 ? (ns << 20n) / 1_000_000_000n : (ns << 32n) / 1_000_000_000n;
    const data = classic.subarray(r.at + 16, r.at + r.bytes);
    out.push(ngEpb(ifId, ticks, Buffer.from(data), rd(12), le, i % 7 === 3 ? `packet ${i}` : undefined));
    if (i % 97 === 50) {
      out.push(ngBlock(4, Buffer.from([0x00, 0x00, 0x00, 0x00]), le)); // NRB: end of records
      out.push(ngBlock(5, Buffer.alloc(12), le)); // ISB: interface 0, timestamp 0, no options
    }
  });
  return Buffer.concat(out);
}

/**
 * A mutant of a pcapng file of one section: `count` mutations, each one of bit flips and byte overwrites in an EPB's
 * fixed fields or its frame's first 80 bytes, a lying block type, block length (leading or trailing), interface id,
 * captured or wire length, a duplicated, swapped or dropped block, an IDB or SHB put in between (a new interface, a new
 * section that forgets the interfaces), an SPB, or a cut block or truncated file.
 */
export function mutateNg(src: Buffer, seed: number, count: number): Mutant {
  const { le, blocks: bl } = blocks(src);
  const m = new Mutations(rng(seed), le, bl.map((x) => Buffer.from(src.subarray(x.at, x.at + x.bytes))));
  const { r, int, parts } = m;
  const lengths = [0, 1, 4, 11, 12, 13, 16, 28, 31, 32, 33, 36, 60, 64, 262143, 262144, 262145, 1048576, 1048577,
    16 * 1024 * 1024, 16 * 1024 * 1024 + 4, 0x7fffffff, 0x80000000, 0xfffffff0, 0xfffffffc, 0xffffffff];
  // Mutations land on packet blocks (not the section's first blocks) unless they move blocks around.
  const first = Math.min(parts.length, 1 + bl.filter((b) => b.type === 1).length);
  for (let k = 0; k < count && parts.length > first; k++) {
    const i = first + int(parts.length - first);
    const p = parts[i]!;
    const kind = int(16);
    switch (kind) {
      case 0: case 1: case 2:
        m.flipFrame(i, 28);
        break;
      case 3:
        m.overwriteFrame(i, 28);
        break;
      case 4:
        // a bit of the block's fixed fields: type, length, interface, timestamp, lengths
        m.flipHeader(i, Math.min(28, p.length));
        break;
      case 5:
        m.lieLength(i, 20, 32, lengths, 'caplen');
        break;
      case 6:
        m.lieLength(i, 24, 32, lengths, 'wirelen');
        break;
      case 7: {
        // a lying block length, leading or trailing
        const v = r() < 0.5 ? lengths[int(lengths.length)]! : p.length + 4 * (int(9) - 4);
        const trailing = r() < 0.3;
        m.u32(p, trailing ? p.length - 4 : 4, v);
        m.ops.push(`${trailing ? 'trail' : 'len'}#${i}=${v >>> 0}`);
        break;
      }
      case 8: {
        const types = [2, 3, 4, 5, 7, 0x0bad, 0x40000bad, 0x80000001, 0x0a0d0d0a];
        const t = types[int(types.length)]!;
        m.u32(p, 0, t);
        m.ops.push(`type#${i}=${t}`);
        break;
      }
      case 9: {
        const v = r() < 0.7 ? int(7) : [0xffff, 0x10000, 0x7fffffff, 0xffffffff][int(4)]!;
        m.u32(p, 8, v);
        m.ops.push(`if#${i}=${v}`);
        break;
      }
      case 10:
        m.duplicate(i);
        break;
      case 11:
        m.swap(i);
        break;
      case 12: {
        // a new interface (Ethernet or not, another resolution), or a new section (the interfaces are forgotten)
        const w = int(4);
        const b = w === 0 ? ngShb(le) : w === 1 ? ngIdb(113, le) : ngIdb(1, le, [3, 6, 9, 0x80 | 10, 0x80 | 33][int(5)], int(3) === 0 ? 86400 : undefined);
        parts.splice(i, 0, b);
        m.ops.push(`${w === 0 ? 'shb' : 'idb'}@${i}`);
        break;
      }
      case 13: {
        // a Simple Packet Block with this block's frame (its timestamp is the last packet's)
        const data = p.length > 32 ? p.subarray(28, Math.min(p.length - 4, 28 + 200)) : Buffer.alloc(40);
        const h = Buffer.alloc(4);
        m.u32(h, 0, data.length);
        parts.splice(i + 1, 0, ngBlock(3, Buffer.concat([h, data]), le));
        m.ops.push(`spb@${i + 1}`);
        break;
      }
      case 14: {
        parts.splice(i, 1);
        m.ops.push(`drop#${i}`);
        break;
      }
      default:
        m.truncateOrCut(i, src.length, 8);
    }
  }
  return m.mutant(null);
}

/** The first blocks of a pcapng file up to about `max` bytes (whole blocks). */
export function headNg(b: Buffer, max: number): Buffer {
  if (b.length <= max) return b;
  const { blocks: bl } = blocks(b.subarray(0, max));
  const last = bl[bl.length - 1];
  return b.subarray(0, last === undefined ? 0 : last.at + last.bytes);
}

/** Runs one pcapng mutant of `src` both ways and compares; returns the packets the fast path took. */
export async function fuzzOneNg(src: Buffer, seed: number, dir: string, label: string, stops?: Record<string, number>): Promise<number> {
  return fuzzMutant(mutateNg, 0x1b873593, 'pcapng', src, seed, dir, label, stops);
}

/**
 * Two classic pcaps of the same packets under different link types (e.g. Ethernet and its SLL re-framing, round perf44)
 * as one pcapng section in byte order `le`: interface 0 a's link type, 1 b's; record i comes from a or b in runs of 1 to
 * 40 drawn from `seed`, so the walk meets a change of link type (and of the decoder's run) often.
 */
export function interleavePcapng(a: Buffer, b: Buffer, le: boolean, seed: number): Buffer {
  const r = rng(seed);
  const side = (c: Buffer): { le: boolean; recs: Rec[]; link: number } => {
    const x = records(c);
    return { ...x, link: (x.le ? c.readUInt32LE(20) : c.readUInt32BE(20)) & 0xffff };
  };
  const A = side(a);
  const B = side(b);
  const out: Buffer[] = [ngShb(le), ngIdb(A.link, le), ngIdb(B.link, le)];
  const n = Math.min(A.recs.length, B.recs.length);
  let fromB = false;
  let left = 0;
  for (let i = 0; i < n; i++) {
    if (left-- <= 0) {
      fromB = !fromB;
      left = Math.floor(r() * 40);
    }
    const [src, s] = fromB ? [b, B] : [a, A];
    const rec = s.recs[i]!;
    const rd = (off: number): number => (s.le ? src.readUInt32LE(rec.at + off) : src.readUInt32BE(rec.at + off));
    const ticks = BigInt(rd(0)) * 1_000_000n + BigInt(rd(4));
    out.push(ngEpb(fromB ? 1 : 0, ticks, Buffer.from(src.subarray(rec.at + 16, rec.at + rec.bytes)), rd(12), le));
  }
  return Buffer.concat(out);
}
