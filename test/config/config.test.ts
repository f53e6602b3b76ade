import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { CONFIG_FLAGS, parseArgs } from '../../src/cli/args';
import { applyEnv, CONFIG_KEYS, ConfigError, defaultConfig, loadConfigFile, mergeConfig } from '../../src/config/config';

/** parseArgs() with a clean environment unless one is given; returns the error message or the config. */
async function args(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<string | ReturnType<typeof defaultConfig>> {
  try {
    const c = await parseArgs(argv, '0', env);
    if (c.kind !== 'run') throw new Error(`not a run: ${c.kind}`);
    return c.config;
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
}

const repoConfig = path.resolve(__dirname, '../../config/sensor.json');

describe('config', () => {
  it('loadConfigFile() accepts the example config in config/', () => {
    const cfg = loadConfigFile(repoConfig);
    expect(cfg.flow.idleTimeout).toBe(120);
    expect(cfg.capture.snaplen).toBe(128);
    expect(cfg.classify.model).toBe(defaultConfig().classify.model);
  });

  it('mergeConfig() names a misspelled option and suggests the right one', () => {
    expect(() => mergeConfig(defaultConfig(), { flow: { idleTimout: 5 } }, 'x.json')).toThrow(
      'x.json: unknown option "flow.idleTimout" (did you mean "idleTimeout"?)',
    );
    expect(() => mergeConfig(defaultConfig(), { flows: {} }, 'x.json')).toThrow('unknown section "flows" (did you mean "flow"?)');
  });

  it('mergeConfig() rejects wrong types and out-of-range values with the key and the value', () => {
    expect(() => mergeConfig(defaultConfig(), { flow: { idleTimeout: 'long' } }, 'c')).toThrow('c: flow.idleTimeout must be a number, got "long"');
    expect(() => mergeConfig(defaultConfig(), { classify: { device: 'tpu' } }, 'c')).toThrow('must be one of "auto", "cpu", "cuda"');
    expect(() => mergeConfig(defaultConfig(), { flow: { maxFlows: 0 } }, 'c')).toThrow('c: flow.maxFlows must be at least 1, got 0');
    expect(() => mergeConfig(defaultConfig(), { capture: { snaplen: 1.5 } }, 'c')).toThrow('must be an integer');
    expect(() => mergeConfig(defaultConfig(), [], 'c')).toThrow(ConfigError);
  });

  it('mergeConfig() overrides only the keys given', () => {
    const cfg = mergeConfig(defaultConfig(), { flow: { idleTimeout: 30 }, output: { db: 'x.db' } }, 'c');
    expect(cfg.flow.idleTimeout).toBe(30);
    expect(cfg.flow.activeTimeout).toBe(1800);
    expect(cfg.output.db).toBe('x.db');
  });

  it('loadConfigFile() reports unreadable and invalid files in one line', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sensor-cfg-'));
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, '{ "flow": ');
    expect(() => loadConfigFile(bad)).toThrow(/^Config .*bad\.json is not valid JSON/);
    expect(() => loadConfigFile(path.join(dir, 'missing.json'))).toThrow(/Cannot read config .*missing\.json: no such file/);
  });

  it('SENSOR_<SECTION>__<KEY> variables override the file and are overridden by flags', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sensor-cfg-'));
    const file = path.join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ classify: { device: 'cuda' }, flow: { idleTimeout: 60 } }));
    const env = { SENSOR_CLASSIFY__DEVICE: 'cpu', SENSOR_FLOW__IDLE_TIMEOUT: '30', SENSOR_SENSOR__NAME: 'tap-7', SENSOR_REPLAY_PACKETS: '5' };
    const cfg = await args(['--config', file, '--pcap', 'x.pcap'], env);
    if (typeof cfg === 'string') throw new Error(cfg);
    expect(cfg.classify.device).toBe('cpu');
    expect(cfg.flow.idleTimeout).toBe(30);
    expect(cfg.sensor.name).toBe('tap-7');
    const flagged = await args(['--config', file, '--pcap', 'x.pcap', '--idle-timeout', '10', '--device', 'auto'], env);
    if (typeof flagged === 'string') throw new Error(flagged);
    expect([flagged.flow.idleTimeout, flagged.classify.device]).toEqual([10, 'auto']);
    // Lists and null as JSON; plain words as text.
    const more = applyEnv(defaultConfig(), { SENSOR_CAPTURE__PCAP: '["a.pcap","b.pcap"]', SENSOR_OUTPUT__DB: 'flows.db', SENSOR_STATS__PROMETHEUS_PORT: '9100' });
    expect([more.capture.pcap, more.output.db, more.stats.prometheusPort]).toEqual([['a.pcap', 'b.pcap'], 'flows.db', 9100]);
  });

  it('a misspelled SENSOR_ variable is an error with a suggestion, a bad value names the variable', () => {
    expect(() => applyEnv(defaultConfig(), { SENSOR_CLASSIFY__DEVISE: 'cpu' })).toThrow(
      'environment SENSOR_CLASSIFY__DEVISE: no option "classify.DEVISE" (did you mean SENSOR_CLASSIFY__DEVICE?)',
    );
    expect(() => applyEnv(defaultConfig(), { SENSOR_FLOWS__IDLE_TIMEOUT: '3' })).toThrow(/^environment SENSOR_FLOWS__IDLE_TIMEOUT: no config section "FLOWS" \(did you mean SENSOR_FLOW__\.\.\.\?\)/);
    expect(() => applyEnv(defaultConfig(), { SENSOR_FLOW__IDLE_TIMEOUT: 'soon' })).toThrow('environment SENSOR_FLOW__IDLE_TIMEOUT must be a number, got "soon"');
  });

  // Issue 9 item 7: `--device tpu` printed two lines, `--idle-timeout abc` said "got null".
  it('a bad flag value is one line naming the flag, the allowed values and what it got', async () => {
    expect(await args(['--pcap', 'x.pcap', '--device', 'tpu'])).toBe('--device must be one of "auto", "cpu", "cuda", got "tpu"');
    expect(await args(['--pcap', 'x.pcap', '--idle-timeout', 'abc'])).toBe('--idle-timeout must be a number, got "abc"');
    expect(await args(['--pcap', 'x.pcap', '--max-flows', '2.5'])).toBe('--max-flows must be an integer, got "2.5"');
    expect(await args(['--pcap', 'x.pcap', '--log-format', 'text'])).toBe('--log-format must be one of "auto", "pretty", "json", got "text"');
    expect(await args(['--pcap', 'x.pcap', '--pcapp', 'y'])).toBe('Unknown option --pcapp (did you mean --pcap?); see sensor --help');
    expect(await args(['exprot', '--db', 'x'])).toBe('Unknown command "exprot" (did you mean "export"?)');
  });

  // Issue 9 item 9: idleTimeout at or below finGrace silently recorded cleanly closed connections as idle.
  it('refuses an idle timeout that is not longer than the FIN grace, from any layer', async () => {
    const msg = 'flow.idleTimeout (3 s, --idle-timeout) must be longer than flow.finGrace (5 s)';
    expect(await args(['--pcap', 'x.pcap', '--idle-timeout', '3'])).toContain(msg);
    expect(await args(['--pcap', 'x.pcap'], { SENSOR_FLOW__IDLE_TIMEOUT: '3' })).toContain(msg);
    expect(await args(['--pcap', 'x.pcap', '--idle-timeout', '5', '--fin-grace', '5'])).toContain('flow.idleTimeout (5 s, --idle-timeout) must be longer than flow.finGrace (5 s)');
    const ok = await args(['--pcap', 'x.pcap', '--idle-timeout', '3', '--fin-grace', '1']);
    expect(typeof ok === 'string' ? ok : ok.flow).toMatchObject({ idleTimeout: 3, finGrace: 1 });
  });

  it('docs/config.md and config/sensor.json cover every option, and every flag is in the docs and in --help', async () => {
    const doc = readFileSync(path.resolve(__dirname, '../../docs/config.md'), 'utf8');
    const example = JSON.parse(readFileSync(repoConfig, 'utf8')) as Record<string, Record<string, unknown>>;
    for (const [section, keys] of Object.entries(CONFIG_KEYS)) {
      for (const key of keys) {
        expect(doc, `${section}.${key} in docs/config.md`).toContain(`| \`${section}.${key}\` |`);
        // The example file lists every key but the capture inputs (given per run).
        if (!(section === 'capture' && key === 'pcap')) expect(example[section], `${section}.${key} in config/sensor.json`).toHaveProperty(key);
      }
    }
    const help = await parseArgs(['--help'], '0', {});
    if (help.kind !== 'help') throw new Error('no help');
    for (const f of CONFIG_FLAGS) {
      expect(doc, `--${f.flag} in docs/config.md`).toContain(`--${f.flag}`);
      expect(help.text, `--${f.flag} in --help`).toContain(`--${f.flag}`);
    }
  });
});
