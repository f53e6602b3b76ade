import { createHash, randomBytes } from 'node:crypto';
import { constants, gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { FileSource } from '../../src/capture/fileSource';
import { bytesFrom, epb, idb, pcapFile, shb, type PcapRecordSpec } from './captureBytes';
import { readBytes, tempDir, type SeenFrame } from './readAll';

const tmp = tempDir('capture-gzip-');
afterAll(() => tmp.cleanup());

function manyRecords(n: number): PcapRecordSpec[] {
  const out: PcapRecordSpec[] = [];
  for (let i = 0; i < n; i++) out.push({ sec: 1650000000 + i, frac: (i * 7919) % 1000000, data: bytesFrom(i, 40 + ((i * 13) % 200)) });
  return out;
}

describe('FileSource on gzipped captures', () => {
  it('reads a gzipped pcap with the same frames as the plain file', async () => {
    const plain = pcapFile({ nanosecond: true, littleEndian: false }, manyRecords(3000));
    const a = await readBytes(tmp, 'c.pcap', plain);
    const b = await readBytes(tmp, 'c.pcap.gz', gzipSync(plain));
    expect(a.error).toBeNull();
    expect(b.error).toBeNull();
    expect(b.frames).toBe(3000);
    expect(b.bytes).toBe(plain.length);
    expect(b.seen).toEqual(a.seen);
  });

  it('reads a gzipped pcapng with the same frames as the plain file, also with tiny chunks', async () => {
    const blocks = [shb(), idb(1, 0), idb(113, 0, [[9, Buffer.from([9])]])];
    for (let i = 0; i < 500; i++) blocks.push(epb({ ifId: i % 2, ticks: BigInt(1600000000 + i) * 1000000n, data: bytesFrom(i, 60 + (i % 100)) }));
    const plain = Buffer.concat(blocks);
    const a = await readBytes(tmp, 'c.pcapng', plain);
    const b = await readBytes(tmp, 'c.pcapng.gz', gzipSync(plain), 100);
    expect(b.error).toBeNull();
    expect(b.seen).toEqual(a.seen);
  });

  it('reads concatenated gzip members as one stream', async () => {
    const plain = pcapFile({}, manyRecords(50));
    const r = await readBytes(tmp, 'two-members.pcap.gz', Buffer.concat([gzipSync(plain.subarray(0, 1000)), gzipSync(plain.subarray(1000))]));
    expect(r.error).toBeNull();
    expect(r.frames).toBe(50);
  });

  it('reports a gzip file cut short and keeps the frames before the cut', async () => {
    const plain = pcapFile({}, manyRecords(2000));
    const gz = gzipSync(plain);
    const r = await readBytes(tmp, 'cut.pcap.gz', gz.subarray(0, Math.floor(gz.length / 2)), 4096);
    expect(r.frames).toBeGreaterThan(100);
    expect(r.frames).toBeLessThan(2000);
    expect(r.error).toMatch(new RegExp(`^${escape(r.path)}: gzip data ends early \\(truncated file\\) at byte \\d+ of the decompressed data$`));
  });

  it('keeps every frame before the cut of a gzip file read in large chunks, and names the byte where the data ends', async () => {
    // Incompressible payloads: the decompressed data (~6.5 MB) is larger than the reader's 4 MiB buffer, and a cut
    // gzip still decodes up to the cut. Regression: everything copied into the buffer in the failing read was
    // thrown away (up to 4 MiB: a 1 MB cut file gave 0 frames where zcat gives thousands).
    const records: PcapRecordSpec[] = [];
    for (let i = 0; i < 5000; i++) records.push({ sec: 1650000000 + i, frac: 0, data: randomBytes(1200 + (i % 200)) });
    const plain = pcapFile({}, records);
    const gz = gzipSync(plain);
    for (const share of [0.1, 0.5, 0.9]) {
      const cut = gz.subarray(0, Math.floor(gz.length * share));
      // What zcat recovers from the cut file, and the complete records in it.
      const readable = gunzipSync(cut, { finishFlush: constants.Z_SYNC_FLUSH });
      const prefix = await readBytes(tmp, `prefix-${share}.pcap`, readable);
      expect(prefix.frames).toBeGreaterThan(0);
      const r = await readBytes(tmp, `cut-${share}.pcap.gz`, cut);
      expect(r.frames, `cut at ${share}`).toBe(prefix.frames);
      expect(digest(r.seen)).toBe(digest(prefix.seen));
      expect(r.error).toBe(`${r.path}: gzip data ends early (truncated file) at byte ${readable.length} of the decompressed data`);
    }
  });

  it('reports damaged deflate data as one line', async () => {
    const gz = Buffer.from(gzipSync(pcapFile({}, manyRecords(200))));
    gz.fill(0xff, 40, 80);
    const r = await readBytes(tmp, 'bad.pcap.gz', gz);
    expect(r.error).toMatch(new RegExp(`^${escape(r.path)}: gzip data is damaged \\(.+\\) at byte \\d+ of the decompressed data$`));
  });

  it('reports record damage with offsets into the decompressed data', async () => {
    const plain = Buffer.concat([pcapFile({}, manyRecords(1)), Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0])]);
    const r = await readBytes(tmp, 'damaged-inside.pcap.gz', gzipSync(plain));
    expect(r.frames).toBe(1);
    expect(r.error).toBe(`${r.path}: damaged record at byte ${plain.length - 16} of the decompressed data: captured length 4294967295 exceeds 262144`);
  });

  it('reports a gzip file whose content is not a capture, or too short to be one', async () => {
    const text = await readBytes(tmp, 'notes.txt.gz', gzipSync(Buffer.from('hello, world')));
    expect(text.error).toBe(`${text.path}: gzip content is not a pcap or pcapng file (magic 0x68656c6c)`);
    const tiny = await readBytes(tmp, 'tiny.gz', gzipSync(Buffer.from([0xd4, 0xc3])));
    expect(tiny.error).toBe(`${tiny.path}: decompressed data is 2 bytes, too short to be a pcap or pcapng file`);
    const cut = await readBytes(tmp, 'cut-record.pcap.gz', gzipSync(pcapFile({}, manyRecords(3)).subarray(0, 24 + 20)));
    expect(cut.frames).toBe(0);
    expect(cut.error).toBe(`${cut.path}: decompressed data ends inside a record at byte 24 (truncated capture)`);
  });

  it('reports gzip progress in compressed bytes of the file', async () => {
    const gz = gzipSync(pcapFile({}, manyRecords(5000)));
    const path = tmp.write('progress.pcap.gz', gz);
    const src = new FileSource(path, { chunkSize: 8192 });
    let calls = 0;
    await src.run(
      () => undefined,
      () => {
        calls++;
        expect(src.bytesRead).toBeLessThanOrEqual(gz.length);
      },
    );
    expect(calls).toBeGreaterThan(5);
    expect(src.size).toBe(gz.length);
    expect(src.bytesRead).toBe(gz.length);
  });
});

/** One hash over every frame's bytes and timestamp, to compare thousands of frames at once. */
function digest(frames: SeenFrame[]): string {
  const h = createHash('sha256');
  for (const f of frames) h.update(`${f.ts}:${f.wireLen}:`).update(f.bytes);
  return h.digest('hex');
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
