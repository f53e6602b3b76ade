import { endianness } from 'node:os';
import { expect } from 'vitest';
import { mulberry32 as rng } from '../../bench/synth';
import { AddonSource } from '../../src/capture/addonSource';
import type { AddonCapture, BatchHandler, LiveBinding, LiveStats } from '../../src/capture/liveBinding';
import type { ResolvedLiveOptions } from '../../src/capture/liveOptions';
import type { FlowTableOptions } from '../../src/flow/flowTable';
import { linkEtherTypeAt, Mutations, TIGHT, expectSameRun, pipelineCounters, recordingPipeline, type PipelineRun } from './fuzz';

/**
 * Live capture through the fast path (round perf39), without a network: the live addon's batches (native/src/
 * live_capture.cc's format: a 16-byte header of sec, usec, caplen, wirelen in the machine's byte order, the packet
 * padded to 4 bytes) built from a classic pcap, fed to the real AddonSource through a stand-in LiveBinding, into the
 * real Pipeline with its fast path on (LiveSource.start()'s third argument, as the daemon passes it) or off (the
 * JavaScript walk). Between batches the harness does what the daemon does: settle(), and the timer's tick() with a
 * clock taken from the capture. Hostile batches (mutateLive) lie about their record count and used bytes as well as
 * about every header field.
 */

const HOST_LE = endianness() === 'LE';

/** One batch as the addon hands it over: the bytes written from offset 0, the count and used bytes it reports. */
export interface LiveBatch {
  bytes: Buffer;
  count: number;
  used: number;
  /** The daemon's tick between this batch and the next (seconds, from the capture's clock); none when undefined. */
  tickAt?: number;
}

/** The records of a classic pcap as live records (native order, µs, padded with 0xa5 bytes); its link type too. */
export function liveRecords(classic: Buffer): { linkType: number; recs: Buffer[]; ts: number[] } {
  const magic = classic.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const nano = magic === 0xa1b23c4d || magic === 0x4d3cb2a1;
  const rd = (off: number): number => (le ? classic.readUInt32LE(off) : classic.readUInt32BE(off));
  const linkType = rd(20) & 0xffff;
  const recs: Buffer[] = [];
  const ts: number[] = [];
  for (let at = 24; at + 16 <= classic.length; ) {
    const capLen = rd(at + 8);
    if (capLen > 262144 || at + 16 + capLen > classic.length) break;
    const sec = rd(at);
    const usec = nano ? Math.floor(rd(at + 4) / 1000) : rd(at + 4);
    const r = Buffer.alloc(16 + ((capLen + 3) & ~3), 0xa5);
    const w = (off: number, v: number): void => void (HOST_LE ? r.writeUInt32LE(v >>> 0, off) : r.writeUInt32BE(v >>> 0, off));
    w(0, sec);
    w(4, usec);
    w(8, capLen);
    w(12, rd(at + 12));
    classic.copy(r, 16, at + 16, at + 16 + capLen);
    recs.push(r);
    ts.push(sec + usec / 1e6);
    at += 16 + capLen;
  }
  return { linkType, recs, ts };
}

/**
 * Records cut into batches of 1 to `maxRecords` records (drawn from `seed`) of at most `batchBytes`, each followed by a
 * tick at its last packet's time plus 0 to 3 s every few batches (flows idle out, sweeps run between batches).
 */
export function toBatches(recs: Buffer[], ts: number[], seed: number, batchBytes: number, maxRecords = 64): LiveBatch[] {
  const r = rng(seed ^ 0x27d4eb2f);
  const out: LiveBatch[] = [];
  for (let i = 0; i < recs.length; ) {
    const want = 1 + Math.floor(r() * maxRecords);
    const parts: Buffer[] = [];
    let used = 0;
    while (i < recs.length && parts.length < want && used + recs[i]!.length <= batchBytes) {
      used += recs[i]!.length;
      parts.push(recs[i++]!);
    }
    if (parts.length === 0) {
      i++; // a record larger than the batch buffer: the addon never makes one (snaplen bounds it)
      continue;
    }
    const b: LiveBatch = { bytes: Buffer.concat(parts), count: parts.length, used };
    if (r() < 0.3) b.tickAt = ts[i - 1]! + Math.floor(r() * 4);
    out.push(b);
  }
  return out;
}

export interface LiveRun extends PipelineRun {
  /** Frames handed to onFrame (the JavaScript path: all of them). */
  onFrames: number;
}

/** A LiveBinding whose capture is fed by the test: `push` writes a batch into the shared buffer and delivers it. */
function standIn(linkType: number, batchBytes: number): { binding: LiveBinding; push: (b: LiveBatch) => void } {
  let deliver: BatchHandler = () => undefined;
  const batch = Buffer.alloc(batchBytes);
  const stats: LiveStats = { received: 0, dropped: 0, ifDropped: 0, delivered: 0, batches: 0, linkDowns: 0 };
  const capture: AddonCapture = { linkType, snaplen: 262144, warning: '', batch, start: () => undefined, close: () => undefined, stats: () => stats };
  const binding: LiveBinding = {
    open: (_o, onBatch) => {
      deliver = onBatch;
      return capture;
    },
    listInterfaces: () => [],
  };
  // The rest of the buffer keeps the previous batches' bytes, as the addon's does.
  const push = (b: LiveBatch): void => {
    b.bytes.copy(batch, 0, 0, Math.min(b.bytes.length, batchBytes));
    deliver(b.count, b.used);
  };
  return { binding, push };
}

/** The batches through AddonSource and the Pipeline, fast path on or off. */
export async function runLive(
  batches: LiveBatch[],
  linkType: number,
  fast: boolean,
  opts: Partial<FlowTableOptions> = {},
  batchBytes = 65536,
): Promise<LiveRun> {
  const { pipeline, records } = recordingPipeline(opts, true);
  const { binding, push } = standIn(linkType, batchBytes);
  const source = new AddonSource({} as ResolvedLiveOptions, binding);
  let onFrames = 0;
  let error: string | null = null;
  const onFrame = pipeline.onFrame;
  source.start(
    (f) => {
      onFrames++;
      onFrame(f);
    },
    (e) => (error = e.message),
    fast ? pipeline.fastPath : null,
  );
  try {
    for (const b of batches) {
      push(b);
      await pipeline.settle();
      if (b.tickAt !== undefined) await pipeline.tick(b.tickAt);
    }
  } catch (e) {
    error = (e as Error).message;
  }
  source.stop();
  // A macrotask turn: the loop above may never leave the microtask queue (settle() and tick() answer at once), and a
  // long fuzz run would starve vitest's worker RPC.
  await new Promise((r) => setImmediate(r));
  await pipeline.flush('shutdown');
  await pipeline.close();
  return {
    records,
    ...pipelineCounters(pipeline),
    onFrames,
    error,
    fast: fast && pipeline.fastPath !== null ? pipeline.fastPath.summary() : null,
  };
}

/** The batches with the fast path off, then on: the same error, counters, table stats and records. Returns the fast run. */
export async function bothWaysLive(
  batches: LiveBatch[],
  linkType: number,
  what: string,
  opts: Partial<FlowTableOptions> = {},
  batchBytes = 65536,
): Promise<LiveRun> {
  const js = await runLive(batches, linkType, false, opts, batchBytes);
  const fast = await runLive(batches, linkType, true, opts, batchBytes);
  expect(js.fast, what).toBeNull();
  expectSameRun(fast, js, what);
  // Every frame the fast path did not take still reached onFrame.
  expect(fast.onFrames + fast.fast!.packets, what).toBe(js.onFrames);
  return fast;
}

/**
 * A mutant of a capture's live batches: `count` mutations of its records (bit flips and boundary bytes in the frame's
 * first 80 bytes or the record header, lying captured or wire lengths, microseconds past a second, a VLAN tag run,
 * duplicated, swapped or cut records), cut into batches, then batches whose count or used bytes lie (more records than
 * the bytes hold, fewer, used bytes short of the last record or past it, beyond the buffer) or end mid-record.
 */
export function mutateLive(
  recs: Buffer[],
  ts: number[],
  seed: number,
  count: number,
  batchBytes: number,
  linkType = 1,
): { batches: LiveBatch[]; ops: string[] } {
  const m = new Mutations(rng(seed), HOST_LE, recs.map((b) => Buffer.from(b)));
  m.etherTypeAt = linkEtherTypeAt(linkType);
  const { int, parts, ops } = m;
  const times = [...ts];
  const lengths = [0, 1, 13, 14, 17, 18, 33, 34, 53, 54, 61, 73, 74, 93, 94, 262143, 262144, 262145, 1048576, 1048577,
    65536, 65537, 0x7fffffff, 0x80000000, 0xfffffffc, 0xfffffffd, 0xffffffff];
  for (let k = 0; k < count && parts.length > 0; k++) {
    const i = int(parts.length);
    const p = parts[i]!;
    switch (int(12)) {
      case 0: case 1: case 2:
        m.flipFrame(i, 16);
        break;
      case 3:
        m.overwriteFrame(i, 16);
        break;
      case 4:
        m.flipHeader(i, 16);
        break;
      case 5: case 6:
        m.lieLength(i, k % 2 === 0 ? 8 : 12, 16, lengths, k % 2 === 0 ? 'caplen' : 'wirelen');
        break;
      case 7: {
        const v = [999999, 1000000, 1000001, 0xffffffff][int(4)]!;
        m.u32(p, 4, v);
        ops.push(`usec#${i}=${v}`);
        break;
      }
      case 8:
        m.vlanRun(i);
        break;
      case 9:
        m.duplicate(i);
        times.splice(i, 0, times[i]!);
        break;
      case 10:
        m.swap(i);
        break;
      default: {
        // cut to a multiple of 4 (the addon's records are; the next header lands inside this frame's bytes)
        const keep = 16 + 4 * int(Math.max(1, (p.length - 16) >> 2));
        parts[i] = p.subarray(0, keep);
        ops.push(`cut#${i}@${keep}`);
      }
    }
  }
  const batches = toBatches(parts, times, seed, batchBytes, 1 + int(128));
  const lies = int(4);
  for (let k = 0; k < lies && batches.length > 0; k++) {
    const i = int(batches.length);
    const b = batches[i]!;
    switch (int(5)) {
      case 0:
        b.count += 1 + int(5);
        ops.push(`count+#${i}=${b.count}`);
        break;
      case 1:
        b.count = Math.max(1, b.count - 1 - int(3));
        ops.push(`count-#${i}=${b.count}`);
        break;
      case 2:
        b.used = Math.max(0, b.used - 4 * (1 + int(20)));
        ops.push(`used-#${i}=${b.used}`);
        break;
      case 3:
        b.used += 4 * (1 + int(20));
        ops.push(`used+#${i}=${b.used}`);
        break;
      default:
        b.used = batchBytes + 4 * (1 + int(4));
        ops.push(`used>buffer#${i}=${b.used}`);
    }
  }
  return { batches, ops };
}

/** One live mutant of `src` (a classic pcap of a link type the fast path takes) run both ways; adds the stops to `stops`, returns packets taken. */
export async function fuzzOneLive(src: Buffer, seed: number, label: string, stops?: Record<string, number>): Promise<number> {
  const r = rng(seed ^ 0x9e3779b9);
  const { linkType, recs, ts } = liveRecords(src);
  const batchBytes = r() < 0.5 ? 65536 : 16384;
  const { batches, ops } = mutateLive(recs, ts, seed, 1 + Math.floor(r() * 24), batchBytes, linkType);
  const opts = r() < 0.5 ? {} : TIGHT;
  const what = `${label} live seed ${seed} ${opts === TIGHT ? 'tight' : 'default'} buffer ${batchBytes}: ${ops.join(' ')}`;
  const fast = await bothWaysLive(batches, linkType, what, opts, batchBytes);
  if (stops !== undefined) for (const [k, v] of Object.entries(fast.fast?.stops ?? {})) stops[k] = (stops[k] ?? 0) + v;
  return fast.fast?.packets ?? 0;
}
