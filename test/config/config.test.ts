import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, defaultConfig, loadConfigFile, mergeConfig } from '../../src/config/config';

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
});
