import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { loadModelInfo } from '../../src/classify/classifier';
import { refusal as refusedWith } from './refusal';

const MODELS = path.resolve(__dirname, '../fixtures/model');
const broken = (name: string): string => path.join(MODELS, 'broken', name);
const tmp = mkdtempSync(path.join(tmpdir(), 'contract-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function refusal(file: string): Promise<string> {
  return refusedWith(() => loadModelInfo(file), file);
}

describe('loadModelInfo() accepts models that keep the contract', () => {
  it('reads the fixture model', async () => {
    const info = await loadModelInfo(path.join(MODELS, 'fixture.onnx'));
    expect(info).toEqual({
      path: path.join(MODELS, 'fixture.onnx'),
      version: 'fixture-1',
      classes: ['bulk-upload', 'bulk-download', 'interactive'],
      sequenceLength: 30,
      device: 'cpu',
      trainingData: 'none: fixed weights over in-graph volume and mean-size features (test fixture)',
      inputReference: null,
      backgroundClasses: [],
      unknownThreshold: null,
    });
  });

  it('reads the optional unknown-rule keys: background classes and the model\'s own threshold', async () => {
    const info = await loadModelInfo(path.join(MODELS, 'fixture-background.onnx'));
    expect(info.backgroundClasses).toEqual(['interactive']);
    expect(info.unknownThreshold).toBe(0.3);
  });

  it('takes the sequence length from the model (L = 20)', async () => {
    expect((await loadModelInfo(path.join(MODELS, 'fixture-l20.onnx'))).sequenceLength).toBe(20);
  });

  it('finds a symbolic output width with a probe run', async () => {
    expect((await loadModelInfo(path.join(MODELS, 'fixture-symbolic-k.onnx'))).classes).toHaveLength(3);
  });
});

describe('loadModelInfo() refuses a model that breaks the contract, in one line', () => {
  it.each([
    ['missing-classes.onnx', "metadata 'classes' is missing (see models/README.md)"],
    ['missing-sequence-length.onnx', "metadata 'sequence_length' is missing"],
    ['missing-model-version.onnx', "metadata 'model_version' is missing"],
    ['missing-training-data.onnx', "metadata 'training_data' is missing"],
    ['classes-not-json.onnx', "metadata 'classes' is not JSON"],
    ['classes-duplicate.onnx', "metadata 'classes' names 'a' twice"],
    ['classes-empty-name.onnx', "metadata 'classes' entry 1 is not a non-empty string"],
    ['classes-reserved.onnx', "metadata 'classes' names 'unknown', a label the sensor reserves for its own verdicts"],
    ['wrong-width.onnx', "output 'probabilities' is 3 wide but metadata 'classes' names 2 classes"],
    ['wrong-width-symbolic.onnx', "output 'probabilities' is 3 wide but metadata 'classes' names 2 classes"],
    ['sequence-length-mismatch.onnx', "input 'lengths' is 30 wide but metadata 'sequence_length' is 20"],
    ['sequence-length-not-integer.onnx', "metadata 'sequence_length' is '30.5', not an integer from 1 to 4096"],
    ['int-input.onnx', "input 'lengths' is int64; the contract is float32 [N, 30]"],
    ['two-inputs.onnx', 'has 2 inputs (lengths, unused)'],
    ['fixed-batch.onnx', "input 'lengths' has a fixed batch size 1; export it with a dynamic batch axis"],
    ['batch-one-only.onnx', "output 'probabilities' has shape [1, 6] for 2 input rows; the contract is [N, 3]"],
    ['background-not-a-class.onnx', `metadata 'background_classes' entry 0 ("other") is not one of the model's classes`],
    ['background-every-class.onnx', "metadata 'background_classes' names every class; at least one must name an application"],
    ['background-not-json.onnx', "metadata 'background_classes' is not JSON"],
    ['threshold-out-of-range.onnx', "metadata 'unknown_threshold' is '1.5', not a number from 0 to 1"],
  ])('%s', async (file, expected) => {
    const msg = await refusal(broken(file));
    expect(msg).toContain(expected);
    expect(msg.endsWith('(see models/README.md)')).toBe(true);
  });

  it('a missing file', async () => {
    expect(await refusal(path.join(tmp, 'nope.onnx'))).toContain('file not found');
  });

  it('a file that is not ONNX', async () => {
    const file = path.join(tmp, 'text.onnx');
    writeFileSync(file, 'this is a text file, not a model\n');
    expect(await refusal(file)).toMatch(/not a readable ONNX file: .* at byte \d+/);
  });

  it('a damaged (truncated) model', async () => {
    const file = path.join(tmp, 'cut.onnx');
    const bytes = readFileSync(path.join(MODELS, 'fixture.onnx'));
    writeFileSync(file, bytes.subarray(0, bytes.length - 40));
    expect(await refusal(file)).toMatch(/not a readable ONNX file|onnxruntime cannot load it/);
  });

  it('a model whose graph onnxruntime rejects', async () => {
    // Metadata intact, graph bytes flipped: the metadata check passes and ORT's own error is reported.
    const file = path.join(tmp, 'flipped.onnx');
    copyFileSync(path.join(MODELS, 'fixture.onnx'), file);
    const bytes = readFileSync(file);
    const graphAt = bytes.indexOf(Buffer.from('ppi_fixture'));
    bytes.write('zz', bytes.indexOf(Buffer.from('Relu')), 'latin1'); // an operator that does not exist
    writeFileSync(file, bytes);
    expect(graphAt).toBeGreaterThan(0);
    expect(await refusal(file)).toMatch(/onnxruntime cannot load it: .*zzlu/);
  });
});
