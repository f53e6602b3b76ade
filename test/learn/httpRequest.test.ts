import { describe, expect, it } from 'vitest';
import { HTTP_REQUEST, NEED_MORE, NOT_HTTP, readHttpRequest } from '../../src/learn/httpRequest';

function read(text: string, final = false): { r: number; host: string | null } {
  const b = Buffer.from(text, 'latin1');
  const out = { host: null as string | null };
  const r = readHttpRequest(b, 0, b.length, final, out);
  return { r, host: out.host };
}

describe('readHttpRequest()', () => {
  it('takes the Host header, lower case, without its port', () => {
    expect(read('GET / HTTP/1.1\r\nAccept: */*\r\nhOsT: WWW.Example.com:8080\r\n\r\n')).toEqual({ r: HTTP_REQUEST, host: 'www.example.com' });
  });

  it('takes the authority of an absolute target or a CONNECT when there is no Host', () => {
    expect(read('GET http://proxy.example.net/x HTTP/1.0\r\n\r\n')).toEqual({ r: HTTP_REQUEST, host: 'proxy.example.net' });
    expect(read('CONNECT tunnel.example.org:443 HTTP/1.1\r\n\r\n')).toEqual({ r: HTTP_REQUEST, host: 'tunnel.example.org' });
  });

  it('waits while the headers are incomplete, and answers what it has at the end', () => {
    expect(read('GET / HTTP/1.1\r\nUser-Agent: x\r\n').r).toBe(NEED_MORE);
    expect(read('GET / HTTP/1.1\r\nUser-Agent: x\r\n', true)).toEqual({ r: HTTP_REQUEST, host: null });
    expect(read('GET / HTTP/1.1\r\n\r\n')).toEqual({ r: HTTP_REQUEST, host: null });
  });

  it('is not HTTP without a method and an HTTP/1.x version', () => {
    expect(read('get / HTTP/1.1\r\n\r\n').r).toBe(NOT_HTTP);
    expect(read('GET something else\r\n\r\n').r).toBe(NOT_HTTP);
    expect(read('SSH-2.0-x\r\n').r).toBe(NOT_HTTP);
  });

  it('an IPv6 literal or a bad name names nothing', () => {
    expect(read('GET / HTTP/1.1\r\nHost: [2001:db8::1]:80\r\n\r\n').host).toBeNull();
    expect(read('GET / HTTP/1.1\r\nHost: exa mple\r\n\r\n').host).toBeNull();
  });
});
