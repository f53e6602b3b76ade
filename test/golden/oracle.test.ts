import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FlowRecord } from '../../src/flow/flowRecord';
import { runCapture } from '../helpers/runCapture';
import { HAVE_SHARED, SHARED_PCAPS, SKIP_SHARED_MSG } from '../helpers/sharedPcaps';

/** One flow as ../shared/tools/ppi-oracle prints it. */
interface OracleFlow {
  first_ts: number;
  vlan: number;
  client: string;
  server: string;
  syn_seen: boolean;
  c2s_pkts: number;
  s2c_pkts: number;
  ppi: number[];
}

function endpoint(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** Every capture that has a reference file, as [source/file, capture path, expected path]. */
function goldenCases(): [string, string, string][] {
  const out: [string, string, string][] = [];
  const root = path.join(SHARED_PCAPS, 'expected');
  if (!existsSync(root)) return out;
  for (const src of readdirSync(root).sort()) {
    for (const f of readdirSync(path.join(root, src)).sort()) {
      const name = f.replace(/\.ppi\.jsonl$/, '');
      const cap = path.join(SHARED_PCAPS, src, name);
      if (existsSync(cap)) out.push([`${src}/${name}`, cap, path.join(root, src, f)]);
    }
  }
  return out;
}

/**
 * Matches each oracle flow with payload to one sensor record with the same VLAN, endpoints (either orientation)
 * and the nearest first timestamp; the flow matches when client, server and the sequence are equal.
 */
function compare(oracle: OracleFlow[], records: FlowRecord[]): { total: number; matched: number; misses: string[] } {
  const byKey = new Map<string, FlowRecord[]>();
  for (const r of records) {
    const a = endpoint(r.client_ip, r.client_port);
    const b = endpoint(r.server_ip, r.server_port);
    const k = `${r.vlan}|${[a, b].sort().join('|')}`;
    (byKey.get(k) ?? byKey.set(k, []).get(k)!).push(r);
  }
  let total = 0;
  let matched = 0;
  const misses: string[] = [];
  for (const o of oracle) {
    if (o.ppi.length === 0) continue;
    total++;
    const cands = byKey.get(`${o.vlan}|${[o.client, o.server].sort().join('|')}`) ?? [];
    const ok = cands.some((r) => {
      const seq = r.lengths.slice(0, r.payload_packets);
      return endpoint(r.client_ip, r.client_port) === o.client && JSON.stringify(seq) === JSON.stringify(o.ppi);
    });
    if (ok) matched++;
    else {
      const near = cands.map((r) => `${endpoint(r.client_ip, r.client_port)} ${JSON.stringify(r.lengths.slice(0, r.payload_packets))}`);
      misses.push(`${o.client} -> ${o.server} vlan ${o.vlan}: oracle ${JSON.stringify(o.ppi)}; sensor ${near.length ? near.join(' | ') : 'no flow'}`);
    }
  }
  return { total, matched, misses };
}

describe.skipIf(!HAVE_SHARED)(`golden: sequences equal the tshark-based reference${HAVE_SHARED ? '' : ` (skipped: ${SKIP_SHARED_MSG})`}`, () => {
  it('covers at least 99% of the reference TCP flows with payload across all public captures', async () => {
    let total = 0;
    let matched = 0;
    const report: string[] = [];
    for (const [name, cap, exp] of goldenCases()) {
      const oracle = readFileSync(exp, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as OracleFlow);
      const { records } = await runCapture(cap);
      const c = compare(oracle, records);
      total += c.total;
      matched += c.matched;
      if (c.misses.length > 0) report.push(`${name}: ${c.matched}/${c.total}\n    ${c.misses.slice(0, 5).join('\n    ')}`);
    }
    const rate = matched / total;
    console.log(`golden: ${matched}/${total} flows with payload match the reference (${(100 * rate).toFixed(2)}%)\n${report.join('\n')}`);
    expect(total).toBeGreaterThan(900);
    expect(rate).toBeGreaterThanOrEqual(0.99);
  });
});
