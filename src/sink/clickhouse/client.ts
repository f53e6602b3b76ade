import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';

import type { ClickHouseConfig } from '../../config/clickhouseConfig';
import { SinkError } from '../sinkError';

/**
 * The one module that loads @clickhouse/client (the official client; it works against ClickHouse 18.16 too:
 * ping, DDL, INSERT with a raw body, gzip request bodies). Its own console logging is off: failures reach the
 * sensor's log through the sink, once, in the sensor's words.
 */
export interface ClickHouseEndpoint {
  readonly url: string;
  /** Sends `body` (rows in the format `query` names) as the data of `query`. Rejects with the server's message. */
  insert(query: string, body: Buffer, signal: AbortSignal): Promise<void>;
  /** Runs one statement (DDL) and waits for it. */
  command(query: string): Promise<void>;
  /** Runs a query and returns the rows of its JSONEachRow answer. */
  rows<T>(query: string): Promise<T[]>;
  close(): Promise<void>;
}

function readSecret(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new SinkError(`cannot read ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

/** The password from output.clickhouse.passwordFile (first line), else the passwordEnv variable, else none. */
export function clickHousePassword(cfg: ClickHouseConfig, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (cfg.passwordFile !== null) return readSecret(cfg.passwordFile, 'the ClickHouse password file').toString('utf8').split(/\r?\n/)[0]!;
  return env[cfg.passwordEnv];
}

export function openEndpoint(url: string, cfg: ClickHouseConfig, password: string | undefined): ClickHouseEndpoint {
  const tls =
    cfg.tls.ca === null
      ? undefined
      : cfg.tls.cert !== null && cfg.tls.key !== null
        ? { ca_cert: readSecret(cfg.tls.ca, 'the TLS CA file'), cert: readSecret(cfg.tls.cert, 'the TLS certificate'), key: readSecret(cfg.tls.key, 'the TLS key') }
        : { ca_cert: readSecret(cfg.tls.ca, 'the TLS CA file') };
  const client: ClickHouseClient = createClient({
    url,
    username: cfg.user,
    ...(password !== undefined ? { password } : {}),
    request_timeout: cfg.timeoutMs,
    compression: { request: cfg.compression, response: false },
    clickhouse_settings: cfg.settings,
    log: { level: ClickHouseLogLevel.OFF },
    application: 'sensor',
    ...(tls !== undefined ? { tls } : {}),
  });
  return {
    url,
    async insert(query, body, signal) {
      const r = await client.exec({ query, values: Readable.from([body]), abort_signal: signal });
      // The answer to an INSERT is empty; reading it to the end returns the socket to the pool.
      for await (const _ of r.stream) void _;
    },
    async command(query) {
      await client.command({ query });
    },
    async rows<T>(query: string) {
      const r = await client.query({ query, format: 'JSONEachRow' });
      return r.json<T>();
    },
    close: () => client.close(),
  };
}
