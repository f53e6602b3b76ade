import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PcapWriter } from '../../src/capture/pcapWriter';
import { bytesFrom } from './captureBytes';
import { readFile, tempDir } from './readAll';

const tmp = tempDir('pcap-writer-');
afterAll(() => tmp.cleanup());

describe('PcapWriter', () => {
  it('writes a little-endian µs header with the link type and snaplen', () => {
    const path = join(tmp.dir, 'h.pcap');
    new PcapWriter(path, 113, { snaplen: 1500 }).close();
    const b = readFileSync(path);
    expect(b.length).toBe(24);
    expect(b.subarray(0, 4)).toEqual(Buffer.from([0xd4, 0xc3, 0xb2, 0xa1]));
    expect([b.readUInt16LE(4), b.readUInt16LE(6), b.readUInt32LE(16), b.readUInt32LE(20)]).toEqual([2, 4, 1500, 113]);
  });

  it('writes records that FileSource reads back: µs rounding, carry into the next second, snaplen cut', async () => {
    const path = join(tmp.dir, 'us.pcap');
    const w = new PcapWriter(path, 1, { snaplen: 64 });
    w.write(1700000000.123456, bytesFrom(0, 60));
    w.write(1700000000.9999996, bytesFrom(1, 100), 1514); // rounds up to the next whole second
    w.close();
    const r = await readFile(path);
    expect(r.error).toBeNull();
    expect(r.seen.map((f) => [f.ts, f.capLen, f.wireLen, f.linkType])).toEqual([
      [1700000000 + 123456 / 1e6, 60, 60, 1],
      [1700000001, 64, 1514, 1],
    ]);
    expect(r.seen[1]?.bytes.equals(bytesFrom(1, 64))).toBe(true);
  });

  it('writes nanosecond files with the ns magic', async () => {
    const path = join(tmp.dir, 'ns.pcap');
    const w = new PcapWriter(path, 101, { nanosecond: true });
    w.write(1500000000.000000123, bytesFrom(0, 20));
    w.close();
    expect(readFileSync(path).readUInt32LE(0)).toBe(0xa1b23c4d);
    const r = await readFile(path);
    expect(r.seen.map((f) => [f.capLen, f.linkType])).toEqual([[20, 101]]);
    expect(Math.abs((r.seen[0]?.ts ?? 0) - 1500000000.000000123)).toBeLessThan(1e-6);
  });

  it('buffers many records across flushes without losing any', async () => {
    const path = join(tmp.dir, 'many.pcap');
    const w = new PcapWriter(path, 1);
    for (let i = 0; i < 20000; i++) w.write(i, bytesFrom(i, 100));
    w.close();
    const r = await readFile(path);
    expect(r.frames).toBe(20000);
    expect(r.seen[19999]?.bytes.equals(bytesFrom(19999, 100))).toBe(true);
    expect(() => w.write(1, bytesFrom(0, 1))).toThrow('PcapWriter: write() after close()');
  });
});
