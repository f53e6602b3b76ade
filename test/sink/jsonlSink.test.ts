import { mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { FLOW_COLUMNS, JSON_KEYS } from '../../src/sink/flowRow';
import { JsonlSink } from '../../src/sink/jsonlSink';
import { SqliteSink } from '../../src/sink/sqliteSink';
import { classified } from './classified';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'jsonl-sink-'));
});
afterEach(() => {
  vi.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});

function lines(file: string): Record<string, unknown>[] {
  return readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('JsonlSink', () => {
  it('writes one object per flow whose keys are the SQLite column names, in column order', async () => {
    const file = path.join(dir, 'flows.jsonl');
    const sink = new JsonlSink(file);
    sink.write([classified(0), classified(1)]);
    await sink.close();
    const [a, b] = lines(file);
    expect(Object.keys(a!)).toEqual([...JSON_KEYS]);

    // The SQLite columns less `source` (an object in ECS), plus event_type.
    const db = new SqliteSink(path.join(dir, 'flows.db'));
    const columns = (db.db.prepare('SELECT name FROM pragma_table_info(?)').all('flows') as { name: string }[]).map((c) => c.name);
    db.close();
    expect(['id', 'source', ...Object.keys(a!).filter((k) => k !== 'event_type')].sort()).toEqual([...columns].sort());
    expect(FLOW_COLUMNS).toContain('source');
    expect(JSON_KEYS).not.toContain('source');

    expect(a).toMatchObject({
      event_type: 'flow', uid: 'Ctest0', sensor: 'test-sensor', pcap_filename: 'test.pcap', in_iface: null, proto: 'tcp',
      start: '2023-11-14T22:13:20.000000Z', end: '2023-11-14T22:13:22.500000Z', midstream: true, duration: 2.5,
      label: 'tls-web', verdict: 'classified', confidence: 0.91, end_reason: 'fin',
    });
    expect(b!.midstream).toBe(false);
    expect(a!.lengths).toEqual(classified(0).flow.lengths);
    expect(a!.topk_labels).toEqual(['tls-web', 'other']);
    expect(a!.topk_scores).toEqual([0.91, 0.09]);
  });

  it('appends to an existing file and reopens after logrotate moved it', async () => {
    const file = path.join(dir, 'flows.jsonl');
    const first = new JsonlSink(file);
    first.write([classified(0)]);
    await first.close();
    const sink = new JsonlSink(file);
    sink.write([classified(1)]);
    renameSync(file, file + '.1'); // what logrotate does
    sink.write([classified(2)]); // still goes to the moved file until reopen()
    await sink.reopen();
    sink.write([classified(3)]);
    await sink.close();
    expect(lines(file + '.1').map((r) => r.first_ts)).toEqual([1700000000, 1700000001, 1700000002]);
    expect(lines(file).map((r) => r.first_ts)).toEqual([1700000003]);
    expect(sink.rows).toBe(3);
  });

  it("writes to stdout for '-' and leaves stdout open on close()", async () => {
    const out: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: string, cb?: () => void) => {
      out.push(chunk);
      if (typeof cb === 'function') cb();
      return true;
    }) as typeof process.stdout.write);
    const sink = new JsonlSink('-');
    expect(sink.write([classified(0), classified(1)])).toBe(true);
    await sink.close();
    const text = out.join('');
    expect(text.split('\n').filter(Boolean).map((l) => JSON.parse(l).first_ts)).toEqual([1700000000, 1700000001]);
    expect(process.stdout.writable).toBe(true);
  });

  it('reports a path it cannot open in one line', () => {
    expect(() => new JsonlSink(path.join(dir, 'missing/dir/flows.jsonl'))).toThrow(
      /^cannot open JSON-lines output .*missing\/dir\/flows\.jsonl: ENOENT \(check that its directory exists and is writable\)$/,
    );
  });

  it('applies back-pressure: write() returns false past the buffer, drained() waits for room', async () => {
    const file = path.join(dir, 'big.jsonl');
    const sink = new JsonlSink(file);
    const batch = Array.from({ length: 1000 }, (_, i) => classified(i));
    let full = false;
    for (let i = 0; i < 5 && !full; i++) full = !sink.write(batch);
    expect(full).toBe(true);
    await sink.drained();
    await sink.close();
    expect(lines(file).length).toBe(sink.rows);
  });
});
