import { spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, readdirSync, readFileSync, readSync, closeSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fastPathBinding, fastPathDisabled } from '../../src/fastpath/binding';
import { fastPathLinkType, type FastPathSummary } from '../../src/fastpath/fastPath';
import type { FlowTableOptions } from '../../src/flow/flowTable';
import { ethernet, ipv4, tcp } from '../decode/frames';
import { ACK, FIN, pcapBytes, PSH, session, SYN, tcpFrame } from '../helpers/frames';
import { bothWays, interleavePcapng, TIGHT, toPcapng } from './fuzz';
import { bothWaysLive, liveRecords, toBatches } from './live';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { reframe } = require('../../bench/reframe') as { reframe: (b: Buffer, kind: string) => Buffer };
import { HAVE_SHARED, SHARED_OUTSIDE_PCAPS, SHARED_PCAPS, SKIP_SHARED_MSG } from '../helpers/sharedPcaps';

/**
 * The offline fast path (src/fastpath/, native/fastpath/fast_path.cc) against the JavaScript packet path it mirrors:
 * the same records, table stats, decoder counters and anomaly counters, for every classic pcap in ../shared, and for
 * hostile frames, which it must hand back to JavaScript (which counts them).
 */

const HAVE_ADDON = fastPathBinding() !== null && !fastPathDisabled();
const SKIP_ADDON_MSG = 'fast path tests skipped: the addon is not built (npm run build:native) or SENSOR_FASTPATH=0';
if (!HAVE_ADDON) console.warn(SKIP_ADDON_MSG);
if (!HAVE_SHARED) console.warn(`fast path capture comparison skipped: ${SKIP_SHARED_MSG}`);

const ROOT = path.resolve(__dirname, '../..');
const tmp = mkdtempSync(path.join(tmpdir(), 'fastpath-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function expectSame(file: string, opts: Partial<FlowTableOptions> = {}, chunkSize?: number): Promise<FastPathSummary> {
  return (await bothWays(file, file, opts, chunkSize)).fast!;
}

/** Files under dir (not `expected/`) of at least minSize bytes whose first four bytes, little-endian, pass `magic`. */
function capturesBy(dir: string, minSize: number, magic: (m: number) => boolean): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = path.join(d, name);
      const s = statSync(p);
      if (s.isDirectory()) {
        if (name !== 'expected') walk(p);
      } else if (s.size >= minSize) {
        const fd = openSync(p, 'r');
        const head = Buffer.alloc(4);
        readSync(fd, head, 0, 4, 0);
        closeSync(fd);
        if (magic(head.readUInt32LE(0))) out.push(p);
      }
    }
  };
  walk(dir);
  return out;
}

/** Classic pcap files (either byte order, µs or ns) under dir. */
function classicPcaps(dir: string): string[] {
  return capturesBy(dir, 24, (m) => m === 0xa1b2c3d4 || m === 0xd4c3b2a1 || m === 0xa1b23c4d || m === 0x4d3cb2a1);
}

/** pcapng files under dir (the SHB type first). */
function pcapngFiles(dir: string): string[] {
  return capturesBy(dir, 28, (m) => m === 0x0a0d0d0a);
}

// Every capture of each format in ../shared (1,970 classic pcap files in session 13, ~280k packets taken over both
// option sets; 105 pcapng files in session 14), each run with and without the fast path (~6 s on the 2-core dev VM, so
// no sample is needed), and again in 1000-byte chunks (every tenth classic file; every pcapng file).
const SHARED_FORMATS = [
  {
    suite: 'fast path over the shared captures',
    kind: 'classic pcap', each: 'classic pcap', unit: 'records', find: classicPcaps, minFiles: 100, minTaken: 10000, chunkEvery: 10,
  },
  {
    suite: 'fast path over the shared pcapng captures (round perf37)',
    kind: 'pcapng', each: 'pcapng file', unit: 'blocks', find: pcapngFiles, minFiles: 50, minTaken: 1000, chunkEvery: 1,
  },
];

for (const fmt of SHARED_FORMATS) {
  describe.skipIf(!HAVE_ADDON || !HAVE_SHARED)(fmt.suite, () => {
    const files = HAVE_SHARED ? [...fmt.find(SHARED_PCAPS), ...fmt.find(SHARED_OUTSIDE_PCAPS)] : [];
    it(`gives the JavaScript path's records, stats and counters for every ${fmt.each} (default and tight options)`, async () => {
      expect(files.length).toBeGreaterThan(fmt.minFiles);
      let taken = 0;
      for (const f of files) {
        taken += (await expectSame(f)).packets;
        taken += (await expectSame(f, TIGHT)).packets;
      }
      expect(taken).toBeGreaterThan(fmt.minTaken);
      if (process.env.FASTPATH_TEST_VERBOSE === '1') console.log(`fast path: ${files.length} ${fmt.kind} files, ${taken} packets taken`);
    }, 600_000);

    it(`gives the same with chunks so small that ${fmt.unit} straddle them`, async () => {
      for (const f of files.filter((_, i) => i % fmt.chunkEvery === 0)) await expectSame(f, {}, 1000);
    }, 300_000);
  });
}

describe.skipIf(!HAVE_ADDON || !HAVE_SHARED)('fast path over live batches of the shared captures (round perf39)', () => {
  const files = HAVE_SHARED ? [...classicPcaps(SHARED_PCAPS), ...classicPcaps(SHARED_OUTSIDE_PCAPS)] : [];
  const BATCH_BYTES = 16 + 262144 + 1024;
  it("gives the JavaScript walk's records, stats and counters for every classic pcap as live batches (default and tight options, ticks between batches)", async () => {
    expect(files.length).toBeGreaterThan(100);
    let taken = 0;
    let ethernet = 0;
    // Packets taken per link type (round perf44: Linux cooked and raw IP captures are taken too).
    const byLink = new Map<number, number>();
    for (let i = 0; i < files.length; i++) {
      const { linkType, recs, ts } = liveRecords(readFileSync(files[i]!));
      if (recs.length === 0) continue;
      if (linkType === 1) ethernet++;
      // A batch buffer that holds one record of the largest snaplen (the daemon's is 1 MiB), batches of 1-64 records;
      // every fifth file again with tight flow options in batches of 1-8.
      const fast = await bothWaysLive(toBatches(recs, ts, i, BATCH_BYTES), linkType, `${files[i]} (live)`, {}, BATCH_BYTES);
      taken += fast.fast!.packets;
      byLink.set(linkType, (byLink.get(linkType) ?? 0) + fast.fast!.packets);
      if (!fastPathLinkType(linkType)) expect(fast.fast!.packets, files[i]).toBe(0);
      if (i % 5 === 0) {
        taken += (await bothWaysLive(toBatches(recs, ts, i + 7, BATCH_BYTES, 8), linkType, `${files[i]} (live, tight)`, TIGHT, BATCH_BYTES)).fast!.packets;
      }
    }
    expect(ethernet).toBeGreaterThan(100);
    expect(taken).toBeGreaterThan(10000);
    for (const link of [113, 276, 101]) expect(byLink.get(link), `link type ${link}`).toBeGreaterThan(0);
    if (process.env.FASTPATH_TEST_VERBOSE === '1') {
      console.log(`fast path live: ${files.length} classic pcap files (${ethernet} Ethernet) as batches, ${taken} packets taken; by link type ${JSON.stringify([...byLink])}`);
    }
  }, 600_000);

  it('takes nothing from Ethernet bytes labelled Linux cooked (SLL): the protocol field is no EtherType it takes', async () => {
    const frames = session(1_700_000_000, '10.0.0.1', '10.0.0.2', 40000, 80, [100, -200, 100, -200, 100]);
    const { recs, ts } = liveRecords(pcapBytes(frames));
    // The same bytes under DLT_LINUX_SLL: the decoder reads them as SLL headers (protocol 0x4500: unsupported_ethertype).
    const fast = await bothWaysLive(toBatches(recs, ts, 1, 65536), 113, 'sll');
    expect(fast.fast!.packets).toBe(0);
    expect(fast.onFrames).toBe(recs.length);
  });

  it('takes the segments of a Linux cooked (`any`: SLL, SLL2) or raw IP session, as of Ethernet (round perf44)', async () => {
    const frames = session(1_700_000_000, '10.0.0.1', '10.0.0.2', 40000, 80, [100, -200, 100, -200, 100, -200, 100]);
    const eth = pcapBytes(frames);
    for (const kind of ['sll', 'sll2', 'raw']) {
      const { linkType, recs, ts } = liveRecords(reframe(eth, kind));
      const fast = await bothWaysLive(toBatches(recs, ts, 1, 65536), linkType, kind);
      // The handshake's first packet opens the flow in JavaScript, the FIN/ACK closes it; the data between are taken.
      expect(fast.fast!.packets, kind).toBeGreaterThan(4);
    }
  });
});

describe.skipIf(!HAVE_ADDON)('fast path over pcapng blocks (round perf37)', () => {
  const t0 = 1_700_000_000;
  // Flows whose packets go to interfaces of four timestamp resolutions (µs, ns with an offset, 2^-20 s, 2^-32 s: every
  // branch of ticksToSeconds), with options on some EPBs, name resolution and statistics blocks between them, and a
  // Linux SLL interface in the table.
  const frames = [
    ...session(t0, '10.0.0.1', '10.0.0.2', 40000, 80, new Array<number>(30).fill(0).map((_, i) => (i % 3 === 0 ? -1000 : 100))),
    ...session(t0 + 0.123457, 'fe80::1', 'fe80::2', 40001, 443, new Array<number>(30).fill(0).map((_, i) => (i % 2 === 0 ? -1460 : 517))),
  ].sort((a, b) => a.ts - b.ts);
  for (const le of [true, false]) {
    it(`${le ? 'little' : 'big'}-endian section: the JavaScript path's records (timestamps to the last bit), and every other block handed back`, async () => {
      const file = path.join(tmp, `blocks-${le ? 'le' : 'be'}.pcapng`);
      writeFileSync(file, toPcapng(pcapBytes(frames), le));
      const s = await expectSame(file, { length: 40 });
      // Every segment but the first packet of each flow, the first of the file's Ethernet frames and the closes.
      expect(s.packets).toBeGreaterThan(frames.length - 8);
      expect(s.stops.block).toBeGreaterThan(0);
      await expectSame(file, TIGHT, 300);
    });
  }

  it('a little-endian section, then a big-endian one with other interfaces: each read in its own byte order', async () => {
    const half = frames.length >> 1;
    const file = path.join(tmp, 'sections.pcapng');
    writeFileSync(file, Buffer.concat([toPcapng(pcapBytes(frames.slice(0, half)), true), toPcapng(pcapBytes(frames.slice(half)), false)]));
    const s = await expectSame(file, { length: 40 });
    expect(s.packets).toBeGreaterThan(frames.length - 12);
    await expectSame(file, TIGHT, 500);
  });

  it('interfaces added in the middle of a section (the native table grows and keeps the ones it had)', async () => {
    const half = frames.length >> 1;
    const second = toPcapng(pcapBytes(frames.slice(half)), true);
    // Its SHB and five IDBs dropped: its EPBs name interfaces 0-4 of the first half's section.
    let at = 0;
    for (let i = 0; i < 6; i++) at += second.readUInt32LE(at + 4);
    const more: Buffer[] = [];
    for (let i = 0; i < 40; i++) {
      const idb = Buffer.alloc(20);
      idb.writeUInt32LE(1, 0);
      idb.writeUInt32LE(20, 4);
      idb.writeUInt16LE(i % 2 === 0 ? 1 : 113, 8);
      idb.writeUInt32LE(20, 16);
      more.push(idb);
    }
    const file = path.join(tmp, 'more-interfaces.pcapng');
    writeFileSync(file, Buffer.concat([toPcapng(pcapBytes(frames.slice(0, half)), true), ...more, second.subarray(at)]));
    const s = await expectSame(file, { length: 40 });
    expect(s.packets).toBeGreaterThan(frames.length - 12);
  });

  it('an SPB after packets the fast path took gets their last timestamp', async () => {
    const classic = pcapBytes(frames.slice(0, 20));
    const ng = toPcapng(classic, true);
    // An SPB with the first frame's bytes appended: JavaScript gives it the last EPB's timestamp.
    const data = frames[0]!.data;
    const body = Buffer.alloc(4 + ((data.length + 3) & ~3));
    body.writeUInt32LE(data.length, 0);
    data.copy(body, 4);
    const spb = Buffer.alloc(12 + body.length);
    spb.writeUInt32LE(3, 0);
    spb.writeUInt32LE(spb.length, 4);
    body.copy(spb, 8);
    spb.writeUInt32LE(spb.length, spb.length - 4);
    const file = path.join(tmp, 'spb.pcapng');
    writeFileSync(file, Buffer.concat([ng, spb]));
    const s = await expectSame(file);
    expect(s.packets).toBeGreaterThan(10);
  });
});

describe.skipIf(!HAVE_ADDON)('fast path over Linux cooked (SLL, SLL2) and raw IP captures (round perf44)', () => {
  const t0 = 1_700_000_000;
  // v4 and v6 flows, one of them behind a VLAN tag (SLL keeps it in the frame; raw IP has none).
  const frames = [
    ...session(t0, '10.0.0.1', '10.0.0.2', 40000, 80, new Array<number>(30).fill(0).map((_, i) => (i % 3 === 0 ? -1000 : 100))),
    ...session(t0 + 0.123457, 'fe80::1', 'fe80::2', 40001, 443, new Array<number>(30).fill(0).map((_, i) => (i % 2 === 0 ? -1460 : 517))),
    ...session(t0 + 0.2, '10.0.0.3', '10.0.0.4', 40002, 22, new Array<number>(20).fill(0).map((_, i) => (i % 2 === 0 ? -300 : 48))).map((f) => ({
      ts: f.ts,
      data: Buffer.concat([f.data.subarray(0, 12), Buffer.from([0x81, 0x00, 0x00, 42]), f.data.subarray(12)]),
    })),
  ].sort((a, b) => a.ts - b.ts);
  const eth = pcapBytes(frames);
  for (const kind of ['sll', 'sll2', 'raw']) {
    it(`${kind}: classic pcap, pcapng in both byte orders, live batches: the JavaScript path's records, most segments taken`, async () => {
      const classic = reframe(eth, kind);
      const file = path.join(tmp, `${kind}.pcap`);
      writeFileSync(file, classic);
      // Every segment but the first packet of each flow and the closes.
      expect((await expectSame(file, { length: 40 })).packets, kind).toBeGreaterThan(frames.length - 10);
      await expectSame(file, TIGHT, 300);
      for (const le of [true, false]) {
        const ng = path.join(tmp, `${kind}-${le ? 'le' : 'be'}.pcapng`);
        writeFileSync(ng, toPcapng(classic, le));
        expect((await expectSame(ng, { length: 40 })).packets, `${kind} pcapng`).toBeGreaterThan(frames.length - 10);
        await expectSame(ng, TIGHT, 300);
      }
      const { linkType, recs, ts } = liveRecords(classic);
      expect((await bothWaysLive(toBatches(recs, ts, 3, 65536), linkType, `${kind} live`)).fast!.packets).toBeGreaterThan(frames.length - 10);
    });
  }

  it('pcapng with Ethernet and SLL (or SLL2, raw IP) interfaces interleaved: each run of a link type taken', async () => {
    for (const kind of ['sll', 'sll2', 'raw']) {
      // raw IP keeps every frame here (all IP), so the records pair up one to one.
      const file = path.join(tmp, `mixed-${kind}.pcapng`);
      writeFileSync(file, interleavePcapng(eth, reframe(eth, kind), kind !== 'sll2', 11));
      const s = await expectSame(file, { length: 40 });
      expect(s.packets, kind).toBeGreaterThan(frames.length / 2);
      expect(s.stops.block, kind).toBeGreaterThan(0);
      await expectSame(file, TIGHT, 400);
    }
  });
});

/** An established flow whose every history letter the hostile frames could bring is already set. */
function established(t0: number): { ts: number; data: Buffer }[] {
  return session(t0, '10.0.0.1', '10.0.0.2', 40000, 80, [100, -200, 300, -400]).slice(0, -3);
}

/** A valid ACK+PSH segment of the flow above as raw IPv4 bytes (20-byte IP header, 20-byte TCP header, payload). */
function segment(payload = 10): number[] {
  const seg = [...tcp({ sport: 40000, dport: 80, seq: 5000, ack: 60000, flags: ACK | PSH, window: 1000 }), ...new Array<number>(payload).fill(0x41)];
  return ipv4(seg, { src: [10, 0, 0, 1], dst: [10, 0, 0, 2] });
}

function frameOf(ip: number[], type = 0x0800): Buffer {
  return Buffer.from(ethernet(type, ip));
}

describe.skipIf(!HAVE_ADDON)('fast path hands hostile frames back to JavaScript', () => {
  const t0 = 1_700_000_000;
  const cases: [string, Buffer, string][] = [];
  const ip = segment();
  // IPv4 header length below 20 and past the captured bytes.
  cases.push(['IHL 4', frameOf(ip.map((b, i) => (i === 0 ? 0x44 : b))), 'ip']);
  cases.push(['IHL 15 past the capture', frameOf(ip.slice(0, 40).map((b, i) => (i === 0 ? 0x4f : b))), 'ip']);
  // TCP data offset below 5, and past the IP payload.
  cases.push(['data offset 3', frameOf(ip.map((b, i) => (i === 32 ? 0x30 : b))), 'tcp']);
  cases.push(['data offset 15', frameOf(ip.map((b, i) => (i === 32 ? 0xf0 : b))), 'tcp']);
  // Truncated TCP and IP headers.
  cases.push(['truncated TCP', frameOf(ip.slice(0, 30)), 'tcp']);
  cases.push(['truncated IP', frameOf(ip.slice(0, 12)), 'ip']);
  cases.push(['truncated Ethernet', Buffer.alloc(10, 0xff), 'link']);
  // Total length that lies: smaller than the header, larger than the wire (capped to it: still taken, counted alike).
  cases.push(['total length 10', frameOf(ip.map((b, i) => (i === 2 ? 0 : i === 3 ? 10 : b))), 'ip']);
  cases.push(['wrong IP version', frameOf(ip.map((b, i) => (i === 0 ? 0x65 : b))), 'ip']);
  cases.push(['IPv4 fragment', frameOf(ip.map((b, i) => (i === 6 ? 0x20 : b))), 'fragment']);
  cases.push(['UDP', frameOf(ip.map((b, i) => (i === 9 ? 17 : b))), 'not_tcp']);
  cases.push(['truncated VLAN tag', Buffer.from(ethernet(0x8100, [0, 5])), 'link']);
  cases.push(['802.3 length', frameOf(ip, 0x0100), 'link']);
  cases.push(['ARP', frameOf(ip, 0x0806), 'ethertype']);

  for (const [name, bad, reason] of cases) {
    it(`${name}: counted by JavaScript as without the fast path, which took the good packets around it`, async () => {
      const good = tcpFrame({ src: '10.0.0.1', dst: '10.0.0.2', sport: 40000, dport: 80, seq: 1400, ack: 50601, flags: ACK });
      const frames = [...established(t0), { ts: t0 + 0.5, data: bad }, { ts: t0 + 0.6, data: good }, { ts: t0 + 0.7, data: bad }];
      const file = path.join(tmp, `${name.replace(/\W+/g, '-')}.pcap`);
      writeFileSync(file, pcapBytes(frames));
      const s = await expectSame(file);
      expect(s.stops[reason], JSON.stringify(s)).toBe(2);
      expect(s.packets).toBeGreaterThan(0);
    });
  }

  it('a wire length over 1 MiB and a captured length over the limit stop the fast path, not the run', async () => {
    const frames = [...established(t0), { ts: t0 + 0.5, data: frameOf(segment()) }];
    const bytes = pcapBytes(frames);
    // The last record's original length (bytes 12..15 of its record header) lies.
    const last = bytes.length - frames[frames.length - 1]!.data.length - 16;
    bytes.writeUInt32LE(0x7fffffff, last + 12);
    const file = path.join(tmp, 'wire.pcap');
    writeFileSync(file, bytes);
    expect((await expectSame(file)).stops.bad_wire_length).toBe(1);
    bytes.writeUInt32LE(0x7fffffff, last + 8);
    writeFileSync(file, bytes);
    const s = await expectSame(file);
    expect(s.stops.damaged_record).toBe(1);
  });

  it('takes a flow\'s segments, new history letters included, and hands back the close', async () => {
    const frames = session(t0, '10.0.0.1', '10.0.0.2', 40000, 80, new Array<number>(40).fill(0).map((_, i) => (i % 3 === 0 ? -1000 : 100)));
    const file = path.join(tmp, 'session.pcap');
    writeFileSync(file, pcapBytes(frames));
    const s = await expectSame(file, { length: 40 });
    expect(s.packets).toBeGreaterThan(30);
    // The first packet of a file never reaches the fast path (the decoder's first frame of a link type is JavaScript's).
    expect(s.stops.new_flow).toBeUndefined();
    // The SYN+ACK and every later segment but the closing FIN (history letters included) are the fast path's.
    expect(s.packets).toBe(frames.length - 2);
    expect(s.stops.close).toBe(1);
  });
});

describe('without the addon', () => {
  it('the sensor runs on the JavaScript path and writes the same records', () => {
    const file = path.join(tmp, 'plain.pcap');
    const frames = [
      ...session(1_700_000_000, '10.0.0.1', '10.0.0.2', 40000, 80, [100, -200, 300]),
      ...session(1_700_000_001, 'fe80::1', 'fe80::2', 40001, 443, [10, -20]),
    ];
    writeFileSync(file, pcapBytes(frames));
    // The preload makes the addon look absent (existsSync false) and unloadable (dlopen throws) for this process.
    const preload = path.join(tmp, 'no-addon.js');
    writeFileSync(
      preload,
      `const fs = require('node:fs'); const ex = fs.existsSync;
fs.existsSync = (p) => (String(p).includes('sensor_fastpath') ? false : ex(p));
const dl = process.dlopen; process.dlopen = (m, f, ...r) => { if (String(f).includes('sensor_fastpath')) throw new Error('absent'); return dl(m, f, ...r); };`,
    );
    const run = (extra: string[], jsonl: string) =>
      spawnSync(process.execPath, [...extra, path.join(ROOT, 'bin', 'sensor.js'), '--pcap', file, '--jsonl', jsonl, '--no-progress', '--sensor-name', 't', '--log-level', 'debug'], {
        encoding: 'utf8',
        env: { ...process.env, SENSOR_FASTPATH: '' },
      });
    const without = run(['-r', preload], path.join(tmp, 'without.jsonl'));
    expect(without.status, without.stderr).toBe(0);
    expect(without.stderr).not.toContain('"fast path"');
    const withIt = run([], path.join(tmp, 'with.jsonl'));
    expect(withIt.status, withIt.stderr).toBe(0);
    if (HAVE_ADDON) expect(withIt.stderr).toContain('"fast path"');
    const lines = (f: string): string[] => readFileSync(path.join(tmp, f), 'utf8').trim().split('\n').sort();
    expect(lines('without.jsonl')).toEqual(lines('with.jsonl'));
    expect(lines('with.jsonl')).toHaveLength(2);
  });
});
