import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mulberry32 as rng } from '../../bench/synth';
import { FileSource } from '../../src/capture/fileSource';
import { bytesFrom, epb, idb, pcapFile, pcapHeader, pcapngBlock, pcapRecord, shb, spb } from './captureBytes';
import { readBytes, tempDir } from './readAll';

const tmp = tempDir('capture-damage-');
afterAll(() => tmp.cleanup());

const good = [
  { sec: 1, frac: 0, data: bytesFrom(0, 60) },
  { sec: 2, frac: 0, data: bytesFrom(1, 70) },
];
/** Offset of the record after the two good ones. */
const afterGood = 24 + 16 + 60 + 16 + 70;

describe('FileSource on damaged classic pcap', () => {
  it('stops at a captured length of 0xFFFFFFFF and keeps the frames before it', async () => {
    const bytes = Buffer.concat([pcapFile({}, good), pcapRecord({ sec: 3, frac: 0, data: bytesFrom(0, 100), capLen: 0xffffffff })]);
    const r = await readBytes(tmp, 'capture.pcap', bytes);
    expect(r.frames).toBe(2);
    expect(r.seen.map((f) => f.capLen)).toEqual([60, 70]);
    expect(r.error).toBe(`${r.path}: damaged record at byte ${afterGood}: captured length 4294967295 exceeds 262144`);
    expect(r.bytes).toBe(afterGood);
  });

  it('stops at a captured length of 262145 even when the file holds that many bytes', async () => {
    const bytes = Buffer.concat([pcapFile({ littleEndian: false }, []), pcapRecord({ sec: 3, frac: 0, data: bytesFrom(0, 262145) }, false)]);
    const r = await readBytes(tmp, 'oversize.pcap', bytes);
    expect(r.frames).toBe(0);
    expect(r.error).toBe(`${r.path}: damaged record at byte 24: captured length 262145 exceeds 262144`);
  });

  it('reports a file cut inside a record body', async () => {
    const bytes = Buffer.concat([pcapFile({}, good), pcapRecord({ sec: 3, frac: 0, data: bytesFrom(0, 100) }).subarray(0, 16 + 40)]);
    for (const chunkSize of [undefined, 32]) {
      const r = await readBytes(tmp, 'cut-body.pcap', bytes, chunkSize);
      expect(r.frames).toBe(2);
      expect(r.error).toBe(`${r.path}: file ends inside a record at byte ${afterGood} (truncated capture)`);
    }
  });

  it('reports a file cut inside a record header', async () => {
    const bytes = Buffer.concat([pcapFile({}, good), Buffer.alloc(7)]);
    const r = await readBytes(tmp, 'cut-header.pcap', bytes);
    expect(r.frames).toBe(2);
    expect(r.error).toBe(`${r.path}: file ends inside a record at byte ${afterGood} (truncated capture)`);
  });

  it('reports a file shorter than the pcap file header', async () => {
    const r = await readBytes(tmp, 'short.pcap', pcapHeader().subarray(0, 10));
    expect(r).toMatchObject({ frames: 0, error: `${r.path}: file is 10 bytes, shorter than the 24-byte pcap file header (truncated capture)` });
  });

  it('reports a file too short to hold a magic number, and an empty file', async () => {
    const three = await readBytes(tmp, 'three.pcap', Buffer.from([0xd4, 0xc3, 0xb2]));
    expect(three.error).toBe(`${three.path}: file is 3 bytes, too short to be a pcap or pcapng file`);
    const empty = await readBytes(tmp, 'empty.pcap', Buffer.alloc(0));
    expect(empty.error).toBe(`${empty.path}: file is 0 bytes, too short to be a pcap or pcapng file`);
  });

  it('reports an unknown magic number', async () => {
    const r = await readBytes(tmp, 'x.bin', Buffer.from([0x12, 0x34, 0x56, 0x78, 0, 0, 0, 0]));
    expect(r).toMatchObject({ frames: 0, error: `${r.path}: not a pcap or pcapng file (magic 0x12345678)` });
  });
});

describe('FileSource on damaged pcapng', () => {
  const head = Buffer.concat([shb(), idb(1, 0), epb({ ifId: 0, ticks: 1_000000n, data: bytesFrom(0, 20) })]);
  const at = head.length;

  const cases: Array<[string, Buffer, string]> = [
    ['a block length below 12', pcapngBlock(5, Buffer.alloc(0), true, { leading: 8 }), 'block length 8 is less than 12'],
    ['a block length that is not a multiple of 4', pcapngBlock(5, Buffer.alloc(8), true, { leading: 18 }), 'block length 18 is not a multiple of 4'],
    ['a trailing length that differs from the leading one', pcapngBlock(5, Buffer.alloc(8), true, { trailing: 24 }), 'trailing block length 24 does not match the leading 20'],
    ['a block longer than the reader accepts', pcapngBlock(5, Buffer.alloc(8), true, { leading: 0x7ffffff0 }), 'block length 2147483632 exceeds 16777216'],
    ['an EPB whose captured length exceeds its block', epb({ ifId: 0, ticks: 2n, data: bytesFrom(0, 20), capLen: 64 }), 'captured length 64 exceeds the 20 bytes its block holds'],
    ['an EPB whose captured length exceeds 262144', epb({ ifId: 0, ticks: 2n, data: bytesFrom(0, 20), capLen: 0xffffffff }), 'captured length 4294967295 exceeds 262144'],
    ['an EPB shorter than its fixed fields', pcapngBlock(6, Buffer.alloc(8)), 'block type 0x00000006 has length 20, less than its fixed fields need (32)'],
    ['an EPB for an undeclared interface', epb({ ifId: 7, ticks: 2n, data: bytesFrom(0, 4) }), 'packet for interface 7 but the section declares 1 interface(s)'],
    ['an IDB option running past its block', pcapngBlock(1, Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 9, 0, 200, 0])), 'interface option 9 of length 200 runs past the end of its block'],
    ['a section header with a bad byte-order magic', pcapngBlock(0x0a0d0d0a, Buffer.alloc(16, 0x77)), 'section header byte-order magic 0x77777777 is neither 0x1a2b3c4d nor 0x4d3c2b1a'],
  ];
  for (const [what, block, message] of cases) {
    it(`stops at ${what}`, async () => {
      const r = await readBytes(tmp, 'bad.pcapng', Buffer.concat([head, block, epb({ ifId: 0, ticks: 3_000000n, data: bytesFrom(0, 20) })]));
      expect(r.frames).toBe(1);
      expect(r.seen[0]?.bytes.equals(bytesFrom(0, 20))).toBe(true);
      expect(r.error).toBe(`${r.path}: damaged block at byte ${at}: ${message}`);
    });
  }

  it('stops at a Simple Packet Block before any interface', async () => {
    const r = await readBytes(tmp, 'spb-first.pcapng', Buffer.concat([shb(), spb(bytesFrom(0, 8), 8)]));
    expect(r.frames).toBe(0);
    expect(r.error).toBe(`${r.path}: damaged block at byte 28: packet for interface 0 but the section declares 0 interface(s)`);
  });

  it('reports a file cut inside a block', async () => {
    const cut = Buffer.concat([head, epb({ ifId: 0, ticks: 2n, data: bytesFrom(0, 100) }).subarray(0, 50)]);
    for (const chunkSize of [undefined, 24]) {
      const r = await readBytes(tmp, 'cut.pcapng', cut, chunkSize);
      expect(r.frames).toBe(1);
      expect(r.error).toBe(`${r.path}: file ends inside a block at byte ${at} (truncated capture)`);
    }
  });
});

describe('FileSource never throws on bad bytes', () => {
  it('returns a result (frames + error line or null) for 400 mutated pcap and pcapng files', async () => {
    const seeds = [
      pcapFile({}, [...good, { sec: 3, frac: 5, data: bytesFrom(9, 33) }]),
      Buffer.concat([shb(), idb(1, 0, [[9, Buffer.from([9])]]), epb({ ifId: 0, ticks: 5n, data: bytesFrom(0, 30) }), spb(bytesFrom(0, 9), 9), epb({ ifId: 0, ticks: 6n, data: bytesFrom(0, 3) })]),
    ];
    const next = rng(12345);
    for (let i = 0; i < 400; i++) {
      const bytes = Buffer.from(seeds[i % 2]!);
      const flips = 1 + Math.floor(next() * 6);
      for (let k = 0; k < flips; k++) bytes[Math.floor(next() * bytes.length)] = Math.floor(next() * 256);
      const cut = next() < 0.3 ? Math.floor(next() * bytes.length) : bytes.length;
      const r = await readBytes(tmp, 'fuzz.bin', bytes.subarray(0, cut), next() < 0.5 ? 16 : undefined);
      expect(r.frames).toBe(r.seen.length);
      if (r.error !== null) {
        expect(r.error.startsWith(`${r.path}: `)).toBe(true);
        expect(r.error).not.toContain('\n');
      }
      for (const f of r.seen) expect(f.capLen).toBeLessThanOrEqual(262144);
    }
  });
});

describe('FileSource on an unreadable path', () => {
  it('throws one line naming a missing file', async () => {
    const missing = join(tmp.dir, 'nope.pcap');
    await expect(new FileSource(missing).run(() => undefined)).rejects.toThrow(`Cannot read capture ${missing}: no such file (check the path)`);
  });

  it('throws one line for a directory', async () => {
    const dir = join(tmp.dir, 'a-dir');
    mkdirSync(dir);
    await expect(new FileSource(dir).run(() => undefined)).rejects.toThrow(`Cannot read capture ${dir}: it is a directory (expand it with listCaptures first)`);
  });
});
