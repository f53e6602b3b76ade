import * as path from 'node:path';
import type { ModelInfo } from '../classify/classifier';
import type { TrainOptions } from './trainOptions';

interface ClassFigures {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

interface Summary {
  flows: number;
  accuracy: number;
  macro_f1: number;
  top3_accuracy: number;
  ece: number;
  per_class: Record<string, ClassFigures>;
}

/** The parts of models/train/train.py's metrics.json the card reads (either trainer generation). */
export interface TrainMetrics {
  flows: number;
  classes: string[];
  split: string;
  epochs?: number;
  args?: { epochs?: number };
  train_seconds?: number;
  temperature?: number;
  train_flows: number;
  val_flows: number;
  test_flows: number;
  groups?: { train: number; val: number; test: number };
  class_flows?: Record<string, number>;
  lab_flows?: Record<string, number>;
  network?: Summary;
  unknown?: { left_out: string[]; chosen: { threshold: number; left_out_caught: number; known_correct_lost: number }; rule: string };
  unknown_threshold?: number;
  network_rule?: { threshold: number; unknown_share: number; accuracy: number };
}

const f4 = (v: number): string => v.toFixed(4);
const pct = (v: number): string => `${(100 * v).toFixed(1)}%`;
const int = (v: number): string => v.toLocaleString('en-US');

/** The card of a model `sensor train` wrote: every figure comes from the trainer's metrics.json or `sensor eval`. */
export function writeCard(c: {
  options: TrainOptions;
  model: ModelInfo;
  metrics: TrainMetrics;
  heldOut: string | null;
  python: { python: string; version: string; torch: string };
  device: string;
  wallSeconds: number;
  bytes: number;
}): string {
  const { options: o, model, metrics: m } = c;
  const name = path.basename(o.out);
  const counts = m.class_flows ?? m.lab_flows ?? {};
  const L: string[] = [];
  L.push(`# Model card: \`${name}\``, '');
  L.push(`Written by \`sensor train\` from measured files (\`${path.join(o.work, 'metrics.json')}\`, and \`sensor eval\` on the held-out rows); do not edit the numbers by hand.`, '');
  L.push('## What it is', '');
  L.push(
    `The sensor's network (models/train/net.py), trained on who's-talking rows: it names the application of a TCP flow from its first ${model.sequenceLength} signed payload lengths (client->server \`+len\`, server->client \`-len\`). ` +
      `Input float32 \`[N, ${model.sequenceLength}]\`, output float32 \`[N, ${model.classes.length}]\` calibrated probabilities` +
      (m.temperature !== undefined ? ` (temperature T = ${m.temperature.toFixed(3)}, fitted on the validation rows)` : '') + '.',
    '',
  );
  L.push(`- file: \`${o.out}\`, ${int(c.bytes)} bytes; metadata \`model_version\` = \`${model.version}\``);
  L.push(`- metadata \`training_data\`: "${model.trainingData}"`);
  L.push(`- ${model.classes.length} classes: ${model.classes.map((x) => `\`${x}\``).join(', ')}`);
  L.push(`- drift reference (\`input_reference\` metadata for the monitor): ${model.inputReference !== null ? 'present' : 'absent (the monitor says it has no reference)'}`);
  L.push('');
  L.push('## Data and split', '');
  L.push(`- rows: \`${o.csv}\`, ${int(m.flows)} rows` + (o.runs !== null ? `, groups from \`${o.runs}\`` : ''));
  L.push(`- held-out split by ${m.split}: training ${int(m.train_flows)}, validation ${int(m.val_flows)} (temperature), test ${int(m.test_flows)} rows` +
    (m.groups !== undefined ? ` (${m.groups.train} / ${m.groups.val} / ${m.groups.test} groups); no group is on two sides` : ''));
  const epochs = m.epochs ?? m.args?.epochs;
  L.push(`- training: ${epochs !== undefined ? `${epochs} epochs` : 'epochs as the trainer chose'} on ${c.device}` +
    (m.train_seconds !== undefined ? ` in ${m.train_seconds.toFixed(1)} s` : '') + ` (the whole command: ${c.wallSeconds.toFixed(1)} s; Python ${c.python.version}, torch ${c.python.torch})` +
    (o.quick ? '; --quick: a short run, no unknown-threshold experiment' : ''));
  L.push('');
  L.push('## Held-out results', '');
  const n = m.network;
  if (n === undefined) {
    L.push('No held-out rows: every class needs at least three groups for the split to hold some out (more rows, or a --runs file with more groups). The model is untested.', '');
  } else {
    L.push('| macro-F1 | accuracy | top-3 accuracy | ECE | test rows |', '| ---: | ---: | ---: | ---: | ---: |');
    L.push(`| ${f4(n.macro_f1)} | ${f4(n.accuracy)} | ${f4(n.top3_accuracy)} | ${f4(n.ece)} | ${int(n.flows)} |`, '');
    L.push('| class | rows | precision | recall | F1 | test rows |', '| --- | ---: | ---: | ---: | ---: | ---: |');
    for (const k of model.classes) {
      const p = n.per_class[k];
      if (p === undefined) continue;
      L.push(`| \`${k}\` | ${int(counts[k] ?? 0)} | ${f4(p.precision)} | ${f4(p.recall)} | ${f4(p.f1)} | ${int(p.support)} |`);
    }
    L.push('');
  }
  if (c.heldOut !== null) {
    L.push(`The same held-out rows through the exported file and the sensor's runtime (\`sensor eval --csv ${path.join(o.work, 'test.csv')} --model ${o.out}\`):`, '', '```', c.heldOut.trimEnd(), '```', '');
  }
  L.push('## The `unknown` rule', '');
  if (m.unknown !== undefined) {
    const ch = m.unknown.chosen;
    L.push(
      `A second network was trained without ${m.unknown.left_out.map((x) => `\`${x}\``).join(' and ')}; rule: ${m.unknown.rule}. Chosen threshold **${ch.threshold.toFixed(2)}**: ` +
        `${pct(ch.left_out_caught)} of the left-out classes' flows come out \`unknown\`, ${pct(ch.known_correct_lost)} of correctly classified known flows are lost to it. ` +
        `Run the sensor with \`--unknown-threshold ${ch.threshold.toFixed(2)}\` (classify.unknownThreshold) to apply it.`,
    );
  } else if (m.unknown_threshold !== undefined) {
    L.push(`Threshold in the model's metadata (\`unknown_threshold\`): **${m.unknown_threshold}**` +
      (m.network_rule !== undefined ? `; on the held-out rows it labels ${pct(m.network_rule.unknown_share)} \`unknown\` and leaves accuracy ${f4(m.network_rule.accuracy)} (unknown counted wrong).` : '.'));
  } else {
    L.push('Not measured in this run (--quick, or too few classes to leave two out): the sensor applies its configured classify.unknownThreshold.');
  }
  L.push('');
  L.push('## Deploy', '');
  L.push(`\`sensor --interface IF --model ${o.out}\` (or classify.model in the config, then \`kill -HUP\` the daemon: the new model is checked before it replaces the old one). Flows are scored from headers only; no handshake needs to be visible.`, '');
  L.push('## Reproduce', '');
  const cmd = ['sensor train', '--csv', o.csv, ...(o.runs !== null ? ['--runs', o.runs] : []), '--out', o.out, ...(epochs !== undefined && o.epochs !== null ? ['--epochs', String(o.epochs)] : []), ...(o.seed !== null ? ['--seed', String(o.seed)] : []), ...(o.quick ? ['--quick'] : [])];
  L.push('```', cmd.join(' '), '```', '');
  return L.join('\n');
}
