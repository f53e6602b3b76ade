import { readFileSync, writeFileSync } from 'node:fs';
import { DEFAULT_UNKNOWN_THRESHOLD } from '../../src/classify/classifier';
import { checkMetadata } from '../../src/classify/modelContract';
import { DEFAULT_MODEL, defaultConfig } from '../../src/config/config';
import { pcapBytes, session } from './frames';

/**
 * Known flows for the tests that run the shipped model (`models/sensor.onnx`, not the test fixture) through the
 * real paths (CLI, daemon, CUDA): the expected labels live here and only here. Each sequence is a lab session
 * of an unambiguous application (rows of models/sensor.sample.csv, made by models/lab with the real servers);
 * `sensor.onnx` of ppi-mlp-20261130-v6 (the mean of fifteen seeds, int8) names each with a probability of 0.71 or more (http 0.717, tls 0.981, ssh 0.999).
 *
 * When the shipped model changes, run `npx vitest run test/cli/shippedModel.test.ts`: it prints each flow's
 * label and probability. A flow the new model no longer names above the unknown threshold is a finding about
 * the model (or a reason to pick another lab session here), not something to loosen.
 */

export const SHIPPED_MODEL = DEFAULT_MODEL;
/**
 * The threshold the sensor applies by default: `classify.unknownThreshold` when the default config sets one, else the
 * shipped model's own (metadata `unknown_threshold`); a known flow must be named with at least this probability.
 */
export const UNKNOWN_THRESHOLD =
  defaultConfig().classify.unknownThreshold ?? checkMetadata(DEFAULT_MODEL, readFileSync(DEFAULT_MODEL)).unknownThreshold ?? DEFAULT_UNKNOWN_THRESHOLD;

export interface KnownFlow {
  label: string;
  serverPort: number;
  /** The signed payload-length sequence, as the sensor records it. */
  lengths: number[];
}

const repeat = (n: number, len: number): number[] => new Array<number>(n).fill(len);

export const KNOWN_FLOWS: KnownFlow[] = [
  {
    // OpenSSH: banners, KEXINIT both ways, key exchange, then an interactive session.
    label: 'ssh',
    serverPort: 22,
    lengths: [41, -41, 1220, 340, -1104, 1208, -1440, -796, 16, 44, -44, 60, -208, 140, -100, 660, -28, 112, -780, -44, 180, -108, 52, 36, -388, -52, -1440, -1440, -1440, -1440],
  },
  {
    // nginx over TLS: ClientHello (517), server flight, then a download in 1348-byte segments.
    label: 'tls',
    serverPort: 443,
    lengths: [517, -1348, -543, 80, 314, -287, -287, ...repeat(23, -1348)],
  },
  {
    // nginx over HTTP/1.1: a request, a small response, a second request, then a download.
    label: 'http',
    serverPort: 80,
    lengths: [132, -251, -73, 132, -241, ...repeat(25, -1360)],
  },
];

/** The known flows as one capture: one full TCP session each (client 10.0.9.<i+1>), a second apart. */
export function writeKnownFlowsCapture(file: string, t0 = 1_700_000_000): void {
  const frames = KNOWN_FLOWS.flatMap((f, i) => session(t0 + i, `10.0.9.${i + 1}`, '10.0.9.100', 40000 + i, f.serverPort, f.lengths));
  writeFileSync(file, pcapBytes(frames));
}

/** The client address of known flow i in writeKnownFlowsCapture(). */
export function knownFlowClient(i: number): string {
  return `10.0.9.${i + 1}`;
}
