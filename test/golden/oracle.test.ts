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
 * Matches each oracle flow with payload to one sensor record with the same VLAN, endpoints (either orientation),
 * client and sequence, each record used once. Misses are oracle flows without such a record; extras are sensor
 * records with payload that no oracle flow matched.
 */
function compare(oracle: OracleFlow[], records: FlowRecord[]): { total: number; matched: number; misses: string[]; extras: string[] } {
  const key = (vlan: number, a: string, b: string): string => `${vlan}|${[a, b].sort().join('|')}`;
  const byKey = new Map<string, FlowRecord[]>();
  for (const r of records) {
    const k = key(r.vlan, endpoint(r.client_ip, r.client_port), endpoint(r.server_ip, r.server_port));
    (byKey.get(k) ?? byKey.set(k, []).get(k)!).push(r);
  }
  const used = new Set<FlowRecord>();
  let total = 0;
  let matched = 0;
  const misses: string[] = [];
  const show = (r: FlowRecord): string => `${endpoint(r.client_ip, r.client_port)} ${JSON.stringify(r.lengths.slice(0, r.payload_packets))}`;
  for (const o of oracle) {
    if (o.ppi.length === 0) continue;
    total++;
    const cands = byKey.get(key(o.vlan, o.client, o.server)) ?? [];
    const hit = cands.find((r) => {
      const seq = r.lengths.slice(0, r.payload_packets);
      return !used.has(r) && endpoint(r.client_ip, r.client_port) === o.client && JSON.stringify(seq) === JSON.stringify(o.ppi);
    });
    if (hit) {
      matched++;
      used.add(hit);
    } else {
      misses.push(`${o.client} -> ${o.server} vlan ${o.vlan}: oracle ${JSON.stringify(o.ppi)}; sensor ${cands.length ? cands.map(show).join(' | ') : 'no flow'}`);
    }
  }
  const extras = records.filter((r) => r.payload_packets > 0 && !used.has(r)).map((r) => `${show(r)} -> ${endpoint(r.server_ip, r.server_port)} vlan ${r.vlan}`);
  return { total, matched, misses, extras };
}

/**
 * Where the sensor and the reference differ, with why (README "Design notes"): reference flows with payload the
 * sensor does not reproduce (misses) and sensor flows with payload the reference does not have (extras), each as
 * [capture, text of the reported line that identifies it].
 */
const LISTED_MISSES: [string, string][] = [
  // The reference's display filter drops four real TCP segments of an OpenFlow connection because their payload
  // carries a dissectable packet; the sensor keeps them (so the same flow is also an extra below).
  ['tcpdump/of13_ericsson.pcapng', 'oracle [8,-8]; sensor 127.0.0.1:6633 [8,-8,100,-154,100,-182]'],
];
const LISTED_EXTRAS: [string, string][] = [
  ['tcpdump/of13_ericsson.pcapng', '127.0.0.1:6633 [8,-8,100,-154,100,-182] -> 127.0.0.1:58449'],
  // The client retransmits its FIN and sends two 1-byte keep-alive probes 4.8 to 6.5 s after the FIN exchange:
  // SPEC.md's 5 s FIN grace has written the flow by then, so the sensor starts a mid-stream flow for them; the
  // reference has no grace rule and keeps them in the first flow (where the retransmission rule skips them).
  ['pcapplusplus/many-protocols.pcap', '10.0.0.1:55260 [1] -> 212.58.244.71:80'],
];

/** Each reported line must be one listed entry (same capture, containing its text), and every entry used. */
function unlisted(lines: string[], listed: [string, string][]): string[] {
  const left = [...listed];
  const out: string[] = [];
  for (const line of lines) {
    const i = left.findIndex(([cap, text]) => line.startsWith(`${cap}: `) && line.includes(text));
    if (i === -1) out.push(line);
    else left.splice(i, 1);
  }
  return [...out, ...left.map(([cap, text]) => `listed but not seen: ${cap}: ${text}`)];
}

describe.skipIf(!HAVE_SHARED)(`golden: sequences equal the tshark-based reference${HAVE_SHARED ? '' : ` (skipped: ${SKIP_SHARED_MSG})`}`, () => {
  it('equals the reference on every flow with payload but the listed one, and makes no other flow the reference lacks', async () => {
    let total = 0;
    let matched = 0;
    const misses: string[] = [];
    const extras: string[] = [];
    for (const [name, cap, exp] of goldenCases()) {
      const oracle = readFileSync(exp, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as OracleFlow);
      const { records } = await runCapture(cap);
      const c = compare(oracle, records);
      total += c.total;
      matched += c.matched;
      misses.push(...c.misses.map((m) => `${name}: ${m}`));
      extras.push(...c.extras.map((m) => `${name}: ${m}`));
    }
    console.log(`golden: ${matched}/${total} flows with payload match the reference (${(100 * matched / total).toFixed(2)}%)\n  missing: ${misses.join('\n    ')}\n  extra: ${extras.join('\n    ')}`);
    expect(unlisted(misses, LISTED_MISSES)).toEqual([]);
    expect(unlisted(extras, LISTED_EXTRAS)).toEqual([]);
    // README "Design notes": 993 of the 994 reference flows with payload are equal.
    expect([matched, total]).toEqual([993, 994]);
  });
});
