import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { until } from '../helpers/until';
import { availableEngines, labUnavailable, talkSuite } from './helpers/daemonLab';
import { Daemon, openConnections, ROOT } from './helpers/daemonProcess';
import { addEarlierFlows, EARLIER_RUN, peerLengths, readFlows } from './helpers/flowsDb';

/**
 * The daemon as a process on a bridge port between two namespaces: SIGTERM/SIGINT flush every open connection
 * with end_reason 'shutdown' and exit 0; SIGHUP reloads the config and model, refusing a model that breaks the
 * contract while the running one carries on.
 */

const PORT = 7001;
const HELD = 20;
const MODEL = path.join(ROOT, 'test/fixtures/model/fixture.onnx');
const BROKEN = path.join(ROOT, 'test/fixtures/model/broken/missing-classes.onnx');
const BROKEN_WIDTH = path.join(ROOT, 'test/fixtures/model/broken/wrong-width.onnx');
const ANOMALY = path.join(ROOT, 'test/fixtures/anomaly/fixture.onnx');
const ANOMALY_BROKEN = path.join(ROOT, 'test/fixtures/anomaly/broken/no-counters.onnx');
const ANOMALY_BUNDLED = path.join(ROOT, 'models/anomaly.onnx');

const skipped = labUnavailable();
if (skipped !== null) console.warn(`daemon signal tests skipped: ${skipped}`);
const engines = availableEngines();

/**
 * fixture.onnx with its model_version changed from fixture-1 to fixture-2 (same length, so the protobuf framing
 * is untouched): a second valid model that SIGHUP can switch to and that the records can tell apart.
 */
function secondModel(dir: string): string {
  const bytes = readFileSync(MODEL);
  const at = bytes.indexOf('fixture-1');
  if (at < 0 || bytes.indexOf('fixture-1', at + 1) >= 0) throw new Error(`${MODEL}: expected exactly one "fixture-1" (its model_version)`);
  const out = path.join(dir, 'fixture-v2.onnx');
  bytes.write('fixture-2', at, 'latin1');
  writeFileSync(out, bytes);
  return out;
}

describe.skipIf(skipped !== null)(`sensor daemon signals${skipped ? ` (skipped: ${skipped})` : ''}`, () => {
  const suite = talkSuite('sig', 's', 1, PORT);

  const stops: [NodeJS.Signals, number, 'addon'][] = [
    ['SIGTERM', HELD, engines[0]!],
    // SIGINT on the other engine where there is one, so both engines go through a shutdown flush.
    ['SIGINT', 8, engines[engines.length - 1]!],
  ];
  for (const [signal, count, engine] of stops) {
    it(`${signal} (${engine}): ${count} connections held open are all written with end_reason shutdown, exit 0`, async () => {
      const t0 = Date.now();
      const db = path.join(suite.dir, `${signal}.db`);
      const cfg = path.join(suite.dir, `${signal}.json`);
      writeFileSync(cfg, JSON.stringify({ stats: { intervalSeconds: 1 } }));
      const req = signal === 'SIGTERM' ? 201 : 202;
      const d = new Daemon(['--interface', suite.lab.captureIf, '--db', db, '--config', cfg, '--model', MODEL, '--engine', engine]);
      suite.track(d);
      await d.started();
      const clients = await openConnections(suite.lab.client, suite.lab.serverAddr, PORT, count, req, 'hold');
      suite.track(clients);
      // Handshake, request, answer and their ACKs: at least 6 packets per connection, then quiet.
      const seen = await d.packetsSettled(6 * count, 1500, 30000);
      expect(seen, d.logText()).toBeGreaterThanOrEqual(6 * count);
      expect(readFlows(db)).toHaveLength(0);

      const exit = await d.stop(signal);
      clients.kill();
      console.log(`daemon ${signal} ${engine}: exit ${JSON.stringify(exit)}, ${count} held connections, test ${Date.now() - t0} ms`);
      expect(exit.signal, d.logText()).toBeNull();
      expect(exit.code, d.logText()).toBe(0);
      // "Within a few seconds": a generous bound, far above the flush of a few flows.
      expect(exit.ms).toBeLessThan(15000);

      const flows = readFlows(db);
      expect(flows).toHaveLength(count);
      expect(new Set(flows.map((f) => f.client_port)).size).toBe(count);
      for (const f of flows) {
        expect(f.end_reason).toBe('shutdown');
        expect(f.client_ip).toBe(suite.lab.clientAddr);
        expect(f.server_ip).toBe(suite.lab.serverAddr);
        expect(f.server_port).toBe(PORT);
        expect(f.lengths).toEqual(peerLengths(req));
        // Inference finished before exit: every record carries the model's verdict.
        expect(f.model_version).toBe('fixture-1');
      }
      const stopping = d.messages('stopping');
      expect(stopping).toHaveLength(1);
      expect(stopping[0]!.signal).toBe(signal);
      const final = d.messages('stopped');
      expect(final, d.logText()).toHaveLength(1);
      const ended = final[0]!.flows_ended as Record<string, number>;
      expect(Object.entries(ended).filter(([, n]) => n > 0)).toEqual([['shutdown', count]]);
      expect(final[0]!.flows_written).toBe(count);
      expect(final[0]!.packets_received).toBeGreaterThanOrEqual(6 * count);
      if (engine === 'addon') expect(final[0]!.kernel_drops).toBe(0);
      expect(d.lines.filter((l) => l.level === 'error')).toEqual([]);
    });
  }

  it('SIGHUP: a broken model is refused and the old one keeps classifying; a valid one is swapped in (classifier and anomaly model)', async () => {
    const t0 = Date.now();
    const db = path.join(suite.dir, 'hup.db');
    const cfg = path.join(suite.dir, 'hup.json');
    const v2 = secondModel(suite.dir);
    // finGrace 0: a closed connection is written at the next tick, so each phase's flows land before the next reload.
    const config = (model: string, anomaly = ANOMALY): string =>
      JSON.stringify({ classify: { model }, anomaly: { model: anomaly }, flow: { finGrace: 0 }, stats: { intervalSeconds: 1 } });
    writeFileSync(cfg, config(MODEL));
    const d = new Daemon(['--interface', suite.lab.captureIf, '--db', db, '--config', cfg]);
    suite.track(d);
    await d.started();

    /** Opens and closes `n` connections with request size `req`; returns their records once all are written. */
    const phase = async (req: number, n: number) => {
      const c = await openConnections(suite.lab.client, suite.lab.serverAddr, PORT, n, req, 'close');
      c.kill();
      const mine = () => readFlows(db, "json_extract(lengths, '$[0]') = ?", [req]);
      await until(() => mine().length >= n, 30000);
      return mine();
    };
    const hup = async (configText: string, message: RegExp) => {
      const before = d.lines.length;
      writeFileSync(cfg, configText);
      d.proc.kill('SIGHUP');
      const line = await d.waitForLine((l) => d.lines.indexOf(l) >= before && message.test(l.message), 30000);
      expect(line, d.logText()).toBeDefined();
      return line!;
    };

    const first = await phase(301, 4);
    expect(first.map((f) => [f.end_reason, f.model_version, f.lengths])).toEqual(Array(4).fill(['fin', 'fixture-1', peerLengths(301)]));

    const refused = await hup(config(BROKEN), /^reload refused/);
    expect(refused.level).toBe('error');
    // The line names the file and what is wrong with it.
    expect(refused.message).toContain('missing-classes.onnx');
    expect(refused.message).toContain("metadata 'classes' is missing");
    const refused2 = await hup(config(BROKEN_WIDTH), /^reload refused/);
    expect(refused2.message).toContain('wrong-width.onnx');
    expect(refused2.message).toMatch(/3 wide .* 2 classes/);
    // A config file that no longer parses is refused the same way, naming the file.
    const refused3 = await hup('{ "classify": ', /^reload refused/);
    expect(refused3.message).toContain(`Config ${cfg} is not valid JSON`);
    expect(d.exit).toBeNull();
    const during = await phase(302, 4);
    expect(during.map((f) => [f.model_version, f.label === 'classify-error'])).toEqual(Array(4).fill(['fixture-1', false]));

    const reloaded = await hup(config(v2), /^reloaded$/);
    expect(reloaded.model).toBe(v2);
    expect(reloaded.version).toBe('fixture-2');
    const after = await phase(303, 4);
    expect(after.map((f) => [f.model_version, f.lengths])).toEqual(Array(4).fill(['fixture-2', peerLengths(303)]));
    // The fixture anomaly model scored them: 10 * REJ + earlier flows of the same shape + log(1 + |first length|) / 100.
    expect(after.every((f) => f.anomaly_score !== null && f.anomaly_score >= Math.log(304) / 100 - 1e-6)).toBe(true);

    // The anomaly model reloads the same way: a broken one is refused, a valid one swapped in.
    const refused4 = await hup(config(v2, ANOMALY_BROKEN), /^reload refused/);
    expect(refused4.message).toContain("no-counters.onnx: metadata 'anomaly_counters' is missing");
    const swapped = await hup(config(v2, ANOMALY_BUNDLED), /^reloaded$/);
    expect(swapped.anomaly_model).toBe(ANOMALY_BUNDLED);
    expect(swapped.anomaly_version).toMatch(/^anomaly-ae-/);

    const exit = await d.stop('SIGTERM');
    console.log(`daemon SIGHUP: exit ${JSON.stringify(exit)}, test ${Date.now() - t0} ms`);
    expect(exit.code, d.logText()).toBe(0);
    expect(readFlows(db)).toHaveLength(12);
    // Only the four refusals are errors.
    expect(d.lines.filter((l) => l.level === 'error')).toHaveLength(4);
  });

  it('SIGHUP applies new stats and retention settings, and names the settings that wait for a restart', async () => {
    const t0 = Date.now();
    const db = path.join(suite.dir, 'hup-settings.db');
    const cfg = path.join(suite.dir, 'hup-settings.json');
    const OLD = 50;
    addEarlierFlows(db, OLD, Date.now() / 1000 - 30 * 86400);
    // No stats lines and no retention at start.
    writeFileSync(cfg, JSON.stringify({ stats: { intervalSeconds: 0 } }));
    const jsonl = path.join(suite.dir, 'hup-settings.jsonl');
    const d = new Daemon(['--interface', suite.lab.captureIf, '--db', db, '--jsonl', jsonl, '--config', cfg, '--no-classify']);
    suite.track(d);
    await d.started();
    await new Promise((r) => setTimeout(r, 1500));
    expect(d.messages('stats')).toHaveLength(0);
    // logrotate moves the JSON-lines file away before it sends SIGHUP.
    renameSync(jsonl, `${jsonl}.1`);
    expect(readFlows(db, 'source = ?', [EARLIER_RUN])).toHaveLength(OLD);

    const before = d.lines.length;
    writeFileSync(
      cfg,
      JSON.stringify({
        stats: { intervalSeconds: 1 },
        retention: { maxAgeDays: 7, intervalSeconds: 1 },
        flow: { idleTimeout: 30 },
        capture: { filter: 'tcp port 7001' },
      }),
    );
    d.proc.kill('SIGHUP');
    const reloaded = await d.waitForLine((l) => d.lines.indexOf(l) >= before && l.message === 'reloaded', 30000);
    expect(reloaded, d.logText()).toBeDefined();
    expect(existsSync(jsonl), 'SIGHUP reopens the JSON-lines file at its path').toBe(true);
    // Settings the running capture and flow table cannot take are named, with what to do.
    const later = d.lines.slice(before).filter((l) => l.level === 'warn');
    expect(later.map((l) => l.message).join('\n')).toMatch(/capture\.filter.*flow\.idleTimeout.*restart/);
    console.log(`daemon SIGHUP settings: ${later.map((l) => l.message).join(' | ')}`);

    await until(() => readFlows(db, 'source = ?', [EARLIER_RUN]).length === 0 && d.messages('stats').length >= 2, 30000);
    expect(readFlows(db, 'source = ?', [EARLIER_RUN]), d.logText()).toHaveLength(0);
    expect(d.messages('retention')[0]?.deleted_rows).toBe(OLD);
    expect(d.messages('stats').length).toBeGreaterThanOrEqual(2);

    const exit = await d.stop('SIGTERM');
    console.log(`daemon SIGHUP settings: exit ${JSON.stringify(exit)}, test ${Date.now() - t0} ms`);
    expect(exit.code, d.logText()).toBe(0);
    expect(d.lines.filter((l) => l.level === 'error')).toEqual([]);
  });
});
