import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { openModel } from '../../src/classify/openModel';
import { ort } from '../../src/classify/ortBinding';
import { readWhoIsTalkingCsv } from '../../src/sink/readWhoIsTalkingCsv';
import { PYTHON, trainingPythonMissing } from '../helpers/trainingPython';

const REPO = path.resolve(__dirname, '../..');
const TRAIN = path.join(REPO, 'models/train/train.py');
const SAMPLE = path.join(REPO, 'models/lab/sample.csv');

const missing = trainingPythonMissing();
if (missing !== null) process.stderr.write(`test/models/retrain: skipped: ${missing}\n`);

describe.skipIf(missing !== null)(`models/train/train.py retrains from a who's-talking CSV${missing ? ` (skipped: ${missing})` : ''}`, () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sensor-retrain-'));
  const onnxPath = path.join(dir, 'model.onnx');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('train.py --quick on the committed sample writes an ONNX model that meets the contract', async () => {
    const r = spawnSync(PYTHON, [TRAIN, '--csv', SAMPLE, '--quick', '--threads', '2', '--out', dir, '--export', onnxPath,
      '--model-version', 'retrain-test'], { encoding: 'utf8', timeout: 240_000 });
    expect(r.status, `train.py failed:\n${r.stdout}\n${r.stderr}`).toBe(0);
    expect(existsSync(onnxPath)).toBe(true);

    const sample = await readWhoIsTalkingCsv(SAMPLE);
    // Labels `other:*` (background protocols) train one background class, `other`, which the sensor reports as
    // unknown; every other label is an application class of its own.
    const apps = [...new Set(sample.rows.map((row) => row.label))].filter((l) => !l.startsWith('other:'));
    const labels = [...apps.sort(), 'other']; // the background class comes last
    const model = await openModel(onnxPath, 'cpu', 1);
    try {
      expect(model.info.classes).toEqual(labels);
      expect(model.info.backgroundClasses).toEqual(['other']);
      expect(model.info.unknownThreshold).not.toBeNull();
      expect(model.info.sequenceLength).toBe(30);
      expect(model.info.version).toBe('retrain-test');
      expect(model.info.trainingData).toContain(`${sample.rows.length} flows of ${apps.length} classes`);

      // Raw lengths in, one probability row per flow out.
      const n = 8;
      const input = new Float32Array(n * 30);
      for (let i = 0; i < n; i++) sample.rows[i]!.lengths.forEach((v, j) => { input[i * 30 + j] = v; });
      const out = await model.session.run({ [model.inputName]: new ort.Tensor('float32', input, [n, 30]) });
      const probs = out[model.outputName]!.data as Float32Array;
      expect(probs.length).toBe(n * labels.length);
      for (let i = 0; i < n; i++) {
        let sum = 0;
        for (let k = 0; k < labels.length; k++) sum += probs[i * labels.length + k]!;
        expect(sum).toBeCloseTo(1, 4);
      }
    } finally {
      await model.session.release();
    }

    const metrics = JSON.parse(readFileSync(path.join(dir, 'metrics.json'), 'utf8')) as {
      flows: number; network?: { macro_f1: number };
    };
    expect(metrics.flows).toBe(sample.rows.length);
    expect(typeof metrics.network?.macro_f1).toBe('number');
  }, 300_000);

  it('the MLP trained on inputs computed per batch (the path of millions of rows) matches the precomputed inputs', () => {
    // models/train/lazy_check.py forces each path on the sample (SENSOR_TRAIN_LAZY) and compares them
    const r = spawnSync(PYTHON, [path.join(REPO, 'models/train/lazy_check.py'), '--csv', SAMPLE], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status, `lazy_check.py failed:\n${r.stdout}\n${r.stderr}`).toBe(0);
    const res = JSON.parse(r.stdout.trim().split('\n').pop() as string) as Record<string, unknown>;
    expect(res.versions).toBe(5); // the row as captured and its four augmented copies
    expect(res.counts_same).toBe(true);
    expect(res.vocab_same).toBe(true);
    expect(res.features_max_abs_diff as number).toBeLessThanOrEqual(1e-5);
    expect((res.loss_lazy as number[]).length).toBe(1);
    expect(res.loss_max_abs_diff as number).toBeLessThanOrEqual(1e-4);
  });

  it('a student learns from a --save-teacher run of the same rows (--distill, --distill-views) and refuses one of other classes', () => {
    const teacher = path.join(dir, 'teacher');
    const run = (out: string, extra: string[]) => spawnSync(PYTHON, [TRAIN, '--csv', SAMPLE, '--quick', '--threads', '2',
      '--out', out, ...extra], { encoding: 'utf8', timeout: 240_000 });
    const t = run(teacher, ['--save-teacher']);
    expect(t.status, `teacher failed:\n${t.stdout}\n${t.stderr}`).toBe(0);
    expect(existsSync(path.join(teacher, 'teacher.npz'))).toBe(true);
    expect(existsSync(path.join(teacher, 'teacher_models.pt'))).toBe(true);

    const student = path.join(dir, 'student');
    const s = run(student, ['--seed', '8', '--hidden', '32', '--hidden2', '16', '--distill', teacher, '--distill-views']);
    expect(s.status, `student failed:\n${s.stdout}\n${s.stderr}`).toBe(0);
    expect(s.stdout).toContain('distilling from 1 teachers');
    const m = JSON.parse(readFileSync(path.join(student, 'metrics.json'), 'utf8')) as {
      distill?: { teachers: string[]; alpha: number }; network?: { macro_f1: number };
    };
    expect(m.distill?.teachers).toEqual([teacher]);
    expect(m.distill?.alpha).toBe(0.7);
    expect(typeof m.network?.macro_f1).toBe('number');

    // a teacher trained on other classes (here: irc dropped into the background) is not fold-clean for this run
    const other = run(path.join(dir, 'other'), ['--drop-classes', 'irc', '--distill', teacher]);
    expect(other.status).not.toBe(0);
    expect(other.stderr).toContain('teacher trained on other rows, classes or folds than this run');
  }, 600_000);
});
