import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { DEFAULT_CLASSIFIER_OPTIONS } from './helpers/classifierOptions';
import { MODEL, SAMPLE } from './helpers/flowsDb';
import { testServeOptions } from './helpers/testServer';
import { DEFAULT_UNKNOWN_THRESHOLD, loadModelInfo } from '../../src/classify/classifier';
import { evalCommand } from '../../src/cli/evalCommand';
import { readWhoIsTalkingCsv } from '../../src/sink/readWhoIsTalkingCsv';
import { startServer, type SensorServer } from '../../src/serve/server';

const quiet = { info() {}, warn() {}, error() {} };
const ZEROS = new Array<number>(30).fill(0);

interface Result {
  label: string;
  verdict: string;
  confidence: number;
  topk_labels: string[];
  topk_scores: number[];
  app_service?: string;
}

async function post(server: SensorServer, body: string, type = 'application/json'): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(`${server.url}/v1/classify`, { method: 'POST', headers: { 'content-type': type }, body });
  return { status: res.status, body: await res.json(), headers: res.headers };
}

/** `sensor eval`'s table computed from the API's answers: top-1 (before the unknown rule) against app_service. */
function evalTable(results: Result[], classes: string[]): string[] {
  const stats = new Map<string, { tp: number; fp: number; fn: number; support: number }>();
  const stat = (n: string) => {
    let s = stats.get(n);
    if (s === undefined) stats.set(n, (s = { tp: 0, fp: 0, fn: 0, support: 0 }));
    return s;
  };
  let correct = 0;
  let top3 = 0;
  for (const r of results) {
    const truth = r.app_service!;
    const predicted = r.topk_labels[0]!;
    stat(truth).support++;
    if (predicted === truth) {
      correct++;
      stat(truth).tp++;
    } else {
      stat(truth).fn++;
      stat(predicted).fp++;
    }
    if (classes.includes(truth) && r.topk_labels.slice(0, 3).includes(truth)) top3++;
  }
  const f1 = (s: { tp: number; fp: number; fn: number }) => {
    const p = s.tp + s.fp > 0 ? s.tp / (s.tp + s.fp) : 0;
    const rc = s.tp + s.fn > 0 ? s.tp / (s.tp + s.fn) : 0;
    return { p, rc, f: p + rc > 0 ? (2 * p * rc) / (p + rc) : 0 };
  };
  const labelled = [...stats.entries()].filter(([, s]) => s.support > 0).sort(([a], [b]) => (a < b ? -1 : 1));
  const macro = labelled.reduce((a, [, s]) => a + f1(s).f, 0) / labelled.length;
  const lines = [`accuracy ${(correct / results.length).toFixed(4)}  macro-F1 ${macro.toFixed(4)}  top-3 accuracy ${(top3 / results.length).toFixed(4)}`];
  const width = Math.max(5, ...labelled.map(([n]) => n.length));
  lines.push(`${'class'.padEnd(width)}  support  precision  recall  f1`);
  for (const [n, s] of labelled) {
    const m = f1(s);
    lines.push(`${n.padEnd(width)}  ${String(s.support).padStart(7)}  ${m.p.toFixed(4).padStart(9)}  ${m.rc.toFixed(4).padStart(6)}  ${m.f.toFixed(4)}`);
  }
  return lines;
}

describe('POST /v1/classify: the sensor\'s classifier as a service', () => {
  let server: SensorServer;
  beforeAll(async () => {
    server = await startServer(testServeOptions(null, quiet));
  }, 60_000);
  afterAll(async () => server?.close());

  it('gives the labels `sensor eval` gives on the same who\'s-talking rows (CSV body), and the same for the JSON body', async () => {
    let evalOut = '';
    const sink = new Writable({ write: (c: Buffer, _e, cb) => ((evalOut += c.toString()), cb()) });
    expect(await evalCommand({ csv: SAMPLE, model: MODEL, out: sink })).toBe(0);

    const csv = await post(server, readFileSync(SAMPLE, 'utf8'), 'text/csv');
    expect(csv.status).toBe(200);
    const results = csv.body.results as Result[];
    const { rows } = await readWhoIsTalkingCsv(SAMPLE);
    expect(results).toHaveLength(rows.length);
    expect(results.map((r) => r.app_service)).toEqual(rows.map((r) => r.label));
    const classes = ((await (await fetch(`${server.url}/v1/model`)).json()) as { classes: string[] }).classes;
    const expected = evalOut.trim().split('\n').slice(2);
    expect(evalTable(results, classes)).toEqual(expected);

    const json = await post(server, JSON.stringify(rows.map((r) => r.lengths)));
    expect(json.status).toBe(200);
    expect(json.body.results).toEqual(results.map(({ app_service: _, ...r }) => r));
    expect(json.body.model_version).toBe(csv.body.model_version);
  });

  it('applies the sensor\'s rules: unknown below the threshold or on a background class, no-payload without payload, top-k best first', async () => {
    const info = await loadModelInfo(DEFAULT_CLASSIFIER_OPTIONS.modelPath);
    const threshold = DEFAULT_CLASSIFIER_OPTIONS.unknownThreshold ?? info.unknownThreshold ?? DEFAULT_UNKNOWN_THRESHOLD;
    const { rows } = await readWhoIsTalkingCsv(SAMPLE);
    // Rows of many classes, and rows of the background class (other protocols: the rule says unknown).
    const picks = [
      ...rows.filter((_, i) => i % 9 === 0).slice(0, 50),
      ...rows.filter((x) => info.backgroundClasses.includes(x.label)).slice(0, 10),
    ];
    const r = await post(server, JSON.stringify([...picks.map((x) => x.lengths), ZEROS]));
    const results = r.body.results as Result[];
    for (const x of results.slice(0, picks.length)) {
      expect(x.topk_labels).toHaveLength(3);
      expect(x.topk_scores[0]).toBe(x.confidence);
      expect([...x.topk_scores].sort((a, b) => b - a)).toEqual(x.topk_scores);
      if (x.confidence >= threshold && !info.backgroundClasses.includes(x.topk_labels[0]!)) {
        expect([x.label, x.verdict]).toEqual([x.topk_labels[0], 'classified']);
      } else {
        expect([x.label, x.verdict]).toEqual(['unknown', 'unknown']);
      }
    }
    expect(results.some((x) => x.verdict === 'unknown')).toBe(true);
    expect(results[picks.length]).toEqual({ label: 'no-payload', verdict: 'no-payload', confidence: 0, topk_labels: [], topk_scores: [] });
  });

  it('batches concurrent requests into shared inference calls and answers each with its own rows', async () => {
    const { rows } = await readWhoIsTalkingCsv(SAMPLE);
    const picks = rows.filter((_, i) => i % 7 === 0).slice(0, 40);
    const alone = (await post(server, JSON.stringify(picks.map((p) => p.lengths)))).body.results as Result[];
    const batchesBefore = server.classify!.stats.batches;
    // Requests that arrive together (here: injected in one turn of the event loop, so arrival timing is not
    // left to the test machine's load) share one inference call.
    const answers = await Promise.all(
      picks.map((p) =>
        server.app.inject({ method: 'POST', url: '/v1/classify', headers: { 'content-type': 'application/json' }, payload: JSON.stringify([p.lengths]) }),
      ),
    );
    const batches = server.classify!.stats.batches - batchesBefore;
    expect(answers.map((a) => a.statusCode)).toEqual(picks.map(() => 200));
    expect(answers.map((a) => (a.json() as { results: Result[] }).results[0])).toEqual(alone);
    expect(batches).toBeLessThan(picks.length / 2);
  });

  it('refuses work beyond its queue bound with 503 and Retry-After instead of queueing without limit', async () => {
    const small = await startServer({ ...testServeOptions(null, quiet), maxQueued: 100 });
    try {
      const r = await post(small, JSON.stringify(new Array(101).fill([100, -200, ...ZEROS.slice(2)])));
      expect(r.status).toBe(503);
      expect(r.headers.get('retry-after')).toBe('1');
      expect(r.body.error).toMatch(/^classifier busy/);
      expect((await post(small, JSON.stringify(new Array(100).fill([100, -200, ...ZEROS.slice(2)])))).status).toBe(200);
    } finally {
      await small.close();
    }
  });
});
