import { parse as parseHost } from 'tldts';
import { FlowEvidence, ruleMatches, Rules } from './rules';

/**
 * Names a flow from its evidence: the first matching rule's application, else (fallback "domain") the
 * registrable domain of its TLS SNI or HTTP Host (eTLD+1 from the Public Suffix List's ICANN section, via tldts:
 * `www.bbc.co.uk` -> `bbc.co.uk`), or the name itself when it has no public suffix (`fileserver`); addresses
 * name nothing.
 */
export class Labeller {
  constructor(readonly rules: Rules) {}

  label(e: FlowEvidence): { label: string | null; evidence: string } {
    const rules = this.rules.rules;
    for (let i = 0; i < rules.length; i++) if (ruleMatches(rules[i]!, e)) return { label: rules[i]!.app, evidence: `rule:${i + 1}` };
    if (this.rules.fallback === 'domain' && e.name !== null) {
      const d = registrableDomain(e.name);
      if (d !== null) return { label: d, evidence: 'domain' };
    }
    return { label: null, evidence: '' };
  }
}

/** eTLD+1 of a host name; the name itself when it has no known suffix (a single-label name); null for an address. */
export function registrableDomain(name: string): string | null {
  const p = parseHost(name, { allowPrivateDomains: false, extractHostname: false });
  if (p.isIp === true) return null;
  if (p.domain !== null && p.domain !== '') return p.domain;
  return name.includes('.') ? null : name;
}
