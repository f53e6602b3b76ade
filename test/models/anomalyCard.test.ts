import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

import { loadAnomalyModelInfo } from '../../src/anomaly/anomalyModel';
import { loadGroupModel } from '../../src/hosts/behaviourGroups';

const ROOT = path.resolve(__dirname, '../..');
const card = (name: string): any => JSON.parse(readFileSync(path.join(ROOT, 'models/anomaly/card', name), 'utf8'));

/**
 * The anomaly model's card (models/ANOMALY.md) and the README's figures are generated from the measured files in
 * models/anomaly/card/ (models/anomaly/card.py); those files must be the measurements of the shipped model.
 */
describe('the anomaly model card describes the shipped model', () => {
  it('fit.json and metrics.json are of models/anomaly.onnx, with its thresholds', async () => {
    const info = await loadAnomalyModelInfo(path.join(ROOT, 'models/anomaly.onnx'));
    const fit = card('fit.json');
    const metrics = card('metrics.json');
    expect(fit.version).toBe(info.version);
    expect(metrics.model.version).toBe(info.version);
    for (const t of info.thresholds) expect(fit.thresholds[String(t.fpr)]).toBeCloseTo(t.threshold, 5);
    expect(metrics.stated_fpr).toBe(info.defaultFpr);
  });

  it('models/ANOMALY.md and the README show the measured figures', () => {
    const m = card('metrics.json');
    const md = readFileSync(path.join(ROOT, 'models/ANOMALY.md'), 'utf8');
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const block = readme.slice(readme.indexOf('<!-- anomaly-figures:'), readme.indexOf('<!-- /anomaly-figures -->'));
    const pct = (x: number, d = 2): string => `${(100 * x).toFixed(d)}%`;
    expect(md).toContain(`${pct(m.held_out.fpr)} (${m.held_out.flagged} of ${m.held_out.flows.toLocaleString('en-US')} flows`);
    expect(block).toContain(`| ${pct(m.held_out.fpr)} |`);
    if (m.fresh) expect(md).toContain(`${pct(m.fresh.fpr)} (${m.fresh.flagged} of ${m.fresh.flows.toLocaleString('en-US')} flows`);
    // The attack labs the model was designed on, and apart those recorded after it was frozen (untouched).
    for (const totals of [m.attack_totals, m.attack_totals_untouched ?? {}]) {
      for (const [sc, r] of Object.entries(totals) as [string, any][]) {
        if (sc === 'normal') continue;
        const flagged = `${r.attack_flagged.toLocaleString('en-US')} of ${r.attack_flows.toLocaleString('en-US')}`;
        expect(md).toContain(`${flagged} = ${r.detection.toFixed(3)}`);
        expect(block).toContain(`| \`${sc}\` flows: `);
        expect(block).toContain(`${pct(r.detection, 1)} (${flagged})`);
      }
    }
  });

  it('the bundled behaviour groups load and are the ones the card names', () => {
    const groups = loadGroupModel(path.join(ROOT, 'models/host-groups.json'));
    const hosts = card('hosts.json');
    expect(hosts.bundled.groups.map((g: any) => g.name)).toEqual(groups.groups.map((g) => g.name));
    expect(groups.groups.some((g) => g.name.startsWith('scanner-like'))).toBe(true);
  });
});
