import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { parseListen, resolveToken, TOKEN_ENV } from '../../src/serve/listen';
import { startServer } from '../../src/serve/server';

const quiet = { info() {}, warn() {}, error() {} };

describe('parseListen()', () => {
  it('reads HOST:PORT, [V6]:PORT and a bare port (loopback)', () => {
    expect(parseListen('127.0.0.1:8080')).toEqual({ host: '127.0.0.1', port: 8080, loopback: true });
    expect(parseListen('8081')).toEqual({ host: '127.0.0.1', port: 8081, loopback: true });
    expect(parseListen('[::1]:9000')).toEqual({ host: '::1', port: 9000, loopback: true });
    expect(parseListen('localhost:1')).toEqual({ host: 'localhost', port: 1, loopback: true });
    expect(parseListen('127.0.0.53:80').loopback).toBe(true);
    expect(parseListen('0.0.0.0:8080')).toEqual({ host: '0.0.0.0', port: 8080, loopback: false });
    expect(parseListen('[::]:8080').loopback).toBe(false);
    expect(parseListen('192.0.2.1:8080').loopback).toBe(false);
  });

  it('refuses what is not an address with one line', () => {
    for (const bad of ['', 'abc', '127.0.0.1:', ':8080', '127.0.0.1:99999', 'example.com:80', '::1:8080', '[zz]:80', '127.0.0.1:80:80']) {
      expect(() => parseListen(bad), bad).toThrow(/^Listen address ".*" .* \(give HOST:PORT/);
    }
  });
});

describe('resolveToken()', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sensor-token-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (text: string): string => {
    const p = path.join(dir, `t${Math.random()}`);
    writeFileSync(p, text);
    return p;
  };
  const remote = parseListen('0.0.0.0:8080');
  const local = parseListen('127.0.0.1:8080');

  it('serves the loopback without a token, and nothing else without --allow-remote and a token', () => {
    expect(resolveToken(local, false, null, {})).toBeNull();
    expect(() => resolveToken(remote, false, null, {})).toThrow(/only loopback addresses are served by default; .*--allow-remote/);
    expect(() => resolveToken(remote, true, null, {})).toThrow(/needs a bearer token/);
    expect(() => resolveToken(remote, false, file('x'.repeat(32)), {})).toThrow(/--allow-remote/);
    expect(resolveToken(remote, true, file(`${'s'.repeat(32)}\n`), {})).toBe('s'.repeat(32));
    expect(resolveToken(remote, true, null, { [TOKEN_ENV]: 'e'.repeat(20) })).toBe('e'.repeat(20));
  });

  it('refuses short, empty and unreadable tokens', () => {
    expect(() => resolveToken(local, false, file('short'), {})).toThrow(/at least 16 characters/);
    expect(() => resolveToken(local, false, file('\n'), {})).toThrow(/is empty/);
    expect(() => resolveToken(local, false, path.join(dir, 'none'), {})).toThrow(/Cannot read the API token file .*ENOENT/);
    expect(() => resolveToken(local, false, null, { [TOKEN_ENV]: 'short' })).toThrow(/at least 16 characters/);
  });
});

describe('bearer token', () => {
  it('is required on every API route once set; the page itself carries no data and loads without it', async () => {
    const token = 't0ken-'.repeat(5);
    const server = await startServer({ listen: { host: '127.0.0.1', port: 0, loopback: true }, dbPath: null, classify: null, token, logger: quiet });
    try {
      for (const p of ['/v1/flows', '/v1/summary', '/v1/model', '/v1/monitor', '/v1/anomalies', '/v1/hosts', '/v1/host-events', '/v1/openapi.json', '/metrics']) {
        for (const auth of [undefined, 'Bearer wrong-token-wrong-token', `Basic ${token}`, `Bearer ${token}x`, 'Bearer ']) {
          const res = await fetch(server.url + p, auth !== undefined ? { headers: { authorization: auth } } : {});
          expect(res.status, `${p} with ${auth}`).toBe(401);
          expect(res.headers.get('www-authenticate')).toBe('Bearer');
          expect(((await res.json()) as { error: string }).error).toMatch(/needs the bearer token/);
        }
        const ok = await fetch(server.url + p, { headers: { authorization: `Bearer ${token}` } });
        // With no database and no model the data routes answer 503, past the token check.
        expect([200, 503], p).toContain(ok.status);
      }
      const post = await fetch(`${server.url}/v1/classify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[[1]]' });
      expect(post.status).toBe(401);
      expect((await fetch(`${server.url}/`)).status).toBe(200);
      expect((await fetch(`${server.url}/assets/app.js`)).status).toBe(200);
      const spec = (await (await fetch(`${server.url}/v1/openapi.json`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
        security: unknown;
      };
      expect(spec.security).toEqual([{ bearer: [] }]);
    } finally {
      await server.close();
    }
  });
});
