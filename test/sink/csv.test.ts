import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { exportCsv, whoIsTalkingHeader } from '../../src/sink/exportCsv';
import { readWhoIsTalkingCsv } from '../../src/sink/readWhoIsTalkingCsv';
import { SqliteSink } from '../../src/sink/sqliteSink';
import { classified } from './classified';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'csv-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function exportTo(dbPath: string, file: string, length?: number): Promise<number> {
  const out = createWriteStream(file);
  const n = await exportCsv(dbPath, out, length === undefined ? {} : { length });
  out.end();
  await once(out, 'close');
  return n;
}

function makeDb(): { dbPath: string; long: number[] } {
  const dbPath = path.join(dir, 'flows.db');
  const sink = new SqliteSink(dbPath);
  const long = Array.from({ length: 30 }, (_, i) => (i % 2 ? -(i + 1) : i + 1));
  sink.write([
    classified(0, 'ssh', [21, -21, 1200, -500]),
    classified(1, 'tls-web', long),
    classified(2, 'odd, "label"', [5]),
    classified(3, 'no-payload', []),
  ]);
  sink.close();
  return { dbPath, long };
}

describe('exportCsv() and readWhoIsTalkingCsv()', () => {
  it('round-trips labels and zero-padded lengths through the "who\'s talking" format', async () => {
    const { dbPath, long } = makeDb();
    const file = path.join(dir, 'flows.csv');
    expect(await exportTo(dbPath, file)).toBe(4);
    const text = readFileSync(file, 'utf8');
    expect(text.split('\n')[0]).toBe(whoIsTalkingHeader(30));
    expect(text.split('\n')[0]).toMatch(/^app_service,tcp_len_1,tcp_len_2,.*,tcp_len_30$/);
    expect(text.split('\n')[1]).toBe('ssh,21,-21,1200,-500' + ',0'.repeat(26));
    expect(text).toContain('"odd, ""label""",5,0,');
    const back = await readWhoIsTalkingCsv(file);
    expect(back.length).toBe(30);
    expect(back.rows.map((r) => r.label)).toEqual(['ssh', 'tls-web', 'odd, "label"', 'no-payload']);
    expect(back.rows[1]!.lengths).toEqual(long);
    expect(back.rows[3]!.lengths).toEqual(new Array(30).fill(0));
  });

  it('truncates or zero pads to the requested length', async () => {
    const { dbPath, long } = makeDb();
    const short = path.join(dir, 'short.csv');
    await exportTo(dbPath, short, 5);
    const s = await readWhoIsTalkingCsv(short);
    expect(s.length).toBe(5);
    expect(s.rows[1]!.lengths).toEqual(long.slice(0, 5));
    const wide = path.join(dir, 'wide.csv');
    await exportTo(dbPath, wide, 40);
    const w = await readWhoIsTalkingCsv(wide);
    expect(w.rows[1]!.lengths).toEqual([...long, ...new Array(10).fill(0)]);
  });

  it('exports while another connection holds a write transaction', async () => {
    const { dbPath } = makeDb();
    const writer = new SqliteSink(dbPath);
    writer.db.exec('BEGIN IMMEDIATE');
    writer.write([classified(9)]);
    expect(await exportTo(dbPath, path.join(dir, 'live.csv'))).toBe(4);
    writer.db.exec('COMMIT');
    writer.close();
  });

  it('refuses a database that does not exist, in one line', async () => {
    await expect(exportCsv(path.join(dir, 'none.db'), process.stdout)).rejects.toThrow(/^cannot open database .*none\.db for export: /);
  });
});

describe('readWhoIsTalkingCsv()', () => {
  function csv(text: string): string {
    const file = path.join(dir, 'in.csv');
    writeFileSync(file, text);
    return file;
  }

  it('reads CRLF files, quoted fields with line breaks, 1448.0-style integers and skips blank lines', async () => {
    const file = csv('app_service,tcp_len_1,tcp_len_2\r\n"multi\nline",1448.0,-7\r\n\r\nzoom,"3",0\r\n');
    expect(await readWhoIsTalkingCsv(file)).toEqual({
      length: 2,
      rows: [
        { label: 'multi\nline', lengths: [1448, -7] },
        { label: 'zoom', lengths: [3, 0] },
      ],
    });
  });

  it.each([
    ['a wrong header', 'label,tcp_len_1\nx,1\n', /in\.csv:1: header must be app_service,tcp_len_1,...,tcp_len_N/],
    ['a misnumbered column', 'app_service,tcp_len_1,tcp_len_3\nx,1,2\n', /in\.csv:1: header column 3 is 'tcp_len_3', expected 'tcp_len_2'/],
    ['a short row', 'app_service,tcp_len_1,tcp_len_2\nx,1,2\ny,1\n', /in\.csv:3: 2 fields, the header has 3/],
    ['a non-integer length', 'app_service,tcp_len_1\nx,1.5\n', /in\.csv:2: tcp_len_1 is '1.5', not an integer/],
    ['an empty length', 'app_service,tcp_len_1\nx,\n', /in\.csv:2: tcp_len_1 is '', not an integer/],
    ['an unclosed quote', 'app_service,tcp_len_1\n"x,1\n', /in\.csv:2: a quoted field is never closed/],
    ['a stray quote', 'app_service,tcp_len_1\nx"y,1\n', /in\.csv:2: a quote inside an unquoted field/],
    ['text after a closing quote', 'app_service,tcp_len_1\n"x"y,1\n', /in\.csv:2: text after a closing quote/],
    ['an empty file', '', /in\.csv:1: empty file/],
  ])('refuses %s with file:line', async (_name, text, expected) => {
    await expect(readWhoIsTalkingCsv(csv(text))).rejects.toThrow(expected);
  });
});
