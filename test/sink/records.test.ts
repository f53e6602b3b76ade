import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

import { FLOW_COLUMNS, JSON_KEYS } from '../../src/sink/flowRow';

/** docs/records.md documents exactly the fields the outputs write, with the JSON / SQLite split they have. */
describe('docs/records.md', () => {
  const doc = readFileSync(path.resolve(__dirname, '../../docs/records.md'), 'utf8');
  const rows = [...doc.matchAll(/^\| `([a-z_0-9]+)` \|([^|]*)\|([^|]*)\|/gm)].map((m) => ({ field: m[1]!, json: m[2]!.trim(), sqlite: m[3]!.trim() }));

  it('has one row per field of JSON lines and SQLite', () => {
    expect(rows.map((r) => r.field).sort()).toEqual([...new Set([...JSON_KEYS, ...FLOW_COLUMNS])].sort());
  });

  it('says which output has which field', () => {
    for (const r of rows) {
      expect(r.json !== '', `${r.field} in JSON`).toBe((JSON_KEYS as readonly string[]).includes(r.field));
      expect(r.sqlite !== '', `${r.field} in SQLite`).toBe((FLOW_COLUMNS as readonly string[]).includes(r.field));
    }
  });
});
