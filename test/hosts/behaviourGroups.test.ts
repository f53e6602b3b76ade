import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { assignGroup, fitGroups, GROUP_FEATURES, GroupModelError, loadGroupModel, silhouette } from '../../src/hosts/behaviourGroups';
import type { ProfileRow } from '../../src/hosts/hostProfile';
import { mulberry32 } from '../../bench/synth';

const tmp = mkdtempSync(path.join(tmpdir(), 'groups-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const rand = mulberry32(7);
const jitter = (x: number, spread = 0.2): number => Math.max(0, Math.round(x * (1 + spread * (rand() - 0.5))));

function row(o: Partial<ProfileRow>): ProfileRow {
  return {
    flows_client: 0, flows_server: 0, peers: 1, server_ports: 0, distinct_exact: 1, failed_client: 0, failed_server: 0, reset_flows: 0,
    bytes_sent: 0, bytes_received: 0, duration_mean: 1, duration_max: 1, long_flows: 0, label_entropy: 1, unknown_share: 0,
    top_peer: '', top_peer_flows: 0, top_peer_interval_cv: null, anomalous_flows: 0, anomaly_max: null, ...o,
  };
}

const client = (): ProfileRow => {
  const n = jitter(120);
  return row({ flows_client: n, peers: jitter(30), server_ports: 2, bytes_sent: jitter(20_000), bytes_received: jitter(2_000_000), duration_mean: 2, top_peer_flows: jitter(20), top_peer_interval_cv: 1.5 });
};
const server = (): ProfileRow => row({ flows_server: jitter(800), peers: jitter(40), bytes_sent: jitter(50_000_000), bytes_received: jitter(400_000), duration_mean: 1 });
const scanner = (): ProfileRow => {
  const n = jitter(2000);
  return row({ flows_client: n, failed_client: Math.round(n * 0.97), peers: 1, server_ports: jitter(1000), bytes_sent: n * 60, bytes_received: n * 40, duration_mean: 0.01, anomalous_flows: n, top_peer_flows: 5 });
};
const beacon = (): ProfileRow => row({ flows_client: 60, peers: 1, server_ports: 1, bytes_sent: 30_000, bytes_received: 20_000, duration_mean: 0.2, top_peer_flows: 60, top_peer_interval_cv: 0.04 });
const longSessions = (): ProfileRow => row({ flows_client: jitter(4), peers: 1, server_ports: 1, bytes_sent: jitter(400_000), bytes_received: jitter(900_000), duration_mean: jitter(2400), duration_max: 3600, long_flows: 3, top_peer_flows: 3 });

function population(): ProfileRow[] {
  const out: ProfileRow[] = [];
  for (let i = 0; i < 60; i++) out.push(client());
  for (let i = 0; i < 20; i++) out.push(server());
  for (let i = 0; i < 6; i++) out.push(scanner());
  for (let i = 0; i < 8; i++) out.push(beacon());
  for (let i = 0; i < 10; i++) out.push(longSessions());
  return out;
}

describe('fitGroups()', () => {
  const model = fitGroups(population(), { k: null, minK: 4, maxK: 8, seed: 1, silhouetteSample: 2000, fittedOn: 'test population' });

  it('finds the kinds of host in a population and names them from what sets them apart', () => {
    const names = model.groups.map((g) => g.name);
    expect(model.groups.length).toBeGreaterThanOrEqual(4);
    expect(names.filter((n) => n.startsWith('scanner-like'))).toHaveLength(1);
    expect(names.some((n) => n.startsWith('server'))).toBe(true);
    expect(new Set(names).size).toBe(names.length);
    expect(model.features).toEqual([...GROUP_FEATURES]);
    expect(model.method).toMatch(/k-means .* k = \d+ \(best mean silhouette for k = 4\.\.8\)/);
    expect(model.silhouette).toBeGreaterThan(0.3);
  });

  it('puts new hosts of each kind with their own kind, and a scanner in the scanner-like group', () => {
    const g = (r: ProfileRow): string => assignGroup(model, r).name;
    expect(g(scanner())).toMatch(/^scanner-like/);
    expect(g(server())).toMatch(/^server/);
    expect(g(client())).toBe(g(client()));
    expect(g(client())).not.toBe(g(server()));
    expect(g(beacon())).not.toBe(g(client()));
    expect(g(longSessions())).not.toBe(g(client()));
    expect(assignGroup(model, client()).distance).toBeLessThan(assignGroup(model, row({ flows_client: 5, failed_client: 5, anomalous_flows: 5, bytes_sent: 1e9 })).distance);
  });

  it('refuses too few distinct profiles', () => {
    expect(() => fitGroups([client(), client()].map(() => row({ flows_client: 1 })), { k: null, minK: 4, maxK: 8, seed: 1, silhouetteSample: 10, fittedOn: '' })).toThrow(GroupModelError);
  });

  it('round-trips through a groups file, and loadGroupModel() refuses a file that is not one', () => {
    const file = path.join(tmp, 'groups.json');
    writeFileSync(file, JSON.stringify(model));
    expect(loadGroupModel(file)).toEqual(model);
    writeFileSync(file, JSON.stringify({ ...model, features: ['x'] }));
    expect(() => loadGroupModel(file)).toThrow(/features must be flows_client,/);
    writeFileSync(file, '{');
    expect(() => loadGroupModel(file)).toThrow(/not readable JSON/);
    expect(() => loadGroupModel(path.join(tmp, 'none.json'))).toThrow(/file not found \(fit one with sensor hosts-fit/);
  });
});

describe('silhouette()', () => {
  it('is near 1 for two far, tight clusters and near 0 for one cluster split in two', () => {
    const pts = [[0, 0], [0, 0.1], [10, 10], [10, 10.1]];
    expect(silhouette(pts, [0, 0, 1, 1], 2)).toBeGreaterThan(0.95);
    expect(silhouette([[0], [1], [2], [3]], [0, 1, 0, 1], 2)).toBeLessThan(0.1);
  });
});
