import { readFileSync } from 'node:fs';

import { createDeviceSession, firstLine, type Device, type SessionLogger } from './deviceSession';
import { checkModelContract, readModelMetadata, ModelContractError, type CheckedModel } from './modelContract';
import type { OrtSession } from './ortBinding';
import { SelfCheckError } from './selfCheck';

const SILENT: SessionLogger = { warn() {}, info() {} };

function readModel(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ModelContractError(`model ${path}: file not found (set classify.model to an .onnx file; see models/README.md)`);
    throw new ModelContractError(`model ${path}: cannot read it (${code ?? firstLine(e)})`);
  }
}

/**
 * Reads a model file once, checks its metadata, creates its session on the device and checks the contract.
 * The session is built from the same bytes the metadata came from, so a file replaced mid-load cannot mix
 * one model's class names with another's weights. Throws ModelContractError (one line) on any refusal.
 */
export async function openModel(
  path: string,
  device: Device,
  intraOpThreads: number | undefined,
  logger: SessionLogger = SILENT,
): Promise<CheckedModel & { session: OrtSession; cudaError: string | null }> {
  const bytes = readModel(path);
  const { info: meta, selfCheck } = readModelMetadata(path, bytes);
  let created: Awaited<ReturnType<typeof createDeviceSession>>;
  try {
    created = await createDeviceSession(bytes, device, intraOpThreads, logger);
  } catch (e) {
    throw new ModelContractError(`model ${path}: onnxruntime cannot load it: ${firstLine(e)}`);
  }
  try {
    // On the session that will serve, in the thread that will run it (inferenceWorker.ts or this one).
    const names = await checkModelContract(meta, created.session, selfCheck);
    return { info: { ...meta, device: created.device }, ...names, session: created.session, cudaError: created.cudaError };
  } catch (e) {
    await created.session.release();
    if (!(e instanceof SelfCheckError) || created.device !== 'cuda') throw e;
    // The CUDA execution provider computes the model otherwise than its reference: the CPU, which made the reference,
    // may still be right. As with a CUDA provider that cannot load (deviceSession.ts), classify on the CPU and say so;
    // the CPU session's own check decides whether the model is used at all.
    const cudaError = `the CUDA execution provider does not reproduce the model's reference outputs ${e.found}`;
    logger.warn(`model ${path}: ${cudaError}; classifying on CPU`);
    const cpu = await openOnCpu(path, bytes, intraOpThreads);
    try {
      const names = await checkModelContract(meta, cpu.session, selfCheck);
      return { info: { ...meta, device: 'cpu' }, ...names, session: cpu.session, cudaError };
    } catch (again) {
      await cpu.session.release();
      throw again;
    }
  }
}

async function openOnCpu(path: string, bytes: Uint8Array, intraOpThreads: number | undefined): Promise<{ session: OrtSession }> {
  try {
    return await createDeviceSession(bytes, 'cpu', intraOpThreads, SILENT);
  } catch (e) {
    throw new ModelContractError(`model ${path}: onnxruntime cannot load it: ${firstLine(e)}`);
  }
}

/**
 * Contract check only: loads the model on the CPU, checks it and releases it. `sensor` uses it to validate a
 * model before swapping it in on reload. Throws ModelContractError (one line) when the model is refused.
 */
export async function loadModelInfo(path: string): Promise<CheckedModel['info']> {
  const opened = await openModel(path, 'cpu', 1);
  await opened.session.release();
  return opened.info;
}
