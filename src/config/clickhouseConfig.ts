import { ConfigError } from './config';

/** `output.clickhouse`: where and how flow records are inserted into ClickHouse (null: no ClickHouse output). */
export interface ClickHouseConfig {
  /** HTTP(S) endpoints of the ClickHouse HTTP interface; inserts go to the first that answers, in order. */
  url: string[];
  database: string;
  /** Table the sensor inserts into (a Distributed table on a cluster, see `sensor clickhouse-schema`). */
  table: string;
  user: string;
  /** File whose first line is the password (systemd credentials, a secrets mount), or null. */
  passwordFile: string | null;
  /** Environment variable that holds the password when no file is given (unset: no password). */
  passwordEnv: string;
  /** Rows per INSERT; a batch is also sent after batchDeadlineMs. */
  batchSize: number;
  batchDeadlineMs: number;
  /** One INSERT may take this long before it counts as failed (ClickHouse slow) and its rows go to the spool. */
  timeoutMs: number;
  /** gzip the request bodies (for inserts over a WAN; costs CPU on both sides). */
  compression: boolean;
  /** Directory for batches ClickHouse did not take yet (null: next to the SQLite file, or ./clickhouse-spool). */
  spoolDir: string | null;
  /** Bound on the spool; when full, the oldest batches are dropped and counted. */
  spoolMaxBytes: number;
  /** ClickHouse settings sent with every INSERT (e.g. insert_distributed_sync). */
  settings: Record<string, string | number>;
  /** Files for https:// URLs: a CA to trust, and a client certificate and key for mutual TLS. */
  tls: { ca: string | null; cert: string | null; key: string | null };
}

export function defaultClickHouseConfig(): ClickHouseConfig {
  return {
    url: [],
    database: 'sensor',
    table: 'flows',
    user: 'default',
    passwordFile: null,
    passwordEnv: 'SENSOR_CLICKHOUSE_PASSWORD',
    // ClickHouse's advice: inserts of thousands of rows, about one per second per writer.
    batchSize: 10000,
    batchDeadlineMs: 5000,
    timeoutMs: 30000,
    compression: false,
    spoolDir: null,
    spoolMaxBytes: 1024 * 1024 * 1024,
    settings: {},
    tls: { ca: null, cert: null, key: null },
  };
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const KEYS = Object.keys(defaultClickHouseConfig());

function fail(where: string, msg: string): never {
  throw new ConfigError(`${where}${msg}`);
}

function str(where: string, v: unknown, nullable: boolean): string | null {
  if (v === null && nullable) return null;
  if (typeof v !== 'string' || v === '') fail(where, ` must be a non-empty string${nullable ? ' or null' : ''}, got ${JSON.stringify(v)}`);
  return v;
}

function int(where: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) fail(where, ` must be an integer, got ${JSON.stringify(v)}`);
  if (v < min) fail(where, ` must be at least ${min}`);
  if (v > max) fail(where, ` must be at most ${max}`);
  return v;
}

function checkUrl(where: string, v: unknown): string {
  const s = str(where, v, false)!;
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return fail(where, ` is not a URL: ${JSON.stringify(s)} (example: http://127.0.0.1:8123)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') fail(where, ` must be an http:// or https:// URL of ClickHouse's HTTP interface, got ${s}`);
  if (u.username !== '' || u.password !== '') fail(where, ' must not carry a user or password: use output.clickhouse.user and passwordFile/passwordEnv');
  return s;
}

/** Validates a (partial) `output.clickhouse` value on top of `current` (the defaults, or an earlier file's value). */
export function checkClickHouseConfig(where: string, v: unknown, current: ClickHouseConfig | null): ClickHouseConfig | null {
  if (v === null) return null;
  if (typeof v === 'string') v = { url: v };
  if (typeof v !== 'object' || Array.isArray(v)) fail(where, ` must be an object (see config/sensor.json), a URL, or null, got ${JSON.stringify(v)}`);
  const out: ClickHouseConfig = structuredClone(current ?? defaultClickHouseConfig());
  for (const [key, value] of Object.entries(v as Record<string, unknown>)) {
    const at = `${where}.${key}`;
    switch (key) {
      case 'url': {
        const list = Array.isArray(value) ? value : [value];
        if (list.length === 0) fail(at, ' must name at least one URL');
        out.url = list.map((u, i) => checkUrl(Array.isArray(value) ? `${at}[${i}]` : at, u));
        break;
      }
      case 'database':
      case 'table': {
        const s = str(at, value, false)!;
        if (!IDENTIFIER.test(s)) fail(at, ` must be a plain identifier (letters, digits, _), got ${JSON.stringify(s)}`);
        out[key] = s;
        break;
      }
      case 'user':
      case 'passwordEnv':
        out[key] = str(at, value, false)!;
        break;
      case 'passwordFile':
      case 'spoolDir':
        out[key] = str(at, value, true);
        break;
      case 'batchSize':
        out.batchSize = int(at, value, 1, 1_000_000);
        break;
      case 'batchDeadlineMs':
        out.batchDeadlineMs = int(at, value, 1, 3_600_000);
        break;
      case 'timeoutMs':
        out.timeoutMs = int(at, value, 100, 3_600_000);
        break;
      case 'spoolMaxBytes':
        out.spoolMaxBytes = int(at, value, 1024 * 1024, Number.MAX_SAFE_INTEGER);
        break;
      case 'compression':
        if (typeof value !== 'boolean') fail(at, ` must be true or false, got ${JSON.stringify(value)}`);
        out.compression = value;
        break;
      case 'settings': {
        if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(at, ' must be an object of ClickHouse settings');
        const s: Record<string, string | number> = {};
        for (const [name, sv] of Object.entries(value as Record<string, unknown>)) {
          if (!IDENTIFIER.test(name)) fail(at, ` has a setting name that is not an identifier: ${JSON.stringify(name)}`);
          if (typeof sv !== 'string' && (typeof sv !== 'number' || !Number.isFinite(sv))) fail(`${at}.${name}`, ' must be a string or a number');
          s[name] = sv as string | number;
        }
        out.settings = s;
        break;
      }
      case 'tls': {
        if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(at, ' must be an object {ca, cert, key} of file paths');
        for (const [name, tv] of Object.entries(value as Record<string, unknown>)) {
          if (name !== 'ca' && name !== 'cert' && name !== 'key') fail(at, `: unknown option "${name}" (known: ca, cert, key)`);
          out.tls[name] = str(`${at}.${name}`, tv, true);
        }
        break;
      }
      default:
        fail(where, `: unknown option "${key}" (known: ${KEYS.join(', ')})`);
    }
  }
  if ((out.tls.cert === null) !== (out.tls.key === null)) fail(`${where}.tls`, ': cert and key go together (mutual TLS needs both)');
  if (out.tls.cert !== null && out.tls.ca === null) fail(`${where}.tls`, ': a client certificate needs tls.ca too (the CA that signed the server)');
  return out;
}
