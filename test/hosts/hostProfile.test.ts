import { describe, expect, it } from 'vitest';

import { HostProfile, TOP_PAIRS, type ProfiledFlow } from '../../src/hosts/hostProfile';

function flow(o: Partial<ProfiledFlow> = {}): ProfiledFlow {
  return {
    client_ip: '10.0.0.1', server_ip: '10.0.0.9', server_port: 443, first_ts: 1000, duration: 2, c2s_bytes: 100, s2c_bytes: 5000,
    conn_state: 'SF', label: 'tls', verdict: 'classified', anomaly: false, anomaly_score: 0.1, ...o,
  };
}

describe('HostProfile', () => {
  it('adds flows from the host\'s side: counts, bytes each way, peers, ports, failures, durations, labels, anomalies', () => {
    const p = new HostProfile();
    p.add(flow(), true, 600);
    p.add(flow({ server_port: 22, conn_state: 'REJ', c2s_bytes: 60, s2c_bytes: 40, duration: 0, label: 'no-payload' }), true, 600);
    p.add(flow({ server_ip: '10.0.0.8', duration: 900, label: 'unknown', verdict: 'unknown', anomaly: true, anomaly_score: 3 }), true, 600);
    // As a server: the client is the peer, bytes swap sides.
    p.add(flow({ client_ip: '10.0.0.5', server_ip: '10.0.0.1', conn_state: 'S0', c2s_bytes: 40, s2c_bytes: 0 }), false, 600);
    const r = p.toRow();
    expect(r).toMatchObject({
      flows_client: 3, flows_server: 1, peers: 3, server_ports: 2, distinct_exact: 1, failed_client: 1, failed_server: 1,
      reset_flows: 0, bytes_sent: 100 + 60 + 100 + 0, bytes_received: 5000 + 40 + 5000 + 40, duration_max: 900, long_flows: 1,
      anomalous_flows: 1, anomaly_max: 3, unknown_share: 0.25,
    });
    expect(r.duration_mean).toBeCloseTo((2 + 0 + 900 + 2) / 4, 9);
    // Labels tls x2, no-payload, unknown: entropy 1.5 bits.
    expect(r.label_entropy).toBeCloseTo(1.5, 9);
    expect(r.top_peer).toBe('10.0.0.9:443');
    expect(r.top_peer_flows).toBe(1);
  });

  it('finds the most frequent (peer, port) of its client flows and how regular their start times are', () => {
    const beacon = new HostProfile();
    for (let i = 0; i < 20; i++) beacon.add(flow({ server_ip: '10.0.0.8', server_port: 80, first_ts: 1000 + 60 * i + (i % 2) }), true, 600);
    for (let i = 0; i < 5; i++) beacon.add(flow({ first_ts: 1000 + 7 * i * i }), true, 600);
    const b = beacon.toRow();
    expect(b.top_peer).toBe('10.0.0.8:80');
    expect(b.top_peer_flows).toBe(20);
    expect(b.top_peer_interval_cv!).toBeLessThan(0.05);
    const browsing = new HostProfile();
    for (const t of [0, 1, 2, 40, 41, 300, 302, 900, 901, 902]) browsing.add(flow({ first_ts: 1000 + t }), true, 600);
    expect(browsing.toRow().top_peer_interval_cv!).toBeGreaterThan(1);
  });

  it('tracks at most TOP_PAIRS pairs: a new one replaces the least counted (Space-Saving)', () => {
    const p = new HostProfile();
    for (let i = 0; i < 10; i++) p.add(flow({ server_ip: '10.0.0.100', first_ts: 1000 + i }), true, 600);
    for (let port = 1; port <= 3 * TOP_PAIRS; port++) p.add(flow({ server_port: port }), true, 600);
    const r = p.toRow();
    expect(r.top_peer).toBe('10.0.0.100:443');
    expect(r.top_peer_flows).toBe(10);
    expect(r.server_ports).toBe(3 * TOP_PAIRS + 1);
  });

  it('has no interval spread under three flows to its top peer, and none when they all start at once', () => {
    const p = new HostProfile();
    p.add(flow(), true, 600);
    p.add(flow({ first_ts: 1010 }), true, 600);
    expect(p.toRow().top_peer_interval_cv).toBeNull();
    const q = new HostProfile();
    for (let i = 0; i < 5; i++) q.add(flow(), true, 600);
    expect(q.toRow().top_peer_interval_cv).toBeNull();
  });
});
