import { fitGroups, type GroupModel } from '../../src/hosts/behaviourGroups';
import type { ProfileRow } from '../../src/hosts/hostProfile';

/** Groups that tell normal clients, servers and scanners apart, fitted on made-up profiles (host profile tests). */
export function scannerGroups(): GroupModel {
  const base = { flows_server: 0, peers: 3, distinct_exact: 1, failed_server: 0, reset_flows: 0, duration_max: 3, long_flows: 0, label_entropy: 1, unknown_share: 0, top_peer: '', top_peer_interval_cv: 1.2, anomaly_max: null };
  const ps: ProfileRow[] = [];
  for (let i = 0; i < 30; i++) ps.push({ ...base, flows_client: 10 + i, server_ports: 2, failed_client: 0, bytes_sent: 10_000 + i, bytes_received: 500_000 + i, duration_mean: 2, top_peer_flows: 5, anomalous_flows: 0 });
  for (let i = 0; i < 30; i++) ps.push({ ...base, flows_client: 0, flows_server: 200 + i, server_ports: 0, failed_client: 0, bytes_sent: 9_000_000 + i, bytes_received: 100_000, duration_mean: 1, top_peer_flows: 0, anomalous_flows: 0 });
  for (let i = 0; i < 10; i++) ps.push({ ...base, flows_client: 500 + i, server_ports: 400 + i, failed_client: 490, bytes_sent: 30_000, bytes_received: 20_000, duration_mean: 0, top_peer_flows: 3, anomalous_flows: 480 });
  return fitGroups(ps, { k: 3, minK: 3, maxK: 3, seed: 1, silhouetteSample: 1000, fittedOn: 'test' });
}
