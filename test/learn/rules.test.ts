import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Labeller, registrableDomain } from '../../src/learn/labeller';
import { FlowEvidence, loadRules, parseRules, RulesError } from '../../src/learn/rules';

const ev = (o: Partial<FlowEvidence>): FlowEvidence => ({ protocol: null, name: null, alpn: [], banner: null, clientLine: null, serverPort: 443, ...o });

describe('rules', () => {
  it('the first matching rule wins, in file order', () => {
    const rules = parseRules(
      {
        rules: [
          { app: 'video', domains: ['video.example.com'] },
          { app: 'example', domains: ['example.com'] },
          { app: 'mail', protocol: 'tls', ports: [993] },
        ],
      },
      'inline',
    );
    const l = new Labeller(rules);
    expect(l.label(ev({ protocol: 'tls', name: 'cdn.video.example.com' }))).toEqual({ label: 'video', evidence: 'rule:1' });
    expect(l.label(ev({ protocol: 'tls', name: 'www.example.com' }))).toEqual({ label: 'example', evidence: 'rule:2' });
    // The same rules in the other order: the broader domain now wins.
    const swapped = new Labeller(parseRules({ rules: [rules.rules[1], rules.rules[0]].map((r) => ({ app: r!.app, domains: r!.domains })) }, 'inline'));
    expect(swapped.label(ev({ name: 'cdn.video.example.com' })).label).toBe('example');
    expect(l.label(ev({ protocol: 'tls', name: 'mail.other.org', serverPort: 993 }))).toEqual({ label: 'mail', evidence: 'rule:3' });
  });

  it('a domain matches itself and its subdomains, never a longer name that ends the same', () => {
    const l = new Labeller(parseRules({ fallback: 'none', rules: [{ app: 'gh', domains: ['github.com'] }] }, 'inline'));
    expect(l.label(ev({ name: 'github.com' })).label).toBe('gh');
    expect(l.label(ev({ name: 'api.github.com' })).label).toBe('gh');
    expect(l.label(ev({ name: 'notgithub.com' })).label).toBeNull();
  });

  it('banner, client-line, ALPN and protocol conditions, all of a rule together', () => {
    const l = new Labeller(
      parseRules(
        {
          fallback: 'none',
          rules: [
            { app: 'openssh', protocol: 'ssh', banner: '^SSH-2\\.0-OpenSSH' },
            { app: 'ssh-other', protocol: 'ssh' },
            { app: 'h2', alpn: ['h2'] },
            { app: 'curl', client: 'curl/' },
          ],
        },
        'inline',
      ),
    );
    expect(l.label(ev({ protocol: 'ssh', banner: 'SSH-2.0-OpenSSH_9.2' })).label).toBe('openssh');
    expect(l.label(ev({ protocol: 'ssh', banner: 'SSH-2.0-dropbear' })).label).toBe('ssh-other');
    expect(l.label(ev({ protocol: 'tls', alpn: ['http/1.1', 'h2'] })).label).toBe('h2');
    expect(l.label(ev({ protocol: 'http', clientLine: 'GET / HTTP/1.1 curl/8' })).label).toBe('curl');
    expect(l.label(ev({ protocol: 'http' })).label).toBeNull();
  });

  it('falls back to the registrable domain (eTLD+1 of the public suffix list)', () => {
    const l = new Labeller(parseRules({ rules: [] }, 'inline'));
    expect(l.label(ev({ name: 'www.bbc.co.uk' }))).toEqual({ label: 'bbc.co.uk', evidence: 'domain' });
    expect(l.label(ev({ name: 'a.b.example.com.au' })).label).toBe('example.com.au');
    expect(l.label(ev({ name: 'user.github.io' })).label).toBe('github.io');
    expect(l.label(ev({ name: '10.1.2.3' })).label).toBeNull();
    expect(registrableDomain('fileserver')).toBe('fileserver');
    expect(registrableDomain('db.corp.internal')).toBe('corp.internal');
    const none = new Labeller(parseRules({ fallback: 'none', rules: [] }, 'inline'));
    expect(none.label(ev({ name: 'www.bbc.co.uk' })).label).toBeNull();
  });

  it('refuses a broken rules file with one line naming the rule and what to fix', () => {
    const bad = (doc: unknown): string => {
      try {
        parseRules(doc, 'r.json');
      } catch (e) {
        expect(e).toBeInstanceOf(RulesError);
        return (e as Error).message;
      }
      throw new Error('accepted');
    };
    expect(bad({ rules: [{ app: 'x' }] })).toBe('rules r.json: rule 1: the rule has no condition (give domains, protocol, ports, alpn, banner or client)');
    expect(bad({ rules: [{ app: 'x', domian: ['a.com'] }] })).toContain('rule 1: unknown key "domian"');
    expect(bad({ rules: [{ app: 'ok', ports: [22] }, { app: 'x', banner: '(' }] })).toContain('rule 2: "banner" is not a valid regular expression');
    expect(bad({ rules: [{ app: '', ports: [1] }] })).toContain('"app" must be');
    expect(bad({ rules: [{ app: 'x', domains: ['not a domain'] }] })).toContain('"not a domain" in "domains" is not a domain name');
    expect(bad({ fallback: 'sni', rules: [] })).toContain('"fallback" must be "domain" or "none"');
    const dir = mkdtempSync(path.join(tmpdir(), 'sensor-rules-'));
    const f = path.join(dir, 'broken.json');
    writeFileSync(f, '{"rules": [');
    expect(() => loadRules(f)).toThrow(/^rules .*broken\.json is not valid JSON/);
    expect(() => loadRules(path.join(dir, 'missing.json'))).toThrow(/cannot read rules .*missing\.json: no such file/);
  });

  it('the shipped rules file loads and names the protocols and well-known services', () => {
    const l = new Labeller(loadRules());
    expect(l.label(ev({ protocol: 'ssh', serverPort: 22 })).label).toBe('ssh');
    expect(l.label(ev({ protocol: 'imaps', name: 'imap.gmail.com', serverPort: 993 })).label).toBe('imaps');
    expect(l.label(ev({ protocol: 'tls', name: 'courier.push.apple.com' })).label).toBe('apple_push');
    expect(l.label(ev({ protocol: 'tls', name: 'www.apple.com' })).label).toBe('apple');
    expect(l.label(ev({ protocol: 'tls', name: 'r3---sn-a5m7zu76.googlevideo.com' })).label).toBe('youtube');
    expect(l.label(ev({ protocol: 'tls', name: 'fonts.gstatic.com' })).label).toBe('google');
    expect(l.label(ev({ protocol: 'http', name: 'deb.debian.org' })).label).toBe('debian');
    expect(l.label(ev({ protocol: 'tls', name: 'www.example.co.jp' })).label).toBe('example.co.jp');
  });
});
