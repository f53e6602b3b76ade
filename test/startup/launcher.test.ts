import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '../..');
const BIN = path.join(ROOT, 'bin', 'sensor.js');
const ENV = '/usr/bin/env';

/** The launcher's `#!` line and what follows `#!/usr/bin/env -S `. */
const SHEBANG = readFileSync(BIN, 'utf8').split('\n')[0]!;
const SPLIT = SHEBANG.replace(/^#!\/usr\/bin\/env -S /, '');

/** Whether this machine's env splits a `-S` string (GNU coreutils 8.30 and later, BSD and macOS). */
const envSplits = spawnSync(ENV, ['-S', 'true'], { stdio: 'ignore' }).status === 0;

/** This Node first on PATH, so that the line's `node` is the one running the tests. */
function pathEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}`, ...extra };
  for (const [k, v] of Object.entries(extra)) if (v === undefined) delete env[k];
  return env;
}

/** What `env -S` makes of the launcher's line with `node` replaced by `printenv GLIBC_TUNABLES`. */
function tunablesFromLine(callers: string | undefined): string {
  const r = spawnSync(ENV, ['-S', SPLIT.replace(/ node$/, ' printenv GLIBC_TUNABLES')], { env: pathEnv({ GLIBC_TUNABLES: callers }), encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.trim();
}

describe('launcher (bin/sensor.js run as a command)', () => {
  it('names node through env -S with glibc huge-page tunable first', () => {
    expect(SHEBANG).toBe('#!/usr/bin/env -S GLIBC_TUNABLES=glibc.malloc.hugetlb=1:${GLIBC_TUNABLES} node');
  });

  it.skipIf(!envSplits)('puts the tunable ahead of the caller GLIBC_TUNABLES, so that the caller one wins', () => {
    // glibc reads the list left to right and a later setting of the same tunable replaces an earlier one.
    expect(tunablesFromLine(undefined)).toBe('glibc.malloc.hugetlb=1:');
    expect(tunablesFromLine('glibc.malloc.hugetlb=0')).toBe('glibc.malloc.hugetlb=1:glibc.malloc.hugetlb=0');
    expect(tunablesFromLine('glibc.malloc.arena_max=2:glibc.malloc.hugetlb=0')).toBe('glibc.malloc.hugetlb=1:glibc.malloc.arena_max=2:glibc.malloc.hugetlb=0');
  });

  it.skipIf(!envSplits)('starts the CLI when executed directly', () => {
    const r = spawnSync(BIN, ['--version'], { env: pathEnv(), encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it.skipIf(!envSplits || process.platform !== 'linux')('runs the sensor process with the tunable in its environment', async () => {
    // A capture read from a pipe that stays open keeps the process running while its /proc entry is read.
    const p = spawn(BIN, ['--pcap', '-', '--jsonl', '/dev/null', '--no-progress', '--no-classify', '--no-anomaly', '--no-hosts'], {
      env: pathEnv({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=4' }),
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    const exited = new Promise<void>((resolve) => p.on('close', () => resolve()));
    try {
      let environ: string[] = [];
      for (let i = 0; i < 200; i++) {
        // env execs node in the same process: wait until the command line is node's.
        const cmdline = readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').split('\0');
        if (cmdline[0] !== ENV && cmdline.includes(BIN)) {
          environ = readFileSync(`/proc/${p.pid}/environ`, 'utf8').split('\0');
          break;
        }
        await new Promise((r) => setTimeout(r, 25));
      }
      // glibc reads the list in place at start-up and may cut it after the first setting (2.36 writes a NUL at the
      // end of each value it takes), so only its start is checked here; the order is checked on the line above.
      expect(environ.filter((e) => e.startsWith('GLIBC_TUNABLES=glibc.malloc.hugetlb=1')), environ.filter((e) => e.startsWith('GLIBC')).join(' ')).toHaveLength(1);
    } finally {
      p.kill('SIGTERM');
      p.stdin!.end();
      await exited;
    }
  });
});
