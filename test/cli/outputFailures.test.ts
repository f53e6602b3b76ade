import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFlood } from '../helpers/floodCapture';

/**
 * Outputs that fail for real (issue 9): a database on a file system that fills up during an offline run, and one
 * on a read-only mount. Each test mounts a small tmpfs in a mount namespace of its own (`unshare -m`, root only),
 * so nothing outside the test sees it.
 */

const ROOT = path.resolve(__dirname, '../..');
const BIN = path.join(ROOT, 'bin/sensor.js');

/** Why these tests cannot run here, or null: they need root and mount namespaces. */
function mountsUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'needs root to mount a tmpfs in a mount namespace';
  const r = spawnSync('unshare', ['-m', 'sh', '-c', 'mount -t tmpfs -o size=64k tmpfs /mnt'], { encoding: 'utf8' });
  if (r.error !== undefined || r.status !== 0) return `unshare -m with a tmpfs mount failed: ${(r.error?.message ?? r.stderr).trim()}`;
  return null;
}

const skipped = mountsUnavailable();
if (skipped !== null) console.warn(`output failure tests skipped: ${skipped}`);

let dir = '';
let flood = '';
let small = '';
const FLOWS = 40_000;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'sensor-cli-outputs-'));
  flood = path.join(dir, 'flood.pcap');
  writeFlood(flood, FLOWS);
  small = path.join(dir, 'small.pcap');
  writeFlood(small, 10);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `script` (sh) in a new mount namespace; $SENSOR is the sensor command. */
function inMountNamespace(script: string): { code: number; stdout: string; stderr: string } {
  const r = spawnSync('unshare', ['-m', 'sh', '-ec', script], {
    encoding: 'utf8',
    cwd: ROOT,
    timeout: 120000,
    env: { ...process.env, SENSOR: `${process.execPath} ${BIN}` },
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe.skipIf(skipped !== null)(`sensor outputs that fail${skipped ? ` (skipped: ${skipped})` : ''}`, () => {
  it('an offline run that fills the disk exits 1 with the real error and counts the flows not written', () => {
    const mnt = path.join(dir, 'full');
    mkdirSync(mnt);
    const db = path.join(mnt, 'flows.db');
    // 1 MiB holds the empty database and its WAL, not 40,000 flow records.
    const r = inMountNamespace(`mount -t tmpfs -o size=1m tmpfs ${mnt}; $SENSOR --pcap ${flood} --db ${db} --no-classify`);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).not.toContain('internal error');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const lines = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown> & { message: string; level: string });
    const errors = lines.filter((l) => l.level === 'error').map((l) => l.message);
    expect(errors[0]).toMatch(new RegExp(`^writing \\d+ flows to database ${db} failed: database or disk is full; stopping`));
    const done = lines.find((l) => l.message === 'capture done') as unknown as { flows: number; flows_unwritten: number; stopped_by: string };
    expect(done.stopped_by).toBe('write-error');
    expect(done.flows_unwritten).toBeGreaterThan(0);
    expect(done.flows + done.flows_unwritten).toBe(FLOWS);
    expect(errors).toContain(`${done.flows_unwritten} flow records could not be written (see the first error above)`);
  });

  it('a database on a read-only mount is refused in one line naming it, exit 2', () => {
    const mnt = path.join(dir, 'ro');
    mkdirSync(mnt);
    const db = path.join(mnt, 'flows.db');
    // The database exists (written while the mount was writable); then the mount turns read-only. Once with the
    // database closed cleanly, once with its -wal and -shm files left beside it (SQLite then opens it read-only).
    for (const leftovers of [false, true]) {
      const r = inMountNamespace(
        `mount -t tmpfs -o size=4m tmpfs ${mnt}; $SENSOR --pcap ${small} --db ${db} --no-classify 2>/dev/null; ` +
          (leftovers ? `printf '' > ${db}-wal; printf '' > ${db}-shm; ` : '') +
          `mount -o remount,ro ${mnt}; $SENSOR --pcap ${flood} --db ${db} --no-classify`,
      );
      expect(r.code, r.stderr).toBe(2);
      const lines = r.stderr.trim().split('\n');
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^sensor: cannot open database ${db}: .+ \\(the sensor needs write access to the file and its directory`));
    }
  });
});
