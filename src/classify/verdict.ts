/** One class and its probability. */
export interface ClassScore {
  label: string;
  p: number;
}

/**
 * What kind of answer a verdict is, apart from its label: `classified` (the label is an application the model
 * named above the threshold), `unknown` (the model's best was below the threshold or a background class), `no-payload` (too few payload
 * packets for the model), `classify-error` (inference failed for the batch), `unclassified` (classification off).
 */
export type VerdictStatus = 'classified' | 'unknown' | 'no-payload' | 'classify-error' | 'unclassified';

export const VERDICT_STATUSES: readonly VerdictStatus[] = ['classified', 'unknown', 'no-payload', 'classify-error', 'unclassified'];

/** The classifier's answer for one flow. */
export class Verdict {
  constructor(
    /** Top class, or 'unknown' (below the threshold, or a background class on top), or a rule label such as 'no-payload'. */
    public label: string,
    /** Probability of the top class (0 for rule labels). */
    public confidence: number,
    /** The k most probable classes, best first (empty for rule labels). */
    public topk: ClassScore[],
    /** Version string of the model that produced it ('' for rule labels). */
    public model_version: string,
    /** The kind of answer; the sentinel labels have the status of the same name. */
    public status: VerdictStatus,
  ) {}
}

/** An item handed to the classifier and its verdict. */
export interface Classified<T> {
  flow: T;
  verdict: Verdict;
}

/** What the sinks receive: a flow and its verdict. */
export type ClassifiedFlow = Classified<import('../flow/flowRecord').FlowRecord>;
