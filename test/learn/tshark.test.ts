import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HAVE_SHARED, SHARED_PCAPS } from '../helpers/sharedPcaps';
import { compareNames, emptyCounts } from './tsharkNames';

/**
 * The labeller's server names against tshark's (`tls.handshake.extensions_server_name`, `http.host`), flow by flow,
 * on real public captures. By default: every capture of ../shared/outside whose labels name a TLS server (SNI),
 * and the captures of ../shared/pcaps named after TLS or HTTP. SENSOR_TSHARK_ALL=1 compares every capture of both
 * folders (several minutes; the README figures).
 */
const OUTSIDE = path.resolve(__dirname, '../../../shared/outside');
const HAVE_OUTSIDE = existsSync(path.join(OUTSIDE, 'labels.csv'));
const HAVE_TSHARK = spawnSync('tshark', ['-v'], { stdio: 'ignore' }).status === 0;
const ALL = process.env.SENSOR_TSHARK_ALL === '1';

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir).sort()) {
    const p = path.join(dir, e);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (/\.(pcap|pcapng|cap)(\.gz)?$/i.test(e)) out.push(p);
  }
  return out;
}

function files(): string[] {
  const chosen: string[] = [];
  if (HAVE_OUTSIDE) {
    if (ALL) chosen.push(...walk(path.join(OUTSIDE, 'pcaps')));
    else {
      const lines = readFileSync(path.join(OUTSIDE, 'labels.csv'), 'utf8').trim().split('\n').slice(1);
      const withSni = new Set<string>();
      for (const l of lines) {
        const f = l.split(',');
        if ((f[10] ?? '') !== '') withSni.add(f[0]!);
      }
      chosen.push(...[...withSni].sort().map((f) => path.join(OUTSIDE, 'pcaps', f)));
    }
  }
  if (HAVE_SHARED) chosen.push(...walk(SHARED_PCAPS).filter((f) => ALL || /tls|ssl|http/i.test(path.basename(f))));
  return chosen;
}

const skip = !HAVE_TSHARK ? 'tshark is not installed (apt-get install tshark)' : !HAVE_OUTSIDE && !HAVE_SHARED ? '../shared captures not found' : '';

describe.skipIf(skip !== '')(`labeller vs tshark on public captures${skip !== '' ? ` (skipped: ${skip})` : ''}`, () => {
  it('names every flow as tshark does: the same SNI / Host, none where tshark has none', { timeout: ALL ? 3_600_000 : 600_000 }, async () => {
    const c = emptyCounts();
    const list = files();
    // Two at a time: one capture's tshark runs while the other's flows go through the pipeline.
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < list.length) await compareNames(list[next++]!, c);
    };
    await Promise.all([worker(), worker()]);
    const share = c.named > 0 ? c.agree / c.named : 0;
    process.stdout.write(
      `labeller vs tshark: ${list.length} captures, ${c.named} flows named by tshark: ${c.agree} agree (${(100 * share).toFixed(2)}%), ` +
        `${c.missed} missed, ${c.differ} differ; ${c.extra} named by the labeller only (${c.extraSeenUnreassembled} of them also by tshark without TCP reassembly); ` +
        `${c.unmatched} tshark streams not flows of the sensor (tunnels)\n` +
        c.examples.slice(0, 10).join('\n') + '\n',
    );
    expect(c.named).toBeGreaterThan(ALL ? 1000 : 300);
    expect(c.differ).toBe(0);
    expect(c.extra - c.extraSeenUnreassembled).toBe(0);
    expect(share).toBeGreaterThanOrEqual(0.99);
  });
});
