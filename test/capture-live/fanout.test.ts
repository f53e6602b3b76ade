import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Frame } from '../../src/capture/frame';
import { ADDON_PATH } from '../../src/capture/liveBinding';
import { LiveSource } from '../../src/capture/liveSource';
import { writeSynthCapture } from '../helpers/synthCapture';
import { until } from '../helpers/until';
import { createReplayLab, netnsUnavailable, ReplayLab } from './helpers/netns';
import { thrown } from './helpers/thrown';

/**
 * PACKET_FANOUT (flow hash): several captures of one interface in the same group share the traffic, each flow
 * whole (both directions) in exactly one of them: the way to run one sensor process per core.
 */

const exec = promisify(execFile);
const PACKETS = 20000;
const FLOWS = 64;
const MEMBERS = 2;

const reason =
  netnsUnavailable() ??
  (existsSync(ADDON_PATH) ? null : 'the addon is not built (npm run build:native)') ??
  (spawnSync('tcpreplay', ['--version']).status === 0 ? null : 'tcpreplay is not installed');
if (reason !== null) console.warn(`fanout tests skipped: ${reason}`);

/** Per member: packets and the client ports (one per synthetic flow) it saw. */
class FlowSet {
  packets = 0;
  readonly flows = new Set<number>();
  readonly onFrame = (f: Frame): void => {
    this.packets++;
    const t = f.off + 14 + (f.buf[f.off + 14]! & 0x0f) * 4;
    const sport = f.buf.readUInt16BE(t);
    this.flows.add(sport === 443 ? f.buf.readUInt16BE(t + 2) : sport);
  };
}

describe.skipIf(reason !== null)(`PACKET_FANOUT across captures${reason ? ` (skipped: ${reason})` : ''}`, () => {
  let lab: ReplayLab;
  let dir = '';
  let file = '';

  beforeAll(() => {
    lab = createReplayLab('x');
    dir = mkdtempSync(path.join(tmpdir(), 'sensor-fanout-'));
    file = path.join(dir, 'flows.pcap');
    writeSynthCapture(file, PACKETS, FLOWS);
  });

  afterAll(() => {
    lab?.destroy();
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it(`${MEMBERS} members of one group: every packet once, every flow in exactly one member`, async () => {
    const group = process.pid & 0xffff;
    const members = Array.from({ length: MEMBERS }, () => ({
      set: new FlowSet(),
      source: new LiveSource({ interface: lab.captureIf, engine: 'addon', fanoutGroup: group }),
    }));
    for (const m of members) m.source.start(m.set.onFrame, (err) => { throw err; });
    await exec('ip', ['netns', 'exec', lab.ns, 'tcpreplay', '--topspeed', '-i', lab.replayIf, file]);
    const total = (): number => members.reduce((n, m) => n + m.source.stats().delivered, 0);
    await until(() => total() >= PACKETS);
    const stats = members.map((m) => m.source.stats());
    for (const m of members) m.source.stop();
    console.log(`fanout: ${members.map((m, i) => `member ${i}: ${m.set.packets} packets, ${m.set.flows.size} flows, dropped ${stats[i]!.dropped}`).join('; ')}`);

    expect(members.reduce((n, m) => n + m.set.packets, 0)).toBe(PACKETS);
    for (const m of members) expect(m.set.flows.size).toBeGreaterThan(0);
    const all = members.flatMap((m) => [...m.set.flows]);
    expect(new Set(all).size).toBe(FLOWS);
    // No flow is split: the flows of the members are disjoint.
    expect(all.length).toBe(FLOWS);
  });

  it('refuses the removed cap engine, saying why', () => {
    expect(thrown(() => new LiveSource({ interface: lab.captureIf, engine: 'cap' as 'addon', fanoutGroup: 7 })).message).toBe(
      `Invalid live capture option engine: expected 'auto' or 'addon' (the cap engine was removed: see the README's design notes), got "cap"`,
    );
  });
});
