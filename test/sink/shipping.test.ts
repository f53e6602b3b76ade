import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { until } from '../helpers/until';

/**
 * config/rsyslog-sensor.conf, run for real: Debian's rsyslogd follows the JSON lines the sensor wrote for the demo
 * capture (imfile) and writes them out with omfile; every record must arrive byte for byte, also across a
 * logrotate-style rename. The recipe is used as shipped, with its /var/log/sensor paths moved to a temp dir.
 */

const ROOT = path.resolve(__dirname, '../..');
const RSYSLOGD = ['/usr/sbin/rsyslogd', '/sbin/rsyslogd'].find((p) => existsSync(p)) ?? null;
const skip = RSYSLOGD === null ? 'rsyslogd is not installed (apt-get install rsyslog)' : null;
if (skip !== null) console.warn(`rsyslog shipping test skipped: ${skip}`);

const dir = mkdtempSync(path.join(tmpdir(), 'shipping-'));
let rsyslog: ChildProcess | null = null;
afterAll(() => {
  if (rsyslog !== null && rsyslog.exitCode === null) rsyslog.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});

function lines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l !== '') : [];
}

/** The demo's records as JSON lines, written by the sensor (`--sensor-name` with a quote and non-ASCII letters). */
function demoLines(file: string, name: string): void {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/sensor.js'), 'demo', '--jsonl', file, '--no-summary', '--sensor-name', name], {
    encoding: 'utf8',
    timeout: 60000,
  });
  expect(r.status, r.stderr).toBe(0);
}

describe.skipIf(skip !== null)(`rsyslog recipe (config/rsyslog-sensor.conf)${skip !== null ? ` (skipped: ${skip})` : ''}`, () => {
  it('ships every record of the demo intact, before and after a logrotate-style rename', async () => {
    const logDir = path.join(dir, 'log');
    const work = path.join(dir, 'work');
    mkdirSync(logDir);
    mkdirSync(work);
    const input = path.join(logDir, 'flows.jsonl');
    const output = path.join(logDir, 'shipped.jsonl');
    demoLines(input, 'tap "7" – Zürich');
    const first = lines(input);
    expect(first.length).toBeGreaterThan(90);

    const recipe = readFileSync(path.join(ROOT, 'config/rsyslog-sensor.conf'), 'utf8');
    expect(recipe).toContain('/var/log/sensor/flows.jsonl');
    const conf = path.join(dir, 'rsyslog.conf');
    writeFileSync(conf, `global(workDirectory="${work}")\n` + recipe.replaceAll('/var/log/sensor/', `${logDir}/`));
    const check = spawnSync(RSYSLOGD!, ['-N1', '-f', conf], { encoding: 'utf8', timeout: 30000 });
    expect(check.status, `${check.stdout}${check.stderr}`).toBe(0);

    rsyslog = spawn(RSYSLOGD!, ['-n', '-f', conf, '-i', path.join(dir, 'rsyslogd.pid')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    rsyslog.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    await until(() => lines(output).length >= first.length, 30000, 100);
    expect(lines(output), err).toEqual(first);

    // logrotate: the file is renamed, the sensor (on SIGHUP) writes a new one at the path; more records follow.
    renameSync(input, input + '.1');
    demoLines(input, 'tap-8');
    const second = lines(input);
    appendFileSync(input + '.1', ''); // nothing more goes to the old file
    await until(() => lines(output).length >= first.length + second.length, 30000, 100);
    expect(lines(output), err).toEqual([...first, ...second]);
    for (const l of lines(output)) expect(JSON.parse(l)).toMatchObject({ event_type: 'flow' });

    rsyslog.kill('SIGTERM');
    await new Promise((r) => rsyslog!.once('exit', r));
  }, 90000);
});

const LOGROTATE = ['/usr/sbin/logrotate', '/sbin/logrotate'].find((p) => existsSync(p)) ?? null;
describe.skipIf(LOGROTATE === null)(`logrotate snippet (config/logrotate-sensor)${LOGROTATE === null ? ' (skipped: logrotate is not installed)' : ''}`, () => {
  it('rotates the JSON-lines files it names and runs its postrotate without failing', () => {
    const logDir = path.join(dir, 'rotate');
    mkdirSync(logDir);
    writeFileSync(path.join(logDir, 'flows.jsonl'), '{"event_type":"flow"}\n');
    const conf = path.join(dir, 'logrotate.conf');
    writeFileSync(conf, readFileSync(path.join(ROOT, 'config/logrotate-sensor'), 'utf8').replaceAll('/var/log/sensor/', `${logDir}/`));
    const r = spawnSync(LOGROTATE!, ['-f', '-s', path.join(dir, 'logrotate.state'), conf], { encoding: 'utf8', timeout: 30000 });
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(path.join(logDir, 'flows.jsonl.1'))).toBe(true);
    expect(readFileSync(path.join(logDir, 'flows.jsonl.1'), 'utf8')).toBe('{"event_type":"flow"}\n');
  });
});
