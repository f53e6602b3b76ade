import { binOf, InputReference, psi } from './inputReference';

/** Truth class of a flow whose handshake named an application the model has no class for. */
export const OTHER_CLASS = '(other)';

/** Per-class ground-truth counts of one window. */
export interface ClassCounts {
  /** Flows whose truth is this class. */
  support: number;
  /** Flows the model labelled this class (or 'unknown'). */
  predicted: number;
  /** Flows of this truth class labelled correctly ('(other)': labelled unknown). */
  correct: number;
}

/** Drift scores of a window against the model's reference (null without a reference or without flows). */
export interface DriftScores {
  /** Mean of the per-position PSIs: the window's input drift score. */
  inputPsi: number | null;
  inputPsiMax: number | null;
  inputPsiPositions: number[] | null;
  payloadPsi: number | null;
  classPsi: number | null;
  confidencePsi: number | null;
}

/**
 * What one monitoring window saw: the model's inputs (per-position length histograms over the reference's bin
 * edges, payload-packet counts), its verdicts (labels, top-1 classes, confidence histogram) and the ground-truth
 * counts. Updated once per flow, never per packet.
 */
export class WindowStats {
  flows = 0;
  /** Flows the model ran on (not no-payload / classify-error). */
  classified = 0;
  unknown = 0;
  readonly labels = new Map<string, number>();
  readonly top1 = new Map<string, number>();
  readonly classes = new Map<string, ClassCounts>();
  gtScored = 0;
  gtCorrect = 0;
  private readonly positions: Uint32Array | null;
  private readonly payload: Uint32Array | null;
  private readonly confidence: Uint32Array | null;

  constructor(
    readonly start: number,
    readonly end: number,
    readonly modelVersion: string,
    private readonly reference: InputReference | null,
    private readonly length: number,
  ) {
    const ref = reference;
    this.positions = ref !== null ? new Uint32Array(length * (ref.edges.length - 1)) : null;
    this.payload = ref !== null ? new Uint32Array(length + 1) : null;
    this.confidence = ref !== null ? new Uint32Array(ref.confidenceEdges.length - 1) : null;
  }

  /** One classified final flow. `top1` is the model's best class (before the unknown rule), confidence its probability. */
  addVerdict(label: string, modelRan: boolean, top1: string | null, confidence: number, lengths: readonly number[], payloadPackets: number): void {
    this.flows++;
    this.labels.set(label, (this.labels.get(label) ?? 0) + 1);
    if (!modelRan) return;
    this.classified++;
    if (label === 'unknown') this.unknown++;
    if (top1 !== null) this.top1.set(top1, (this.top1.get(top1) ?? 0) + 1);
    const ref = this.reference;
    if (ref === null) return;
    const B = ref.edges.length - 1;
    const L = this.length;
    for (let k = 0; k < L; k++) this.positions![k * B + binOf(ref.edges, lengths[k] ?? 0)]!++;
    this.payload![Math.min(payloadPackets, L)]!++;
    this.confidence![binOf(ref.confidenceEdges, confidence)]!++;
  }

  /** One flow whose handshake gave its truth class (a model class or OTHER_CLASS), scored against the verdict. */
  addTruth(truth: string, verdict: string): void {
    const correct = truth === OTHER_CLASS ? verdict === 'unknown' : verdict === truth;
    this.gtScored++;
    if (correct) this.gtCorrect++;
    this.counts(truth).support++;
    this.counts(verdict).predicted++;
    if (correct) this.counts(truth).correct++;
  }

  drift(): DriftScores {
    const ref = this.reference;
    const none: DriftScores = { inputPsi: null, inputPsiMax: null, inputPsiPositions: null, payloadPsi: null, classPsi: null, confidencePsi: null };
    if (ref === null || this.classified === 0) return none;
    const B = ref.edges.length - 1;
    const n = this.classified;
    const per: number[] = [];
    for (let k = 0; k < this.length; k++) per.push(psi(this.positions!.subarray(k * B, (k + 1) * B), n, ref.positions[k]!)!);
    const classes = [...ref.classPriors.keys()];
    const top1 = classes.map((c) => this.top1.get(c) ?? 0);
    return {
      inputPsi: per.reduce((a, b) => a + b, 0) / per.length,
      inputPsiMax: Math.max(...per),
      inputPsiPositions: per,
      payloadPsi: psi(this.payload!, n, ref.payloadPackets),
      classPsi: psi(top1, top1.reduce((a, b) => a + b, 0), classes.map((c) => ref.classPriors.get(c)!)),
      confidencePsi: psi(this.confidence!, n, ref.confidenceProbs),
    };
  }

  private counts(c: string): ClassCounts {
    let x = this.classes.get(c);
    if (x === undefined) {
      x = { support: 0, predicted: 0, correct: 0 };
      this.classes.set(c, x);
    }
    return x;
  }
}
