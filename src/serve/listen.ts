import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';

import { ConfigError } from '../config/config';

/** Environment variable that may hold the API's bearer token (never a command-line argument: argv is public). */
export const TOKEN_ENV = 'SENSOR_API_TOKEN';
/** Shortest token accepted: a guessable token is no protection. */
export const MIN_TOKEN_LENGTH = 16;

export interface ListenAddress {
  host: string;
  port: number;
  /** Only this machine can connect (127.0.0.0/8, ::1, localhost). */
  loopback: boolean;
}

function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/** Parses `HOST:PORT`, `[V6]:PORT` or a bare `PORT` (which means 127.0.0.1:PORT). */
export function parseListen(text: string): ListenAddress {
  const bad = (why: string): never => {
    throw new ConfigError(`Listen address "${text}" ${why} (give HOST:PORT such as 127.0.0.1:8080, or a port)`);
  };
  let host = '127.0.0.1';
  let portText = text;
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(text);
  if (v6 !== null) {
    host = v6[1]!;
    portText = v6[2]!;
    if (isIP(host) !== 6) bad('has an invalid IPv6 address');
  } else if (text.includes(':')) {
    const at = text.lastIndexOf(':');
    host = text.slice(0, at);
    portText = text.slice(at + 1);
    if (host === '' || host.includes(':')) bad('is not HOST:PORT (write IPv6 addresses in brackets, [::1]:8080)');
    if (isIP(host) === 0 && host !== 'localhost') bad(`names host "${host}": give an IP address or localhost`);
  }
  if (!/^\d{1,5}$/.test(portText)) bad('has no valid port');
  const port = Number(portText);
  if (port < 0 || port > 65535) bad('has a port outside 0-65535');
  return { host, port, loopback: isLoopback(host) };
}

/**
 * The bearer token: from `tokenFile` when given, else from $SENSOR_API_TOKEN, else null. Listening beyond the
 * loopback needs both the explicit `allowRemote` and a token; a configured token is required on loopback too.
 */
export function resolveToken(addr: ListenAddress, allowRemote: boolean, tokenFile: string | null, env: NodeJS.ProcessEnv = process.env): string | null {
  let token: string | null = null;
  if (tokenFile !== null) {
    try {
      token = readFileSync(tokenFile, 'utf8').trim();
    } catch (e) {
      throw new ConfigError(`Cannot read the API token file ${tokenFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    if (token === '') throw new ConfigError(`The API token file ${tokenFile} is empty`);
  } else if (env[TOKEN_ENV] !== undefined && env[TOKEN_ENV] !== '') {
    token = env[TOKEN_ENV]!.trim();
  }
  if (token !== null && token.length < MIN_TOKEN_LENGTH) {
    throw new ConfigError(`The API token must be at least ${MIN_TOKEN_LENGTH} characters (e.g. openssl rand -hex 24)`);
  }
  if (!addr.loopback) {
    if (!allowRemote) {
      throw new ConfigError(
        `Refusing to serve on ${addr.host}: only loopback addresses are served by default; to serve other machines add --allow-remote and a bearer token (--token-file FILE or $${TOKEN_ENV})`,
      );
    }
    if (token === null) {
      throw new ConfigError(`Serving on ${addr.host} needs a bearer token: put one in a file for --token-file (or in $${TOKEN_ENV}), never on the command line`);
    }
  }
  return token;
}
