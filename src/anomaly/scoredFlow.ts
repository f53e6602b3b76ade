import type { ClassifiedFlow } from '../classify/verdict';

/** The anomaly model's answer for one flow. */
export class AnomalyScore {
  constructor(
    /** The model's score: higher = less like the normal traffic it was fitted on (NaN when scoring failed). */
    public score: number,
    /** The score is above the threshold for `fpr`. */
    public anomaly: boolean,
    /** The false-positive rate on normal traffic that the threshold was set for (e.g. 0.01). */
    public fpr: number,
  ) {}
}

/**
 * What the sinks receive: a flow, its verdict and its anomaly score (null when anomaly scoring is off or failed;
 * the pipeline always sets it, and a classified flow handed to a sink directly, as tools and tests do, has none).
 */
export interface ScoredFlow extends ClassifiedFlow {
  anomaly?: AnomalyScore | null;
}
