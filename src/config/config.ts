import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import * as path from 'node:path';
import { z } from 'zod';
import { checkClickHouseConfig, type ClickHouseConfig } from './clickhouseConfig';
import { HELPER_THREADS, THREAD_VARIABLES, unknownThreadNames } from './helperThreads';
import { DEFAULT_VERDICT_CACHE, MAX_VERDICT_CACHE } from '../classify/verdictMemo';

/**
 * The sensor's configuration: defaults, then one JSON file (example with every key in config/sensor.json), then
 * environment variables `SENSOR_<SECTION>__<KEY>`, then command-line flags. Every layer is validated here, once,
 * against one zod schema, with messages that name the key (or the variable, or the flag), what it must be and
 * what it got; then the relations between settings are checked. The rest of the code trusts the result.
 * docs/config.md documents every key.
 */

/** Thrown for usage and config errors; the CLI prints the message alone and exits 2. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Default bundled model, relative to the package root. */
export const DEFAULT_MODEL = path.resolve(__dirname, '..', '..', 'models', 'sensor.onnx');
/** Default bundled anomaly model (models/ANOMALY.md). */
export const DEFAULT_ANOMALY_MODEL = path.resolve(__dirname, '..', '..', 'models', 'anomaly.onnx');
/** Default bundled behaviour groups (README "Host profiles"). */
export const DEFAULT_HOST_GROUPS = path.resolve(__dirname, '..', '..', 'models', 'host-groups.json');
/** hosts.groups value for host profiles without behaviour groups. */
export const NO_GROUPS = 'none';

// Each check's wording is what the messages say after "must be": `flow.maxFlows must be at least 1, got 0`.
function number(o: { int?: boolean; min?: number; max?: number } = {}) {
  const kind = o.int === true ? 'an integer' : 'a number';
  let s = z.number({ error: kind });
  if (o.int === true) s = s.int({ error: kind });
  if (o.min !== undefined) s = s.gte(o.min, { error: `at least ${o.min}` });
  if (o.max !== undefined) s = s.lte(o.max, { error: `at most ${o.max}` });
  return s;
}
function orNull<T extends z.ZodType>(s: T) {
  return s.nullable();
}
const text = (): z.ZodString => z.string({ error: 'a non-empty string' }).min(1, { error: 'a non-empty string' });
const flag = (): z.ZodBoolean => z.boolean({ error: 'true or false' });
function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: `one of ${values.map((v) => `"${v}"`).join(', ')}` });
}
const paths = () =>
  z.union([text().transform((p) => [p]), z.array(text(), { error: 'a list of paths' })], { error: 'a path or a list of paths' });

/**
 * The schema: section -> key -> check. Keys are the JSON names; `SENSOR_<SECTION>__<KEY>` variables name them in
 * upper case with or without underscores between words (SENSOR_FLOW__IDLE_TIMEOUT, SENSOR_FLOW__IDLETIMEOUT).
 */
export const CONFIG_SCHEMA = z.strictObject({
  sensor: z.strictObject({
    /** Written in every record's `sensor` field and part of its uid; null (the default) = the host name. */
    name: orNull(text()).transform((v) => v ?? hostname()),
  }),
  capture: z.strictObject({
    /** Capture files or directories (offline mode). */
    pcap: paths(),
    /** Treat the files as one rotated capture: flows carry over from file to file. */
    rotated: flag(),
    /** Interface for live capture (null: offline). */
    interface: orNull(text()),
    engine: oneOf(['auto', 'addon']),
    filter: z.string({ error: 'a string' }),
    snaplen: number({ int: true, min: 64, max: 262144 }),
    bufferSize: number({ int: true, min: 65536, max: 2147483647 }),
    promisc: flag(),
    /** How long the kernel may hold packets before delivering a batch (ms). */
    timeoutMs: number({ int: true, min: 1, max: 10000 }),
    /** PACKET_FANOUT group id shared by several sensor processes on one interface, or null. */
    fanoutGroup: orNull(number({ int: true, min: 0, max: 65535 })),
  }),
  flow: z.strictObject({
    skipRetransmissions: flag(),
    idleTimeout: number({ min: 0.001 }),
    activeTimeout: number({ min: 0.001 }),
    finGrace: number({ min: 0 }),
    maxFlows: number({ int: true, min: 1 }),
  }),
  classify: z.strictObject({
    enabled: flag(),
    /** null (as config/sensor.json has it) = the bundled model. */
    model: orNull(text()).transform((v) => v ?? DEFAULT_MODEL),
    device: oneOf(['auto', 'cpu', 'cuda']),
    batchSize: number({ int: true, min: 1, max: 65536 }),
    batchDeadlineMs: number({ min: 0 }),
    /** null = the model's own `unknown_threshold` metadata (0.5 for a model without one). */
    unknownThreshold: orNull(number({ min: 0, max: 1 })),
    minPayloadPackets: number({ int: true, min: 0 }),
    topK: number({ int: true, min: 1 }),
    /** onnxruntime intra-op threads; null = onnxruntime's default (one per core, spinning). */
    intraOpThreads: orNull(number({ int: true, min: 1, max: 256 })),
    /** Slots of the verdict memo (src/classify/verdictMemo.ts); 0 = off. */
    verdictCache: number({ int: true, min: 0, max: MAX_VERDICT_CACHE }),
  }),
  anomaly: z.strictObject({
    /** Score every flow with the anomaly model (models/ANOMALY.md). */
    enabled: flag(),
    /** null (as config/sensor.json has it) = the bundled model. */
    model: orNull(text()).transform((v) => v ?? DEFAULT_ANOMALY_MODEL),
    /** False-positive rate on normal traffic whose threshold sets the `anomaly` flag; null = the model's default. */
    falsePositiveRate: orNull(number({ min: 1e-6, max: 0.5 })),
    /**
     * Score in a worker thread of its own where the process may use more than one CPU (on one CPU, on the capture
     * thread whatever this says) rather than on the capture thread. Off by default: on two cores it takes 20-31% of
     * the capture thread's CPU but adds more CPU in all than it moves, and the runs took as long or longer
     * (bench/HISTORY.md, round perf5).
     */
    thread: flag(),
  }),
  hosts: z.strictObject({
    /** Host profiles in table `hosts` (needs output.db). */
    enabled: flag(),
    windowSeconds: number({ int: true, min: 60, max: 7 * 86400 }),
    maxHosts: number({ int: true, min: 1 }),
    longFlowSeconds: number({ min: 0 }),
    lateSeconds: number({ min: 0 }),
    /** Behaviour groups file (sensor hosts-fit); null = the bundled one; "none" = profiles without groups. */
    groups: orNull(text()).transform((v) => v ?? DEFAULT_HOST_GROUPS),
  }),
  output: z.strictObject({
    db: orNull(text()),
    jsonl: orNull(text()),
    /** Batched inserts into ClickHouse with an on-disk spool (src/sink/clickhouse), or null; checked by CUSTOM. */
    clickhouse: z.custom<ClickHouseConfig | null>(),
  }),
  log: z.strictObject({
    level: oneOf(['error', 'warn', 'info', 'debug']),
    /** `auto`: pretty on a terminal, JSON lines otherwise (journald, files, pipes). */
    format: oneOf(['auto', 'pretty', 'json']),
  }),
  stats: z.strictObject({
    intervalSeconds: number({ min: 0 }),
    prometheusPort: orNull(number({ int: true, min: 1, max: 65535 })),
    prometheusHost: text(),
  }),
  retention: z.strictObject({
    maxAgeDays: orNull(number({ min: 0 })),
    maxBytes: orNull(number({ int: true, min: 4096 })),
    intervalSeconds: number({ min: 1 }),
  }),
  serve: z.strictObject({
    /** HTTP API and web view address (HOST:PORT) while the sensor runs, or null for none. */
    listen: orNull(text()),
    /** Listening beyond the loopback is refused unless this is true (and a token is set). */
    allowRemote: flag(),
    /** File holding the API's bearer token (else $SENSOR_API_TOKEN); never on the command line. */
    tokenFile: orNull(text()),
  }),
  privacy: z.strictObject({
    /** Secret for keyed-hash pseudonyms of addresses (at least 16 characters), or null to store addresses. */
    pseudonymizeKey: orNull(z.string({ error: 'a string' }).min(16, { error: 'a string of at least 16 characters' })),
  }),
  /** Watching the model: drift against its input_reference, class mix, unknown share, ground truth (src/monitor). */
  monitor: z.strictObject({
    /** Monitor windows at all (it runs when classification is on). */
    enabled: flag(),
    /** Score flows whose handshake names their service against the verdict (needs a snaplen that sees handshakes). */
    groundTruth: flag(),
    /** Rules file of the handshake labeller (null: config/learn-rules.json). */
    rules: orNull(text()),
    windowSeconds: number({ min: 1 }),
    minFlows: number({ int: true, min: 1 }),
    driftThreshold: number({ min: 0 }),
    unknownSurge: number({ min: 0, max: 1 }),
  }),
});

export type SensorConfig = z.output<typeof CONFIG_SCHEMA>;
export type ConfigSection = keyof SensorConfig;

/** The schema's sections and keys, for suggestions, environment variables and docs checks. */
export const CONFIG_KEYS: Readonly<Record<string, readonly string[]>> = Object.fromEntries(
  Object.entries(CONFIG_SCHEMA.shape).map(([section, obj]) => [section, Object.keys(obj.shape)]),
);

export function defaultConfig(): SensorConfig {
  return {
    sensor: { name: hostname() },
    capture: {
      pcap: [],
      rotated: false,
      interface: null,
      engine: 'auto',
      filter: 'tcp',
      snaplen: 128,
      bufferSize: 64 * 1024 * 1024,
      promisc: true,
      timeoutMs: 100,
      fanoutGroup: null,
    },
    flow: { skipRetransmissions: true, idleTimeout: 120, activeTimeout: 1800, finGrace: 5, maxFlows: 1_000_000 },
    classify: {
      enabled: true,
      model: DEFAULT_MODEL,
      device: 'auto',
      batchSize: 256,
      batchDeadlineMs: 5,
      // null: the threshold stored in the model (metadata `unknown_threshold`), which the bundled model's card
      // chose on out-of-lab flows (models/README.md, "The unknown rule").
      unknownThreshold: null,
      minPayloadPackets: 1,
      topK: 3,
      // One inference thread beside the capture thread: on the 2-core bench the default (a spinning thread per
      // core) used ~1.8x the CPU time for the same or a slower wall time (README "Design notes", onnxruntime-node).
      intraOpThreads: 1,
      // A flow whose sequence the model answered recently gets that verdict again (README "Design notes", round perf48).
      verdictCache: DEFAULT_VERDICT_CACHE,
    },
    anomaly: { enabled: true, model: DEFAULT_ANOMALY_MODEL, falsePositiveRate: null, thread: false },
    hosts: { enabled: true, windowSeconds: 3600, maxHosts: 100_000, longFlowSeconds: 600, lateSeconds: 300, groups: DEFAULT_HOST_GROUPS },
    output: { db: null, jsonl: null, clickhouse: null },
    log: { level: 'info', format: 'auto' },
    stats: { intervalSeconds: 60, prometheusPort: null, prometheusHost: '127.0.0.1' },
    retention: { maxAgeDays: null, maxBytes: null, intervalSeconds: 60 },
    serve: { listen: null, allowRemote: false, tokenFile: null },
    privacy: { pseudonymizeKey: null },
    // Thresholds: README "Watching the model". PSI > 0.25 is the conventional "large shift"; below minFlows
    // classified flows a window's PSI is mostly sampling noise (about (bins - 1) / flows per position).
    monitor: { enabled: true, groundTruth: false, rules: null, windowSeconds: 3600, minFlows: 200, driftThreshold: 0.25, unknownSurge: 0.2 },
  };
}

/** Levenshtein distance, for "did you mean" hints on misspelled keys and flags. */
function distance(a: string, b: string): number {
  const d: number[] = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
      prev = cur;
    }
  }
  return d[b.length]!;
}

/** The closest of `options` to `name`, or null when none is close enough to be a likely typo. */
export function closest(name: string, options: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  for (const o of options) {
    const dd = distance(name, o);
    if (dd < bestD) {
      bestD = dd;
      best = o;
    }
  }
  return bestD <= Math.max(2, Math.floor(name.length / 3)) ? best : null;
}

function suggest(name: string, options: readonly string[]): string {
  const c = closest(name, options);
  return c !== null ? ` (did you mean "${c}"?)` : ` (known: ${options.join(', ')})`;
}

/** A value as the messages show it: strings quoted, NaN and Infinity by name (JSON would say null). */
export function show(v: unknown): string {
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  if (v === undefined) return 'nothing';
  return JSON.stringify(v) ?? String(v);
}

/**
 * Options with a checker of their own instead of a zod type: nested objects merged key by key over the value
 * they already have (an earlier layer's, or the defaults).
 */
const CUSTOM: Record<string, (where: string, value: unknown, current: unknown) => unknown> = {
  'output.clickhouse': (where, value, current) => checkClickHouseConfig(where, value, current as ClickHouseConfig | null),
};

/** Options whose values never appear in a message. */
const SECRETS = new Set(['privacy.pseudonymizeKey']);

function sectionSchema(section: string): z.ZodObject | undefined {
  return (CONFIG_SCHEMA.shape as Record<string, z.ZodObject>)[section];
}

/**
 * Checks one value against the schema of `section.key`; returns the parsed value or throws a ConfigError
 * `<where> must be <what>, got <value>`.
 */
export function checkOption(section: string, key: string, value: unknown, where: string, current: unknown = null): unknown {
  const custom = CUSTOM[`${section}.${key}`];
  if (custom !== undefined) return custom(where, value, current);
  const schema = sectionSchema(section)?.shape[key] as z.ZodType | undefined;
  if (schema === undefined) throw new ConfigError(`${where}: no such option`);
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  // The first issue is the one that matters (a union reports its own summary first).
  let want = r.error.issues[0]?.message ?? 'valid';
  if (value !== null && schema.safeParse(null).success && !want.endsWith('or null')) want += ' or null';
  // A secret is never echoed, even a wrong one: its length is what the user needs to know.
  const got = SECRETS.has(`${section}.${key}`) && typeof value === 'string' ? `${value.length} characters` : show(value);
  throw new ConfigError(`${where} must be ${want}, got ${got}`);
}

/** Merges a partial, untrusted config object (from JSON) into `base`, validating every key. */
export function mergeConfig(base: SensorConfig, input: unknown, origin: string): SensorConfig {
  const sections = Object.keys(CONFIG_KEYS);
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ConfigError(`${origin}: the config must be a JSON object with sections ${sections.join(', ')}`);
  }
  const out = structuredClone(base) as unknown as Record<string, Record<string, unknown>>;
  for (const [section, body] of Object.entries(input as Record<string, unknown>)) {
    const keys = CONFIG_KEYS[section];
    if (keys === undefined) throw new ConfigError(`${origin}: unknown section "${section}"${suggest(section, sections)}`);
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw new ConfigError(`${origin}: section "${section}" must be an object`);
    }
    for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
      if (!keys.includes(key)) throw new ConfigError(`${origin}: unknown option "${section}.${key}"${suggest(key, keys)}`);
      out[section]![key] = checkOption(section, key, value, `${origin}: ${section}.${key}`, out[section]![key]);
    }
  }
  return out as unknown as SensorConfig;
}

/** Reads and validates a JSON config file on top of `base`. Relative paths inside stay relative to the cwd. */
export function loadConfigFile(file: string, base: SensorConfig = defaultConfig()): SensorConfig {
  let textBody: string;
  try {
    textBody = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError(`Cannot read config ${file}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(textBody);
  } catch (e) {
    throw new ConfigError(`Config ${file} is not valid JSON: ${(e as Error).message}`);
  }
  return mergeConfig(base, json, file);
}

/**
 * A value given as text (an environment variable, a flag): JSON when it parses and fits the option (numbers,
 * true/false, null, lists), else the text itself (`cpu`, `eth1`, a path).
 */
export function textValue(section: string, key: string, raw: string, where: string, current: unknown = null): unknown {
  let json: unknown;
  let isJson = true;
  try {
    json = JSON.parse(raw);
  } catch {
    isJson = false;
  }
  if (isJson) {
    try {
      return checkOption(section, key, json, where, current);
    } catch {
      // Not as JSON: the text itself is checked below, and its message is the one shown.
    }
  }
  return checkOption(section, key, raw, where, current);
}

/** Environment variables that configure the sensor: SENSOR_<SECTION>__<KEY>. */
export const ENV_PREFIX = 'SENSOR_';

const squash = (s: string): string => s.replace(/_/g, '').toLowerCase();

/**
 * Applies `SENSOR_<SECTION>__<KEY>=value` variables (e.g. SENSOR_CLASSIFY__DEVICE=cpu) on top of `base`. A
 * variable with the prefix and a double underscore that names no option is an error with a suggestion (a
 * typo should not be silently ignored); other SENSOR_* variables are not the config's, but SENSOR_THREADS_OFF and
 * SENSOR_THREADS_ON are checked here too (src/config/helperThreads.ts).
 */
export function applyEnv(base: SensorConfig, env: NodeJS.ProcessEnv): SensorConfig {
  for (const variable of THREAD_VARIABLES) {
    const unknownThreads = unknownThreadNames(env, variable);
    if (unknownThreads.length > 0) {
      throw new ConfigError(
        `environment ${variable}: no thread ${unknownThreads.map((n) => `"${n}"`).join(', ')}; name any of ${HELPER_THREADS.join(', ')} or all, comma-separated`,
      );
    }
  }
  const sections = Object.keys(CONFIG_KEYS);
  const input: Record<string, Record<string, unknown>> = {};
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith(ENV_PREFIX) || !name.includes('__')) continue;
    const raw = env[name];
    if (raw === undefined) continue;
    const [sectionPart, keyPart, ...rest] = name.slice(ENV_PREFIX.length).split('__');
    const section = sections.find((s) => squash(s) === squash(sectionPart ?? ''));
    if (section === undefined || rest.length > 0) {
      const near = closest(squash(sectionPart ?? ''), sections);
      throw new ConfigError(
        `environment ${name}: no config section "${sectionPart ?? ''}"${near !== null ? ` (did you mean SENSOR_${near.toUpperCase()}__...?)` : ''}; variables are SENSOR_<SECTION>__<KEY>, sections ${sections.join(', ')}`,
      );
    }
    const keys = CONFIG_KEYS[section]!;
    const key = keys.find((k) => squash(k) === squash(keyPart ?? ''));
    if (key === undefined) {
      const near = closest(squash(keyPart ?? ''), keys);
      throw new ConfigError(
        `environment ${name}: no option "${section}.${keyPart ?? ''}"${near !== null ? ` (did you mean ${ENV_PREFIX}${section.toUpperCase()}__${near.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase()}?)` : ` (known: ${keys.join(', ')})`}`,
      );
    }
    (input[section] ??= {})[key] = textValue(section, key, raw, `environment ${name}`, (base as unknown as Record<string, Record<string, unknown>>)[section]![key]);
  }
  const out = structuredClone(base) as unknown as Record<string, Record<string, unknown>>;
  for (const [section, body] of Object.entries(input)) Object.assign(out[section]!, body);
  return out as unknown as SensorConfig;
}

/**
 * Relations between settings that each pass on their own but together would record something wrong. Throws a
 * ConfigError naming both settings and what to do. (The model's own relation, minPayloadPackets against its
 * sequence length, is checked when the model is loaded.)
 */
export function checkRelations(cfg: SensorConfig): void {
  const f = cfg.flow;
  if (!(f.idleTimeout > f.finGrace)) {
    // After FIN both ways a flow waits finGrace for its last ACK; an idle timer that fires first would cut the
    // grace short and turn the late ACK into a new mid-stream flow.
    throw new ConfigError(
      `flow.idleTimeout (${f.idleTimeout} s, --idle-timeout) must be longer than flow.finGrace (${f.finGrace} s): a closed connection waits finGrace for its last ACK before it is written; raise the idle timeout or lower the grace`,
    );
  }
}
