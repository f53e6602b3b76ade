import { execFile, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { KNOWN_FLOWS, knownFlowClient, UNKNOWN_THRESHOLD, writeKnownFlowsCapture } from '../helpers/shippedModel';
import { until } from '../helpers/until';
import { availableEngines, createWireLab, daemonSuite, labUnavailable } from './helpers/daemonLab';
import { BIN, Daemon, LogLine, ROOT } from './helpers/daemonProcess';
import { DbFlow, flowKey, readFlows } from './helpers/flowsDb';
import { type SynthSummary, writeReplayCapture } from '../helpers/synthCapture';

/**
 * README "Live capture": a capture replayed with tcpreplay into a veth pair while the daemon captures the other
 * end gives the same flows and sequences as the offline run of the same file. Asserted: every packet sent is
 * decoded or counted as lost (kernel drops, veth drops); when nothing was lost every
 * flow is equal and there is no other; when something was, no more flows differ, are missing or are extra (a
 * flow whose first packets were lost can change sides) than packets were lost.
 *
 * Each engine runs twice: with the native fast path (round perf39: the live batches' common packets go from the batch
 * to the flow table in C++; its debug line says how many it took) and with SENSOR_FASTPATH=0 (every packet through the
 * JavaScript path), so both ways are held to the offline records. And each way again on Linux's `any` pseudo-interface
 * (round perf44: DLT_LINUX_SLL, 16-byte cooked headers instead of Ethernet, which the fast path takes since then), with a
 * BPF filter on the replay's 10.214/16 so that nothing else on the host's interfaces is counted.
 *
 * SENSOR_DAEMON_REPLAY_PACKETS sets the capture size (default 300000: 300,061 packets in 4,992 flows, the README's
 * figures); the replay runs at --topspeed. Rates and counters are printed.
 */

const exec = promisify(execFile);
const PACKETS = Number(process.env.SENSOR_DAEMON_REPLAY_PACKETS ?? 300000);

const labReason = labUnavailable();
const tcpreplayReason = spawnSync('tcpreplay', ['--version']).status === 0 ? null : 'tcpreplay is not installed (apt-get install tcpreplay)';
const skipped = labReason ?? tcpreplayReason;
if (skipped !== null) console.warn(`daemon replay equality skipped: ${skipped}`);
const engines = availableEngines();

function rxDropped(dev: string): number {
  return Number(readFileSync(`/sys/class/net/${dev}/statistics/rx_dropped`, 'utf8').trim());
}

interface Comparison {
  offline: number;
  live: number;
  /** Offline flows found live with the same key and the same lengths. */
  equal: number;
  /** Offline flows found live with other lengths. */
  differ: number;
  /** Offline flows not found live. */
  missing: number;
  /** Live flows with no offline counterpart. */
  extra: number;
}

function compare(offline: DbFlow[], live: DbFlow[]): Comparison {
  const byKey = new Map<string, DbFlow>();
  for (const f of live) byKey.set(flowKey(f), f);
  let equal = 0;
  let differ = 0;
  let missing = 0;
  const offlineKeys = new Set<string>();
  for (const f of offline) {
    const k = flowKey(f);
    offlineKeys.add(k);
    const l = byKey.get(k);
    if (l === undefined) missing++;
    else if (JSON.stringify(l.lengths) === JSON.stringify(f.lengths)) equal++;
    else differ++;
  }
  const extra = live.filter((f) => !offlineKeys.has(flowKey(f))).length;
  return { offline: offline.length, live: live.length, equal, differ, missing, extra };
}

describe.skipIf(skipped !== null)(`sensor daemon: tcpreplay equals the offline run${skipped ? ` (skipped: ${skipped})` : ''}`, () => {
  let file = '';
  let synth: SynthSummary;
  let offline: DbFlow[] = [];
  const suite = daemonSuite('replay', () => createWireLab('w'), (s) => {
    file = path.join(s.dir, 'replay.pcap');
    let t = Date.now();
    synth = writeReplayCapture(file, PACKETS);
    const genMs = Date.now() - t;
    t = Date.now();
    const db = path.join(s.dir, 'offline.db');
    const r = spawnSync(process.execPath, [BIN, '--pcap', file, '--db', db, '--no-classify'], { cwd: ROOT, encoding: 'utf8', timeout: 120000 });
    if (r.status !== 0) throw new Error(`offline run failed (exit ${r.status}): ${r.stderr}`);
    offline = readFlows(db);
    console.log(
      `replay capture: ${synth.packets} packets, ${synth.flows} flows, ${(synth.bytes / 1e6).toFixed(1)} MB, generated in ${genMs} ms; ` +
        `offline run ${Date.now() - t} ms, ${offline.length} flows`,
    );
  });

  it('the offline run has every flow of the capture (300,061 packets, 4,992 flows at the default size)', () => {
    expect(offline).toHaveLength(synth.flows);
    if (PACKETS === 300000) expect([synth.packets, synth.flows]).toEqual([300061, 4992]);
  });

  for (const engine of engines) for (const onAny of [false, true]) for (const fast of [true, false]) {
    const way = `${onAny ? 'on `any` (Linux cooked SLL), ' : ''}${fast ? 'fast path' : 'SENSOR_FASTPATH=0'}`;
    it(`${engine} at --topspeed, ${way}: the offline flows and sequences; every lost packet counted`, async () => {
      const t0 = Date.now();
      const db = path.join(suite.dir, `live-${engine}-${onAny ? 'any-' : ''}${fast ? 'fast' : 'js'}.db`);
      const cfg = path.join(suite.dir, `live-${engine}.json`);
      writeFileSync(cfg, JSON.stringify({ stats: { intervalSeconds: 1 } }));
      const where = onAny ? ['--interface', 'any', '--filter', 'tcp and net 10.214.0.0/16'] : ['--interface', suite.lab.captureIf];
      const d = new Daemon(
        [...where, '--db', db, '--config', cfg, '--no-classify', '--engine', engine, '--log-level', 'debug'],
        fast ? {} : { SENSOR_FASTPATH: '0' },
      );
      suite.track(d);
      await d.started();
      // `any` delivers Linux cooked (SLL) frames with libpcap 1.10; the interface itself, Ethernet.
      const started = d.messages('capture started')[0] as (LogLine & { link_type?: number }) | undefined;
      expect(started?.link_type, d.logText()).toBe(onAny ? 113 : 1);
      const vethBefore = rxDropped(suite.lab.captureIf);
      const speed = ['--topspeed'];
      const tr = Date.now();
      const { stdout } = await exec('ip', ['netns', 'exec', suite.lab.ns, 'tcpreplay', ...speed, '-i', suite.lab.replayIf, file], { timeout: 120000 });
      const replayMs = Date.now() - tr;
      const sent = Number(/Actual: (\d+) packets/.exec(stdout)?.[1] ?? -1);
      const pps = Number(/Rated: .*?, ([\d.]+) pps/.exec(stdout)?.[1] ?? -1);
      // The counters stop rising once the kernel ring is drained: 2 s without change.
      await d.packetsSettled(1, 2000, 60000);
      const vethDropped = rxDropped(suite.lab.captureIf) - vethBefore;
      const exit = await d.stop('SIGTERM');
      expect(exit.code, d.logText()).toBe(0);
      const stopped = d.messages('stopped')[0];
      expect(stopped, d.logText()).toBeDefined();
      const final = stopped as LogLine &
        Record<'packets_received' | 'tcp_packets' | 'kernel_drops' | 'interface_drops' | 'frames_decoded' | 'packets_unread', number> & { anomalies: Record<string, number> };

      const c = compare(offline, readFlows(db));
      const share = c.equal / c.offline;
      const fastLine = d.messages('fast path')[0] as (LogLine & { packets: number; calls: number; stops: Record<string, number> }) | undefined;
      console.log(
        `replay ${engine}, ${way}: fast path took ${fastLine === undefined ? 'none' : `${fastLine.packets} packets in ${fastLine.calls} calls ${JSON.stringify(fastLine.stops)}`}; rate=top achieved=${Math.round(pps)} pps in ${replayMs} ms, sent=${sent}, ` +
          `received=${final.packets_received} decoded=${final.tcp_packets} frames=${final.frames_decoded} unread=${final.packets_unread} ` +
          `anomalies=${JSON.stringify(final.anomalies)} kernel_drops=${final.kernel_drops} ` +
          `interface_drops=${final.interface_drops} veth_rx_dropped=${vethDropped}; flows offline=${c.offline} live=${c.live} ` +
          `equal=${c.equal} (${(100 * share).toFixed(2)}%) differ=${c.differ} missing=${c.missing} extra=${c.extra}; ` +
          `test ${Date.now() - t0} ms`,
      );

      expect(sent).toBe(synth.packets);
      // The fast path ran (the addon is built for the tests) and took most packets, or was off.
      if (fast) expect(fastLine?.packets ?? 0, d.logText()).toBeGreaterThan(final.tcp_packets / 2);
      else expect(fastLine).toBeUndefined();
      // Drops reported, zero or counted: every packet the kernel accepted was decoded or counted as dropped,
      // and whatever the veth itself could not queue towards the socket makes up the rest of what was sent.
      expect(final.packets_received).toBe(final.tcp_packets + final.kernel_drops);
      expect(final.packets_received + vethDropped).toBe(sent);
      // Nothing lost: every flow equal. Something lost: each lost packet spoils at most one flow.
      const lost = sent - final.tcp_packets;
      if (lost === 0) expect(c).toMatchObject({ equal: c.offline, live: c.offline, differ: 0, missing: 0, extra: 0 });
      else expect(Math.max(c.differ + c.missing, c.extra)).toBeLessThanOrEqual(lost);
    }, 120000);
  }
  it(`the shipped model names the known flows captured live (${KNOWN_FLOWS.map((f) => f.label).join(', ')}) above the unknown threshold`, async () => {
    const known = path.join(suite.dir, 'known.pcap');
    writeKnownFlowsCapture(known);
    const db = path.join(suite.dir, 'live-shipped.db');
    const cfg = path.join(suite.dir, 'live-shipped.json');
    writeFileSync(cfg, JSON.stringify({ flow: { finGrace: 0 } }));
    // No --model: the daemon loads models/sensor.onnx, as a default install does.
    const d = new Daemon(['--interface', suite.lab.captureIf, '--db', db, '--config', cfg, '--device', 'cpu', '--engine', engines[0]!]);
    suite.track(d);
    await d.started();
    await exec('ip', ['netns', 'exec', suite.lab.ns, 'tcpreplay', '--topspeed', '-i', suite.lab.replayIf, known], { timeout: 60000 });
    await until(() => readFlows(db).length >= KNOWN_FLOWS.length, 30000);
    const exit = await d.stop('SIGTERM');
    expect(exit.code, d.logText()).toBe(0);
    const flows = readFlows(db);
    expect(flows, d.logText()).toHaveLength(KNOWN_FLOWS.length);
    KNOWN_FLOWS.forEach((f, i) => {
      const row = flows.find((x) => x.client_ip === knownFlowClient(i))!;
      console.log(`daemon, shipped model ${row.model_version}: ${f.label} flow -> ${row.label} ${row.confidence}`);
      expect(row).toMatchObject({ server_port: f.serverPort, end_reason: 'fin', label: f.label });
      expect(row.lengths.slice(0, f.lengths.length)).toEqual(f.lengths);
      expect(row.confidence).toBeGreaterThanOrEqual(UNKNOWN_THRESHOLD);
    });
  }, 90000);
});
