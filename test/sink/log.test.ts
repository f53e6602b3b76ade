import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { createLogger } from '../../src/sink/log';

const ROOT = path.resolve(__dirname, '../..');
const VITE_NODE = path.join(ROOT, 'node_modules/.bin/vite-node');
const dir = mkdtempSync(path.join(tmpdir(), 'log-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs createLogger in a child process (winston writes to the real stdout/stderr) and returns both streams. */
function run(opts: string, body: string): { stdout: string; stderr: string } {
  const script = path.join(dir, `log-${Math.random().toString(36).slice(2)}.ts`);
  writeFileSync(
    script,
    `import { createLogger } from ${JSON.stringify(path.join(ROOT, 'src/sink/log'))};\n` +
      `const log = createLogger(${opts});\n${body}\n`,
  );
  const r = spawnSync(VITE_NODE, [script], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  expect(r.status, r.stderr).toBe(0);
  return { stdout: r.stdout, stderr: r.stderr };
}

describe('createLogger()', () => {
  it('writes JSON lines with a timestamp to stderr, honouring the level, stdout untouched', () => {
    const { stdout, stderr } = run(
      "{ level: 'info', format: 'json', stream: 'stderr' }",
      "log.debug('hidden'); log.info('model loaded', { classes: 3 }); log.child({ component: 'capture' }).warn('drops');",
    );
    expect(stdout).toBe('');
    const lines = stderr.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ level: 'info', message: 'model loaded', classes: 3 });
    expect(lines[0]!.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(lines[1]).toMatchObject({ level: 'warn', message: 'drops', component: 'capture' });
  });

  it('writes readable pretty lines to stdout when asked', () => {
    const { stdout, stderr } = run("{ level: 'debug', format: 'pretty', stream: 'stdout' }", "log.debug('tick', { flows: 12, iface: 'eth1' });");
    expect(stderr).toBe('');
    expect(stdout.trim()).toMatch(/^\d{4}-\d\d-\d\dT\S+ debug tick flows=12 iface=eth1$/);
  });

  it('refuses an unknown level with the valid ones', () => {
    expect(() => createLogger({ level: 'verbose', format: 'json', stream: 'stderr' })).toThrow("log level 'verbose' is not one of error, warn, info, debug");
  });
});
