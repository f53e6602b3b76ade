import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

import { loadAnomalyModelInfo, portThresholdsFor, thresholdFor } from '../../src/anomaly/anomalyModel';
import { ModelContractError } from '../../src/classify/modelContract';

const DIR = path.resolve(__dirname, '../fixtures/anomaly');
const broken = (name: string): string => path.join(DIR, 'broken', name);
const CLASSIFIER = path.resolve(__dirname, '../fixtures/model/fixture.onnx');

async function refusal(file: string): Promise<string> {
  try {
    await loadAnomalyModelInfo(file);
  } catch (e) {
    expect(e).toBeInstanceOf(ModelContractError);
    const msg = (e as Error).message;
    expect(msg).not.toContain('\n');
    expect(msg.startsWith(`anomaly model ${file}: `)).toBe(true);
    return msg;
  }
  throw new Error(`${file} was accepted`);
}

describe('loadAnomalyModelInfo() accepts models that keep the contract', () => {
  it('reads the fixture model: counters, thresholds by rate, the default rate', async () => {
    const info = await loadAnomalyModelInfo(path.join(DIR, 'fixture.onnx'));
    expect(info).toMatchObject({
      version: 'anomaly-fixture-1',
      sequenceLength: 30,
      counters: ['duration', 'conn_state=REJ', 'ctx_pair_same_shape'],
      thresholds: [{ fpr: 0.01, threshold: 5 }, { fpr: 0.05, threshold: 2 }],
      defaultFpr: 0.01,
      method: 'fixed test function',
      device: 'cpu',
    });
  });

  it('reads per-port thresholds where the model has them, and none where it has not', async () => {
    const info = await loadAnomalyModelInfo(path.join(DIR, 'fixture-ports.onnx'));
    // Ports in ascending order (JSON object keys that are integers).
    expect(info.portThresholds).toEqual([{ port: 445, fpr: 0.05, threshold: 12 }, { port: 3389, fpr: 0.01, threshold: 20 }]);
    expect(portThresholdsFor(info, 0.01)).toEqual(new Map([[3389, 20]]));
    expect((await loadAnomalyModelInfo(path.join(DIR, 'fixture.onnx'))).portThresholds).toEqual([]);
  });

  it('accepts an [N, 1] output', async () => {
    await expect(loadAnomalyModelInfo(path.join(DIR, 'fixture-n1.onnx'))).resolves.toMatchObject({ version: 'anomaly-fixture-1' });
  });

  it('ships a bundled model that keeps the contract, with a threshold for a 1% false-positive rate', async () => {
    const info = await loadAnomalyModelInfo(path.resolve(__dirname, '../../models/anomaly.onnx'));
    expect(info.defaultFpr).toBe(0.01);
    expect(thresholdFor(info, null).fpr).toBe(0.01);
    expect(info.counters).toContain('ctx_pair_same_shape');
  });
});

describe('loadAnomalyModelInfo() refuses models that break it, in one line naming the file', () => {
  it.each([
    ['no-counters.onnx', /metadata 'anomaly_counters' is missing/],
    ['unknown-counter.onnx', /unknown counter 'flux'/],
    ['bad-thresholds.onnx', /key '1.5' is not a false-positive rate/],
    ['default-not-stored.onnx', /'anomaly_default_fpr' is 0.02, which 'anomaly_thresholds' has no threshold for/],
    ['wrong-width.onnx', /is 33 wide but sequence_length \+ anomaly_counters is 32/],
    ['fixed-batch.onnx', /fixed batch size 2/],
    ['nan-score.onnx', /probe row 1 scores NaN/],
    ['port-rate-not-stored.onnx', /'anomaly_port_thresholds' for port 22 has rate '0.02', which 'anomaly_thresholds' has no threshold for/],
    ['bad-port.onnx', /'anomaly_port_thresholds' key '70000' is not a port from 1 to 65535/],
    ['bad-hold.onnx', /'anomaly_context_hold' is '600', not a number of seconds from 0 to 60/],
    ['bad-retry-hold.onnx', /'anomaly_context_retry_hold' is '61', not a number of seconds from 0 to 60/],
  ])('%s', async (file, why) => {
    expect(await refusal(broken(file))).toMatch(why);
  });

  it('a classifier model, saying what it probably is', async () => {
    expect(await refusal(CLASSIFIER)).toMatch(/'anomaly_counters' is missing \(is this a classifier model\?\)/);
  });

  it('a missing file', async () => {
    expect(await refusal('/nonexistent/anomaly.onnx')).toMatch(/file not found/);
  });
});

describe('thresholdFor()', () => {
  it('picks the stored threshold for a rate, and names the stored rates for any other', async () => {
    const info = await loadAnomalyModelInfo(path.join(DIR, 'fixture.onnx'));
    expect(thresholdFor(info, 0.05)).toEqual({ fpr: 0.05, threshold: 2 });
    expect(() => thresholdFor(info, 0.03)).toThrow(/has thresholds for false-positive rates 0.01, 0.05; anomaly.falsePositiveRate 0.03 is not one of them/);
  });
});
