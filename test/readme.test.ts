import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { parseArgs } from '../src/cli/args';

/**
 * The README's commands and queries, taken from the README itself so they cannot drift:
 *  - every ```sh block (no other word after `sh`) runs line by line, as written, in a scratch directory that
 *    looks like a checkout (`npx sensor` finds the package's bin; demo/, config/, models/ are the repo's);
 *  - every ```sql statement (untagged: ```sql clickhouse is ClickHouse SQL, ```sql monitor the model monitor's
 *    tables, run by test/monitor/drift.test.ts) then runs with the sqlite3 shell on the demo database and must
 *    return rows;
 *  - blocks that need root, an interface or systemd, or run for many minutes (```sh install / live / root / bench)
 *    cannot run here: each is checked with `bash -n`, and every sensor command line in them must parse (flags and
 *    values valid).
 */

const ROOT = path.resolve(__dirname, '..');
const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const sandbox = mkdtempSync(path.join(tmpdir(), 'readme-'));
afterAll(() => rmSync(sandbox, { recursive: true, force: true }));

interface Block {
  lang: string;
  tags: string[];
  body: string;
}

const blocks: Block[] = [...README.matchAll(/^```(\w*)([^\n]*)\n([\s\S]*?)^```$/gm)].map((m) => ({
  lang: m[1]!,
  tags: m[2]!.trim().split(/\s+/).filter(Boolean),
  body: m[3]!,
}));

/** Command lines of a shell block (comments and blank lines out). */
function commands(body: string): string[] {
  return body
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

function sh(line: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync('bash', ['-c', line], { cwd: sandbox, encoding: 'utf8', timeout: 120000, env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const hasSqlite3 = spawnSync('sqlite3', ['-version']).status === 0;
if (!hasSqlite3) console.warn('README query checks skipped: the sqlite3 shell is not installed (apt-get install sqlite3)');

describe('README', () => {
  it('has the blocks this test expects', () => {
    expect(blocks.filter((b) => b.lang === 'sh' && b.tags.length === 0).length).toBeGreaterThanOrEqual(3);
    // The SQLite queries; ```sql clickhouse blocks are ClickHouse SQL (test/sink/clickhouse runs the schema).
    expect(blocks.filter((b) => b.lang === 'sql' && b.tags.length === 0)).toHaveLength(1);
  });

  it('runs every command of its sh blocks as written', () => {
    mkdirSync(path.join(sandbox, 'node_modules/.bin'), { recursive: true });
    symlinkSync(path.join(ROOT, 'bin/sensor.js'), path.join(sandbox, 'node_modules/.bin/sensor'));
    for (const d of ['demo', 'config', 'models']) symlinkSync(path.join(ROOT, d), path.join(sandbox, d));
    let ran = 0;
    for (const b of blocks.filter((x) => x.lang === 'sh' && x.tags.length === 0)) {
      for (const line of commands(b.body)) {
        if (line.includes('zeek_conn') && !hasSqlite3) continue;
        const r = sh(line);
        expect(r.code, `${line}\n${r.stderr}`).toBe(0);
        ran++;
        if (line === 'npx sensor demo') {
          // The first run ends with the summary table on stdout.
          expect(r.stdout).toMatch(/^1 file, 2,166 packets, 94 flows in /);
          for (const word of ['unknown share:', 'application', 'verdict', 'top talker', 'git']) expect(r.stdout).toContain(word);
          // No error or warning, and no scary CUDA line on this CPU-only host: one `model loaded` line says so.
          expect(r.stderr).not.toMatch(/"level":"(error|warn)"|Failed to load|shared library/);
        }
      }
    }
    expect(ran).toBeGreaterThanOrEqual(10);
  }, 600000);

  it.skipIf(!hasSqlite3)(`every example query returns rows on the demo database${hasSqlite3 ? '' : ' (skipped: no sqlite3 shell)'}`, () => {
    const sql = blocks.find((b) => b.lang === 'sql' && b.tags.length === 0)!.body;
    const statements = sql
      .split('\n')
      .filter((l) => !l.trim().startsWith('--'))
      .join('\n')
      .split(/;\s*\n/)
      .map((s) => s.trim())
      .filter(Boolean);
    expect(statements.length).toBe(6);
    for (const stmt of statements) {
      const r = spawnSync('sqlite3', ['-bail', 'sensor-demo.db', stmt], { cwd: sandbox, encoding: 'utf8', timeout: 30000 });
      expect(r.status, `${stmt}\n${r.stderr}`).toBe(0);
      expect(r.stdout.trim().split('\n').filter(Boolean).length, stmt).toBeGreaterThan(0);
    }
  });

  it('checks the blocks that need root, an interface or systemd: shell syntax, and every sensor command line parses', async () => {
    const others = blocks.filter((b) => b.lang === 'sh' && b.tags.length > 0);
    expect(others.length).toBeGreaterThanOrEqual(4);
    let parsed = 0;
    for (const b of others) {
      const syntax = spawnSync('bash', ['-n'], { input: b.body, encoding: 'utf8' });
      expect(syntax.status, syntax.stderr).toBe(0);
      for (const line of commands(b.body)) {
        const m = /(?:^|\s)(?:sudo\s+)?(?:npx\s+)?sensor\s+([^#|>&]*)/.exec(line);
        if (m === null) continue;
        const argv = m[1]!.trim().split(/\s+/).filter(Boolean);
        const cmd = await parseArgs(argv, '0', {});
        expect(['run', 'interfaces', 'help', 'export', 'eval', 'anomaly-fit', 'hosts-fit', 'clickhouse-schema', 'serve', 'report', 'learn', 'eval-labels', 'train'], line).toContain(cmd.kind);
        parsed++;
      }
    }
    expect(parsed).toBeGreaterThanOrEqual(3);
  });
});
