import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { evalCommand } from '../../src/cli/evalCommand';
import { textSink } from '../helpers/textSink';

const REPO = path.resolve(__dirname, '../..');
const MODEL = path.join(REPO, 'models/sensor.onnx');
// Rows from the corpus the bundled model was trained on (models/lab/sample.csv follows the newest lab corpus,
// which has classes and programs the bundled model may not know yet): refresh together with models/sensor.onnx.
const SAMPLE = path.join(REPO, 'models/sensor.sample.csv');

const sink = textSink;

describe('evalCommand()', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sensor-eval-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('scores the bundled model on the committed sample: accuracy, macro-F1, top-3 and one line per label', async () => {
    const out = sink();
    const code = await evalCommand({ csv: SAMPLE, model: MODEL, out: out.stream });
    expect(code).toBe(0);
    const text = out.text();
    const m = /accuracy (\d\.\d{4}) {2}macro-F1 (\d\.\d{4}) {2}top-3 accuracy (\d\.\d{4})/.exec(text);
    expect(m, text).not.toBeNull();
    // The sample rows come from the corpus the model was trained on (training and held-out runs alike).
    expect(Number(m![1])).toBeGreaterThan(0.9);
    expect(Number(m![3])).toBeGreaterThanOrEqual(Number(m![1]));
    for (const label of ['dns', 'ssh', 'tls', 'xmpp']) expect(text).toMatch(new RegExp(`^${label} +15 `, 'm'));
  });

  it('counts labels the model does not know as wrong and lists them', async () => {
    const csv = path.join(dir, 'foreign.csv');
    const zeros = new Array<number>(28).fill(0).join(',');
    writeFileSync(csv, `app_service,${Array.from({ length: 30 }, (_, i) => `tcp_len_${i + 1}`).join(',')}\n` +
      `gopher,5,-20,${zeros}\ngopher,7,-20,${zeros}\n`);
    const out = sink();
    expect(await evalCommand({ csv, model: MODEL, out: out.stream })).toBe(0);
    expect(out.text()).toContain('accuracy 0.0000');
    expect(out.text()).toContain('labels the model does not know (always counted wrong; retrain to add them, see models/README.md): gopher (2)');
  });

  it('returns 2 for a file that is not who\'s-talking CSV and for a missing model', async () => {
    const bad = path.join(dir, 'bad.csv');
    writeFileSync(bad, 'label,len1\nssh,5\n');
    expect(await evalCommand({ csv: bad, model: MODEL, out: sink().stream })).toBe(2);
    expect(await evalCommand({ csv: SAMPLE, model: path.join(dir, 'none.onnx'), out: sink().stream })).toBe(2);
  });
});
