/**
 * A model that breaks the contract (modelContract.ts) is refused with this error, whose message is one line naming
 * the file. In a module of its own so that the capture thread can name it without loading onnxruntime (the model
 * runs in a worker thread, see inferenceThread.ts).
 */
export class ModelContractError extends Error {
  override name = 'ModelContractError';
}
