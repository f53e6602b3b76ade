import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '../..');
const BIN = path.join(ROOT, 'bin/sensor.js');
const dir = mkdtempSync(path.join(tmpdir(), 'demo-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function sensor(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: dir, encoding: 'utf8', timeout: 120000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function count(db: string): number {
  const d = new Database(db, { readonly: true });
  try {
    return (d.prepare('SELECT count(*) AS n FROM flows').get() as { n: number }).n;
  } finally {
    d.close();
  }
}

describe('sensor demo', () => {
  it('ships the capture and conn.log that scripts/make-demo.js writes', () => {
    const out = path.join(dir, 'again.pcap.gz');
    const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts/make-demo.js'), out], { encoding: 'utf8', timeout: 60000 });
    expect(r.status, r.stderr).toBe(0);
    // Compared unzipped: gzip's bytes may differ between zlib versions, the capture may not.
    expect(gunzipSync(readFileSync(out)).equals(gunzipSync(readFileSync(path.join(ROOT, 'demo/demo.pcap.gz'))))).toBe(true);
    expect(readFileSync(path.join(dir, 'conn.log'), 'utf8')).toBe(readFileSync(path.join(ROOT, 'demo/conn.log'), 'utf8'));
    expect(readFileSync(path.join(ROOT, 'demo/demo.pcap.gz')).length).toBeLessThan(64 * 1024);
  });

  it('writes ./sensor-demo.db and ends with the summary on stdout; a second run starts the database afresh', () => {
    for (let i = 0; i < 2; i++) {
      const r = sensor(['demo']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^1 file, 2,166 packets, 94 flows in [\d.]+ s\nunknown share: [\d.]+% of the 88 flows the model saw/);
      expect(r.stdout).toMatch(/^no-payload +no-payload +6 /m);
      expect(r.stdout).toMatch(/^top talker +flows +bytes +share of bytes$/m);
      expect(count(path.join(dir, 'sensor-demo.db'))).toBe(94);
    }
  });

  it('keeps stdout pure JSON lines with --jsonl -: the summary goes to stderr', () => {
    const r = sensor(['demo', '--jsonl', '-']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(94);
    for (const l of lines) expect(JSON.parse(l)).toMatchObject({ event_type: 'flow' });
    expect(r.stderr).toContain('top talker');
  });
});
