import { FileSource } from '../../src/capture/fileSource';
import type { ClassifiedFlow } from '../../src/classify/verdict';
import { Pipeline } from '../../src/pipeline/pipeline';
import type { FlowRecord } from '../../src/flow/flowRecord';
import { DEFAULT_FLOW_OPTIONS, FlowTableOptions } from '../../src/flow/flowTable';

/** Runs capture -> decode -> flow in-process (no model, no database) and returns the records and counters. */
export async function runCapture(
  file: string,
  opts: Partial<FlowTableOptions> = {},
): Promise<{ records: FlowRecord[]; error: string | null; pipeline: Pipeline }> {
  const records: FlowRecord[] = [];
  const sink = { write: (b: ClassifiedFlow[]) => { for (const c of b) records.push(c.flow); }, close: () => {} };
  const pipeline = new Pipeline({ ...DEFAULT_FLOW_OPTIONS, source: file, ...opts }, null, [sink]);
  const result = await new FileSource(file).run(pipeline.onFrame, () => pipeline.settle());
  await pipeline.flush('eof');
  await pipeline.close();
  return { records, error: result.error, pipeline };
}
