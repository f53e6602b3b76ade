import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { EcsFlat } from '@elastic/ecs';
import { afterAll, describe, expect, it } from 'vitest';

import { Verdict } from '../../src/classify/verdict';
import { flowToRow, JSON_KEYS, rowToJson } from '../../src/sink/flowRow';
import { flowUid } from '../../src/flow/flowUid';
import { makeFlow } from '../classify/makeFlow';

/**
 * The README's "Flow records" table, applied to real records: every ECS field it names exists in ECS (the
 * definitions Elastic publishes as @elastic/ecs), and every value the mapping produces has that field's type
 * and allowed values. The table is parsed from the README, so the documented mapping is the tested one.
 */

const ROOT = path.resolve(__dirname, '../..');
const dir = mkdtempSync(path.join(tmpdir(), 'ecs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Row {
  field: string;
  ecs: string;
}

/** The rows of the README table under "## Flow records". */
function mappingTable(): Row[] {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Flow records'), readme.indexOf('## Queries'));
  const rows: Row[] = [];
  for (const line of section.split('\n')) {
    const m = /^\| `([a-z_0-9]+)` \|([^|]*)\|/.exec(line);
    if (m !== null) rows.push({ field: m[1]!, ecs: m[2]!.trim() });
  }
  return rows;
}

type Json = Record<string, unknown>;

function setPath(doc: Json, dotted: string, value: unknown): void {
  // `@timestamp` and `labels.x` are the only ones here whose first part is not an object of ECS fields.
  const parts = dotted.split('.');
  let o = doc;
  for (const p of parts.slice(0, -1)) o = (o[p] ??= {}) as Json;
  o[parts[parts.length - 1]!] = value;
}

/** Applies the table to one JSON record: ECS fields where the table names them, the rest under `sensor.*`. */
function toEcs(rec: Json, table: Row[]): { doc: Json; fields: Map<string, unknown> } {
  const doc: Json = {};
  const fields = new Map<string, unknown>();
  const put = (f: string, v: unknown): void => {
    fields.set(f, v);
    setPath(doc, f, v);
  };
  for (const { field, ecs } of table) {
    const v = rec[field];
    if (ecs === '') {
      if (field in rec) setPath(doc, `sensor.${field}`, v);
      continue;
    }
    // `a.b`: `const` pairs set constants (event_type); otherwise each named field gets the value, converted as
    // the cell's words say.
    const constants = [...ecs.matchAll(/`([@a-z_.]+)`: `([^`]+)`/g)];
    if (constants.length > 0) {
      for (const [, f, c] of constants) put(f!, f === 'event.category' || f === 'event.type' ? [c] : c);
      continue;
    }
    const targets = [...ecs.matchAll(/`(@timestamp|[a-z_]+(?:\.[a-z_]+)+)`/g)].map((m) => m[1]!);
    let value: unknown = v;
    if (ecs.includes('nanoseconds')) value = Math.round((v as number) * 1e9);
    if (ecs.includes('`ipv4` or `ipv6`')) value = `ipv${String(v)}`;
    if (ecs.includes('left out when 0')) value = v === 0 ? undefined : String(v);
    if (ecs.includes('when `verdict` is `classified`') && rec.verdict !== 'classified') value = undefined;
    if (value === undefined || value === null) continue;
    for (const t of targets.filter((t) => !['verdict', 'classified'].includes(t))) put(t, value);
  }
  put('network.bytes', (rec.c2s_bytes as number) + (rec.s2c_bytes as number));
  put('network.packets', (rec.c2s_packets as number) + (rec.s2c_packets as number));
  return { doc, fields };
}

/** The type check of one ECS field, by its definition's `type`; '' when the value fits. */
function check(field: string, value: unknown): string {
  if (field.startsWith('labels.')) return typeof value === 'string' ? '' : `${field}: labels are keywords, got ${JSON.stringify(value)}`;
  const def = (EcsFlat as Record<string, { type: string; normalize?: string[]; allowed_values?: { name: string }[] }>)[field];
  if (def === undefined) return `${field} is not an ECS field`;
  const values = Array.isArray(value) ? value : [value];
  if (Array.isArray(value) && !(def.normalize ?? []).includes('array')) return `${field} is not an array field in ECS`;
  for (const v of values) {
    const bad = (): string => `${field} (${def.type}) cannot hold ${JSON.stringify(v)}`;
    switch (def.type) {
      case 'ip':
        if (typeof v !== 'string' || isIP(v) === 0) return bad();
        break;
      case 'date':
        if (typeof v !== 'string' || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(v) || Number.isNaN(Date.parse(v))) return bad();
        break;
      case 'long':
        if (!Number.isSafeInteger(v)) return bad();
        break;
      case 'keyword':
      case 'constant_keyword':
      case 'wildcard':
        if (typeof v !== 'string' || v === '') return bad();
        break;
      default:
        return `${field}: type ${def.type} not covered by this test`;
    }
    if (def.allowed_values !== undefined && !def.allowed_values.some((a) => a.name === v)) return `${field}: ${JSON.stringify(v)} is not one of ECS's allowed values`;
  }
  return '';
}

/** Records of the demo capture, written by the CLI as a user would, plus a live, an IPv6 and a VLAN record. */
function records(): Json[] {
  const out = path.join(dir, 'demo.jsonl');
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/sensor.js'), '--pcap', path.join(ROOT, 'demo/demo.pcap.gz'), '--jsonl', out, '--no-summary', '--sensor-name', 'tap-7'], {
    encoding: 'utf8',
    timeout: 60000,
  });
  expect(r.status, r.stderr).toBe(0);
  const demo = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Json);
  const live = makeFlow([517, -1448], { source: 'eth1', ip_version: 6, client_ip: '2001:db8::10', server_ip: '2001:db8::7', vlan: 42 });
  live.sensor = 'tap-7';
  live.live = true;
  live.uid = flowUid('tap-7', 6, live.client_ip, live.client_port, live.server_ip, live.server_port, 42, live.first_ts);
  const extra = JSON.parse(rowToJson(flowToRow({ flow: live, verdict: new Verdict('unknown', 0.41, [{ label: 'tls', p: 0.41 }], 'm-1', 'unknown') }))) as Json;
  return [...demo, extra];
}

describe('ECS mapping (README "Flow records")', () => {
  const table = mappingTable();
  const recs = records();

  it('lists every JSON-lines field once', () => {
    expect(table.map((r) => r.field).sort()).toEqual([...JSON_KEYS].sort());
  });

  it('maps every record to ECS fields that exist, with values of their ECS types and allowed values', () => {
    expect(recs.length).toBeGreaterThan(90);
    const seen = new Set<string>();
    const problems: string[] = [];
    for (const rec of recs) {
      const { doc, fields } = toEcs(rec, table);
      for (const [f, v] of fields) {
        seen.add(f);
        const p = check(f, v);
        if (p !== '') problems.push(`${String(rec.uid)}: ${p}`);
      }
      // Everything without an ECS field is kept under sensor.*, so the document holds the whole record.
      const custom = doc.sensor as Json;
      for (const { field, ecs } of table) if (ecs === '' && field in rec) expect(custom).toHaveProperty(field);
    }
    expect(problems).toEqual([]);
    // The mapping was exercised in full: live and offline, IPv4 and IPv6, a VLAN, classified and not.
    for (const f of ['observer.ingress.interface.name', 'labels.pcap_filename', 'network.vlan.id', 'network.protocol', 'event.duration', 'source.ip', '@timestamp']) {
      expect(seen, f).toContain(f);
    }
  });

  it('writes no top-level key that ECS uses for something else (the `source` string broke Filebeat indexing)', () => {
    const ecsTop = new Set(Object.keys(EcsFlat).map((k) => k.split('.')[0]!));
    for (const key of Object.keys(recs[0]!)) expect(ecsTop.has(key), key).toBe(false);
    expect(recs[0]).not.toHaveProperty('source');
    expect(recs[0]!.event_type).toBe('flow');
  });
});
