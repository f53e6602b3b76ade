import { readFileSync } from 'node:fs';
import { DEFAULT_RULES } from './learnDefaults';

/**
 * The learn rules file (default `config/learn-rules.json`): an ordered list of rules that name the application
 * of a flow from what its first packets said in cleartext. The first rule whose conditions all hold gives the
 * label; a flow that no rule names gets its server name's registrable domain (`"fallback": "domain"`) or stays
 * unlabelled (`"fallback": "none"`).
 *
 *   { "fallback": "domain",
 *     "rules": [ { "app": "github", "domains": ["github.com", "githubusercontent.com"] },
 *                { "app": "ssh", "protocol": "ssh" } ] }
 *
 * Conditions (at least one per rule): `domains` (the TLS SNI / HTTP Host equals one or ends with "." + one),
 * `protocol` (a protocol name or a list: tls, http, ssh, smtp, ftp, imap, pop3, imaps, pop3s, smtps, ldaps,
 * mqtts, rsync, xmpp, git, redis, mysql, postgresql, mqtt, ldap, dns, memcached), `ports` (server ports),
 * `alpn` (any offered ALPN protocol is in the list), `banner` (a regular expression the server's first line
 * matches), `client` (a regular expression the client's first line matches). `comment` is ignored.
 */

/** The rules file is unusable; the message names the file, the rule and what to fix (CLI: exit 2). */
export class RulesError extends Error {
  override name = 'RulesError';
}

export { DEFAULT_RULES };

/** What the labeller saw of one flow (learned in handshakeInspector.ts). */
export interface FlowEvidence {
  protocol: string | null;
  name: string | null;
  alpn: readonly string[];
  banner: string | null;
  clientLine: string | null;
  serverPort: number;
}

export interface Rule {
  app: string;
  domains: string[] | null;
  protocols: Set<string> | null;
  ports: Set<number> | null;
  alpn: Set<string> | null;
  banner: RegExp | null;
  client: RegExp | null;
}

export interface Rules {
  source: string;
  fallback: 'domain' | 'none';
  rules: Rule[];
}

const RULE_KEYS = ['app', 'domains', 'protocol', 'ports', 'alpn', 'banner', 'client', 'comment'];
const TOP_KEYS = ['rules', 'fallback', 'comment'];
const DOMAIN = /^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/;

function strings(where: string, v: unknown, what: string): string[] {
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.length === 0 || list.some((x) => typeof x !== 'string' || x === '')) {
    throw new RulesError(`${where}: "${what}" must be a non-empty list of strings`);
  }
  return list as string[];
}

function regex(where: string, v: unknown, what: string): RegExp {
  if (typeof v !== 'string' || v === '') throw new RulesError(`${where}: "${what}" must be a regular expression as a string`);
  try {
    return new RegExp(v);
  } catch (e) {
    throw new RulesError(`${where}: "${what}" is not a valid regular expression: ${(e as Error).message}`);
  }
}

function parseRule(where: string, r: unknown): Rule {
  if (r === null || typeof r !== 'object' || Array.isArray(r)) throw new RulesError(`${where}: a rule must be an object such as {"app": "github", "domains": ["github.com"]}`);
  const o = r as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!RULE_KEYS.includes(k)) throw new RulesError(`${where}: unknown key "${k}" (keys: ${RULE_KEYS.join(', ')})`);
  if (typeof o.app !== 'string' || o.app.trim() === '' || /[\r\n]/.test(o.app)) throw new RulesError(`${where}: "app" must be the application name (a non-empty one-line string)`);
  const rule: Rule = { app: o.app, domains: null, protocols: null, ports: null, alpn: null, banner: null, client: null };
  if (o.domains !== undefined) {
    rule.domains = strings(where, o.domains, 'domains').map((d) => d.toLowerCase().replace(/^\*?\./, '').replace(/\.$/, ''));
    for (const d of rule.domains) if (!DOMAIN.test(d)) throw new RulesError(`${where}: "${d}" in "domains" is not a domain name`);
  }
  if (o.protocol !== undefined) rule.protocols = new Set(strings(where, o.protocol, 'protocol').map((p) => p.toLowerCase()));
  if (o.alpn !== undefined) rule.alpn = new Set(strings(where, o.alpn, 'alpn'));
  if (o.ports !== undefined) {
    const ports = Array.isArray(o.ports) ? o.ports : [o.ports];
    if (ports.length === 0 || ports.some((p) => !Number.isInteger(p) || (p as number) < 1 || (p as number) > 65535)) {
      throw new RulesError(`${where}: "ports" must be a list of port numbers from 1 to 65535`);
    }
    rule.ports = new Set(ports as number[]);
  }
  if (o.banner !== undefined) rule.banner = regex(where, o.banner, 'banner');
  if (o.client !== undefined) rule.client = regex(where, o.client, 'client');
  if (rule.domains === null && rule.protocols === null && rule.ports === null && rule.alpn === null && rule.banner === null && rule.client === null) {
    throw new RulesError(`${where}: the rule has no condition (give domains, protocol, ports, alpn, banner or client)`);
  }
  return rule;
}

/** Validates a parsed rules document; `source` names it in messages. */
export function parseRules(doc: unknown, source: string): Rules {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new RulesError(`rules ${source}: must be a JSON object {"rules": [...]}`);
  const o = doc as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!TOP_KEYS.includes(k)) throw new RulesError(`rules ${source}: unknown key "${k}" (keys: ${TOP_KEYS.join(', ')})`);
  const fallback = o.fallback ?? 'domain';
  if (fallback !== 'domain' && fallback !== 'none') throw new RulesError(`rules ${source}: "fallback" must be "domain" or "none", got ${JSON.stringify(fallback)}`);
  if (!Array.isArray(o.rules)) throw new RulesError(`rules ${source}: "rules" must be a list of rules`);
  const rules = o.rules.map((r, i) => parseRule(`rules ${source}: rule ${i + 1}`, r));
  return { source, fallback, rules };
}

/** Reads and validates a rules file. Throws RulesError with a one-line message. */
export function loadRules(file: string = DEFAULT_RULES): Rules {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new RulesError(`cannot read rules ${file}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new RulesError(`rules ${file} is not valid JSON: ${(e as Error).message}`);
  }
  return parseRules(doc, file);
}

/** True when every condition of the rule holds for the flow. */
export function ruleMatches(r: Rule, e: FlowEvidence): boolean {
  if (r.domains !== null) {
    const name = e.name;
    if (name === null || !r.domains.some((d) => name === d || name.endsWith('.' + d))) return false;
  }
  if (r.protocols !== null && (e.protocol === null || !r.protocols.has(e.protocol))) return false;
  if (r.ports !== null && !r.ports.has(e.serverPort)) return false;
  if (r.alpn !== null && !e.alpn.some((a) => r.alpn!.has(a))) return false;
  if (r.banner !== null && (e.banner === null || !r.banner.test(e.banner))) return false;
  if (r.client !== null && (e.clientLine === null || !r.client.test(e.clientLine))) return false;
  return true;
}
