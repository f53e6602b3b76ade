/**
 * Scoring a model on labelled flows the way the model card does (models/README.md, "Outside the lab"):
 *
 *  - a flow whose label is one of the model's application classes (or `other:X` where X, or its alias, is one)
 *    is a known-class flow; every other label (`other:*`, or a protocol the model has no class for) is an
 *    other-protocol flow;
 *  - the model's answer goes through the sensor's unknown rule (threshold, background classes);
 *  - known-class flows: precision, recall, F1 per class, macro-F1 over the classes with at least `minClass`
 *    flows, `unknown` counted as wrong; coverage (share of them labelled) and precision of the labels given;
 *  - other-protocol flows: the share labelled `unknown` (what the rule should do with them).
 */

export const UNKNOWN = 'unknown';

/** tshark names for protocols that a model may call by another name (as /work/shared/tools/outside-eval does). */
const ALIAS: Record<string, string> = { smb2: 'smb', nbss: 'smb' };

export interface ScoredFlow {
  truth: string;
  /** Index of the model's top class. */
  top: number;
  /** Its probability. */
  p: number;
}

export interface ClassScore {
  name: string;
  support: number;
  precision: number;
  recall: number;
  f1: number;
  unknown: number;
}

export interface Score {
  threshold: number;
  known: number;
  accuracy: number;
  macroF1: number;
  /** Classes in macro-F1 (>= minClass flows). */
  macroClasses: string[];
  perClass: ClassScore[];
  coverage: number;
  precisionLabelled: number;
  other: number;
  otherUnknown: number;
  otherCalled: [string, number][];
  otherByLabel: [string, number, number][];
}

/** The model class a truth label belongs to, or null for an other-protocol flow. */
export function knownClass(truth: string, apps: ReadonlySet<string>): string | null {
  if (apps.has(truth)) return truth;
  if (truth.startsWith('other:')) {
    const t = truth.slice(6);
    const name = ALIAS[t] ?? t;
    if (apps.has(name)) return name;
  }
  return null;
}

function counts<T>(xs: T[]): [T, number][] {
  const m = new Map<T, number>();
  for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
  return [...m.entries()].sort((a, b) => b[1] - a[1]);
}

/**
 * Scores flows under the rule (threshold; `background[c] === 1` marks classes that mean unknown).
 * `classes` are the model's class names.
 */
export function score(
  flows: readonly ScoredFlow[],
  classes: readonly string[],
  background: Uint8Array,
  threshold: number,
  minClass: number,
): Score {
  const apps = new Set(classes.filter((_, i) => background[i] !== 1));
  const predicted = (f: ScoredFlow): string => (f.p >= threshold && background[f.top] !== 1 ? classes[f.top]! : UNKNOWN);
  const known: [string, string][] = [];
  const other: [string, string][] = [];
  for (const f of flows) {
    const k = knownClass(f.truth, apps);
    if (k !== null) known.push([k, predicted(f)]);
    else other.push([f.truth, predicted(f)]);
  }
  const support = new Map(counts(known.map(([t]) => t)));
  const names = [...support.keys()].sort();
  const perClass: ClassScore[] = names.map((name) => {
    let tp = 0;
    let fp = 0;
    let unk = 0;
    for (const [t, p] of known) {
      if (p === name && t === name) tp++;
      else if (p === name) fp++;
      if (t === name && p === UNKNOWN) unk++;
    }
    const n = support.get(name)!;
    const precision = tp + fp > 0 ? tp / (tp + fp) : 0;
    const recall = tp / n;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    return { name, support: n, precision, recall, f1, unknown: unk / n };
  });
  const macro = perClass.filter((c) => c.support >= minClass);
  const labelled = known.filter(([, p]) => p !== UNKNOWN);
  const otherLabels = counts(other.map(([t]) => t));
  return {
    threshold,
    known: known.length,
    accuracy: known.length > 0 ? known.filter(([t, p]) => t === p).length / known.length : 0,
    macroF1: macro.length > 0 ? macro.reduce((s, c) => s + c.f1, 0) / macro.length : 0,
    macroClasses: macro.map((c) => c.name),
    perClass,
    coverage: known.length > 0 ? labelled.length / known.length : 0,
    precisionLabelled: labelled.length > 0 ? labelled.filter(([t, p]) => t === p).length / labelled.length : 0,
    other: other.length,
    otherUnknown: other.length > 0 ? other.filter(([, p]) => p === UNKNOWN).length / other.length : 0,
    otherCalled: counts(other.map(([, p]) => p)).slice(0, 5),
    otherByLabel: otherLabels.map(([t, n]) => [t, n, other.filter(([tt, p]) => tt === t && p === UNKNOWN).length / n]),
  };
}

/** Thresholds of the coverage/precision table (the rule's own threshold is added to them). */
export const CURVE_THRESHOLDS = [0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99];
