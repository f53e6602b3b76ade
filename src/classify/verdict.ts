/** One class and its probability. */
export interface ClassScore {
  label: string;
  p: number;
}

/** The classifier's answer for one flow. */
export class Verdict {
  constructor(
    /** Top class, or 'unknown' below the threshold, or a rule label such as 'no-payload'. */
    public label: string,
    /** Probability of the top class (0 for rule labels). */
    public confidence: number,
    /** The k most probable classes, best first (empty for rule labels). */
    public topk: ClassScore[],
    /** Version string of the model that produced it ('' for rule labels). */
    public model_version: string,
  ) {}
}

/** What the sinks receive: a flow and its verdict. */
export interface ClassifiedFlow {
  flow: import('../flow/flowRecord').FlowRecord;
  verdict: Verdict;
}
