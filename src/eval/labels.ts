import { readFileSync } from 'node:fs';

import { parse } from 'csv-parse/sync';

/** A labels file is unusable; the message names the file and what is wrong. */
export class LabelsError extends Error {
  override name = 'LabelsError';
}

/** One labelled flow of a labels file (the columns of ../shared/outside/labels.csv that matter here). */
export interface LabelRow {
  /** Capture file the flow is in, as written in the labels file ('' when the file has no `file` column). */
  file: string;
  firstTs: number;
  label: string;
}

/** A flow of a sensor database, as matching and scoring need it. */
export interface FlowForEval {
  source: string;
  clientIp: string;
  clientPort: number;
  serverIp: string;
  serverPort: number;
  firstTs: number;
  payloadPackets: number;
  lengths: number[];
}

const REQUIRED = ['client_ip', 'client_port', 'server_ip', 'server_port', 'first_ts', 'label'] as const;
/** Flows match when their first timestamps differ by at most this (seconds), as in outside-eval. */
export const MATCH_SECONDS = 0.001;

/** One spelling per address (IPv6 has many: `::ffff:1.2.3.4`, upper case, leading zeros). */
export function normalizeIp(ip: string): string {
  const t = ip.trim();
  if (!t.includes(':')) return t;
  try {
    return new URL(`http://[${t}]/`).hostname.slice(1, -1);
  } catch {
    return t.toLowerCase();
  }
}

function endpointKey(ipA: string, portA: number, ipB: string, portB: number): string {
  const a = `${normalizeIp(ipA)}|${portA}`;
  const b = `${normalizeIp(ipB)}|${portB}`;
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

/** Does a flow's capture `source` (path as the sensor recorded it) name the labels file's `file`? */
function sameFile(source: string, file: string): boolean {
  if (file === '') return true;
  const s = source.replace(/\\/g, '/');
  const f = file.replace(/\\/g, '/').replace(/^\.\//, '');
  return s === f || s.endsWith('/' + f);
}

/**
 * The labelled flows of a CSV with a header naming at least client_ip, client_port, server_ip, server_port,
 * first_ts and label (optionally file; other columns are ignored), indexed by the unordered endpoint pair.
 */
export class Labels {
  readonly rows: number;
  readonly hasFile: boolean;
  private readonly byPair = new Map<string, LabelRow[]>();

  private constructor(rows: number, hasFile: boolean) {
    this.rows = rows;
    this.hasFile = hasFile;
  }

  static read(path: string): Labels {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new LabelsError(`labels ${path}: cannot read it (${code ?? String(e)})`);
    }
    let records: Record<string, string>[];
    try {
      records = parse(text, { columns: true, skip_empty_lines: true, trim: true }) as Record<string, string>[];
    } catch (e) {
      throw new LabelsError(`labels ${path}: not CSV: ${(e as Error).message.split('\n')[0]}`);
    }
    const header = records.length > 0 ? Object.keys(records[0]!) : [];
    const missing = REQUIRED.filter((c) => !header.includes(c));
    if (records.length === 0) throw new LabelsError(`labels ${path}: no rows (the header must name ${REQUIRED.join(', ')})`);
    if (missing.length > 0) {
      throw new LabelsError(`labels ${path}: no column ${missing.join(', ')} (needed: ${REQUIRED.join(', ')}; optional: file)`);
    }
    const labels = new Labels(records.length, header.includes('file'));
    records.forEach((r, i) => {
      const line = i + 2;
      const cp = Number(r.client_port);
      const sp = Number(r.server_port);
      const ts = Number(r.first_ts);
      if (!Number.isInteger(cp) || !Number.isInteger(sp) || !Number.isFinite(ts) || r.first_ts === '') {
        throw new LabelsError(`labels ${path}:${line}: client_port, server_port and first_ts must be numbers`);
      }
      if ((r.label ?? '') === '') throw new LabelsError(`labels ${path}:${line}: empty label`);
      const key = endpointKey(r.client_ip!, cp, r.server_ip!, sp);
      let list = labels.byPair.get(key);
      if (list === undefined) labels.byPair.set(key, (list = []));
      list.push({ file: r.file ?? '', firstTs: ts, label: r.label! });
    });
    return labels;
  }

  /** The label of a flow: same file (when the labels name files), same endpoints, nearest first_ts within 1 ms. */
  match(f: FlowForEval): string | null {
    const list = this.byPair.get(endpointKey(f.clientIp, f.clientPort, f.serverIp, f.serverPort));
    if (list === undefined) return null;
    let best: LabelRow | null = null;
    for (const r of list) {
      if (!sameFile(f.source, r.file)) continue;
      if (best === null || Math.abs(r.firstTs - f.firstTs) < Math.abs(best.firstTs - f.firstTs)) best = r;
    }
    return best !== null && Math.abs(best.firstTs - f.firstTs) <= MATCH_SECONDS ? best.label : null;
  }
}
