import { readFileSync } from 'node:fs';
import * as path from 'node:path';

/** The web view's files ship in the package (web/); the chart library comes from its npm package, never a CDN. */
const WEB_DIR = path.resolve(__dirname, '..', '..', 'web');

export interface WebAsset {
  body: Buffer;
  type: string;
}

export interface WebAssets {
  index: WebAsset;
  /** Served under /assets/NAME. */
  files: Map<string, WebAsset>;
}

/** chart.js's self-contained browser build (no module loader, defines `Chart`). */
export function chartJsPath(): string {
  return path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.min.js');
}

export function webFile(name: string): Buffer {
  return readFileSync(path.join(WEB_DIR, name));
}

/** Reads the page and its assets once, at start-up. */
export function loadWebAssets(): WebAssets {
  const files = new Map<string, WebAsset>([
    ['app.js', { body: webFile('app.js'), type: 'text/javascript; charset=utf-8' }],
    ['app.css', { body: webFile('app.css'), type: 'text/css; charset=utf-8' }],
    ['chart.umd.min.js', { body: readFileSync(chartJsPath()), type: 'text/javascript; charset=utf-8' }],
  ]);
  return { index: { body: webFile('index.html'), type: 'text/html; charset=utf-8' }, files };
}
