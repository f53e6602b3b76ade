import type { Device, SessionLogger } from './deviceSession';
import type { ModelInfo } from './modelContract';
import { openModel } from './openModel';
import { ort, type OrtSession } from './ortBinding';

/** A batch's answer: the buffer it travelled in and one line when inference failed for it. */
export interface RunResult {
  buf: ArrayBuffer;
  error: string | null;
}

/**
 * A loaded, checked model that runs batches. A batch lives in one ArrayBuffer: `rows` input rows of the model's
 * sequence length from float 0, and room for the output rows from float `outAt`. Batches are answered in the order
 * they were handed over. Two implementations: InlineRunner (this thread) and InferenceThread (a worker thread).
 */
export interface ModelRunner {
  readonly info: ModelInfo;
  /** Why CUDA was not used when it was tried, else null. */
  readonly cudaError: string | null;
  /** Fills the output rows of `buf`; the promise gives the buffer back (it may be transferred meanwhile). */
  run(buf: ArrayBuffer, rows: number, outAt: number): Promise<RunResult>;
  close(): Promise<void>;
}

/** The model on the calling thread: onnxruntime-node runs a session synchronously where it is called. */
export class InlineRunner implements ModelRunner {
  private constructor(
    readonly info: ModelInfo,
    readonly cudaError: string | null,
    private readonly session: OrtSession,
    private readonly inputName: string,
    private readonly outputName: string,
  ) {}

  /** Loads and checks the model (openModel); throws ModelContractError (one line) when it is refused. */
  static async open(modelPath: string, device: Device, intraOpThreads: number | undefined, logger: SessionLogger): Promise<InlineRunner> {
    const m = await openModel(modelPath, device, intraOpThreads, logger);
    return new InlineRunner(m.info, m.cudaError, m.session, m.inputName, m.outputName);
  }

  async run(buf: ArrayBuffer, rows: number, outAt: number): Promise<RunResult> {
    const L = this.info.sequenceLength;
    const K = this.info.classes.length;
    try {
      const input = new Float32Array(buf, 0, rows * L);
      const result = await this.session.run({ [this.inputName]: new ort.Tensor('float32', input, [rows, L]) });
      const t = result[this.outputName];
      if (t === undefined || t.type !== 'float32' || t.dims.length !== 2 || t.dims[0] !== rows || t.dims[1] !== K) {
        return { buf, error: `output '${this.outputName}' came back as [${t?.dims.join(', ') ?? ''}], expected [${rows}, ${K}]` };
      }
      new Float32Array(buf, outAt * 4, rows * K).set(t.data as Float32Array);
      return { buf, error: null };
    } catch (e) {
      return { buf, error: (e instanceof Error ? e.message : String(e)).split('\n')[0]! };
    }
  }

  close(): Promise<void> {
    return this.session.release();
  }
}
