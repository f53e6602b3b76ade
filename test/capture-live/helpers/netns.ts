import { execFileSync, spawn, type ChildProcess } from 'node:child_process';

import { until } from '../../helpers/until';

/**
 * Network namespaces and veth pairs for the live capture tests. Every name carries the test process id, so
 * parallel runs never collide, and addresses (10.213.x.x) exist only inside the namespaces.
 */

/** Runs a command, returning stdout; throws with the command's stderr as the message. */
export function run(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')}: ${(err.stderr ?? err.message).trim()}`);
  }
}

/** Like run(), but failures are ignored (teardown of something that may already be gone). */
function tryRun(cmd: string, args: string[]): void {
  try {
    run(cmd, args);
  } catch {
    // already gone
  }
}

/** Why namespace tests cannot run here, or null when they can. */
export function netnsUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'not root: creating network namespaces and veth pairs needs root';
  const probe = `snsr${process.pid}p`;
  try {
    run('ip', ['netns', 'add', probe]);
  } catch (e) {
    return `'ip netns add' failed: ${(e as Error).message}`;
  }
  tryRun('ip', ['netns', 'del', probe]);
  return null;
}

/** Runs a command inside a namespace. */
export function inNs(ns: string, cmd: string, args: string[]): string {
  return run('ip', ['netns', 'exec', ns, cmd, ...args]);
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

export interface BridgeLab {
  client: string;
  server: string;
  clientAddr: string;
  serverAddr: string;
  /** Root-namespace bridge port facing the client namespace: every client<->server packet crosses it. */
  captureIf: string;
  destroy(): void;
}

/**
 * Two namespaces (client <subnet>.1, server <subnet>.2) joined by a bridge in the root namespace that has no
 * address; the capture runs on the client's bridge port. `prefix` names every link and namespace, so labs of
 * other test files (the daemon tests use their own prefix and 10.214.x.x) never collide with these.
 */
export function createBridgeLab(prefix = `snsr${process.pid}`, subnet = '10.213.1'): BridgeLab {
  const p = prefix;
  const lab: BridgeLab = {
    client: `${p}a`,
    server: `${p}b`,
    clientAddr: `${subnet}.1`,
    serverAddr: `${subnet}.2`,
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

/**
 * Python's http.server in the lab's server namespace, serving `dir` on its address and `port`; resolves once it
 * listens (up to 20 s), else ends it and throws with what it printed.
 */
export async function startHttpServer(lab: BridgeLab, port: number, dir: string): Promise<ChildProcess> {
  const server = spawn('ip', ['netns', 'exec', lab.server, '/usr/bin/python3', '-u', '-m', 'http.server', String(port), '--bind', lab.serverAddr, '--directory', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  server.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await until(() => out.includes('Serving HTTP'), 20000);
  if (!out.includes('Serving HTTP')) {
    server.kill('SIGTERM');
    throw new Error(`http.server did not start in ${lab.server}: ${out}`);
  }
  return server;
}

export interface ReplayLab {
  /** Namespace that tcpreplay runs in. */
  ns: string;
  /** veth end inside `ns` that tcpreplay sends on. */
  replayIf: string;
  /** veth end in the root namespace, no address: what the capture opens. */
  captureIf: string;
  destroy(): void;
}

/**
 * A veth pair: one end in a namespace of its own for tcpreplay, the other in the root namespace for capture.
 * `tag` (one letter) keeps several labs of one test process apart; `prefix` those of other test files.
 */
export function createReplayLab(tag = 'r', prefix = `snsr${process.pid}`): ReplayLab {
  const p = prefix;
  const lab: ReplayLab = {
    ns: `${p}${tag}`,
    replayIf: `${p}${tag}r`,
    captureIf: `${p}${tag}c`,
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
