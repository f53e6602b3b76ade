import { existsSync } from 'node:fs';
import { loadCap } from '../../../src/capture/capSource';
import { ADDON_PATH } from '../../../src/capture/liveBinding';
import { type BridgeLab, createBridgeLab, createReplayLab, netnsUnavailable, type ReplayLab } from '../../capture-live/helpers/netns';

/**
 * Namespaces and veth pairs for the daemon process tests: the labs of test/capture-live/helpers/netns.ts with a
 * prefix of their own (`sd<pid><tag>`) and addresses in 10.214.x.x, so these tests never collide with the
 * capture-live ones running in another fork.
 */

/** Engines the daemon can use here: the addon when it is built, `cap` when it loads. */
export function availableEngines(): ('addon' | 'cap')[] {
  return (['addon', 'cap'] as const).filter((e) => (e === 'addon' ? existsSync(ADDON_PATH) : !(loadCap() instanceof Error)));
}

/** Why the daemon lab tests cannot run here (one line for the skip message), or null. */
export function labUnavailable(): string | null {
  const ns = netnsUnavailable();
  if (ns !== null) return ns;
  if (availableEngines().length === 0) return 'neither capture engine is available (npm run build:native, or npm rebuild cap)';
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
