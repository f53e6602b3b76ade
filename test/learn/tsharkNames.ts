import { spawn } from 'node:child_process';
import { FileSource } from '../../src/capture/fileSource';
import type { ClassifiedFlow } from '../../src/classify/verdict';
import { Pipeline } from '../../src/pipeline/pipeline';
import type { FlowRecord } from '../../src/flow/flowRecord';
import { DEFAULT_FLOW_OPTIONS } from '../../src/flow/flowTable';
import { HandshakeInspector } from '../../src/learn/handshakeInspector';
import { Labeller } from '../../src/learn/labeller';
import { loadRules } from '../../src/learn/rules';

/** The labeller's server names against tshark's TLS SNI / HTTP Host fields, flow by flow, for one capture. */

export interface NameCounts {
  /** tshark streams with an SNI or Host, matched to one of our flows. */
  named: number;
  agree: number;
  /** tshark has a name, we have none. */
  missed: number;
  /** Both have a name and they differ. */
  differ: number;
  /** We have a name, tshark has none. */
  extra: number;
  /** Of those, names tshark gives too when it dissects each segment on its own (no TCP reassembly): a request whose
   * Host header was captured but whose end was not, which tshark's HTTP dissector waits for forever. */
  extraSeenUnreassembled: number;
  /** tshark streams (with a name) that no flow of ours matched (tunnels, port reuse split differently). */
  unmatched: number;
  examples: string[];
}

export const emptyCounts = (): NameCounts => ({ named: 0, agree: 0, missed: 0, differ: 0, extra: 0, extraSeenUnreassembled: 0, unmatched: 0, examples: [] });

/** tshark's value as the labeller normalises names: lower case, no trailing dot, no port; IPv6 literals name nothing. */
function normalise(v: string): string | null {
  let t = v.trim().toLowerCase();
  if (t === '' || t.startsWith('[')) return null;
  const colon = t.indexOf(':');
  if (colon >= 0) t = t.slice(0, colon);
  if (t.endsWith('.')) t = t.slice(0, -1);
  return t === '' ? null : t;
}

interface Stream {
  key: string;
  first: number;
  last: number;
  name: string | null;
}

/** tshark's output, without blocking the event loop (the test runner's worker must stay responsive). */
function run(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('tshark', args, { stdio: ['ignore', 'pipe', 'ignore'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.on('error', reject);
    // tshark exits non-zero on a damaged capture after printing what it could read: that is compared too.
    child.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

async function tsharkStreams(file: string, reassemble = true): Promise<Stream[]> {
  const out = await run([
    '-n', '-r', file, ...(reassemble ? [] : ['-o', 'tcp.desegment_tcp_streams:FALSE']), '-Y', 'tcp && !icmp && !icmpv6', '-T', 'fields', '-E', 'separator=/t', '-E', 'occurrence=f',
    '-e', 'tcp.stream', '-e', 'frame.time_epoch', '-e', 'ip.src', '-e', 'ipv6.src', '-e', 'tcp.srcport', '-e', 'ip.dst', '-e', 'ipv6.dst', '-e', 'tcp.dstport',
    '-e', 'tls.handshake.extensions_server_name', '-e', 'http.host',
  ]);
  const streams = new Map<string, Stream>();
  for (const line of out.split('\n')) {
    const f = line.split('\t');
    if (f.length < 10 || f[0] === '') continue;
    let s = streams.get(f[0]!);
    if (s === undefined) {
      const a = `${f[2] || f[3]}|${f[4]}`;
      const b = `${f[5] || f[6]}|${f[7]}`;
      s = { key: a < b ? `${a}/${b}` : `${b}/${a}`, first: Number(f[1]), last: Number(f[1]), name: null };
      streams.set(f[0]!, s);
    }
    s.last = Math.max(s.last, Number(f[1]));
    if (s.name === null) s.name = normalise(f[8]!) ?? normalise(f[9]!);
  }
  return [...streams.values()];
}

/** Runs the sensor's pipeline with the labeller over one capture: every final record with what it learned. */
export async function labelledRecords(file: string): Promise<FlowRecord[]> {
  const records: FlowRecord[] = [];
  const sink = { write: (b: ClassifiedFlow[]) => { for (const c of b) if (c.flow.end_reason !== 'active') records.push(c.flow); }, close: () => {} };
  const inspector = new HandshakeInspector(new Labeller(loadRules()));
  const pipeline = new Pipeline({ ...DEFAULT_FLOW_OPTIONS, source: file }, null, [sink], null, { sensor: 'test', live: false }, inspector);
  await new FileSource(file).run(pipeline.onFrame, () => pipeline.settle());
  await pipeline.flush('eof');
  await pipeline.close();
  return records;
}

function recordKey(r: FlowRecord): string {
  const a = `${r.client_ip}|${r.client_port}`;
  const b = `${r.server_ip}|${r.server_port}`;
  return a < b ? `${a}/${b}` : `${b}/${a}`;
}

/** Compares one capture; adds to `c`. */
export async function compareNames(file: string, c: NameCounts): Promise<void> {
  const streams = await tsharkStreams(file);
  let unreassembled: Map<string, Stream[]> | null = null;
  const records = await labelledRecords(file);
  const byKey = new Map<string, FlowRecord[]>();
  for (const r of records) {
    const k = recordKey(r);
    const list = byKey.get(k) ?? [];
    list.push(r);
    byKey.set(k, list);
  }
  for (const s of streams) {
    const candidates = byKey.get(s.key) ?? [];
    // Our flows within the stream's time span (1 ms slack: tshark prints 6 decimals). Where tshark keeps one stream
    // across a port reuse that SPEC.md splits into two flows (a SYN after a RST), the first named one answers.
    const mine = candidates.filter((x) => x.first_ts >= s.first - 1e-3 && x.first_ts <= s.last + 1e-3);
    if (mine.length === 0) {
      if (s.name !== null) c.unmatched++;
      continue;
    }
    const ours = mine.find((x) => x.learned?.name != null)?.learned?.name ?? null;
    if (s.name !== null) {
      c.named++;
      if (ours === s.name) c.agree++;
      else if (ours === null) c.missed++;
      else c.differ++;
      if (ours !== s.name && c.examples.length < 200) c.examples.push(`${file}: ${s.key} tshark=${s.name} ours=${ours ?? '-'}`);
    } else if (ours !== null) {
      c.extra++;
      if (unreassembled === null) {
        unreassembled = new Map();
        for (const u of await tsharkStreams(file, false)) unreassembled.set(u.key, [...(unreassembled.get(u.key) ?? []), u]);
      }
      const seen = (unreassembled.get(s.key) ?? []).some((u) => u.name === ours && u.first <= s.last + 1e-3 && u.last >= s.first - 1e-3);
      if (seen) c.extraSeenUnreassembled++;
      else if (c.examples.length < 200) c.examples.push(`${file}: ${s.key} tshark=- ours=${ours}`);
    }
  }
}
