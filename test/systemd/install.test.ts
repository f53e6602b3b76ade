import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * What `npm pack` + `npm install -g ./tcp-flow-sensor-*.tgz` (README "Running as a service") puts on a host, and
 * whether the service's user can use it: the package holds what running needs and nothing of the test tree,
 * every file is world-readable, and an unprivileged user (uid 65534, as a DynamicUser= would be) runs the demo
 * from a copy laid out as `npm root -g` has it, outside any home directory (ProtectHome=yes hides those).
 */

const ROOT = path.resolve(__dirname, '../..');
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string; bin: Record<string, string> };
const dir = mkdtempSync(path.join(tmpdir(), 'install-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const notRoot = process.getuid?.() !== 0 ? 'not root (setpriv needs root to switch to an unprivileged user)' : null;

function pack(): string {
  // --ignore-scripts: dist/ is built already (npm test builds first); `npm pack` alone would rebuild it.
  const r = spawnSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8', timeout: 120000 });
  expect(r.status, r.stderr).toBe(0);
  const info = JSON.parse(r.stdout) as { filename: string }[];
  return path.join(dir, info[0]!.filename);
}

describe('the installed package', () => {
  const tarball = pack();
  const listing = spawnSync('tar', ['tvzf', tarball], { encoding: 'utf8' }).stdout.trim().split('\n');
  const files = listing.map((l) => l.split(/\s+/).pop()!.replace(/^package\//, ''));

  it('is named to be found (not the unrelated `sensor` package) and puts `sensor` on the PATH', () => {
    expect(pkg.name).toBe('tcp-flow-sensor');
    expect(pkg.bin).toEqual({ sensor: 'bin/sensor.js', 'tcp-flow-sensor': 'bin/sensor.js' });
    // Node through env, with glibc's huge-page tunable ahead of the caller's (test/startup/launcher.test.ts).
    expect(readFileSync(path.join(ROOT, 'bin/sensor.js'), 'utf8')).toMatch(/^#!\/usr\/bin\/env -S GLIBC_TUNABLES=\S+ node\n/);
  });

  it('holds what running needs, and no tests, sources or lab', () => {
    for (const f of ['bin/sensor.js', 'dist/cli/main.js', 'models/sensor.onnx', 'config/sensor.json', 'config/rsyslog-sensor.conf', 'systemd/sensor@.service', 'systemd/sensor.service', 'demo/demo.pcap.gz', 'demo/conn.log', 'web/index.html', 'web/app.js', 'web/app.css', 'docs/records.md', 'native/binding.gyp', 'scripts/build-native.js', 'README.md']) {
      expect(files, f).toContain(f);
    }
    for (const prefix of ['test/', 'src/', 'bench/', 'models/train/', 'models/lab/services/', '.ci/']) expect(files.filter((f) => f.startsWith(prefix)), prefix).toEqual([]);
    const size = readFileSync(tarball).length;
    console.log(`${path.basename(tarball)}: ${files.length} files, ${size} bytes`);
    expect(size).toBeLessThan(3 * 1024 * 1024);
  });

  it('gives every file to every reader (-rw-r--r--, bins -rwxr-xr-x)', () => {
    for (const l of listing) {
      const [mode, , , , , , name] = l.split(/\s+/);
      // -rw-r--r-- or -rwxr-xr-x: readable by others (the service's user owns nothing under /usr).
      expect(mode, name).toMatch(/^-rw[-x]r-[-x]r-[-x]$/);
    }
  });

  it.skipIf(notRoot !== null)(`runs as an unprivileged user from a global-install layout outside /home${notRoot ? ` (skipped: ${notRoot})` : ''}`, () => {
    // /tmp/.../usr/lib/node_modules/tcp-flow-sensor, as `npm install -g` lays it out under NodeSource's prefix.
    chmodSync(dir, 0o755);
    const prefix = path.join(dir, 'usr/lib/node_modules');
    mkdirSync(prefix, { recursive: true });
    const unpack = spawnSync('tar', ['xzf', tarball, '-C', prefix], { encoding: 'utf8' });
    expect(unpack.status, unpack.stderr).toBe(0);
    const installed = path.join(prefix, pkg.name);
    spawnSync('mv', [path.join(prefix, 'package'), installed]);
    // The dependencies npm would install beside it: the checkout's, readable by all.
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(installed, 'node_modules'));
    const state = path.join(dir, 'state');
    mkdirSync(state, { mode: 0o777 });
    chmodSync(state, 0o777);
    const r = spawnSync(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, path.join(installed, 'bin/sensor.js'), 'demo', '--db', path.join(state, 'demo.db')],
      { cwd: state, encoding: 'utf8', timeout: 120000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('94 flows');
    // The web view's files come from the package too (sensor report inlines them).
    const report = spawnSync(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, path.join(installed, 'bin/sensor.js'), 'report', '--db', path.join(state, 'demo.db'), '--out', path.join(state, 'r.html')],
      { cwd: state, encoding: 'utf8', timeout: 120000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } },
    );
    expect(report.status, report.stderr).toBe(0);
    expect(readFileSync(path.join(state, 'r.html'), 'utf8')).toContain('<html');
    expect(installed.startsWith('/home') || installed.startsWith('/root')).toBe(false);
  });
});
