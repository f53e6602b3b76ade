import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { ADDON_PATH } from '../../../src/capture/liveBinding';
import { type BridgeLab, createBridgeLab, createReplayLab, netnsUnavailable, type ReplayLab } from '../../capture-live/helpers/netns';
import { startServer } from './daemonProcess';

/**
 * Namespaces and veth pairs for the daemon process tests: the labs of test/capture-live/helpers/netns.ts with a
 * prefix of their own (`sd<pid><tag>`) and addresses in 10.214.x.x, so these tests never collide with the
 * capture-live ones running in another fork.
 */

/** Engines the daemon can use here: the addon when it is built. */
export function availableEngines(): 'addon'[] {
  return (['addon'] as const).filter(() => existsSync(ADDON_PATH));
}

/** Why the daemon lab tests cannot run here (one line for the skip message), or null. */
export function labUnavailable(): string | null {
  const ns = netnsUnavailable();
  if (ns !== null) return ns;
  if (availableEngines().length === 0) return 'the capture addon is not built (npm run build:native)';
  return null;
}

/** The capture-live bridge lab: client and server namespaces, the daemon captures on `captureIf`. */
export type TalkLab = BridgeLab;

/**
 * Two namespaces (client 10.214.<net>.1, server 10.214.<net>.2) joined by an address-less bridge in the root
 * namespace; the daemon captures on the client's bridge port. `tag` (one letter) keeps labs of one process apart.
 */
export function createTalkLab(tag: string, net: number): TalkLab {
  return createBridgeLab(`sd${process.pid}${tag}`, `10.214.${net}`);
}

/** The capture-live replay lab: tcpreplay sends on `replayIf` inside `ns`, the daemon captures on `captureIf`. */
export type WireLab = ReplayLab;

/** A veth pair: one end in a namespace of its own for tcpreplay, the other in the root namespace for the daemon. */
export function createWireLab(tag: string): WireLab {
  return createReplayLab('', `sd${process.pid}${tag}`);
}

/** What one describe block of daemon tests shares: its lab, a scratch directory, and what to kill at the end. */
export interface DaemonSuite<L> {
  /** The lab, made before the first test. */
  readonly lab: L;
  /** A scratch directory for databases, configs and captures, removed after the last test. */
  readonly dir: string;
  /** Kills `p` (a daemon, clients, a server, an extra lab) after the last test, newest first; returns it. */
  track<T extends { kill(): void }>(p: T): T;
}

/**
 * The set-up and teardown of a describe block of daemon tests (call it inside the describe): makes the lab and
 * the scratch directory before the tests, then `ready` (start a server, write a capture); afterwards kills what
 * was tracked, destroys the lab and removes the directory, whatever the tests left behind.
 */
export function daemonSuite<L extends { destroy(): void }>(
  name: string,
  makeLab: () => L,
  ready: (s: DaemonSuite<L>) => void | Promise<void> = () => {},
): DaemonSuite<L> {
  const tracked: { kill(): void }[] = [];
  const suite = {
    lab: undefined as unknown as L,
    dir: '',
    track<T extends { kill(): void }>(p: T): T {
      tracked.push(p);
      return p;
    },
  };
  beforeAll(async () => {
    suite.dir = mkdtempSync(path.join(tmpdir(), `sensor-daemon-${name}-`));
    suite.lab = makeLab();
    await ready(suite);
  }, 180000);
  afterAll(() => {
    for (const p of tracked.splice(0).reverse()) p.kill();
    suite.lab?.destroy();
    if (suite.dir !== '') rmSync(suite.dir, { recursive: true, force: true });
  });
  return suite;
}

/** daemonSuite() on a talk lab with the tcpPeer server listening on `port` in the server namespace. */
export function talkSuite(name: string, tag: string, net: number, port: number): DaemonSuite<TalkLab> {
  return daemonSuite(name, () => createTalkLab(tag, net), async (s) => {
    s.track(await startServer(s.lab.server, s.lab.serverAddr, port));
  });
}
