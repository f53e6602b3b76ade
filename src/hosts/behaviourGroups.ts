import { readFileSync } from 'node:fs';

import type { ProfileRow } from './hostProfile';

/**
 * Behaviour groups: k-means over host profiles (README "Host profiles"). Each profile becomes the vector of
 * GROUP_FEATURES (counts on a log scale, shares as they are), standardised with the mean and standard deviation
 * of the profiles the groups were fitted on; a host belongs to the group with the nearest centroid. `sensor
 * hosts-fit` fits the groups on a database's closed profiles: k-means++ (seeded) for every k from 4 to 8, keeping
 * the k with the best mean silhouette (from 4: with 2 or 3 the silhouette mostly splits a few scanners from
 * everything else, which says little about the rest), and names each group from what sets its centroid apart (groupName()).
 */

/** The profile features groups are fitted on, in vector order. */
export const GROUP_FEATURES = [
  'flows_client',
  'flows_server',
  'peers',
  'server_ports',
  'failed_share',
  'failed_server_share',
  'bytes_sent',
  'bytes_received',
  'duration_mean',
  'long_share',
  'label_entropy',
  'unknown_share',
  'top_peer_share',
  'periodicity',
  'anomalous_share',
] as const;
export type GroupFeature = (typeof GROUP_FEATURES)[number];

/** Flows to the top (peer, port) pair needed before its spacing counts as periodic. */
export const PERIODIC_MIN_FLOWS = 6;

/** The feature vector of a profile (see GROUP_FEATURES). */
export function groupVector(r: ProfileRow): number[] {
  const flows = r.flows_client + r.flows_server;
  const share = (a: number, b: number): number => (b > 0 ? a / b : 0);
  const periodic = r.top_peer_flows >= PERIODIC_MIN_FLOWS && r.top_peer_interval_cv !== null ? Math.max(0, 1 - r.top_peer_interval_cv) : 0;
  return [
    Math.log1p(r.flows_client),
    Math.log1p(r.flows_server),
    Math.log1p(r.peers),
    Math.log1p(r.server_ports),
    share(r.failed_client, r.flows_client),
    share(r.failed_server, r.flows_server),
    Math.log1p(r.bytes_sent),
    Math.log1p(r.bytes_received),
    Math.log1p(r.duration_mean),
    share(r.long_flows, flows),
    r.label_entropy,
    r.unknown_share,
    share(r.top_peer_flows, r.flows_client),
    periodic,
    share(r.anomalous_flows, flows),
  ];
}

export interface BehaviourGroup {
  name: string;
  /** Centroid in standardised units. */
  centroid: number[];
  /** Profiles of the fitting data in this group. */
  size: number;
  /** Centroid in the features' own units (log1p counts, shares), for people reading the file. */
  mean: Record<string, number>;
}

/** The groups file (`hosts.groups`, written by `sensor hosts-fit`). */
export interface GroupModel {
  format: 'sensor-behaviour-groups';
  version: 1;
  method: string;
  fitted_on: string;
  profiles: number;
  silhouette: number;
  features: string[];
  mean: number[];
  std: number[];
  groups: BehaviourGroup[];
}

export class GroupModelError extends Error {
  override name = 'GroupModelError';
}

/** Reads and checks a groups file. Throws GroupModelError (one line) when it is not one. */
export function loadGroupModel(path: string): GroupModel {
  let m: GroupModel;
  try {
    m = JSON.parse(readFileSync(path, 'utf8')) as GroupModel;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new GroupModelError(`behaviour groups ${path}: ${code === 'ENOENT' ? 'file not found (fit one with sensor hosts-fit, or set hosts.groups to null)' : `not readable JSON (${(e as Error).message})`}`);
  }
  const F = GROUP_FEATURES.length;
  const bad = (what: string): never => {
    throw new GroupModelError(`behaviour groups ${path}: ${what} (refit with sensor hosts-fit)`);
  };
  if (m === null || typeof m !== 'object' || m.format !== 'sensor-behaviour-groups' || m.version !== 1) bad('not a version-1 sensor-behaviour-groups file');
  if (!Array.isArray(m.features) || m.features.join(',') !== GROUP_FEATURES.join(',')) bad(`features must be ${GROUP_FEATURES.join(',')}`);
  const vec = (v: unknown): boolean => Array.isArray(v) && v.length === F && v.every((x) => typeof x === 'number' && Number.isFinite(x));
  if (!vec(m.mean) || !vec(m.std) || m.std.some((s) => s <= 0)) bad('mean/std must be finite vectors (std > 0)');
  if (!Array.isArray(m.groups) || m.groups.length < 1) bad('no groups');
  for (const g of m.groups) if (typeof g?.name !== 'string' || g.name === '' || !vec(g.centroid)) bad('a group lacks a name or a centroid');
  return m;
}

export function standardise(m: Pick<GroupModel, 'mean' | 'std'>, v: number[]): number[] {
  return v.map((x, i) => (x - m.mean[i]!) / m.std[i]!);
}

function dist2(a: ArrayLike<number>, b: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return s;
}

/** assignGroup()'s standardised vector, reused (a typed array is a large object to make per host). */
let zScratch = new Float64Array(0);

/** The group of a profile and its (standardised, Euclidean) distance to the group's centroid. */
export function assignGroup(m: GroupModel, r: ProfileRow): { name: string; distance: number } {
  // standardise() into a Float64Array (the same values): the array map() returns changed its elements kind once
  // map() was optimized, and the code compiled for the first kind was thrown away (round perf17).
  const v = groupVector(r);
  if (zScratch.length !== v.length) zScratch = new Float64Array(v.length);
  const z = zScratch;
  for (let i = 0; i < v.length; i++) z[i] = (v[i]! - m.mean[i]!) / m.std[i]!;
  let best = 0;
  let bestD = Infinity;
  for (let g = 0; g < m.groups.length; g++) {
    const d = dist2(z, m.groups[g]!.centroid);
    if (d < bestD) {
      bestD = d;
      best = g;
    }
  }
  return { name: m.groups[best]!.name, distance: Math.sqrt(bestD) };
}

/** What a feature far above (+) or below (-) the average says about a group, for its name. */
const PHRASES: Record<GroupFeature, [string, string]> = {
  flows_client: ['many connections', 'few connections'],
  flows_server: ['many connections', 'few connections'],
  peers: ['many peers', 'few peers'],
  server_ports: ['many ports', ''],
  failed_share: ['failed connections', ''],
  failed_server_share: ['refused or unanswered connections', ''],
  bytes_sent: ['large uploads', 'little sent'],
  bytes_received: ['large downloads', 'little received'],
  duration_mean: ['long sessions', 'short sessions'],
  long_share: ['long sessions', ''],
  label_entropy: ['many applications', 'one application'],
  unknown_share: ['unknown applications', ''],
  top_peer_share: ['one main peer', ''],
  periodicity: ['periodic (beacon-like)', ''],
  anomalous_share: ['anomalous flows', ''],
};
/** Features that describe only one side: a server is not named by its (absent) client flows, nor a client by its server side. */
const CLIENT_ONLY: ReadonlySet<GroupFeature> = new Set(['flows_client', 'server_ports', 'failed_share', 'top_peer_share', 'periodicity']);
const SERVER_ONLY: ReadonlySet<GroupFeature> = new Set(['flows_server', 'failed_server_share']);
/** |z| below which a feature does not set a group apart. */
const NAME_Z = 0.5;
/** Share of failed client connections from which a group of clients is called scanner-like. */
const SCANNER_FAILED_SHARE = 0.3;

/**
 * A group's name from its centroid: "server" or "client" (the larger side of its flows), or "scanner-like" where
 * most of its client connections fail, then the two features that set it furthest apart from the average
 * profile (|z| >= 0.5), such as "client, many peers, large downloads" or "server, long sessions".
 */
export function groupName(meanRaw: readonly number[], z: readonly number[], taken: ReadonlySet<string>): string {
  const idx = (f: GroupFeature): number => GROUP_FEATURES.indexOf(f);
  const clientFlows = Math.expm1(meanRaw[idx('flows_client')]!);
  const serverFlows = Math.expm1(meanRaw[idx('flows_server')]!);
  const scanner = meanRaw[idx('failed_share')]! >= SCANNER_FAILED_SHARE && z[idx('failed_share')]! >= 1;
  const head = scanner ? 'scanner-like' : serverFlows > clientFlows ? 'server' : 'client';
  const order = GROUP_FEATURES.map((f, i) => ({ f, z: z[i]! })).sort((a, b) => Math.abs(b.z) - Math.abs(a.z));
  const phrases: string[] = [];
  const side = head === 'server' ? CLIENT_ONLY : SERVER_ONLY;
  for (const { f, z: zz } of order) {
    if (Math.abs(zz) < NAME_Z) break;
    if (side.has(f)) continue;
    const p = PHRASES[f][zz > 0 ? 0 : 1];
    if (p === '' || phrases.includes(p) || (scanner && p === 'failed connections')) continue;
    phrases.push(p);
    const name = [head, ...phrases].join(', ');
    if (phrases.length >= 2 && !taken.has(name)) return name;
  }
  let name = phrases.length > 0 ? [head, ...phrases].join(', ') : `${head}, typical`;
  for (let n = 2; taken.has(name); n++) name = `${[head, ...phrases].join(', ')} #${n}`;
  return name;
}

/** Mean silhouette of a clustering (Rousseeuw 1987), squared-Euclidean free: plain Euclidean distances. */
export function silhouette(points: readonly number[][], labels: readonly number[], k: number): number {
  const n = points.length;
  if (k < 2 || n <= k) return -1;
  let total = 0;
  const sums = new Float64Array(k);
  const counts = new Int32Array(k);
  for (const l of labels) counts[l]!++;
  for (let i = 0; i < n; i++) {
    sums.fill(0);
    for (let j = 0; j < n; j++) if (j !== i) sums[labels[j]!]! += Math.sqrt(dist2(points[i]!, points[j]!));
    const own = labels[i]!;
    if (counts[own]! <= 1) continue; // a singleton's silhouette is 0
    const a = sums[own]! / (counts[own]! - 1);
    let b = Infinity;
    for (let c = 0; c < k; c++) if (c !== own && counts[c]! > 0) b = Math.min(b, sums[c]! / counts[c]!);
    total += (b - a) / Math.max(a, b);
  }
  return total / n;
}

export interface FitOptions {
  /** Fixed number of groups; null = the k from minK to maxK with the best silhouette. */
  k: number | null;
  minK: number;
  maxK: number;
  seed: number;
  /** Profiles the silhouette is computed on (a seeded sample beyond this: it is quadratic). */
  silhouetteSample: number;
  fittedOn: string;
}

/**
 * Small seeded generator (mulberry32) of floats in [0, 1), for the silhouette sample; scripts/make-demo.js uses it
 * too (from dist/).
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fits behaviour groups on profiles. Throws GroupModelError when there are too few distinct profiles. */
export function fitGroups(rows: readonly ProfileRow[], o: FitOptions): GroupModel {
  const raw = rows.map(groupVector);
  const F = GROUP_FEATURES.length;
  const distinct = new Set(raw.map((v) => v.join(','))).size;
  const minK = o.k ?? Math.min(o.minK, 2);
  if (distinct <= minK) throw new GroupModelError(`${rows.length} host profiles (${distinct} distinct) are too few to fit ${minK} groups`);
  const mean = new Array<number>(F).fill(0);
  const std = new Array<number>(F).fill(0);
  for (const v of raw) for (let i = 0; i < F; i++) mean[i]! += v[i]! / raw.length;
  for (const v of raw) for (let i = 0; i < F; i++) std[i]! += (v[i]! - mean[i]!) ** 2 / raw.length;
  // A feature constant over the data keeps std 1, so it cannot divide by zero and weighs nothing.
  for (let i = 0; i < F; i++) std[i] = std[i]! > 1e-12 ? Math.sqrt(std[i]!) : 1;
  const z = raw.map((v) => standardise({ mean, std }, v));

  const next = mulberry32(o.seed);
  let sample = z.map((_, i) => i);
  if (sample.length > o.silhouetteSample) {
    for (let i = sample.length - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1));
      [sample[i], sample[j]] = [sample[j]!, sample[i]!];
    }
    sample = sample.slice(0, o.silhouetteSample);
  }
  // From minK (or fewer when the profiles are too few to tell that many apart) to maxK.
  const top = Math.min(o.maxK, distinct - 1);
  const bottom = Math.max(2, Math.min(o.minK, top));
  const ks = o.k !== null ? [o.k] : Array.from({ length: top - bottom + 1 }, (_, i) => i + bottom);
  // Loaded here, not at the top: only `sensor hosts-fit` fits groups, and every run that profiles hosts loads this module.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { kmeans } = require('ml-kmeans') as typeof import('ml-kmeans');
  let best: { k: number; clusters: number[]; centroids: number[][]; s: number } | null = null;
  for (const k of ks) {
    const r = kmeans(z, k, { initialization: 'kmeans++', seed: o.seed, maxIterations: 300 });
    const s = silhouette(sample.map((i) => z[i]!), sample.map((i) => r.clusters[i]!), k);
    if (best === null || s > best.s + 1e-9) best = { k, clusters: r.clusters, centroids: r.centroids, s };
  }
  const b = best!;
  const groups: BehaviourGroup[] = [];
  const taken = new Set<string>();
  const order = b.centroids.map((_, g) => g).sort((x, y) => b.clusters.filter((c) => c === y).length - b.clusters.filter((c) => c === x).length);
  for (const g of order) {
    const members = raw.filter((_, i) => b.clusters[i] === g);
    if (members.length === 0) continue;
    const m = new Array<number>(F).fill(0);
    for (const v of members) for (let i = 0; i < F; i++) m[i]! += v[i]! / members.length;
    const name = groupName(m, b.centroids[g]!, taken);
    taken.add(name);
    groups.push({
      name,
      centroid: b.centroids[g]!.map((x) => Number(x.toFixed(6))),
      size: members.length,
      mean: Object.fromEntries(GROUP_FEATURES.map((f, i) => [f, Number(m[i]!.toFixed(4))])),
    });
  }
  return {
    format: 'sensor-behaviour-groups',
    version: 1,
    method: `k-means (ml-kmeans, k-means++ seed ${o.seed}) on standardised profile features; k = ${b.k}${o.k === null ? ` (best mean silhouette for k = ${bottom}..${top})` : ' (given)'}`,
    fitted_on: o.fittedOn,
    profiles: rows.length,
    silhouette: Number(b.s.toFixed(4)),
    features: [...GROUP_FEATURES],
    mean: mean.map((x) => Number(x.toFixed(6))),
    std: std.map((x) => Number(x.toFixed(6))),
    groups,
  };
}
