import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';

import { Frame } from '../../src/capture/frame';
import { Verdict, type ClassifiedFlow } from '../../src/classify/verdict';
import { Pipeline } from '../../src/pipeline/pipeline';
import { flowUid } from '../../src/flow/flowUid';
import { DEFAULT_FLOW_OPTIONS } from '../../src/flow/flowTable';
import { Pseudonymizer } from '../../src/flow/pseudonymizer';
import { FLOW_COLUMNS, flowToRow, JSON_KEYS, rowToJson } from '../../src/sink/flowRow';
import { flowParams, scoreText, toParams, topkLabelsText, topkScoresText } from '../../src/sink/sqliteSink';
import { AnomalyScore } from '../../src/anomaly/scoredFlow';
import { isoMicros } from '../../src/sink/isoTime';
import { ACK, conversation, PSH, tcpFrame } from '../helpers/frames';
import { classified } from './classified';

/** The uid as README "Flow records" documents it, computed the slow, obvious way (BigInt). */
function documentedUid(fields: unknown[]): string {
  const digest = createHash('sha256').update(JSON.stringify(fields), 'utf8').digest('hex');
  let n = BigInt('0x' + digest.slice(0, 24));
  const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  let s = '';
  for (let i = 0; i < 17; i++) {
    s = alphabet[Number(n % 62n)]! + s;
    n /= 62n;
  }
  return 'C' + s;
}

/** Runs frames through a pipeline (no model) and returns what reached the sink. */
async function run(frames: { ts: number; data: Buffer }[], origin: { sensor: string; live: boolean }, pseudonymizeKey: string | null = null, activeTimeout = 1800): Promise<ClassifiedFlow[]> {
  const out: ClassifiedFlow[] = [];
  const sink = { write: (b: ClassifiedFlow[]) => void out.push(...b), close: () => {} };
  const p = new Pipeline(
    { ...DEFAULT_FLOW_OPTIONS, source: origin.live ? 'eth7' : 'x.pcap', activeTimeout },
    null,
    [sink],
    pseudonymizeKey === null ? null : new Pseudonymizer(pseudonymizeKey),
    origin,
  );
  const f = new Frame();
  f.linkType = 1;
  for (const fr of frames) {
    f.buf = fr.data;
    f.off = 0;
    f.capLen = f.wireLen = fr.data.length;
    f.ts = fr.ts;
    p.onFrame(f);
  }
  await p.flush('eof');
  return out;
}

describe('isoMicros()', () => {
  it('writes ISO 8601 UTC with six fraction digits, rounded to the microsecond', () => {
    expect(isoMicros(1700000000.25)).toBe('2023-11-14T22:13:20.250000Z');
    expect(isoMicros(1700000000.123456)).toBe('2023-11-14T22:13:20.123456Z');
    expect(isoMicros(1700000000.9999996)).toBe('2023-11-14T22:13:21.000000Z');
    expect(isoMicros(0)).toBe('1970-01-01T00:00:00.000000Z');
    expect(isoMicros(-1.5)).toBe('1969-12-31T23:59:58.500000Z');
  });

  it('never throws on a damaged capture\'s timestamps', () => {
    expect(isoMicros(5.8e11)).toBe('+020349-06-20T23:06:40.000000Z');
    expect(isoMicros(1e300)).toMatch(/^\+275760-09-13T00:00:00\.000000Z$/);
    expect(isoMicros(Number.NaN)).toBe('1970-01-01T00:00:00.000000Z');
  });

  it('gives Date\'s answer whatever order seconds come in (its cache keeps the last two seconds)', () => {
    const expected = (t: number): string => {
      const us = Math.round(t * 1e6);
      const sec = Math.floor(us / 1e6);
      return new Date(sec * 1000).toISOString().slice(0, 20) + String(us - sec * 1e6).padStart(6, '0') + 'Z';
    };
    // Start and end of flows alternate between seconds, and a third second evicts the older one.
    const ts = [1700000000.5, 1700000003.25, 1700000000.75, 1700000003.000001, 1700000007.1, 1700000000.2, 1700000003.9, 1699999999.999999, -0.25, 1700000007.1];
    for (let round = 0; round < 2; round++) for (const t of ts) expect(isoMicros(t)).toBe(expected(t));
  });

  it('gives Date\'s answer for seconds that share a cache slot, across days and years, and before 1970', () => {
    const expected = (t: number): string => {
      const us = Math.round(t * 1e6);
      const sec = Math.floor(us / 1e6);
      const iso = new Date(sec * 1000).toISOString();
      return iso.slice(0, iso.length - 4) + String(us - sec * 1e6).padStart(6, '0') + 'Z';
    };
    // 64 seconds apart share a slot; midnight, a leap day, year 10000 (extended form), negative days.
    const ts = [
      1700000000.5, 1700000064.5, 1700000000.25, 1700000128.125, 86399.999999, 86400, 86400.000001, 951782399.5, 951782400.5,
      253402300799.999999, 253402300800.5, -86400.5, -86399.5, -62167219200.25, -1e10 + 0.75, 5.8e11, 8.64e12, -8.64e12,
    ];
    for (let round = 0; round < 2; round++) for (const t of ts) expect(isoMicros(t)).toBe(expected(t));
    let x = 12345;
    for (let i = 0; i < 20000; i++) {
      // A deterministic spread of timestamps over ±300 years, then within one minute.
      x = (x * 1103515245 + 12345) % 2147483648;
      const t = i % 2 === 0 ? (x / 2147483648 - 0.5) * 2e10 : 1700000000 + (x % 60000000) / 1e6;
      expect(isoMicros(t)).toBe(expected(t));
    }
  });
});

describe('toParams()', () => {
  it('writes number arrays (lengths, top-k scores) as JSON.stringify does, and other arrays through it', () => {
    const c = classified(3, 'tls', [1448, -1448, 0.5, -0, 1e21, 1e-7, 123456789.123, -3, 0]);
    c.verdict.topk.push({ label: 'tls "quoted"', p: 0.3333333333333333 }, { label: 'http', p: 1e-9 });
    const row = flowToRow(c);
    const p = toParams(row);
    expect(p[FLOW_COLUMNS.indexOf('lengths')]).toBe(JSON.stringify(row.lengths));
    expect(p[FLOW_COLUMNS.indexOf('topk_scores')]).toBe(JSON.stringify(row.topk_scores));
    expect(p[FLOW_COLUMNS.indexOf('topk_labels')]).toBe(JSON.stringify(row.topk_labels));
    expect(toParams({ ...row, lengths: [0, -0, 0] })[FLOW_COLUMNS.indexOf('lengths')]).toBe('[0,0,0]');
    expect(toParams({ ...row, lengths: [] })[FLOW_COLUMNS.indexOf('lengths')]).toBe('[]');
    expect(toParams({ ...row, topk_scores: [Number.NaN, 1] })[FLOW_COLUMNS.indexOf('topk_scores')]).toBe('[null,1]');
  });
});

describe('flowParams()', () => {
  it('binds what toParams(flowToRow()) binds, column by column, for every kind of record', async () => {
    const conv = conversation(1700000000.5, '10.0.0.1', '10.0.0.2', 40001, 443, [[100, 200], [300, 400]]);
    const [offline] = await run(conv, { sensor: 'tap-7', live: false });
    const [live] = await run(conv, { sensor: 'tap-7', live: true });
    const odd = classified(3, 'tls', [1448, -1448, 0.5, -0, 1e21, 1e-7, 123456789.123, -3, 0]);
    odd.verdict.topk.push({ label: 'tls "quoted"', p: 0.3333333333333333 }, { label: 'http', p: Number.NaN });
    const records = [
      offline!,
      live!,
      odd,
      { ...classified(6), anomaly: new AnomalyScore(0.123457, true, 0.001) },
      { ...classified(7), anomaly: new AnomalyScore(1e-7, false, 0.01) },
      { ...classified(8), anomaly: null },
      { flow: classified(9).flow, verdict: new Verdict('no-payload', 0, [], '', 'no-payload') },
    ];
    for (const r of records) {
      const p = flowParams(r);
      expect(p).toHaveLength(FLOW_COLUMNS.length);
      expect(p).toEqual(toParams(flowToRow(r)));
    }
  });
});

describe('scoreText()', () => {
  it('gives String(p) for every six-decimal score k / 1e6 (k from 0 to 1e6) and for other numbers', () => {
    let differ = 0;
    for (let k = 0; k <= 1e6; k++) if (scoreText(k / 1e6) !== String(k / 1e6)) differ++;
    expect(differ).toBe(0);
    for (const p of [0, -0, 1, 0.5, 1e-7, 5e-7, 0.1234567, 0.3333333333333333, 1.5, -0.25, 123456.000001]) expect(scoreText(p)).toBe(String(p));
  });
});

describe('topkLabelsText() and topkScoresText()', () => {
  it('give the JSON text of the top-k labels and scores', () => {
    const topk = [{ label: 'tls', p: 0.912 }, { label: 'a "b"\\c', p: 0.000071 }, { label: 'http', p: Number.NaN }];
    expect(topkLabelsText(topk)).toBe(JSON.stringify(topk.map((t) => t.label)));
    expect(topkScoresText(topk)).toBe('[0.912,0.000071,null]');
    expect(topkScoresText(topk)).toBe(JSON.stringify(topk.map((t) => t.p)));
    expect(topkLabelsText([])).toBe('[]');
    expect(topkScoresText([])).toBe('[]');
    expect(topkScoresText([{ label: 'x', p: 1 }, { label: 'y', p: 0 }, { label: 'z', p: -0 }])).toBe('[1,0,0]');
  });
});

describe('the texts written into a scratch buffer (round perf18)', () => {
  it('lengths: every int32 sequence as JSON.stringify writes it, -0 and the extremes included', () => {
    const row = flowToRow(classified(3, 'tls', [1]));
    const lengthsText = (lengths: number[]): unknown => toParams({ ...row, lengths })[FLOW_COLUMNS.indexOf('lengths')];
    const cases = [
      [-0, 1, -1, 9, 10, -10, 99, 100, 65535, -65535],
      [2147483647, -2147483648, 1000000000, -999999999],
      Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? 1448 : -(i * 37))),
      Array.from({ length: 400 }, (_, i) => -2147483648 + i),
    ];
    let seed = 7;
    for (let n = 0; n < 500; n++) {
      cases.push(Array.from({ length: 1 + (n % 40) }, () => {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        return (seed % 3000) - 1500;
      }));
    }
    for (const c of cases) expect(lengthsText(c)).toBe(JSON.stringify(c));
  });

  it('top-k scores: every six-decimal score k / 1e6, in threes, and other numbers as JSON.stringify writes them', () => {
    let differ = 0;
    for (let k = 0; k <= 1e6; k += 3) {
      const topk = [{ label: 'a', p: k / 1e6 }, { label: 'b', p: (k + 1) / 1e6 }, { label: 'c', p: (k + 2) / 1e6 }];
      if (topkScoresText(topk) !== JSON.stringify(topk.map((t) => t.p))) differ++;
    }
    expect(differ).toBe(0);
    const odd = [0, -0, 1, 1.5, -0.25, 1e-7, 5e-7, 1e21, -1e-300, 0.1234567, 0.3333333333333333, Number.MAX_VALUE, Number.NaN, Infinity];
    const topk = odd.map((p, i) => ({ label: String(i), p }));
    expect(topkScoresText(topk)).toBe(JSON.stringify(odd));
    const many = Array.from({ length: 300 }, (_, i) => ({ label: 'x', p: Number.MIN_VALUE * (i + 1) }));
    expect(topkScoresText(many)).toBe(JSON.stringify(many.map((t) => t.p)));
  });

  it('top-k labels: the JSON text of any label sequence, prefixes and repeats of cached ones included', () => {
    const labels = ['tls', 'http', 'a "b"\\c', 'ünï', '', 'x\u0000y'];
    for (let round = 0; round < 2; round++) {
      for (const a of labels) {
        for (const b of labels) {
          for (const seq of [[a], [a, b], [a, b, a], [b, a, b, a]]) {
            expect(topkLabelsText(seq.map((label) => ({ label, p: 0.5 })))).toBe(JSON.stringify(seq));
          }
        }
      }
    }
  });
});

describe('flowUid()', () => {
  it('is C + 17 base62 digits of the first 96 bits of SHA-256 over the documented JSON key', () => {
    const uid = flowUid('tap-7', 4, '192.0.2.10', 51515, '198.51.100.7', 443, 0, 1700000000.25);
    expect(uid).toMatch(/^C[0-9A-Za-z]{17}$/);
    expect(flowUid('tap-7', 4, '192.0.2.10', 51515, '198.51.100.7', 443, 0, 1700000000.25)).toBe('C1Xr6NolW6FThVwmKb'); // README's example
    expect(uid).toBe(documentedUid(['tap-7', 4, '192.0.2.10', 51515, '198.51.100.7', 443, 0, 1700000000250000]));
    for (let i = 0; i < 200; i++) {
      const f = ['s' + i, 6, `2001:db8::${i}`, 1000 + i, '2001:db8::1', 22, i % 5, 1600000000 + i * 0.001001];
      expect(flowUid(f[0] as string, 6, f[2] as string, f[3] as number, '2001:db8::1', 22, f[6] as number, f[7] as number)).toBe(
        documentedUid([f[0], 6, f[2], f[3], '2001:db8::1', 22, f[6], Math.round((f[7] as number) * 1e6)]),
      );
    }
  });

  it('hashes the documented JSON key for any input: the written bytes and the text fallback agree', () => {
    // Names and addresses with non-ASCII, quotes, backslashes, control characters and lone surrogates (the text path),
    // numbers negative, zero, -0, large, fractional or not finite (the text path past 2^53 and for fractions).
    const names = ['tap-7', 'sensör-ü', 'a"b\\c', '', 'x'.repeat(600), 'lone\ud800', '日本'];
    const addrs = ['10.0.0.1', '2001:db8::1', 'anon:0123456789abcdef', 'q"uote', 'back\\slash', 'tab\tch', 'é', '\udfff', '', 'y'.repeat(400)];
    const numbers = [0, -0, 1, 9, 10, 99999999, 100000000, 100000001, 1234567890123456, 2 ** 53 - 1, 2 ** 53, 1e21, -1, -100000000, 0.5, Number.NaN, Infinity];
    const times = [1700000000.25, 0, -0.0000004, -1.5, 9007199254.740991, 1e300, Number.NaN, 86400.000001];
    let x = 7;
    const pick = <T>(xs: readonly T[]): T => {
      x = (x * 1103515245 + 12345) % 2147483648;
      return xs[x % xs.length]!;
    };
    for (let i = 0; i < 3000; i++) {
      const f = [pick(names), pick(numbers), pick(addrs), pick(numbers), pick(addrs), pick(numbers), pick(numbers), pick(times)] as const;
      const us = Math.round(f[7] * 1e6);
      expect(flowUid(...f)).toBe(documentedUid([f[0], f[1], f[2], f[3], f[4], f[5], f[6], us]));
    }
  });

  it('changes with the sensor, the endpoints, the vlan and the first packet\'s time', () => {
    const base = flowUid('a', 4, '10.0.0.1', 1, '10.0.0.2', 2, 0, 100);
    expect(flowUid('b', 4, '10.0.0.1', 1, '10.0.0.2', 2, 0, 100)).not.toBe(base);
    expect(flowUid('a', 4, '10.0.0.1', 3, '10.0.0.2', 2, 0, 100)).not.toBe(base);
    expect(flowUid('a', 4, '10.0.0.1', 1, '10.0.0.2', 2, 7, 100)).not.toBe(base);
    expect(flowUid('a', 4, '10.0.0.1', 1, '10.0.0.2', 2, 0, 100.000001)).not.toBe(base);
    expect(flowUid('a', 4, '10.0.0.1', 1, '10.0.0.2', 2, 0, 100)).toBe(base);
  });
});

describe('flow records from the pipeline', () => {
  const conv = conversation(1700000000.5, '10.0.0.1', '10.0.0.2', 40001, 443, [[100, 200], [300, 400]]);

  it('stamp sensor, origin and the uid of the written addresses; JSON lines say event_type flow and carry no source', async () => {
    const [offline] = await run(conv, { sensor: 'tap-7', live: false });
    const row = flowToRow(offline!);
    expect(row).toMatchObject({ sensor: 'tap-7', pcap_filename: 'x.pcap', in_iface: null, source: 'x.pcap', proto: 'tcp', verdict: 'unclassified' });
    expect(row.uid).toBe(flowUid('tap-7', 4, '10.0.0.1', 40001, '10.0.0.2', 443, 0, 1700000000.5));
    const json = JSON.parse(rowToJson(row)) as Record<string, unknown>;
    expect(Object.keys(json)).toEqual([...JSON_KEYS]);
    expect(json.event_type).toBe('flow');
    expect(json).not.toHaveProperty('source');

    const [live] = await run(conv, { sensor: 'tap-7', live: true });
    expect(flowToRow(live!)).toMatchObject({ in_iface: 'eth7', pcap_filename: null, uid: row.uid });
  });

  it('computes the uid from pseudonyms when addresses are pseudonymised', async () => {
    const [r] = await run(conv, { sensor: 'tap-7', live: false }, 'a site secret of some length');
    const row = flowToRow(r!);
    expect(row.client_ip).toMatch(/^anon:/);
    expect(row.uid).toBe(flowUid('tap-7', 4, row.client_ip, 40001, row.server_ip, 443, 0, 1700000000.5));
    expect(row.uid).not.toBe(flowUid('tap-7', 4, '10.0.0.1', 40001, '10.0.0.2', 443, 0, 1700000000.5));
  });

  it('gives an active interim record the uid of the flow\'s final record', async () => {
    // A connection that lasts past a 10 s active timeout: one interim record, then the final one.
    const long = conversation(1700000000.5, '10.0.0.1', '10.0.0.2', 40002, 443, [[100, 200]]);
    const late = { ts: 1700000015, data: tcpFrame({ src: '10.0.0.1', dst: '10.0.0.2', sport: 40002, dport: 443, seq: 1101, ack: 50201, flags: ACK | PSH, payload: 'x'.repeat(50) }) };
    const frames = [...long.slice(0, 5), late, ...long.slice(5)].map((f, i) => (i > 5 ? { ...f, ts: 1700000015 + i * 0.001 } : f));
    const out = (await run(frames, { sensor: 's', live: false }, null, 10)).map((c) => flowToRow(c));
    expect(out.map((r) => r.end_reason)).toEqual(['active', 'fin']);
    expect(out[0]!.uid).toBe(out[1]!.uid);
    expect(out[0]!.start).toBe(out[1]!.start);
  });

  it('keeps the verdict status apart from the label', () => {
    expect(flowToRow(classified(0)).verdict).toBe('classified');
  });
});
