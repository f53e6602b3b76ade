import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADDON_PATH } from '../../src/capture/liveBinding';
import { LiveSource } from '../../src/capture/liveSource';
import { until } from '../helpers/until';
import { writeSynthCapture } from '../helpers/synthCapture';
import { createReplayLab, netnsUnavailable, ReplayLab, run } from './helpers/netns';
import { TcpCounter } from './helpers/tcpCounter';

/**
 * A mirror port's link flaps and interfaces get removed: the addon keeps capturing across a down/up, and
 * reports a removed interface once, as one line, through onError.
 */

const exec = promisify(execFile);
const BURST = 20;

const reason =
  netnsUnavailable() ??
  (existsSync(ADDON_PATH) ? null : 'the addon is not built (npm run build:native)') ??
  (spawnSync('tcpreplay', ['--version']).status === 0 ? null : 'tcpreplay is not installed');
if (reason !== null) console.warn(`link event tests skipped: ${reason}`);

describe.skipIf(reason !== null)(`addon capture across link events${reason ? ` (skipped: ${reason})` : ''}`, () => {
  let lab: ReplayLab;
  let dir = '';
  let file = '';

  beforeAll(() => {
    lab = createReplayLab('f');
    dir = mkdtempSync(path.join(tmpdir(), 'sensor-link-'));
    file = path.join(dir, 'burst.pcap');
    writeSynthCapture(file, BURST, 2);
  });

  afterAll(() => {
    lab?.destroy();
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('keeps capturing after the interface goes down and up, and reports its removal once', async () => {
    const counter = new TcpCounter(443);
    const errors: string[] = [];
    const source = new LiveSource({ interface: lab.captureIf, engine: 'addon', timeoutMs: 10 });
    source.start(counter.onFrame, (err) => errors.push(err.message));
    const burst = (): Promise<unknown> => exec('ip', ['netns', 'exec', lab.ns, 'tcpreplay', '--topspeed', '-i', lab.replayIf, file]);

    await burst();
    await until(() => counter.tcp >= BURST);
    expect(counter.tcp).toBe(BURST);

    run('ip', ['link', 'set', lab.captureIf, 'down']);
    await until(() => source.stats().linkDowns >= 1);
    run('ip', ['link', 'set', lab.captureIf, 'up']);
    await until(() => run('cat', [`/sys/class/net/${lab.captureIf}/operstate`]).trim() === 'up');
    await burst();
    await until(() => counter.tcp >= 2 * BURST);
    expect(source.stats().linkDowns).toBe(1);
    expect(counter.tcp).toBe(2 * BURST);
    expect(errors).toEqual([]);

    run('ip', ['link', 'del', lab.captureIf]);
    await until(() => errors.length > 0);
    expect(errors).toEqual([`Capture on ${lab.captureIf} stopped: The interface disappeared`]);
    // The counters stay readable after the capture ended, for the final stats line.
    expect(source.stats().delivered).toBe(counter.frames);
    source.stop();
  });
});
