import { afterAll, describe, expect, it } from 'vitest';
import { READ_AHEAD_ROOM } from '../../src/capture/fdInput';
import { FileSource } from '../../src/capture/fileSource';
import { bytesFrom, pcapFile, type PcapRecordSpec } from './captureBytes';
import { readBytes, tempDir } from './readAll';

const tmp = tempDir('pcap-file-');
afterAll(() => tmp.cleanup());

const records: PcapRecordSpec[] = [
  { sec: 1700000000, frac: 123456, data: bytesFrom(0, 60) },
  { sec: 1700000001, frac: 999999, data: bytesFrom(100, 54), wireLen: 1514 },
  { sec: 1700000002, frac: 0, data: bytesFrom(200, 0) },
  { sec: 1700000003, frac: 1, data: bytesFrom(7, 77) },
];

describe('FileSource on classic pcap', () => {
  for (const littleEndian of [true, false]) {
    const order = littleEndian ? 'little-endian' : 'big-endian';
    it(`reads a ${order} µs file: lengths, timestamps, link type, bytes`, async () => {
      const r = await readBytes(tmp, `us-${order}.pcap`, pcapFile({ littleEndian, linkTypeField: 113 }, records));
      expect(r.error).toBeNull();
      expect(r.frames).toBe(4);
      expect(r.bytes).toBe(24 + 4 * 16 + 60 + 54 + 0 + 77);
      expect(r.seen.map((f) => f.capLen)).toEqual([60, 54, 0, 77]);
      expect(r.seen.map((f) => f.wireLen)).toEqual([60, 1514, 0, 77]);
      expect(r.seen.map((f) => f.ts)).toEqual([1700000000 + 123456 / 1e6, 1700000001 + 999999 / 1e6, 1700000002, 1700000003 + 1 / 1e6]);
      expect(r.seen.every((f) => f.linkType === 113 && f.ifIndex === 0)).toBe(true);
      expect(r.seen[1]?.bytes.equals(bytesFrom(100, 54))).toBe(true);
      expect(r.seen[3]?.bytes.equals(bytesFrom(7, 77))).toBe(true);
    });

    it(`reads a ${order} ns file with nanosecond fractions`, async () => {
      const ns: PcapRecordSpec[] = [
        { sec: 1418145370, frac: 123456789, data: bytesFrom(0, 40) },
        { sec: 1418145371, frac: 999999999, data: bytesFrom(1, 40) },
      ];
      const r = await readBytes(tmp, `ns-${order}.pcap`, pcapFile({ littleEndian, nanosecond: true }, ns));
      expect(r.error).toBeNull();
      expect(r.seen.map((f) => f.ts)).toEqual([1418145370 + 123456789 / 1e9, 1418145371 + 999999999 / 1e9]);
    });
  }

  it('masks the link-type field to its low 16 bits (0x3000000c is DLT 12)', async () => {
    const r = await readBytes(tmp, 'fcs-bits.pcap', pcapFile({ linkTypeField: 0x3000000c }, records.slice(0, 1)));
    expect(r.error).toBeNull();
    expect(r.seen[0]?.linkType).toBe(12);
  });

  it('reads a header-only file as zero frames without error', async () => {
    const r = await readBytes(tmp, 'empty.pcap', pcapFile({}, []));
    expect(r).toMatchObject({ frames: 0, bytes: 24, error: null });
  });

  it('gives the same frames whatever the chunk size (records straddling chunk ends)', async () => {
    const many: PcapRecordSpec[] = [];
    for (let i = 0; i < 200; i++) many.push({ sec: 1600000000 + i, frac: i * 1000, data: bytesFrom(i, (i * 37) % 301) });
    const bytes = pcapFile({}, many);
    const whole = await readBytes(tmp, 'many.pcap', bytes);
    expect(whole.frames).toBe(200);
    for (const chunkSize of [16, 17, 64, 100, 333, 4096]) {
      const small = await readBytes(tmp, `many-${chunkSize}.pcap`, bytes, chunkSize);
      expect(small.error).toBeNull();
      expect(small.seen).toEqual(whole.seen);
    }
  });

  it('grows its buffer for a record larger than the chunk (an 80066-byte BIG TCP frame)', async () => {
    const big = bytesFrom(3, 80066);
    const r = await readBytes(tmp, 'bigtcp.pcap', pcapFile({ snaplen: 262144 }, [records[0]!, { sec: 1, frac: 2, data: big }, records[3]!]), 65536);
    expect(r.error).toBeNull();
    expect(r.seen.map((f) => f.capLen)).toEqual([60, 80066, 77]);
    expect(r.seen[1]?.bytes.equals(big)).toBe(true);
  });

  it('accepts a record of exactly 262144 captured bytes', async () => {
    const r = await readBytes(tmp, 'max.pcap', pcapFile({ snaplen: 262144 }, [{ sec: 1, frac: 0, data: bytesFrom(0, 262144) }]), 4096);
    expect(r.error).toBeNull();
    expect(r.seen[0]?.capLen).toBe(262144);
  });

  it('hands out views into a reused buffer and one reused Frame, not copies', async () => {
    const path = tmp.write('views.pcap', pcapFile({}, records));
    const bufs = new Set<Buffer>();
    const frames = new Set<object>();
    const offsets: number[] = [];
    const src = new FileSource(path);
    await src.run((f) => {
      bufs.add(f.buf);
      frames.add(f);
      offsets.push(f.off);
    });
    expect(bufs.size).toBe(1);
    expect(frames.size).toBe(1);
    // Each frame starts right after its 16-byte record header; a file's bytes start past the room kept for a record
    // cut by the chunk before (READ_AHEAD_ROOM, and a few bytes more).
    const first = offsets[0]! - 40;
    expect(first).toBeGreaterThanOrEqual(READ_AHEAD_ROOM);
    expect(offsets.map((o) => o - first)).toEqual([40, 40 + 60 + 16, 40 + 60 + 16 + 54 + 16, 40 + 60 + 16 + 54 + 16 + 0 + 16]);
  });

  it('reads (ahead or not) into two buffers and carries records cut by a chunk end, also records longer than the room', async () => {
    const mixed: PcapRecordSpec[] = [];
    for (let i = 0; i < 60; i++) mixed.push({ sec: 1700000000 + i, frac: i, data: bytesFrom(i, i % 7 === 3 ? 3000 + i : 40 + ((i * 37) % 300)) });
    const path = tmp.write('carry.pcap', pcapFile({}, mixed));
    const read = async (opts: { chunkSize?: number; carryRoom?: number; readAhead?: boolean }): Promise<{ frames: Buffer[]; bufs: number; bytes: number; error: string | null }> => {
      const frames: Buffer[] = [];
      const bufs = new Set<Buffer>();
      const src = new FileSource(path, opts);
      const r = await src.run((f) => {
        bufs.add(f.buf);
        frames.push(Buffer.from(f.buf.subarray(f.off, f.off + f.capLen)));
      });
      return { frames, bufs: bufs.size, bytes: r.bytes, error: r.error };
    };
    const whole = await read({});
    expect(whole.error).toBeNull();
    expect(whole.frames.map((b) => b.length)).toEqual(mixed.map((m) => m.data.length));
    const sizes = [{ chunkSize: 16 }, { chunkSize: 1000 }, { chunkSize: 4096 }, { chunkSize: 100, carryRoom: 64 }, { chunkSize: 1000, carryRoom: 500 }, { chunkSize: 16, carryRoom: 0 }];
    for (const opts of [...sizes.map((o) => ({ ...o, readAhead: true })), ...sizes.map((o) => ({ ...o, readAhead: false }))]) {
      const r = await read(opts);
      expect(r.error, JSON.stringify(opts)).toBeNull();
      expect(r.bytes, JSON.stringify(opts)).toBe(whole.bytes);
      expect(r.frames.length, JSON.stringify(opts)).toBe(mixed.length);
      for (let i = 0; i < mixed.length; i++) expect(r.frames[i]!.equals(mixed[i]!.data), `${JSON.stringify(opts)} frame ${i}`).toBe(true);
    }
    // Chunks of 4096 bytes alternate between the two buffers of the pair.
    expect((await read({ chunkSize: 4096, readAhead: true })).bufs).toBe(2);
    expect((await read({ chunkSize: 4096, readAhead: false })).bufs).toBe(2);
  });

  it('awaits between() after each chunk and reports progress through bytesRead/size', async () => {
    const many: PcapRecordSpec[] = [];
    for (let i = 0; i < 100; i++) many.push({ sec: i, frac: 0, data: bytesFrom(i, 100) });
    const bytes = pcapFile({}, many);
    const path = tmp.write('progress.pcap', bytes);
    const src = new FileSource(path, { chunkSize: 1024 });
    const progress: number[] = [];
    let framesAtBetween = 0;
    const r = await src.run(
      () => undefined,
      async () => {
        progress.push(src.bytesRead);
        framesAtBetween++;
        await Promise.resolve();
      },
    );
    expect(r).toEqual({ frames: 100, bytes: bytes.length, error: null, stopped: false });
    expect(src.size).toBe(bytes.length);
    expect(src.bytesRead).toBe(bytes.length);
    expect(framesAtBetween).toBeGreaterThanOrEqual(10);
    // Progress only moves forward and stays within the file.
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(progress.every((p) => p > 0 && p <= bytes.length)).toBe(true);
  });
});
