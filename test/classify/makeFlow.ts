import { FlowRecord } from '../../src/flow/flowRecord';

/** A finished flow with the given signed lengths (zero padded to 30); payload_packets counts the non-zero ones. */
export function makeFlow(lengths: number[], overrides: Partial<Record<keyof FlowRecord, unknown>> = {}): FlowRecord {
  const padded = lengths.concat(new Array<number>(Math.max(0, 30 - lengths.length)).fill(0));
  let up = 0;
  let down = 0;
  let n = 0;
  for (const l of lengths) {
    if (l > 0) up += l;
    if (l < 0) down -= l;
    if (l !== 0) n++;
  }
  const f = new FlowRecord(
    'test.pcap', 1700000000.25, 1700000003.75, 4, '192.0.2.10', 51515, '198.51.100.7', 443, 0,
    12, 10, up + 1000, down + 800, up, down, n, 0, false, 'SF', 'ShADadFf',
    '1:LQU9qZlK+B5F3KDmev6m5PMibrg=', 'fin', padded,
  );
  Object.assign(f, overrides);
  return f;
}

/** Fixture-model shapes (see test/fixtures/model/make_fixture.py for why each gets its label). */
export const UPLOAD = new Array<number>(30).fill(1448);
export const DOWNLOAD = new Array<number>(30).fill(-1448);
export const INTERACTIVE = Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? 50 : -50));
/** Scores 0.9 / 0.9 / -1.8: top probability ~0.484, below the default 0.5 threshold. */
export const AMBIGUOUS = [1000, -1000];
