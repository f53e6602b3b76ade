import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadRules } from '../../src/learn/rules';
import { runCapture } from '../helpers/runCapture';
import { session, SESSIONS, SPECS, UNNAMED, writePcap, writeServicesCapture } from './handshakes';

const ROOT = path.resolve(__dirname, '../..');
const BIN = path.join(ROOT, 'bin/sensor.js');

function sensor(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: ROOT, timeout: 60000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Rows of a CSV file written by sensor learn (fields quoted only around commas). */
function csvRows(file: string): string[][] {
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => [...l.matchAll(/("([^"]|"")*"|[^,]*)(,|$)/g)].slice(0, -1).map((m) => m[1]!.replace(/^"|"$/g, '').replace(/""/g, '"')));
}

let dir: string;
let capture: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'sensor-learn-'));
  capture = path.join(dir, 'services.pcap');
  writeServicesCapture(capture);
});

describe('sensor learn', () => {
  it('labels each flow from its handshake and writes its sequence as the flow table makes it', async () => {
    const out = path.join(dir, 'rows.csv');
    const r = sensor(['learn', '--pcap', capture, '--out', out]);
    expect(r.stderr).not.toContain('"level":"error"');
    expect(r.code).toBe(0);
    const rows = csvRows(out);
    expect(rows[0]!.join(',')).toBe(['app_service', ...Array.from({ length: 30 }, (_, i) => `tcp_len_${i + 1}`)].join(','));
    const body = rows.slice(1);
    expect(body.map((row) => row[0])).toEqual(SPECS.map((s) => s.label));
    // The sequences are the sensor's own (same flow table and rules as `sensor --pcap`).
    const { records } = await runCapture(capture);
    const byServerPortAndClient = new Map(records.map((rec) => [`${rec.client_ip}`, rec.lengths.join(',')]));
    body.forEach((row, i) => expect(row.slice(1).join(',')).toBe(byServerPortAndClient.get(`10.1.0.${i + 1}`)));
    // The two-segment ClientHello: +1448 then the rest, as the flow table counts them.
    expect(Number(body[2]![1])).toBe(1448);
    // Side files: one group per row, and the flow details without names by default.
    const runs = readFileSync(path.join(dir, 'rows.runs'), 'utf8').trim().split('\n');
    expect(runs).toHaveLength(SPECS.length);
    for (const g of runs) expect(g).toMatch(/^g[0-9a-f]{12}$/);
    const flows = csvRows(path.join(dir, 'rows.flows.csv'));
    expect(flows[0]).toEqual(['group', 'first_ts', 'last_ts', 'server_port', 'protocol', 'evidence', 'alpn', 'payload_packets']);
    expect(flows.slice(1).map((f) => f[4])).toEqual(['tls', 'tls', 'tls', 'http', 'http', 'ssh', 'smtp', 'smtp', 'ftp', 'imap', 'pop3', 'imaps']);
    const rule = (app: string): string => `rule:${loadRules().rules.findIndex((x) => x.app === app) + 1}`;
    expect(flows.slice(1).map((f) => f[5])).toEqual(
      [rule('github'), 'domain', 'domain', rule('wikipedia'), 'domain', rule('ssh'), rule('smtp'), rule('smtp'), rule('ftp'), rule('imap'), rule('pop3'), rule('imaps')],
    );
    // No server name leaves the process unless asked for.
    const everything = ['rows.csv', 'rows.runs', 'rows.flows.csv'].map((f) => readFileSync(path.join(dir, f), 'utf8')).join('\n') + r.stdout + r.stderr;
    for (const s of SPECS) if (s.name !== null && s.name !== s.label) expect(everything).not.toContain(s.name);
    expect(everything).not.toContain('Postfix');
    expect(r.stderr).toContain(`sensor learn: ${SPECS.length} rows from ${SPECS.length + UNNAMED.length} flows`);
    expect(r.stderr).toContain('1 unlabelled, 1 mid-stream');
  });

  it('--keep-names writes each flow\'s SNI / Host, STARTTLS SNI included', () => {
    const out = path.join(dir, 'named.csv');
    const r = sensor(['learn', '--pcap', capture, '--out', out, '--keep-names']);
    expect(r.code).toBe(0);
    const flows = csvRows(path.join(dir, 'named.flows.csv'));
    expect(flows[0]![8]).toBe('name');
    expect(flows.slice(1).map((f) => f[8] || null)).toEqual(SPECS.map((s) => s.name));
  });

  it('a rules file given with --rules replaces the shipped one, and its order decides', () => {
    const rules = path.join(dir, 'rules.json');
    writeFileSync(rules, JSON.stringify({ fallback: 'none', rules: [{ app: 'secure', protocol: ['tls', 'imaps'] }, { app: 'github-web', domains: ['github.com'] }] }));
    const out = path.join(dir, 'custom.csv');
    const r = sensor(['learn', '--pcap', capture, '--out', out, '--rules', rules]);
    expect(r.code).toBe(0);
    expect(csvRows(out).slice(1).map((row) => row[0])).toEqual(['secure', 'secure', 'secure', 'secure']);
    const bad = sensor(['learn', '--pcap', capture, '--out', out, '--rules', path.join(dir, 'none.json')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toContain('cannot read rules');
  });

  it('warns when the capture\'s snaplen cut the handshakes, and refuses a short live snaplen', () => {
    const cut = path.join(dir, 'cut.pcap');
    const frames = Array.from({ length: 12 }, (_, i) =>
      session({ t0: 1750001000 + i, client: `10.3.0.${i + 1}`, server: '192.0.2.30', cport: 42000 + i, sport: 443, messages: SESSIONS.https(`host${i}.example.com`) }),
    ).flat();
    writePcap(cut, frames, 96);
    const r = sensor(['learn', '--pcap', cut, '--out', path.join(dir, 'cut.csv')]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('12 of 12 flows had their first packets cut by the capture\'s snaplen');
    expect(r.stderr).toContain('sensor learn: 0 rows from 12 flows');
    const live = sensor(['learn', '--interface', 'lo', '--snaplen', '128', '--out', path.join(dir, 'live.csv')]);
    expect(live.code).toBe(2);
    expect(live.stderr).toContain('sensor learn needs whole packets to read handshakes: --snaplen 128 is below 1518');
  });
});
