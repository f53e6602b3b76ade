import { describe, expect, it } from 'vitest';
import { CLIENT_HELLO, ClientHello, hostName, NEED_MORE, NOT_TLS, readClientHello } from '../../src/learn/tlsClientHello';
import { clientHello } from './handshakes';

const fresh = (): ClientHello => ({ sni: null, alpn: [] });

describe('readClientHello()', () => {
  it('reads the SNI and the ALPN offer of a whole ClientHello', () => {
    const b = clientHello('WWW.Example.ORG.', ['h2', 'http/1.1']);
    const out = fresh();
    expect(readClientHello(b, 0, b.length, false, out)).toBe(CLIENT_HELLO);
    expect(out).toEqual({ sni: 'www.example.org', alpn: ['h2', 'http/1.1'] });
  });

  it('waits for the rest of a ClientHello cut before its server_name, and reads what there is at the end', () => {
    const b = clientHello('late.example.com', [], 1800, true);
    const out = fresh();
    expect(readClientHello(b, 0, 1448, false, out)).toBe(NEED_MORE);
    expect(out.sni).toBeNull();
    expect(readClientHello(b, 0, 1448, true, out)).toBe(CLIENT_HELLO);
    expect(out.sni).toBeNull();
    expect(readClientHello(b, 0, b.length, false, out)).toBe(CLIENT_HELLO);
    expect(out.sni).toBe('late.example.com');
  });

  it('joins a handshake message split over two TLS records', () => {
    const whole = clientHello('split.example.net', ['h2']);
    const hs = whole.subarray(5);
    const cut = 60;
    const rec = (part: Buffer): Buffer => Buffer.concat([Buffer.from([0x16, 0x03, 0x01, part.length >> 8, part.length & 0xff]), part]);
    const b = Buffer.concat([rec(hs.subarray(0, cut)), rec(hs.subarray(cut))]);
    const out = fresh();
    expect(readClientHello(b, 0, b.length, false, out)).toBe(CLIENT_HELLO);
    expect(out.sni).toBe('split.example.net');
  });

  it('answers NOT_TLS for other bytes and a ClientHello without SNI has a null name', () => {
    const out = fresh();
    const http = Buffer.from('GET / HTTP/1.1\r\n\r\n');
    expect(readClientHello(http, 0, http.length, true, out)).toBe(NOT_TLS);
    const b = clientHello(null, ['h2']);
    expect(readClientHello(b, 0, b.length, false, out)).toBe(CLIENT_HELLO);
    expect(out).toEqual({ sni: null, alpn: ['h2'] });
  });

  it('never reads past the bytes it is given, whatever the length fields say', () => {
    const b = clientHello('x.example.com', ['h2'], 300);
    for (let end = 0; end <= b.length; end += 7) {
      const out = fresh();
      expect(() => readClientHello(b, 0, end, true, out)).not.toThrow();
    }
    const bogus = Buffer.from(b);
    bogus[9] = 0xff; // handshake length far beyond the record
    expect(() => readClientHello(bogus, 0, bogus.length, true, fresh())).not.toThrow();
  });

  it('hostName() takes DNS names only', () => {
    expect(hostName(Buffer.from('a-b.c_d.example.'), 0, 16)).toBe('a-b.c_d.example');
    expect(hostName(Buffer.from('bad name'), 0, 8)).toBeNull();
    expect(hostName(Buffer.from('a..b'), 0, 4)).toBeNull();
    expect(hostName(Buffer.from([0x61, 0x00, 0x62]), 0, 3)).toBeNull();
  });
});
