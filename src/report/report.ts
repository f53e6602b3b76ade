import { readFileSync } from 'node:fs';
import * as path from 'node:path';

import { FlowDb } from '../serve/flowDb';
import { queryFlows } from '../serve/flowQuery';
import { monitorTables } from '../serve/monitorTables';
import { summarize } from '../serve/summary';
import { chartJsPath, webFile } from '../serve/webAssets';
import { writeFileAtomic } from '../sink/atomicWrite';

/** Latest flows the report's table holds (and filters in the browser): enough to browse, small enough to mail. */
export const REPORT_FLOWS = 2000;

export interface ReportOptions {
  db: string;
  out: string;
  /** Unix seconds; default: the whole database. */
  from?: number;
  to?: number;
}

/** Text safe inside a <script> element: no "</script", no "<!--" (JSON and JS both read \u003c as "<"). */
function scriptSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

function scriptSafeCode(code: string): string {
  return code.replace(/<\/script/gi, '<\\/script').replace(/<!--/g, '<\\!--');
}

/** Replaces one marker, failing loudly if the page no longer has it (the report would silently lose a part). */
function put(html: string, marker: string, content: string): string {
  const at = html.indexOf(marker);
  if (at < 0) throw new Error(`report: web/index.html has no ${marker}`);
  return html.slice(0, at) + content + html.slice(at + marker.length);
}

/**
 * `sensor report --db flows.db --out report.html`: the web view's charts and table as one self-contained HTML
 * file (styles, chart library, page code and data inlined; nothing fetched), for the analysis of a capture that
 * is mailed to a colleague. Returns what it wrote.
 */
export function writeReport(opts: ReportOptions): { flows: number; bytes: number } {
  const db = new FlowDb(opts.db);
  let data;
  try {
    const range = { ...(opts.from !== undefined ? { from: opts.from } : {}), ...(opts.to !== undefined ? { to: opts.to } : {}) };
    const summary = summarize(db, { ...range, buckets: 60, top: 10 });
    const { flows } = queryFlows(db, { ...range, limit: REPORT_FLOWS });
    data = {
      generated: new Date().toISOString().slice(0, 19) + 'Z',
      db: path.basename(opts.db),
      summary,
      flows,
      monitor: { tables: monitorTables(db) },
      model: null,
    };
  } finally {
    db.close();
  }
  let html = webFile('index.html').toString('utf8');
  html = html.replace('<title>sensor</title>', `<title>sensor report: ${path.basename(opts.db).replace(/[<>&"]/g, '')}</title>`);
  html = put(html, '<link rel="stylesheet" href="/assets/app.css">', '');
  html = put(html, '<!--STYLE-->', `<style>\n${webFile('app.css').toString('utf8')}</style>`);
  html = put(html, '<!--DATA-->', `<script type="application/json" id="report-data">${scriptSafeJson(data)}</script>`);
  html = put(html, '<script src="/assets/chart.umd.min.js"></script>', `<script>${scriptSafeCode(readFileSync(chartJsPath(), 'utf8'))}</script>`);
  html = put(html, '<script src="/assets/app.js"></script>', `<script>${scriptSafeCode(webFile('app.js').toString('utf8'))}</script>`);
  writeFileAtomic(opts.out, html);
  return { flows: data.flows.length, bytes: Buffer.byteLength(html) };
}
