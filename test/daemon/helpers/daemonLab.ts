import { existsSync } from 'node:fs';
import { loadCap } from '../../../src/capture/capSource';
import { ADDON_PATH } from '../../../src/capture/liveBinding';
import { inNs, netnsUnavailable, run } from '../../capture-live/helpers/netns';

/**
 * Namespaces and veth pairs for the daemon process tests. Like test/capture-live/helpers/netns.ts (whose run/inNs
 * it reuses), but with a prefix of its own (`sd<pid><tag>`) and addresses in 10.214.x.x, so these tests never
 * collide with the capture-live ones running in another fork.
 */

function tryRun(cmd: string, args: string[]): void {
  try {
    run(cmd, args);
  } catch {
    // already gone
  }
}

/** Offloads off, so the capture sees wire-sized segments (no GRO/TSO super-packets). */
function offloadsOff(dev: string, ns?: string): void {
  const args = ['-K', dev, 'rx', 'off', 'tx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off'];
  // Some offloads cannot be changed on veth; ethtool then exits non-zero after changing the others.
  if (ns === undefined) tryRun('ethtool', args);
  else tryRun('ip', ['netns', 'exec', ns, 'ethtool', ...args]);
}

function quietV6(dev: string): void {
  tryRun('sysctl', ['-q', '-w', `net.ipv6.conf.${dev}.disable_ipv6=1`]);
}

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

export interface TalkLab {
  client: string;
  server: string;
  clientAddr: string;
  serverAddr: string;
  /** Root-namespace bridge port facing the client namespace (no address): every client<->server packet crosses it. */
  captureIf: string;
  destroy(): void;
}

/**
 * Two namespaces (client 10.214.<net>.1, server 10.214.<net>.2) joined by an address-less bridge in the root
 * namespace; the daemon captures on the client's bridge port. `tag` (one letter) keeps labs of one process apart.
 */
export function createTalkLab(tag: string, net: number): TalkLab {
  const p = `sd${process.pid}${tag}`;
  const lab: TalkLab = {
    client: `${p}a`,
    server: `${p}b`,
    clientAddr: `10.214.${net}.1`,
    serverAddr: `10.214.${net}.2`,
    captureIf: `${p}ca`,
    destroy() {
      tryRun('ip', ['netns', 'del', lab.client]);
      tryRun('ip', ['netns', 'del', lab.server]);
      tryRun('ip', ['link', 'del', `${p}br`]);
      tryRun('ip', ['link', 'del', `${p}ca`]);
      tryRun('ip', ['link', 'del', `${p}cb`]);
    },
  };
  try {
    run('ip', ['netns', 'add', lab.client]);
    run('ip', ['netns', 'add', lab.server]);
    run('ip', ['link', 'add', `${p}br`, 'type', 'bridge']);
    quietV6(`${p}br`);
    for (const [side, ns, addr] of [['a', lab.client, lab.clientAddr], ['b', lab.server, lab.serverAddr]] as const) {
      const root = `${p}c${side}`;
      const peer = `${p}p${side}`;
      run('ip', ['link', 'add', root, 'type', 'veth', 'peer', 'name', peer, 'netns', ns]);
      quietV6(root);
      offloadsOff(root);
      offloadsOff(peer, ns);
      run('ip', ['link', 'set', root, 'master', `${p}br`]);
      run('ip', ['link', 'set', root, 'up']);
      inNs(ns, 'ip', ['addr', 'add', `${addr}/24`, 'dev', peer]);
      inNs(ns, 'ip', ['link', 'set', peer, 'up']);
      inNs(ns, 'ip', ['link', 'set', 'lo', 'up']);
    }
    run('ip', ['link', 'set', `${p}br`, 'up']);
  } catch (e) {
    lab.destroy();
    throw e;
  }
  return lab;
}

export interface WireLab {
  /** Namespace tcpreplay runs in. */
  ns: string;
  /** veth end inside `ns` that tcpreplay sends on. */
  replayIf: string;
  /** veth end in the root namespace, no address: what the daemon captures on. */
  captureIf: string;
  destroy(): void;
}

/** A veth pair: one end in a namespace of its own for tcpreplay, the other in the root namespace for the daemon. */
export function createWireLab(tag: string): WireLab {
  const p = `sd${process.pid}${tag}`;
  const lab: WireLab = {
    ns: p,
    replayIf: `${p}r`,
    captureIf: `${p}c`,
    destroy() {
      tryRun('ip', ['netns', 'del', lab.ns]);
      tryRun('ip', ['link', 'del', lab.captureIf]);
    },
  };
  try {
    run('ip', ['netns', 'add', lab.ns]);
    run('ip', ['link', 'add', lab.captureIf, 'type', 'veth', 'peer', 'name', lab.replayIf, 'netns', lab.ns]);
    quietV6(lab.captureIf);
    offloadsOff(lab.captureIf);
    offloadsOff(lab.replayIf, lab.ns);
    run('ip', ['link', 'set', lab.captureIf, 'up']);
    inNs(lab.ns, 'ip', ['link', 'set', lab.replayIf, 'up']);
  } catch (e) {
    lab.destroy();
    throw e;
  }
  return lab;
}
