import { describe, expect, it } from 'vitest';

import { CONTEXT_COUNTERS } from '../../src/anomaly/context';
import { DEFAULT_COUNTERS, defaultCounters, FeatureError, FeatureExtractor, serverPortCounters } from '../../src/anomaly/features';
import { makeFlow } from '../classify/makeFlow';

describe('FeatureExtractor', () => {
  it('fills the sequence (zero padded, cut to L) and then the counters in the model\'s order', () => {
    const fx = new FeatureExtractor(4, ['duration', 's2c_bytes', 'midstream', 'conn_state=REJ', 'conn_state=SF', 'history:F', 'end_reason=fin', 'ctx_pair_same_shape']);
    expect(fx.width).toBe(12);
    expect(fx.needsContext).toBe(true);
    const out = new Float32Array(2 * fx.width).fill(-1);
    const f = makeFlow([517, -1448, 80, -310, 99], { midstream: true });
    const ctx = new Float64Array([3, 7]);
    fx.fill(f, ctx, out, fx.width);
    expect([...out.subarray(0, fx.width)]).toEqual(new Array(fx.width).fill(-1)); // the row before is untouched
    expect([...out.subarray(fx.width)]).toEqual([517, -1448, 80, -310, 3.5, f.s2c_bytes, 1, 0, 1, 1, 1, 7]);
    const short = makeFlow([40, -91]);
    fx.fill(short, ctx, out, 0);
    expect([...out.subarray(0, 4)]).toEqual([40, -91, 0, 0]);
  });

  it('reads every numeric field into its own column, whatever the order the model lists them in', () => {
    const names = ['duration', 'c2s_packets', 's2c_packets', 'c2s_bytes', 's2c_bytes', 'c2s_payload_bytes', 's2c_payload_bytes', 'payload_packets', 'retrans_skipped', 'midstream'] as const;
    const f = { ...makeFlow([5, -7]), duration: 1.25, c2s_packets: 11, s2c_packets: 12, c2s_bytes: 13, s2c_bytes: 14, c2s_payload_bytes: 15, s2c_payload_bytes: 16, payload_packets: 17, retrans_skipped: 18, midstream: 1 };
    for (const order of [[...names], [...names].reverse()]) {
      const fx = new FeatureExtractor(0, order);
      const out = new Float32Array(fx.width);
      fx.fill(f, new Float64Array(CONTEXT_COUNTERS.length), out, 0);
      expect([...out]).toEqual(order.map((n) => f[n]));
    }
  });

  it('reads midstream as a boolean (FlowRecord) or 0/1 (a database row)', () => {
    const fx = new FeatureExtractor(0, ['midstream']);
    const out = new Float32Array(1);
    const f = makeFlow([1]);
    fx.fill({ ...f, duration: f.duration, midstream: 1 }, new Float64Array(2), out, 0);
    expect(out[0]).toBe(1);
    fx.fill({ ...f, duration: f.duration, midstream: 0 }, new Float64Array(2), out, 0);
    expect(out[0]).toBe(0);
  });

  it('counts the sequence\'s repeated exchanges (repeated_exchanges)', () => {
    const fx = new FeatureExtractor(0, ['repeated_exchanges']);
    const out = new Float32Array(1);
    fx.fill(makeFlow([23, -41, 84, -76, 84, -76, 84, -76]), new Float64Array(0), out, 0);
    expect(out[0]).toBe(2);
    fx.fill(makeFlow([517, -1448, 80, -310]), new Float64Array(0), out, 0);
    expect(out[0]).toBe(0);
  });

  it('refuses a counter it does not know, naming the ones it does', () => {
    expect(() => new FeatureExtractor(30, ['duration', 'flux'])).toThrow(FeatureError);
    expect(() => new FeatureExtractor(30, ['conn_state=XX'])).toThrow(/unknown counter 'conn_state=XX' \(known: duration, .*conn_state=STATE/);
    expect(() => new FeatureExtractor(30, ['history:Q'])).toThrow(/unknown counter 'history:Q'/);
    for (const bad of ['server_port=0', 'server_port=65536', 'server_port=022', 'server_port=http']) {
      expect(() => new FeatureExtractor(30, [bad])).toThrow(/unknown counter .*server_port=PORT \(1-65535\)/);
    }
  });

  it('reads server port indicators (server_port=N: 1 for a flow to port N, else 0)', () => {
    const fx = new FeatureExtractor(0, ['server_port=22', 'server_port=443']);
    const out = new Float32Array(2);
    fx.fill(makeFlow([1], { server_port: 443 }), new Float64Array(0), out, 0);
    expect([...out]).toEqual([0, 1]);
    fx.fill(makeFlow([1], { server_port: 8443 }), new Float64Array(0), out, 0);
    expect([...out]).toEqual([0, 0]);
  });

  it('picks the server ports of at least minFlows flows, most flows first, at most max of them', () => {
    const byPort = new Map([[80, 500], [22, 120], [443, 900], [3389, 99], [5432, 120]]);
    expect(serverPortCounters(byPort, 100, 40)).toEqual([443, 80, 22, 5432]);
    expect(serverPortCounters(byPort, 100, 2)).toEqual([443, 80]);
    expect(defaultCounters([443, 80]).slice(-CONTEXT_COUNTERS.length - 2)).toEqual(['server_port=443', 'server_port=80', ...CONTEXT_COUNTERS]);
  });

  it('gives new models the flow counters, one indicator per connection state and the context counters', () => {
    expect(DEFAULT_COUNTERS).toContain('c2s_bytes');
    expect(DEFAULT_COUNTERS).toContain('conn_state=S0');
    expect(DEFAULT_COUNTERS).toContain('repeated_exchanges');
    expect(DEFAULT_COUNTERS.slice(-CONTEXT_COUNTERS.length)).toEqual([...CONTEXT_COUNTERS]);
    expect(new FeatureExtractor(30, DEFAULT_COUNTERS).width).toBe(30 + DEFAULT_COUNTERS.length);
    expect(new FeatureExtractor(30, ['duration']).needsContext).toBe(false);
  });
});
