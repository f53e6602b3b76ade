import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import * as path from 'node:path';
import { checkClickHouseConfig, type ClickHouseConfig } from './clickhouseConfig';

/**
 * The sensor's configuration: one JSON file (example in config/sensor.json) plus command-line overrides.
 * Everything is validated here, once, with messages that say what to do; the rest of the code trusts it.
 */
export interface SensorConfig {
  sensor: {
    /** The name every record carries (`sensor` field) and its uid is derived from; null in a file = the host name. */
    name: string;
  };
  capture: {
    /** Capture files or directories (offline mode). */
    pcap: string[];
    /** Treat the files as one rotated capture: flows carry over from file to file. */
    rotated: boolean;
    /** Interface for live capture (null: offline). */
    interface: string | null;
    engine: 'auto' | 'addon' | 'cap';
    filter: string;
    snaplen: number;
    bufferSize: number;
    promisc: boolean;
    /** How long the kernel may hold packets before delivering a batch (ms). */
    timeoutMs: number;
    /** PACKET_FANOUT group id shared by several sensor processes on one interface (addon engine), or null. */
    fanoutGroup: number | null;
  };
  flow: {
    skipRetransmissions: boolean;
    idleTimeout: number;
    activeTimeout: number;
    finGrace: number;
    maxFlows: number;
  };
  classify: {
    enabled: boolean;
    model: string;
    device: 'auto' | 'cpu' | 'cuda';
    batchSize: number;
    batchDeadlineMs: number;
    unknownThreshold: number;
    minPayloadPackets: number;
    topK: number;
    /** onnxruntime intra-op threads; null = onnxruntime's default (one per core, spinning). */
    intraOpThreads: number | null;
  };
  output: {
    db: string | null;
    jsonl: string | null;
    /** Batched inserts into ClickHouse with an on-disk spool (src/sink/clickhouse), or null. */
    clickhouse: ClickHouseConfig | null;
  };
  log: {
    level: 'error' | 'warn' | 'info' | 'debug';
    format: 'json' | 'text';
  };
  stats: {
    intervalSeconds: number;
    prometheusPort: number | null;
    prometheusHost: string;
  };
  retention: {
    maxAgeDays: number | null;
    maxBytes: number | null;
    intervalSeconds: number;
  };
  privacy: {
    /** Secret for keyed-hash pseudonyms of addresses (at least 16 characters), or null to store addresses. */
    pseudonymizeKey: string | null;
  };
  serve: {
    /** HTTP API and web view address (HOST:PORT) while the sensor runs, or null for none. */
    listen: string | null;
    /** Listening beyond the loopback is refused unless this is true (and a token is set). */
    allowRemote: boolean;
    /** File holding the API's bearer token (else $SENSOR_API_TOKEN); never on the command line. */
    tokenFile: string | null;
  };
}

/** Thrown for usage and config errors; the CLI prints the message alone and exits 2. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Default bundled model, relative to the package root. */
export const DEFAULT_MODEL = path.resolve(__dirname, '..', '..', 'models', 'sensor.onnx');

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
      // Chosen for the bundled model by its leave-two-classes-out test (models/README.md): the highest threshold
      // that turns at most 2% of correctly classified known flows into `unknown`.
      unknownThreshold: 0.99,
      minPayloadPackets: 1,
      topK: 3,
      // One inference thread beside the capture thread: on the 2-core bench the default (a spinning thread per
      // core) used ~1.8x the CPU time for the same or a slower wall time (README "Performance").
      intraOpThreads: 1,
    },
    output: { db: null, jsonl: null, clickhouse: null },
    log: { level: 'info', format: 'json' },
    stats: { intervalSeconds: 60, prometheusPort: null, prometheusHost: '127.0.0.1' },
    retention: { maxAgeDays: null, maxBytes: null, intervalSeconds: 60 },
    privacy: { pseudonymizeKey: null },
    serve: { listen: null, allowRemote: false, tokenFile: null },
  };
}

type Kind = 'string' | 'string?' | 'strings' | 'bool' | 'num' | 'int' | 'int?' | 'num?' | 'clickhouse' | readonly string[];

/** The schema: section -> key -> kind, with a lower bound for numbers where one matters. */
const SCHEMA: Record<string, Record<string, { kind: Kind; min?: number; max?: number }>> = {
  sensor: { name: { kind: 'string?' } },
  capture: {
    pcap: { kind: 'strings' },
    rotated: { kind: 'bool' },
    interface: { kind: 'string?' },
    engine: { kind: ['auto', 'addon', 'cap'] },
    filter: { kind: 'string' },
    snaplen: { kind: 'int', min: 64, max: 262144 },
    bufferSize: { kind: 'int', min: 65536, max: 2147483647 },
    promisc: { kind: 'bool' },
    timeoutMs: { kind: 'int', min: 1, max: 10000 },
    fanoutGroup: { kind: 'int?', min: 0, max: 65535 },
  },
  flow: {
    skipRetransmissions: { kind: 'bool' },
    idleTimeout: { kind: 'num', min: 0.001 },
    activeTimeout: { kind: 'num', min: 0.001 },
    finGrace: { kind: 'num', min: 0 },
    maxFlows: { kind: 'int', min: 1 },
  },
  classify: {
    enabled: { kind: 'bool' },
    model: { kind: 'string' },
    device: { kind: ['auto', 'cpu', 'cuda'] },
    batchSize: { kind: 'int', min: 1, max: 65536 },
    batchDeadlineMs: { kind: 'num', min: 0 },
    unknownThreshold: { kind: 'num', min: 0, max: 1 },
    minPayloadPackets: { kind: 'int', min: 0 },
    topK: { kind: 'int', min: 1 },
    intraOpThreads: { kind: 'int?', min: 1, max: 256 },
  },
  output: { db: { kind: 'string?' }, jsonl: { kind: 'string?' }, clickhouse: { kind: 'clickhouse' } },
  log: { level: { kind: ['error', 'warn', 'info', 'debug'] }, format: { kind: ['json', 'text'] } },
  stats: {
    intervalSeconds: { kind: 'num', min: 0 },
    prometheusPort: { kind: 'int?', min: 1, max: 65535 },
    prometheusHost: { kind: 'string' },
  },
  retention: {
    maxAgeDays: { kind: 'num?', min: 0 },
    maxBytes: { kind: 'int?', min: 4096 },
    intervalSeconds: { kind: 'num', min: 1 },
  },
  privacy: { pseudonymizeKey: { kind: 'string?', min: 16 } },
  serve: { listen: { kind: 'string?' }, allowRemote: { kind: 'bool' }, tokenFile: { kind: 'string?' } },
};

/** Levenshtein distance, for "did you mean" hints on misspelled keys. */
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

function suggest(name: string, options: string[]): string {
  let best = '';
  let bestD = Infinity;
  for (const o of options) {
    const dd = distance(name, o);
    if (dd < bestD) {
      bestD = dd;
      best = o;
    }
  }
  return bestD <= Math.max(2, Math.floor(name.length / 3)) ? ` (did you mean "${best}"?)` : ` (known: ${options.join(', ')})`;
}

function checkValue(where: string, spec: { kind: Kind; min?: number; max?: number }, v: unknown, current: unknown): unknown {
  const k = spec.kind;
  if (k === 'clickhouse') return checkClickHouseConfig(where, v, current as ClickHouseConfig | null);
  const bad = (want: string): never => {
    throw new ConfigError(`${where} must be ${want}, got ${JSON.stringify(v)}`);
  };
  if (Array.isArray(k)) {
    if (typeof v !== 'string' || !k.includes(v)) bad(`one of ${k.map((x) => `"${x}"`).join(', ')}`);
    return v;
  }
  switch (k) {
    case 'string':
      if (typeof v !== 'string' || v === '') bad('a non-empty string');
      return v;
    case 'string?':
      if (v !== null && (typeof v !== 'string' || v === '')) bad('a non-empty string or null');
      if (typeof v === 'string' && spec.min !== undefined && v.length < spec.min) {
        throw new ConfigError(`${where} must be at least ${spec.min} characters long`);
      }
      return v;
    case 'strings':
      if (typeof v === 'string') return [v];
      if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || x === '')) bad('a list of paths');
      return v;
    case 'bool':
      if (typeof v !== 'boolean') bad('true or false');
      return v;
    default: {
      if (v === null && (k === 'int?' || k === 'num?')) return null;
      const isInt = k === 'int' || k === 'int?';
      if (typeof v !== 'number' || !Number.isFinite(v) || (isInt && !Number.isInteger(v))) bad(isInt ? 'an integer' : 'a number');
      const n = v as number;
      if (spec.min !== undefined && n < spec.min) bad(`at least ${spec.min}`);
      if (spec.max !== undefined && n > spec.max) bad(`at most ${spec.max}`);
      return n;
    }
  }
}

/** Merges a partial, untrusted config object (from JSON or flags) into `base`, validating every key. */
export function mergeConfig(base: SensorConfig, input: unknown, origin: string): SensorConfig {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ConfigError(`${origin}: the config must be a JSON object with sections ${Object.keys(SCHEMA).join(', ')}`);
  }
  const out = structuredClone(base) as unknown as Record<string, Record<string, unknown>>;
  for (const [section, body] of Object.entries(input as Record<string, unknown>)) {
    const schema = SCHEMA[section];
    if (schema === undefined) {
      throw new ConfigError(`${origin}: unknown section "${section}"${suggest(section, Object.keys(SCHEMA))}`);
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw new ConfigError(`${origin}: section "${section}" must be an object`);
    }
    for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
      const spec = schema[key];
      if (spec === undefined) {
        throw new ConfigError(`${origin}: unknown option "${section}.${key}"${suggest(key, Object.keys(schema))}`);
      }
      out[section]![key] = checkValue(`${origin}: ${section}.${key}`, spec, value, out[section]![key]);
    }
  }
  // null asks for the default explicitly (config/sensor.json ships it that way).
  if (out.sensor!.name === null) out.sensor!.name = hostname();
  return out as unknown as SensorConfig;
}

/** Reads and validates a JSON config file on top of the defaults. Relative paths inside stay relative to the cwd. */
export function loadConfigFile(file: string, base: SensorConfig = defaultConfig()): SensorConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError(`Cannot read config ${file}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`Config ${file} is not valid JSON: ${(e as Error).message}`);
  }
  return mergeConfig(base, json, file);
}
