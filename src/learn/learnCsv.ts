import { createHmac, randomBytes } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';

import type { ClassifiedFlow } from '../classify/verdict';
import type { FlowSink } from '../pipeline/flowSink';
import { stringify } from 'csv-stringify/sync';
import { whoIsTalkingHeader } from '../sink/exportCsv';

/**
 * `sensor learn`'s output, three files side by side (OUT = the --out path without its .csv):
 *
 *  - OUT.csv        the "who's talking" CSV, `app_service,tcp_len_1..tcp_len_L`: one row per labelled flow
 *                   (what `sensor eval --csv`, `models/train/train.py --csv` and the public dataset use);
 *  - OUT.runs       one group id per row, line for line (`train.py --runs`): flows between the same client and
 *                   server within the same GROUP_SECONDS share a group, so a held-out split keeps each session on
 *                   one side. Ids are keyed hashes (a random key per run): they reveal no address;
 *  - OUT.flows.csv  per row: group, first_ts, last_ts, server_port, protocol, evidence (which rule or 'domain'),
 *                   alpn, payload_packets, and `name` (TLS SNI / HTTP Host) only with keepNames.
 *
 * No payload byte is written; no name other than the label unless keepNames.
 */

/** Flows of one client/server pair within this many seconds form one group (a "session") for held-out splits. */
export const GROUP_SECONDS = 600;

export interface LearnCsvOptions {
  /** Sequence length L (columns tcp_len_1..tcp_len_L). */
  length: number;
  /** Rows need at least this many payload packets (default 1). */
  minPayloadPackets: number;
  /** Write flows first seen mid-stream too (their sequence does not start at the handshake). */
  includeMidstream: boolean;
  /** Write the TLS SNI / HTTP Host in OUT.flows.csv. */
  keepNames: boolean;
}

/** Why flows did not become rows (the run's summary). */
export interface LearnCounts {
  flows: number;
  rows: number;
  interim: number;
  unlabelled: number;
  midstream: number;
  fewPayload: number;
  byLabel: Map<string, number>;
}

/** The three output paths for an --out argument. */
export function learnPaths(out: string): { csv: string; runs: string; flows: string } {
  const base = out.toLowerCase().endsWith('.csv') ? out.slice(0, -4) : out;
  return { csv: base + '.csv', runs: base + '.runs', flows: base + '.flows.csv' };
}

/** A FlowSink that turns labelled flow records into learn rows. */
export class LearnCsvSink implements FlowSink {
  readonly counts: LearnCounts = { flows: 0, rows: 0, interim: 0, unlabelled: 0, midstream: 0, fewPayload: 0, byLabel: new Map() };
  readonly paths: { csv: string; runs: string; flows: string };
  private readonly csv: WriteStream;
  private readonly runs: WriteStream;
  private readonly flows: WriteStream;
  private readonly key = randomBytes(32);
  private error: Error | null = null;

  constructor(
    out: string,
    private readonly opts: LearnCsvOptions,
  ) {
    this.paths = learnPaths(out);
    const open = (p: string): WriteStream => createWriteStream(p).on('error', (e) => (this.error ??= e));
    this.csv = open(this.paths.csv);
    this.runs = open(this.paths.runs);
    this.flows = open(this.paths.flows);
    this.csv.write(whoIsTalkingHeader(opts.length) + '\n');
    this.flows.write('group,first_ts,last_ts,server_port,protocol,evidence,alpn,payload_packets' + (opts.keepNames ? ',name' : '') + '\n');
  }

  write(batch: ClassifiedFlow[]): void {
    if (this.error !== null) throw this.error;
    const c = this.counts;
    const L = this.opts.length;
    const csv: (string | number)[][] = [];
    let runs = '';
    const flows: (string | number)[][] = [];
    for (const { flow } of batch) {
      if (flow.end_reason === 'active') {
        c.interim++;
        continue;
      }
      c.flows++;
      const learned = flow.learned;
      if (learned === null || learned.label === null) {
        c.unlabelled++;
        continue;
      }
      if (flow.midstream && !this.opts.includeMidstream) {
        c.midstream++;
        continue;
      }
      if (flow.payload_packets < this.opts.minPayloadPackets) {
        c.fewPayload++;
        continue;
      }
      const row: (string | number)[] = [learned.label];
      for (let i = 0; i < L; i++) row.push(flow.lengths[i] ?? 0);
      csv.push(row);
      const group = this.group(flow.client_ip, flow.server_ip, flow.first_ts);
      runs += group + '\n';
      const detail: (string | number)[] = [
        group, flow.first_ts.toFixed(6), flow.last_ts.toFixed(6), flow.server_port, learned.protocol ?? '', learned.evidence, learned.alpn, flow.payload_packets,
      ];
      if (this.opts.keepNames) detail.push(learned.name ?? '');
      flows.push(detail);
      c.rows++;
      c.byLabel.set(learned.label, (c.byLabel.get(learned.label) ?? 0) + 1);
    }
    if (csv.length > 0) {
      // csv-stringify quotes what RFC 4180 needs quoted (a label or an ALPN list with a comma).
      this.csv.write(stringify(csv, { record_delimiter: 'unix' }));
      this.runs.write(runs);
      this.flows.write(stringify(flows, { record_delimiter: 'unix' }));
    }
  }

  async close(): Promise<void> {
    for (const s of [this.csv, this.runs, this.flows]) {
      s.end();
      if (!s.closed) await once(s, 'close');
    }
    if (this.error !== null) throw this.error;
  }

  private group(client: string, server: string, firstTs: number): string {
    const bucket = Math.floor(firstTs / GROUP_SECONDS);
    return 'g' + createHmac('sha256', this.key).update(`${client}|${server}|${bucket}`).digest('hex').slice(0, 12);
  }
}
