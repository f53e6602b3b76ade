import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { runOffline } from '../../../src/cli/offline';
import { defaultConfig } from '../../../src/config/config';
import { createLogger } from '../../../src/sink/log';
import { readWhoIsTalkingCsv } from '../../../src/sink/readWhoIsTalkingCsv';
import { mulberry32 } from '../../../bench/synth';
import { writeSequenceCapture, type ExpectedFlow } from '../../helpers/sequenceCapture';

export const REPO = path.resolve(__dirname, '../../..');
export const MODEL = path.join(REPO, 'models/sensor.onnx');
/** Rows from the bundled model's own training corpus (models/lab/sample.csv follows the newest lab corpus, whose
 * classes and programs the bundled model may not know yet): refreshed together with models/sensor.onnx. */
export const SAMPLE = path.join(REPO, 'models/sensor.sample.csv');
/** 2026-11-29 12:00 UTC: the generated capture's first packet. */
export const START = Date.UTC(2026, 10, 29, 12) / 1000;
export const SPAN_SECONDS = 7200;

export interface FlowsDb {
  dir: string;
  pcap: string;
  db: string;
  /** The connections the capture holds, in capture order. */
  expected: ExpectedFlow[];
}

/**
 * A database made the way a user makes one: a generated capture (the labelled rows of SAMPLE in
 * a shuffled order, over two hours, with rejected and unanswered connections mixed in) through the real
 * pipeline (decode, flow table, the bundled model, the SQLite sink).
 */
export async function buildFlowsDb(prefix: string): Promise<FlowsDb> {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  const { rows } = await readWhoIsTalkingCsv(SAMPLE);
  const next = mulberry32(0x5e7e);
  for (let i = rows.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [rows[i], rows[j]] = [rows[j]!, rows[i]!];
  }
  const pcap = path.join(dir, 'sequences.pcap');
  const expected = writeSequenceCapture(pcap, rows, { start: START, spanSeconds: SPAN_SECONDS, clients: 25, rejectEvery: 13, unansweredEvery: 17 });
  const cfg = defaultConfig();
  cfg.capture.pcap = [pcap];
  cfg.output.db = path.join(dir, 'flows.db');
  cfg.classify.model = MODEL;
  const log = createLogger({ level: 'error', format: 'json', stream: 'stderr' });
  const { code } = await runOffline(cfg, log, false);
  await new Promise<void>((res) => log.on('finish', res).end());
  if (code !== 0) throw new Error(`building the test database failed with exit code ${code}`);
  return { dir, pcap, db: cfg.output.db, expected };
}
