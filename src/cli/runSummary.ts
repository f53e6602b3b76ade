import type { ClassifiedFlow } from '../classify/verdict';

/** Hosts tracked exactly for "top talkers"; past this the table keeps the heaviest PRUNE_TO and says so. */
const MAX_HOSTS = 100_000;
const PRUNE_TO = 10_000;
/** Rows shown per table. */
const TOP_ROWS = 10;

interface Count {
  flows: number;
  bytes: number;
}

/**
 * The human summary at the end of an offline run: applications, flows, the unknown share and top talkers. It
 * is a sink like the others (it sees every record once, after classification) and keeps counters only: labels
 * (a model's classes plus the sentinels) and hosts, bounded by MAX_HOSTS.
 */
export class RunSummary {
  private readonly labels = new Map<string, Count & { status: string }>();
  private readonly hosts = new Map<string, Count>();
  private hostsPruned = false;
  flows = 0;
  private finals = 0;
  private bytes = 0;
  private modelSaw = 0;
  private unknown = 0;

  write(batch: readonly ClassifiedFlow[]): void {
    for (const { flow: f, verdict: v } of batch) {
      this.flows++;
      // An `active` record is an interim snapshot: its flow is counted by its final record.
      if (f.end_reason === 'active') continue;
      this.finals++;
      const bytes = f.c2s_bytes + f.s2c_bytes;
      this.bytes += bytes;
      let l = this.labels.get(v.label);
      if (l === undefined) this.labels.set(v.label, (l = { flows: 0, bytes: 0, status: v.status }));
      l.flows++;
      l.bytes += bytes;
      if (v.status === 'classified' || v.status === 'unknown') this.modelSaw++;
      if (v.status === 'unknown') this.unknown++;
      this.addHost(f.client_ip, bytes);
      this.addHost(f.server_ip, bytes);
    }
  }

  close(): void {}

  private addHost(ip: string, bytes: number): void {
    let h = this.hosts.get(ip);
    if (h === undefined) {
      if (this.hosts.size >= MAX_HOSTS) this.prune();
      this.hosts.set(ip, (h = { flows: 0, bytes: 0 }));
    }
    h.flows++;
    h.bytes += bytes;
  }

  private prune(): void {
    const keep = [...this.hosts.entries()].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, PRUNE_TO);
    this.hosts.clear();
    for (const [k, v] of keep) this.hosts.set(k, v);
    this.hostsPruned = true;
  }

  /** The summary as text (several lines, ending with a newline). `seconds` and `files` come from the run. */
  render(run: { files: number; seconds: number; packets: number }): string {
    const out: string[] = [];
    const pct = (n: number, of: number): string => (of === 0 ? '-' : `${((100 * n) / of).toFixed(1)}%`);
    out.push(
      `${run.files} file${run.files === 1 ? '' : 's'}, ${fmt(run.packets)} packets, ${fmt(this.finals)} flows` +
        (this.flows > this.finals ? ` (+${this.flows - this.finals} interim active records)` : '') +
        ` in ${run.seconds.toFixed(2)} s`,
    );
    const unknownLine =
      this.modelSaw === 0
        ? `unknown share: - (${this.labels.has('unclassified') ? 'classification off' : 'no flow had payload for the model'})`
        : `unknown share: ${pct(this.unknown, this.modelSaw)} of the ${fmt(this.modelSaw)} flows the model saw were labelled unknown`;
    out.push(unknownLine, '');

    const apps = [...this.labels.entries()].sort((a, b) => b[1].flows - a[1].flows || b[1].bytes - a[1].bytes);
    const appRows = apps.slice(0, TOP_ROWS).map(([label, c]) => [label, c.status, fmt(c.flows), pct(c.flows, this.finals), bytesText(c.bytes)]);
    if (apps.length > TOP_ROWS) {
      const rest = apps.slice(TOP_ROWS).reduce((s, [, c]) => ({ flows: s.flows + c.flows, bytes: s.bytes + c.bytes }), { flows: 0, bytes: 0 });
      appRows.push([`(${apps.length - TOP_ROWS} more)`, '', fmt(rest.flows), pct(rest.flows, this.finals), bytesText(rest.bytes)]);
    }
    out.push(...table(['application', 'verdict', 'flows', 'share', 'bytes'], appRows, [false, false, true, true, true]), '');

    const hosts = [...this.hosts.entries()].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, TOP_ROWS);
    out.push(
      ...table(
        ['top talker', 'flows', 'bytes', 'share of bytes'],
        hosts.map(([ip, c]) => [ip, fmt(c.flows), bytesText(c.bytes), pct(c.bytes, this.bytes)]),
        [false, true, true, true],
      ),
    );
    if (this.hostsPruned) out.push(`(more than ${fmt(MAX_HOSTS)} hosts: talkers are the heaviest kept while counting, approximate)`);
    return out.join('\n') + '\n';
  }
}

/**
 * A count with thousands separators, as toLocaleString('en-US') writes it. Not toLocaleString itself: its first
 * call initialises ICU, which took 60-145 ms of an offline run's ~1 s on the bench machine.
 */
export function fmt(n: number): string {
  if (!Number.isSafeInteger(n)) return String(n);
  const digits = String(Math.abs(n));
  let out = '';
  for (let i = 0; i < digits.length; i++) {
    if (i > 0 && (digits.length - i) % 3 === 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? '-' + out : out;
}

function bytesText(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]!}`;
}

/** Rows under a header, columns padded to their widest cell; `right` aligns numbers. */
function table(header: string[], rows: string[][], right: boolean[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (right[i] === true ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}
