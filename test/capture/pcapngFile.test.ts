import { afterAll, describe, expect, it } from 'vitest';
import { bytesFrom, epb, idb, int64Bytes, opb, pcapngBlock, shb, spb } from './captureBytes';
import { readBytes, tempDir } from './readAll';

const tmp = tempDir('pcapng-file-');
afterAll(() => tmp.cleanup());

const IF_TSRESOL = 9;
const IF_TSOFFSET = 14;
const IF_NAME = 2;

describe('FileSource on pcapng', () => {
  for (const le of [true, false]) {
    const order = le ? 'little-endian' : 'big-endian';
    it(`reads a ${order} section: EPB lengths, µs timestamps, link type, bytes`, async () => {
      const file = Buffer.concat([
        shb(le),
        idb(1, 65535, [[IF_NAME, Buffer.from('eth0')]], le),
        epb({ ifId: 0, ticks: 1700000000_123456n, data: bytesFrom(0, 61), wireLen: 1514 }, le),
        epb({ ifId: 0, ticks: 1700000001_000001n, data: bytesFrom(9, 64), options: [[1, Buffer.from('a comment')]] }, le),
      ]);
      const r = await readBytes(tmp, `basic-${order}.pcapng`, file);
      expect(r.error).toBeNull();
      expect(r.frames).toBe(2);
      expect(r.bytes).toBe(file.length);
      expect(r.seen.map((f) => [f.capLen, f.wireLen, f.linkType, f.ifIndex])).toEqual([
        [61, 1514, 1, 0],
        [64, 64, 1, 0],
      ]);
      expect(r.seen.map((f) => f.ts)).toEqual([1700000000 + 123456 / 1e6, 1700000001 + 1 / 1e6]);
      expect(r.seen[0]?.bytes.equals(bytesFrom(0, 61))).toBe(true);
      expect(r.seen[1]?.bytes.equals(bytesFrom(9, 64))).toBe(true);
    });
  }

  it('keeps each interface its own link type and timestamp resolution (multi-IDB)', async () => {
    const file = Buffer.concat([
      shb(),
      idb(1, 0),
      idb(113, 0, [[IF_TSRESOL, Buffer.from([9])]]),
      idb(0, 0, [[IF_TSRESOL, Buffer.from([0x80 | 20])]]),
      idb(101, 0, [[IF_TSRESOL, Buffer.from([3])], [IF_TSOFFSET, int64Bytes(1000000000n)]]),
      epb({ ifId: 1, ticks: 1422527999_987654321n, data: bytesFrom(1, 44) }),
      epb({ ifId: 0, ticks: 1422527999_500000n, data: bytesFrom(2, 60) }),
      epb({ ifId: 2, ticks: (1439753726n << 20n) + (1n << 19n), data: bytesFrom(3, 20) }),
      epb({ ifId: 3, ticks: 700000000_250n, data: bytesFrom(4, 40) }),
    ]);
    const r = await readBytes(tmp, 'multi-if.pcapng', file);
    expect(r.error).toBeNull();
    expect(r.seen.map((f) => [f.ifIndex, f.linkType])).toEqual([
      [1, 113],
      [0, 1],
      [2, 0],
      [3, 101],
    ]);
    expect(r.seen.map((f) => f.ts)).toEqual([
      1422527999 + 987654321 / 1e9, // if_tsresol 9: nanoseconds
      1422527999.5,
      1439753726.5, // if_tsresol 0x80|20: 2^-20 s ticks
      1700000000.25, // if_tsresol 3 plus if_tsoffset 1e9 s
    ]);
  });

  it('gives a nanosecond timestamp the same double as classic pcap gives sec + ns / 1e9', async () => {
    const file = Buffer.concat([shb(), idb(1, 0, [[IF_TSRESOL, Buffer.from([9])]]), epb({ ifId: 0, ticks: 1777777777_000000001n, data: bytesFrom(0, 4) })]);
    const r = await readBytes(tmp, 'ns-exact.pcapng', file);
    expect(r.seen[0]?.ts).toBe(1777777777 + 1 / 1e9);
  });

  it('reads a Simple Packet Block: interface 0, caplen = min(origlen, snaplen, block space)', async () => {
    const file = Buffer.concat([
      shb(),
      idb(1, 50),
      epb({ ifId: 0, ticks: 1600000000_250000n, data: bytesFrom(0, 10) }),
      spb(bytesFrom(5, 50), 1500), // cut by the snaplen 50
      spb(bytesFrom(6, 30), 30), // whole packet
      spb(bytesFrom(7, 20), 9000), // block holds 20 bytes, snaplen 50: cut by the block
    ]);
    const r = await readBytes(tmp, 'spb.pcapng', file);
    expect(r.error).toBeNull();
    expect(r.seen.map((f) => [f.capLen, f.wireLen, f.ifIndex, f.linkType])).toEqual([
      [10, 10, 0, 1],
      [50, 1500, 0, 1],
      [30, 30, 0, 1],
      [20, 9000, 0, 1],
    ]);
    expect(r.seen[1]?.bytes.equals(bytesFrom(5, 50))).toBe(true);
    expect(r.seen[3]?.bytes.equals(bytesFrom(7, 20))).toBe(true);
    // An SPB has no timestamp: it carries the previous packet's time forward.
    expect(r.seen.slice(1).every((f) => f.ts === 1600000000.25)).toBe(true);
  });

  it('reads an obsolete Packet Block (type 2) with its 16-bit interface id', async () => {
    const file = Buffer.concat([shb(), idb(1, 0), idb(113, 0), opb({ ifId: 1, ticks: 1000_000001n, data: bytesFrom(0, 33), wireLen: 99 })]);
    const r = await readBytes(tmp, 'opb.pcapng', file);
    expect(r.error).toBeNull();
    expect(r.seen.map((f) => [f.ifIndex, f.linkType, f.capLen, f.wireLen, f.ts])).toEqual([[1, 113, 33, 99, 1000.000001]]);
  });

  it('skips blocks of other types by their length', async () => {
    const file = Buffer.concat([
      shb(),
      pcapngBlock(4, Buffer.alloc(20)), // name resolution
      idb(1, 0),
      pcapngBlock(5, Buffer.alloc(28)), // interface statistics
      epb({ ifId: 0, ticks: 5_000000n, data: bytesFrom(0, 8) }),
      pcapngBlock(0x40000bad, Buffer.from('custom block data')),
      pcapngBlock(0x12345678, Buffer.alloc(0)),
      epb({ ifId: 0, ticks: 6_000000n, data: bytesFrom(1, 8) }),
    ]);
    const r = await readBytes(tmp, 'skip.pcapng', file);
    expect(r.error).toBeNull();
    expect(r.seen.map((f) => f.ts)).toEqual([5, 6]);
  });

  it('starts a new interface list (and byte order) at each section header', async () => {
    const file = Buffer.concat([
      shb(true),
      idb(1, 0),
      idb(113, 0),
      epb({ ifId: 1, ticks: 1_000000n, data: bytesFrom(0, 8) }, true),
      shb(false),
      idb(101, 0, [], false),
      epb({ ifId: 0, ticks: 2_000000n, data: bytesFrom(1, 8) }, false),
    ]);
    const r = await readBytes(tmp, 'sections.pcapng', file);
    expect(r.error).toBeNull();
    expect(r.seen.map((f) => [f.ifIndex, f.linkType, f.ts])).toEqual([
      [1, 113, 1],
      [0, 101, 2],
    ]);
  });

  it('rejects a packet for an interface the new section has not declared', async () => {
    const first = Buffer.concat([shb(), idb(1, 0), idb(113, 0), epb({ ifId: 1, ticks: 1_000000n, data: bytesFrom(0, 8) })]);
    const file = Buffer.concat([first, shb(), idb(1, 0), epb({ ifId: 1, ticks: 2_000000n, data: bytesFrom(0, 8) })]);
    const r = await readBytes(tmp, 'stale-if.pcapng', file);
    expect(r.frames).toBe(1);
    const at = first.length + 28 + 20;
    expect(r.error).toBe(`${r.path}: damaged block at byte ${at}: packet for interface 1 but the section declares 1 interface(s)`);
  });

  it('gives the same frames whatever the chunk size (blocks straddling chunk ends)', async () => {
    const blocks = [shb(), idb(1, 0), idb(113, 65535, [[IF_TSRESOL, Buffer.from([9])]])];
    for (let i = 0; i < 150; i++) {
      blocks.push(epb({ ifId: i % 2, ticks: BigInt(1600000000 + i) * 1000000n + BigInt(i), data: bytesFrom(i, (i * 29) % 257) }));
      if (i % 17 === 0) blocks.push(pcapngBlock(5, Buffer.alloc(i % 40)));
      if (i % 23 === 0) blocks.push(spb(bytesFrom(i, 12), 12));
    }
    const bytes = Buffer.concat(blocks);
    const whole = await readBytes(tmp, 'many.pcapng', bytes);
    expect(whole.error).toBeNull();
    expect(whole.frames).toBe(150 + 7);
    for (const chunkSize of [16, 50, 128, 1000]) {
      const small = await readBytes(tmp, `many-${chunkSize}.pcapng`, bytes, chunkSize);
      expect(small.error).toBeNull();
      expect(small.seen).toEqual(whole.seen);
    }
  });
});
