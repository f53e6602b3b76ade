import { execFileSync, spawnSync } from 'node:child_process';
import type { EventEmitter } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listCaptures } from '../../src/capture/listCaptures';
import { readFile, type SeenFrame } from './readAll';

/**
 * Golden and differential tests on the public captures in ../shared/pcaps: every file is read without
 * throwing, frame counts and damage match INDEX.md (whose counts come from capinfos), classic µs
 * pcaps match pcap-parser frame by frame, pcapng files match tshark when it is installed.
 */

const PCAPS = resolve(__dirname, '../../../shared/pcaps');
const HAVE_PCAPS = existsSync(join(PCAPS, 'INDEX.md'));

interface IndexRow {
  path: string;
  format: string;
  packets: number;
  readError: boolean;
}

/** Rows of INDEX.md's file table: | path | format | link type(s) | packets | TCP flows | tags | oracle | notes |. */
function indexRows(): IndexRow[] {
  const rows: IndexRow[] = [];
  for (const line of readFileSync(join(PCAPS, 'INDEX.md'), 'utf8').split('\n')) {
    const cols = line.split('|').slice(1, -1).map((c) => c.trim());
    const packets = /^(\d+)/.exec(cols[3] ?? '');
    if (cols.length !== 8 || packets === null || !(cols[0] ?? '').includes('/')) continue;
    rows.push({ path: cols[0] ?? '', format: cols[1] ?? '', packets: Number(packets[1]), readError: (cols[3] ?? '').includes('then read error') });
  }
  return rows;
}

/**
 * Where this reader's count differs from capinfos on purpose. INDEX.md: "Wireshark reads 2 records (it
 * guesses a modified-pcap variant); a plain libpcap-layout reader finds 1 record, then a
 * 1409179648-byte length at offset 228."
 */
const PLAIN_LAYOUT_COUNTS: Record<string, number> = { 'suricata-verify/fuzz.pcap': 1 };

const rows = HAVE_PCAPS ? indexRows() : [];
const title = HAVE_PCAPS ? 'shared captures' : 'shared captures (skipped: ../shared/pcaps is absent)';

describe.skipIf(!HAVE_PCAPS)(title, () => {
  it('INDEX.md lists the captures', () => {
    expect(rows.length).toBeGreaterThanOrEqual(190);
  });

  it('listCaptures finds exactly the indexed files in each source folder', () => {
    const folders = [...new Set(rows.map((r) => r.path.split('/')[0] ?? ''))].sort();
    const listed = listCaptures(folders.map((f) => join(PCAPS, f))).map((p) => p.slice(PCAPS.length + 1));
    expect([...listed].sort()).toEqual(rows.map((r) => r.path).sort());
  });

  describe('frame counts and damage match INDEX.md', () => {
    for (const row of rows) {
      it(row.path, async () => {
        const file = join(PCAPS, row.path);
        const r = await readFile(file);
        expect(r.frames).toBe(r.seen.length);
        expect(r.frames).toBe(PLAIN_LAYOUT_COUNTS[row.path] ?? row.packets);
        if (!row.readError) {
          // Files tagged `corrupt` for their packet contents, or refused by Wireshark for their link type,
          // are still well-formed capture files.
          expect(r.error).toBeNull();
          return;
        }
        // Damaged files: one error line at the damage, after every frame before it.
        expect(r.error).not.toBeNull();
        const m = new RegExp(`^${escapeRegExp(file)}: (?:damaged (?:record|block)|file ends inside a (?:record|block)) at byte (\\d+)`).exec(r.error ?? '');
        expect(m, r.error ?? '').not.toBeNull();
        expect(Number(m?.[1])).toBe(r.bytes);
      });
    }
  });

  describe('classic µs pcap files match pcap-parser frame by frame', () => {
    // pcap-parser 0.2 knows only the µs magics: it rejects nanosecond files as 'unknown magic number'.
    const classic = rows.filter((r) => r.format.startsWith('pcap ') && r.format.includes('µs'));
    for (const row of classic) {
      it(row.path, async () => {
        const file = join(PCAPS, row.path);
        const ours = await readFile(file);
        const theirs = await pcapParserFrames(file);
        expect(theirs.error).toBeNull();
        // On damage pcap-parser waits for bytes that never come and ends quietly: same frames, no error.
        expect(ours.seen.length).toBe(theirs.frames.length);
        ours.seen.forEach((f, i) => {
          const t = theirs.frames[i];
          expect([f.capLen, f.wireLen, f.ts]).toEqual([t?.capLen, t?.wireLen, t?.ts]);
          expect(f.bytes.equals(t?.bytes ?? Buffer.alloc(0))).toBe(true);
        });
      });
    }
  });

  const tshark = hasTshark();
  const ngTitle = tshark ? 'pcapng files match tshark' : 'pcapng files match tshark (skipped: tshark is not installed)';
  describe.skipIf(!tshark)(ngTitle, () => {
    const ng = rows.filter((r) => r.format.startsWith('pcapng'));
    for (const row of ng) {
      it(row.path, async () => {
        const file = join(PCAPS, row.path);
        const ours = await readFile(file);
        const theirs = tsharkFrames(file);
        expect(ours.seen.length).toBe(theirs.length);
        ours.seen.forEach((f: SeenFrame, i) => {
          const t = theirs[i];
          expect([f.capLen, f.wireLen, f.ifIndex]).toEqual([t?.capLen, t?.wireLen, t?.ifIndex]);
          // tshark prints 9 decimals; the double holds ~16 significant digits.
          expect(Math.abs(f.ts - (t?.ts ?? NaN))).toBeLessThanOrEqual(2e-6 + Math.abs(f.ts) * 2 ** -50);
        });
      });
    }
  });
});

interface ParserFrame {
  capLen: number;
  wireLen: number;
  ts: number;
  bytes: Buffer;
}

interface PcapParserPacket {
  header: { timestampSeconds: number; timestampMicroseconds: number; capturedLength: number; originalLength: number };
  data: Buffer;
}

const pcapParser = createRequire(__filename)('pcap-parser') as { parse(path: string): EventEmitter };

function pcapParserFrames(file: string): Promise<{ frames: ParserFrame[]; error: string | null }> {
  return new Promise((done) => {
    const frames: ParserFrame[] = [];
    const p = pcapParser.parse(file);
    let error: string | null = null;
    p.on('packet', (pk: PcapParserPacket) => {
      const h = pk.header;
      frames.push({ capLen: h.capturedLength, wireLen: h.originalLength, ts: h.timestampSeconds + h.timestampMicroseconds / 1e6, bytes: Buffer.from(pk.data) });
    });
    p.on('error', (err: Error) => {
      error = err.message;
    });
    p.on('end', () => done({ frames, error }));
  });
}

function hasTshark(): boolean {
  try {
    execFileSync('tshark', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function tsharkFrames(file: string): Array<{ ts: number; wireLen: number; capLen: number; ifIndex: number }> {
  // tshark exits 2 on a damaged file after printing the frames before the damage: keep its output.
  const run = spawnSync('tshark', ['-n', '-r', file, '-T', 'fields', '-e', 'frame.time_epoch', '-e', 'frame.len', '-e', 'frame.cap_len', '-e', 'frame.interface_id'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
    maxBuffer: 64 * 1024 * 1024,
  });
  return run.stdout
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => {
      const [ts, len, cap, ifId] = l.split('\t');
      return { ts: Number(ts), wireLen: Number(len), capLen: Number(cap), ifIndex: Number(ifId ?? 0) };
    });
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
