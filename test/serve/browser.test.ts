import { existsSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';

import Database from 'better-sqlite3';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { REPO, START, type FlowsDb } from './helpers/flowsDb';
import { closeServedFlowsDb, serveFlowsDb, type ServedFlowsDb } from './helpers/testServer';
import { writeReport } from '../../src/report/report';
import type { SensorServer } from '../../src/serve/server';

/**
 * The web view and the report in a real browser: Debian's chromium, driven by playwright-core (which never
 * downloads a browser). Screenshots are kept under artifacts/ (not committed).
 */
const CHROMIUM = [process.env.SENSOR_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => p !== undefined && p !== '' && existsSync(p));
const ARTIFACTS = path.join(REPO, 'artifacts');
const CHARTS = ['apps', 'talkers', 'services', 'unknown', 'confidence'];
const quiet = { info() {}, warn() {}, error() {} };

/** The few browser globals the page-side callbacks below touch (they run in Chromium, not in Node). */
interface Canvas {
  width: number;
  height: number;
  dataset: Record<string, string>;
  getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } };
}
declare const document: {
  body: { dataset: Record<string, string> };
  querySelectorAll<T = { dataset: Record<string, string> }>(selector: string): ArrayLike<T>;
};
declare const window: unknown;

const NO_CHROMIUM = 'no chromium (apt-get install chromium, or set SENSOR_CHROMIUM to a Chromium binary)';
if (CHROMIUM === undefined) process.stderr.write(`test/serve/browser: skipped: ${NO_CHROMIUM}\n`);

interface ChartState {
  name: string;
  datasets: number;
  points: number;
  sum: number;
  /** Canvas pixels that are not transparent: the chart really drew. */
  inked: number;
}

/** What each chart on the page holds and whether it drew. */
async function chartStates(page: Page): Promise<ChartState[]> {
  return page.evaluate(() => {
    const Chart = (window as { Chart: { getChart(c: Canvas): { data: { datasets: { data: (number | null)[] }[] } } | undefined } }).Chart;
    return Array.from(document.querySelectorAll<Canvas>('canvas[data-chart]')).map((c) => {
      const chart = Chart.getChart(c);
      const ds = chart?.data.datasets ?? [];
      const values = ds.flatMap((d) => d.data).filter((v): v is number => typeof v === 'number');
      const px = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let inked = 0;
      for (let i = 3; i < px.length; i += 4) if (px[i]! > 0) inked++;
      return { name: c.dataset.chart!, datasets: ds.length, points: values.length, sum: values.reduce((a, b) => a + Math.abs(b), 0), inked };
    });
  });
}

async function tableIds(page: Page): Promise<number[]> {
  return page.$$eval('#flows tbody tr', (trs) => trs.map((tr) => Number((tr as unknown as { dataset: Record<string, string> }).dataset.id)));
}

async function filterBy(page: Page, field: string, value: string): Promise<void> {
  await page.click('#filters button[type=reset]');
  const el = await page.$(`#filters [name=${field}]`);
  const tag = await el!.evaluate((e) => e.tagName);
  if (tag === 'SELECT') await page.selectOption(`#filters [name=${field}]`, value);
  else await page.fill(`#filters [name=${field}]`, value);
  await page.click('#filters button[type=submit]');
}

describe.skipIf(CHROMIUM === undefined)(`web view and report in Chromium${CHROMIUM === undefined ? ` (skipped: ${NO_CHROMIUM})` : ''}`, () => {
  let served: ServedFlowsDb | undefined;
  let fx: FlowsDb;
  let server: SensorServer;
  let browser: Browser;
  let ids: { id: number; label: string; conn_state: string }[];

  beforeAll(async () => {
    served = await serveFlowsDb('sensor-serve-browser-', quiet);
    ({ fx, server } = served);
    const db = new Database(fx.db, { readonly: true });
    ids = db.prepare('SELECT id, label, conn_state FROM flows ORDER BY id DESC').all() as typeof ids;
    db.close();
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM!, args: ['--no-sandbox', '--disable-gpu'] });
    mkdirSync(ARTIFACTS, { recursive: true });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await closeServedFlowsDb(served);
  });

  async function open(url: string): Promise<{ page: Page; problems: string[]; requests: string[] }> {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const problems: string[] = [];
    const requests: string[] = [];
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(url);
    await page.waitForFunction(() => document.body.dataset.state !== 'loading', null, { timeout: 30_000 });
    return { page, problems, requests };
  }

  async function expectChartsDrawn(page: Page, names: string[]): Promise<void> {
    const states = await chartStates(page);
    expect(states.map((s) => s.name).sort()).toEqual([...names].sort());
    for (const s of states) {
      expect(s.datasets, s.name).toBeGreaterThan(0);
      expect(s.sum, `${s.name} has data`).toBeGreaterThan(0);
      expect(s.inked, `${s.name} drew on its canvas`).toBeGreaterThan(2000);
    }
  }

  it('the page draws every chart from the API and lists the latest flows; filters and paging work', async () => {
    const { page, problems } = await open(server.url + '/');
    expect(await page.evaluate(() => document.body.dataset.state)).toBe('ready');
    expect(problems).toEqual([]);
    // The sensor's monitor wrote its windows while the fixture was made (README "Watching the model").
    await expectChartsDrawn(page, [...CHARTS, 'monitor:monitor_windows']);
    // The stacked chart holds one series per application (top 10, unknown, the rest as 'other').
    const apps = (await chartStates(page)).find((s) => s.name === 'apps')!;
    expect(apps.sum).toBe(ids.length);
    expect(await tableIds(page)).toEqual(ids.slice(0, 100).map((r) => r.id));
    expect(await page.textContent('#monitor-body')).toContain('monitor_windows');
    await page.screenshot({ path: path.join(ARTIFACTS, 'serve-page.png'), fullPage: true });

    await filterBy(page, 'label', 'ssh');
    await page.waitForFunction((n) => document.querySelectorAll('#flows tbody tr').length === n, ids.filter((r) => r.label === 'ssh').length);
    expect(await tableIds(page)).toEqual(ids.filter((r) => r.label === 'ssh').map((r) => r.id));
    expect(await page.$$eval('#flows tbody td.label', (tds) => [...new Set(tds.map((t) => t.textContent))])).toEqual(['ssh']);

    await filterBy(page, 'conn_state', 'REJ');
    const rej = ids.filter((r) => r.conn_state === 'REJ').map((r) => r.id);
    await page.waitForFunction((n) => document.querySelectorAll('#flows tbody tr').length === n, rej.length);
    expect(await tableIds(page)).toEqual(rej);

    await page.click('#filters button[type=reset]');
    await page.waitForFunction(() => document.querySelectorAll('#flows tbody tr').length === 100);
    await page.click('#older');
    await page.waitForFunction(() => document.querySelectorAll('#flows tbody tr').length === 200);
    expect(await tableIds(page)).toEqual(ids.slice(0, 200).map((r) => r.id));
    expect(problems).toEqual([]);
    await page.close();
  }, 120_000);

  it('shows drift and accuracy charts of whatever monitor tables the database has', async () => {
    const w = new Database(fx.db);
    w.exec('CREATE TABLE IF NOT EXISTS monitor_extra (window_start REAL, psi REAL, accuracy REAL, flows INTEGER)');
    const ins = w.prepare('INSERT INTO monitor_extra VALUES (?, ?, ?, ?)');
    for (let h = 0; h < 24; h++) ins.run(START + h * 3600, 0.02 + h * 0.01, 0.97 - h * 0.005, 100 + h);
    w.close();
    const { page, problems } = await open(server.url + '/');
    await expectChartsDrawn(page, [...CHARTS, 'monitor:monitor_windows', 'monitor:monitor_extra']);
    expect(await page.textContent('#monitor')).toContain('monitor_extra');
    expect(problems).toEqual([]);
    await page.close();
  }, 120_000);

  it('the report is one self-contained file: the same charts and table, nothing fetched', async () => {
    const out = path.join(fx.dir, 'report.html');
    const r = writeReport({ db: fx.db, out });
    expect(r.flows).toBe(ids.length);
    const { page, problems, requests } = await open(`file://${out}`);
    expect(problems).toEqual([]);
    expect(requests.filter((u) => !u.startsWith('file://') && !u.startsWith('data:'))).toEqual([]);
    await expectChartsDrawn(page, [...CHARTS, 'monitor:monitor_windows', 'monitor:monitor_extra']);
    expect(await tableIds(page)).toEqual(ids.slice(0, 100).map((x) => x.id));
    await filterBy(page, 'label', 'tls');
    await page.waitForFunction((n) => document.querySelectorAll('#flows tbody tr').length === n, ids.filter((x) => x.label === 'tls').length);
    expect(await tableIds(page)).toEqual(ids.filter((x) => x.label === 'tls').map((x) => x.id));
    await page.click('#filters button[type=reset]');
    await page.waitForFunction(() => document.querySelectorAll('#flows tbody tr').length === 100);
    await page.screenshot({ path: path.join(ARTIFACTS, 'report.png'), fullPage: true });
    await page.close();
  }, 120_000);
});
