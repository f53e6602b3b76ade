import * as path from 'node:path';
import yargs, { type Argv } from 'yargs';
import { DEFAULT_HOLD_SECONDS, MAX_CONTEXT_HOLD } from '../anomaly/contextWindow';
import { SET_METHODS, type SetMethod } from '../anomaly/setMethods';
import { checkClickHouseConfig, type ClickHouseConfig } from '../config/clickhouseConfig';
import {
  applyEnv,
  checkRelations,
  closest,
  ConfigError,
  defaultConfig,
  loadConfigFile,
  mergeConfig,
  SensorConfig,
  show,
  textValue,
} from '../config/config';
import { DEFAULT_INSPECT_PACKETS, DEFAULT_RULES, LEARN_SNAPLEN } from '../learn/learnDefaults';
import type { LearnOptions } from '../learn/learnRun';
import { parseTime } from '../serve/timeParam';
import { TRAIN_FLAGS, trainOptions, type TrainOptions } from '../train/trainOptions';
import type { EvalLabelsOptions } from './evalCommand';

/** What the command line asked for. */
export type Command =
  | { kind: 'run'; config: SensorConfig; progress: boolean; summary: boolean; replaceDb: boolean }
  | { kind: 'export'; db: string; format: 'csv'; out: string; label: string | null; length: number }
  | { kind: 'eval'; csv: string; model: string }
  | ({ kind: 'eval-labels' } & Omit<EvalLabelsOptions, 'out'>)
  | { kind: 'learn'; config: SensorConfig; learn: LearnOptions }
  | { kind: 'anomaly-fit'; db: string; out: string; fpr: number; since: number | null; until: number | null; seed: number; epochs: number | null; python: string; report: string | null; plainOut: string | null; hold: number; retryHold: number; calibrationDbs: string[]; contextFloor: number; stdFloor: number | null; augment: number; oneThreshold: boolean; balanceSets: boolean; setMethod: SetMethod; portShift: number | null }
  | { kind: 'hosts-fit'; db: string[]; out: string; k: number | null; minK: number; maxK: number; seed: number; since: number | null }
  | { kind: 'train'; train: TrainOptions }
  | { kind: 'interfaces' }
  | { kind: 'clickhouse-schema'; clickhouse: ClickHouseConfig; cluster: string | null; onCluster: boolean; apply: string[]; upgrade: boolean }
  | { kind: 'serve'; config: SensorConfig }
  | { kind: 'report'; db: string; out: string; from: number | null; to: number | null }
  | { kind: 'help'; text: string }
  | { kind: 'version'; text: string };

/** Where `sensor serve` listens without --listen (or serve.listen in the config). */
export const DEFAULT_LISTEN = '127.0.0.1:8080';

const EPILOG = `Every option can also be set in the config file (--config) or as an environment variable
SENSOR_<SECTION>__<KEY> (e.g. SENSOR_CLASSIFY__DEVICE=cpu); flags win over variables, variables over the file.
Exit codes: 0 all done (also when stopped by SIGTERM/SIGINT); 1 some input was damaged (everything readable was processed and written)
or an output failed (flows_unwritten says how many records); 2 usage, config or output error at start.
Docs: README.md (install, queries, record fields), docs/ (flow key, sequence, end reasons, records, model contract, config).`;

/** A flag that sets one config key; its value is checked by the config schema, so messages name the flag. */
interface ConfigFlag {
  flag: string;
  section: keyof SensorConfig;
  key: string;
  describe: string;
  kind: 'value' | 'boolean' | 'list';
  alias?: string;
  /** The flag's boolean is the key's negation (--keep-retransmissions = !flow.skipRetransmissions). */
  invert?: boolean;
}

/** The run flags, in help order. */
export const CONFIG_FLAGS: readonly ConfigFlag[] = [
  { flag: 'pcap', section: 'capture', key: 'pcap', kind: 'list', describe: 'capture file (.pcap, .pcapng, optionally gzipped), directory of captures, FIFO, or - for stdin; repeatable' },
  { flag: 'rotated', section: 'capture', key: 'rotated', kind: 'boolean', describe: 'treat the --pcap files as one rotated capture: flows carry over between files' },
  { flag: 'interface', alias: 'i', section: 'capture', key: 'interface', kind: 'value', describe: 'capture live on this interface (see `sensor interfaces`)' },
  { flag: 'db', section: 'output', key: 'db', kind: 'value', describe: 'SQLite database to write flows to' },
  { flag: 'jsonl', section: 'output', key: 'jsonl', kind: 'value', describe: 'write one JSON object per flow to this file (- for stdout)' },
  { flag: 'clickhouse', section: 'output', key: 'clickhouse', kind: 'value', describe: 'insert flows into ClickHouse at this HTTP URL (e.g. http://127.0.0.1:8123; see output.clickhouse)' },
  { flag: 'sensor-name', section: 'sensor', key: 'name', kind: 'value', describe: "name in every record's `sensor` field and its uid (default: the host name)" },
  { flag: 'model', section: 'classify', key: 'model', kind: 'value', describe: 'ONNX model file (default: the bundled models/sensor.onnx)' },
  { flag: 'device', section: 'classify', key: 'device', kind: 'value', describe: 'inference device: auto, cpu or cuda (default auto: CUDA when it loads, else CPU)' },
  { flag: 'classify', section: 'classify', key: 'enabled', kind: 'boolean', describe: 'classify flows with the model (--no-classify: record flows only)' },
  { flag: 'unknown-threshold', section: 'classify', key: 'unknownThreshold', kind: 'value', describe: 'label flows below this top probability "unknown" (default: the threshold stored in the model)' },
  { flag: 'anomaly', section: 'anomaly', key: 'enabled', kind: 'boolean', describe: 'score every flow with the anomaly model (default on; --no-anomaly: no score)' },
  { flag: 'anomaly-model', section: 'anomaly', key: 'model', kind: 'value', describe: 'anomaly model file (default: the bundled models/anomaly.onnx; see sensor anomaly-fit)' },
  { flag: 'anomaly-fpr', section: 'anomaly', key: 'falsePositiveRate', kind: 'value', describe: "false-positive rate whose threshold flags flows (default: the model's, 0.01)" },
  { flag: 'hosts', section: 'hosts', key: 'enabled', kind: 'boolean', describe: 'keep host profiles in the database (default on; --no-hosts: none)' },
  { flag: 'host-window', section: 'hosts', key: 'windowSeconds', kind: 'value', describe: 'host profile window in seconds (default 3600)' },
  { flag: 'host-groups', section: 'hosts', key: 'groups', kind: 'value', describe: 'behaviour groups file (default: the bundled models/host-groups.json; see sensor hosts-fit); none: no groups' },
  { flag: 'keep-retransmissions', section: 'flow', key: 'skipRetransmissions', kind: 'boolean', invert: true, describe: 'count every payload segment, retransmissions included' },
  { flag: 'idle-timeout', section: 'flow', key: 'idleTimeout', kind: 'value', describe: 'seconds without a packet before a flow ends (default 120)' },
  { flag: 'active-timeout', section: 'flow', key: 'activeTimeout', kind: 'value', describe: 'seconds before a long flow writes an interim record (default 1800)' },
  { flag: 'fin-grace', section: 'flow', key: 'finGrace', kind: 'value', describe: 'seconds a closed connection waits for its last ACK (default 5)' },
  { flag: 'max-flows', section: 'flow', key: 'maxFlows', kind: 'value', describe: 'flow table limit; the least recently seen flow is evicted (default 1000000)' },
  { flag: 'engine', section: 'capture', key: 'engine', kind: 'value', describe: 'live capture engine: addon (auto is the same)' },
  { flag: 'filter', section: 'capture', key: 'filter', kind: 'value', describe: 'BPF filter for live capture (default "tcp")' },
  { flag: 'snaplen', section: 'capture', key: 'snaplen', kind: 'value', describe: 'bytes captured per packet in live mode (default 128: headers only)' },
  { flag: 'buffer-size', section: 'capture', key: 'bufferSize', kind: 'value', describe: 'kernel capture buffer in bytes (live mode, default 64 MiB)' },
  { flag: 'promisc', section: 'capture', key: 'promisc', kind: 'boolean', describe: 'promiscuous mode (live mode, default on; --no-promisc)' },
  { flag: 'fanout-group', section: 'capture', key: 'fanoutGroup', kind: 'value', describe: 'PACKET_FANOUT group: several sensors on one interface split the flows' },
  { flag: 'prometheus-port', section: 'stats', key: 'prometheusPort', kind: 'value', describe: 'serve Prometheus metrics on this port (live mode)' },
  { flag: 'serve', section: 'serve', key: 'listen', kind: 'value', describe: 'also serve the HTTP API and web view on HOST:PORT while running (loopback unless --allow-remote)' },
  { flag: 'allow-remote', section: 'serve', key: 'allowRemote', kind: 'boolean', describe: 'allow serving on a non-loopback address (needs a bearer token: --token-file or $SENSOR_API_TOKEN)' },
  { flag: 'token-file', section: 'serve', key: 'tokenFile', kind: 'value', describe: 'file holding the bearer token the HTTP API requires' },
  { flag: 'ground-truth', section: 'monitor', key: 'groundTruth', kind: 'boolean', describe: 'score the model against flows whose handshake names their service (monitor.groundTruth; needs whole packets)' },
  { flag: 'log-level', section: 'log', key: 'level', kind: 'value', describe: 'operational log level: error, warn, info, debug (default info)' },
  { flag: 'log-format', section: 'log', key: 'format', kind: 'value', describe: 'operational log on stderr: pretty, json or auto (default auto: pretty on a terminal, else json)' },
];

/** The flags of the subcommands, checked here rather than by yargs so that `--help` works without them. */
interface CommandFlag {
  flag: string;
  describe: string;
  required?: boolean;
}
const EXPORT_FLAGS: readonly CommandFlag[] = [
  { flag: 'db', describe: 'SQLite database written by the sensor', required: true },
  { flag: 'format', describe: 'output format: csv (the only one)' },
  { flag: 'out', describe: 'output file, - for stdout (default -)' },
  { flag: 'label', describe: 'use this app_service for every row (labelling lab captures)' },
  { flag: 'length', describe: 'number of tcp_len columns (default 30)' },
];
const EVAL_FLAGS: readonly CommandFlag[] = [
  { flag: 'csv', describe: 'labelled CSV (app_service,tcp_len_1..N): score the model on its rows' },
  { flag: 'db', describe: 'or: SQLite database written by the sensor, scored against --labels' },
  { flag: 'pcap', describe: 'or: capture file or directory (repeatable), read by the sensor and scored against --labels' },
  { flag: 'labels', describe: 'labels CSV for --db/--pcap: client_ip,client_port,server_ip,server_port,first_ts,label[,file]' },
  { flag: 'model', describe: 'ONNX model (default: the bundled one)' },
  { flag: 'min-payload', describe: 'with --labels: score flows with at least this many payload packets (default 4)' },
  { flag: 'min-class', describe: 'with --labels: classes with fewer flows stay out of macro-F1 (default 5)' },
  { flag: 'unknown-threshold', describe: "with --labels: threshold of the unknown rule (default: the model's own)" },
];
const ANOMALY_FIT_FLAGS: readonly CommandFlag[] = [
  { flag: 'db', describe: 'SQLite database written by the sensor (its finished flows are the normal traffic)', required: true },
  { flag: 'out', describe: 'ONNX file to write (then set anomaly.model or --anomaly-model)', required: true },
  { flag: 'fpr', describe: 'default false-positive rate on normal traffic, whose threshold sets the anomaly flag (default 0.01)' },
  { flag: 'since', describe: 'only flows that started at or after this time (Unix seconds or ISO 8601)' },
  { flag: 'until', describe: 'only flows that started before this time (Unix seconds or ISO 8601)' },
  { flag: 'seed', describe: 'random seed of the training (default 1)' },
  { flag: 'epochs', describe: "training epochs (default: fit.py's, 60)" },
  { flag: 'context-hold', describe: 'seconds each flow waits for the flows of its client and service that end after it (default 5; records are written that much later)' },
  { flag: 'context-retry-hold', describe: 'seconds a flow that repeated an exchange (a password guesser retrying on one connection) waits instead, up to 1,024 such flows at once (default 0: the --context-hold)' },
  { flag: 'python', describe: 'Python 3 with torch and onnx (default python3)' },
  { flag: 'report', describe: "write the fit's figures (thresholds, calibration) to this JSON file" },
  { flag: 'plain-out', describe: 'also write the graph as fitted, before the rewrite for speed (models/anomaly/streamline.py), to check that its scores are the same' },
  { flag: 'context-floor', describe: "context error up to this quantile (0 to 0.999) of the normal flows' counts as none (default 0: none; models/ANOMALY.md \"Round anomaly6\")" },
  { flag: 'port-shift', describe: "shift each server port's scores inside the model so that its quantile Q (0.5 to 0.99, e.g. 0.9) of the calibration flows' scores meets the global one, shrunk toward it by the port's captures or hours (implies --one-threshold; models/ANOMALY.md \"Round anomaly8\")" },
  { flag: 'set-method', describe: "with --balance-sets: balanced (default): the sets' mean flagged share is the rate; median: the median set's is (a new kind of traffic lands nearer it: sets flag in blocks, so their shares are right-skewed); geometric: their geometric mean is; extremes: the lowest and highest set's shares centred on the rate in ratio (models/ANOMALY.md \"Round anomaly11\")" },
  { flag: 'std-floor', describe: 'floor (0.01 to 1) of the standard deviations the features are standardised with: a feature that hardly moved in the fitting flows weighs less when it does (default 0.05; models/ANOMALY.md "Round anomaly9")' },
  { flag: 'augment', describe: 'share (0 to 1) of the fitting flows added again with run-level conditions varied: duration scaled, the closing connection state drawn at random (default 0: none; models/ANOMALY.md "Round anomaly9")' },
];
const HOSTS_FIT_FLAGS: readonly CommandFlag[] = [
  { flag: 'out', describe: 'groups file to write (then set hosts.groups or --host-groups)', required: true },
  { flag: 'k', describe: 'number of groups (default: --min-k to --max-k, the best silhouette)' },
  { flag: 'min-k', describe: 'smallest number of groups tried (default 4)' },
  { flag: 'max-k', describe: 'largest number of groups tried (default 8)' },
  { flag: 'seed', describe: 'k-means++ seed (default 1)' },
  { flag: 'since', describe: 'only windows that started at or after this time (Unix seconds or ISO 8601)' },
];
const REPORT_FLAGS: readonly CommandFlag[] = [
  { flag: 'db', describe: 'SQLite database written by the sensor', required: true },
  { flag: 'out', describe: 'HTML file to write (default report.html)' },
  { flag: 'from', describe: 'first flow time: Unix seconds or ISO 8601 (default: the first in the database)' },
  { flag: 'to', describe: 'end time, exclusive (default: after the last flow)' },
];
/** `sensor learn`'s own flags; its capture flags are the run's (LEARN_CONFIG_FLAGS). */
const LEARN_FLAGS: readonly CommandFlag[] = [
  { flag: 'out', describe: 'rows CSV to write (also writes OUT.runs and OUT.flows.csv beside it)', required: true },
  { flag: 'rules', describe: 'rules file: ordered domain/protocol/banner patterns -> app name (default config/learn-rules.json)' },
  { flag: 'min-payload-packets', describe: 'rows need at least this many payload packets (default 1)' },
  { flag: 'length', describe: 'sequence length, the number of tcp_len columns (default 30)' },
  { flag: 'inspect-packets', describe: `payload packets of each flow read for its handshake (default ${DEFAULT_INSPECT_PACKETS})` },
  { flag: 'duration', describe: 'live mode: stop after this many seconds (default: at Ctrl-C / SIGTERM)' },
];
/** Booleans of `sensor learn`. */
const LEARN_SWITCHES: readonly CommandFlag[] = [
  { flag: 'keep-names', describe: "also write each flow's TLS SNI / HTTP Host in OUT.flows.csv" },
  { flag: 'include-midstream', describe: 'also write flows first seen without their SYN' },
];
/** The run flags that apply to `sensor learn` (it writes rows to --out and runs no model). */
const LEARN_CONFIG_FLAGS = new Set([
  'pcap', 'rotated', 'interface', 'sensor-name', 'keep-retransmissions', 'idle-timeout', 'active-timeout', 'fin-grace', 'max-flows',
  'engine', 'filter', 'snaplen', 'buffer-size', 'promisc', 'fanout-group', 'log-level', 'log-format',
]);

const CLICKHOUSE_SCHEMA_FLAGS: readonly CommandFlag[] = [
  { flag: 'cluster', describe: 'cluster name (remote_servers): a <table>_local table per shard and a Distributed <table> over them' },
  { flag: 'database', describe: 'database (default: output.clickhouse.database, "sensor")' },
  { flag: 'table', describe: 'table (default: output.clickhouse.table, "flows")' },
  { flag: 'config', describe: 'JSON config file whose output.clickhouse names the database and table' },
];

/** Flags that are not config keys. */
const RUN_FLAGS: readonly CommandFlag[] = [
  { flag: 'config', describe: 'JSON config file (see config/sensor.json and docs/config.md); flags override it' },
  { flag: 'progress', describe: 'progress line on stderr (default: when stderr is a terminal)' },
  { flag: 'summary', describe: 'human summary table at the end of an offline run (default on; --no-summary)' },
];

export const COMMANDS = ['demo', 'learn', 'train', 'export', 'eval', 'anomaly-fit', 'hosts-fit', 'serve', 'report', 'interfaces', 'clickhouse-schema'] as const;

/** The capture `sensor demo` reads (made by scripts/make-demo.js, shipped with the package). */
export const DEMO_CAPTURE = path.resolve(__dirname, '..', '..', 'demo', 'demo.pcap.gz');
/** Where `sensor demo` writes when no output is given. */
export const DEMO_DB = 'sensor-demo.db';

function common(y: Argv): Argv {
  return y
    .help(false)
    .version(false)
    .option('help', { alias: 'h', type: 'boolean', describe: 'show this help' })
    .option('version', { type: 'boolean', describe: 'show the version' })
    .strict()
    // Flags keep their one spelling (--log-level): no camelCase twin to report twice or to accept silently.
    .parserConfiguration({ 'camel-case-expansion': false })
    .wrap(Math.min(110, process.stdout.columns || 100));
}

function runOptions(y: Argv, only: ReadonlySet<string> | null = null): Argv {
  for (const f of CONFIG_FLAGS) {
    if (only !== null && !only.has(f.flag)) continue;
    y = y.option(f.flag, {
      type: f.kind === 'boolean' ? 'boolean' : 'string',
      ...(f.kind === 'list' ? { array: true } : { nargs: f.kind === 'value' ? 1 : 0 }),
      ...(f.alias !== undefined ? { alias: f.alias } : {}),
      describe: f.describe,
    });
  }
  y = y.option('config', { alias: 'c', type: 'string', nargs: 1, describe: RUN_FLAGS[0]!.describe });
  y = y.option('progress', { type: 'boolean', describe: RUN_FLAGS[1]!.describe });
  return y.option('summary', { type: 'boolean', describe: RUN_FLAGS[2]!.describe });
}

function commandOptions(y: Argv, flags: readonly CommandFlag[]): Argv {
  // --no-progress is taken (and means nothing) everywhere, so scripts can pass it to any command.
  y = y.option('progress', { type: 'boolean', hidden: true });
  for (const f of flags) y = y.option(f.flag, { type: 'string', nargs: 1, describe: f.describe + (f.required === true ? ' [required]' : '') });
  return y;
}

function parser(argv: string[], command: string) {
  const usages: Record<string, string> = {
    export: 'Usage: sensor export --db flows.db [--format csv] [--out FILE] [--label NAME] [--length N]\n\nWrite the flows of a database as the "who\'s talking" CSV (app_service,tcp_len_1..N).',
    learn:
      'Usage: sensor learn --pcap FILE|DIR [--pcap ...] | --interface IF --out rows.csv [--rules FILE] [--keep-names]\n\n' +
      "Label each TCP flow from its handshake (TLS SNI/ALPN, HTTP Host, banners) and write who's-talking training rows (README \"Learn the applications of your network\").",
    train:
      'Usage: sensor train --csv rows.csv --out model.onnx [--runs rows.runs] [--epochs N] [--device auto|cpu|cuda]\n\n' +
      "Train the sensor's network on who's-talking rows (sensor learn's, or the public dataset's) and write the model plus its card (OUT.md); needs python3 with torch and onnx (README \"Learn the applications of your network\").",
    eval:
      'Usage: sensor eval --csv labelled.csv [--model FILE]\n       sensor eval --db flows.db|--pcap FILE|DIR --labels labels.csv [--model FILE]\n\n' +
      'Score a model on labelled rows in the "who\'s talking" CSV format (accuracy, macro-F1, per class), or on the flows of a database or captures matched to a labels file ' +
      '(per class precision/recall/F1 under the unknown rule, macro-F1, other protocols labelled unknown, coverage and precision by threshold).',
    demo: `Usage: sensor demo [flags of a capture run]\n\nRun the sensor on the bundled demo capture (${DEMO_CAPTURE}): 94 flows of 22 applications from the model's lab, and a port scan.\nFlows go to ./${DEMO_DB} unless --db or --jsonl says otherwise; the summary table follows.`,
    'anomaly-fit':
      'Usage: sensor anomaly-fit --db flows.db --out anomaly.onnx [--calibration-db other.db ...] [--fpr 0.01] [--since T] [--until T] [--context-hold S] [--context-retry-hold S] [--context-floor Q] [--std-floor S] [--augment SHARE] [--one-threshold] [--balance-sets [--set-method M]] [--port-shift Q] [--python python3]\n\nFit an anomaly model on a database\'s finished flows (Python 3 with torch and onnx; models/ANOMALY.md).',
    'hosts-fit':
      'Usage: sensor hosts-fit --db flows.db [--db ...] --out groups.json [--k N] [--since T]\n\nFit behaviour groups on the closed host profiles of one or more databases (README "Host profiles").',
    serve: 'Usage: sensor serve --db flows.db [--listen 127.0.0.1:8080] [--allow-remote --token-file FILE]\n\nHTTP API (flows, summary, classification as a service) and web view over a database the sensor writes.',
    report: 'Usage: sensor report --db flows.db [--out report.html] [--from T] [--to T]\n\nWrite the web view of a database as one self-contained HTML file.',
    interfaces: 'Usage: sensor interfaces\n\nList the network interfaces live capture can open.',
    'clickhouse-schema':
      'Usage: sensor clickhouse-schema [--cluster NAME [--on-cluster]] [--upgrade] [--apply URL ...] [--database DB] [--table T]\n\nPrint (or, with --apply URL, run) the DDL of the ClickHouse flows table; with --upgrade, the ALTER TABLE that adds the columns a table made by an older sensor lacks.',
    '':
      'Usage:\n  sensor --pcap FILE|DIR [--pcap ...] [--db flows.db] [--jsonl out.jsonl|-]\n  sensor --interface IF --db flows.db\n  sensor demo                                   (the bundled capture; sensor demo --help)\n' +
      '  sensor learn --pcap FILE|DIR --out rows.csv  (training rows labelled from handshakes; sensor learn --help)\n' +
      '  sensor train --csv rows.csv --out model.onnx  (train a model on them; sensor train --help)\n' +
      '  sensor export --db flows.db --format csv      (sensor export --help)\n  sensor eval --csv labelled.csv               (sensor eval --help)\n' +
      '  sensor eval --db flows.db|--pcap DIR --labels labels.csv\n' +
      '  sensor anomaly-fit --db flows.db --out anomaly.onnx\n  sensor hosts-fit --db flows.db --out groups.json\n' +
      '  sensor serve --db flows.db [--listen 127.0.0.1:8080]\n  sensor report --db flows.db --out report.html\n  sensor interfaces\n  sensor clickhouse-schema [--cluster NAME] [--apply URL]',
  };
  const usage = usages[command] ?? usages['']!;
  let y = common(yargs(argv).scriptName('sensor').usage(usage));
  if (command === 'export') y = commandOptions(y, EXPORT_FLAGS);
  else if (command === 'eval') y = commandOptions(y, EVAL_FLAGS);
  else if (command === 'anomaly-fit') {
    y = commandOptions(y, ANOMALY_FIT_FLAGS).option('calibration-db', {
      type: 'string',
      array: true,
      describe: 'another database of normal traffic, not fitted on, whose flows join the calibration set that sets the thresholds (repeatable; models/ANOMALY.md "Calibration")',
    }).option('one-threshold', {
      type: 'boolean',
      describe: 'one threshold for every flow (default: server ports whose calibration flows score higher keep thresholds of their own)',
    }).option('balance-sets', {
      type: 'boolean',
      describe: "one threshold with every set of calibration flows weighing the same: --db's held-out captures are one set, each --calibration-db another (a day, a capture file, a site), and every capture file or hour within a set the same (implies --one-threshold; models/ANOMALY.md \"Round anomaly7\")",
    });
  }
  else if (command === 'hosts-fit') {
    y = commandOptions(y, HOSTS_FIT_FLAGS).option('db', { type: 'string', array: true, describe: 'SQLite database written by the sensor with host profiles (repeatable: fitted together) [required]' });
  }
  else if (command === 'train') y = commandOptions(y, TRAIN_FLAGS).option('quick', { type: 'boolean', describe: 'a short training run: few epochs, no unknown-threshold experiment (tests, smoke checks)' });
  else if (command === 'clickhouse-schema') {
    y = commandOptions(y, CLICKHOUSE_SCHEMA_FLAGS)
      .option('on-cluster', { type: 'boolean', describe: 'add ON CLUSTER to each statement (needs ClickHouse Keeper); else run it on every node' })
      .option('apply', { type: 'string', array: true, describe: 'run the statements on this ClickHouse HTTP URL (repeatable: every node of the cluster)' })
      .option('upgrade', { type: 'boolean', describe: 'the ALTER TABLE statements that add the columns an existing table lacks (the anomaly columns), instead of CREATE' });
  }
  else if (command === 'report') y = commandOptions(y, REPORT_FLAGS);
  else if (command === 'learn') {
    y = commandOptions(runOptions(y, LEARN_CONFIG_FLAGS), LEARN_FLAGS);
    for (const f of LEARN_SWITCHES) y = y.option(f.flag, { type: 'boolean', describe: f.describe });
  }
  else if (command === 'serve') y = runOptions(y).option('listen', { type: 'string', nargs: 1, describe: `address to serve on, HOST:PORT (default ${DEFAULT_LISTEN})` }).epilog(EPILOG);
  else if (command === '' || command === 'demo') y = runOptions(y).epilog(EPILOG);
  return y.exitProcess(false).fail((msg, err) => {
    throw new ConfigError(oneLine(err ? err.message : msg, command));
  });
}

/** Every flag a command knows, for suggestions. */
function knownFlags(command: string): string[] {
  const list =
    command === 'export'
      ? EXPORT_FLAGS.map((f) => f.flag)
      : command === 'eval'
        ? EVAL_FLAGS.map((f) => f.flag)
        : command === 'anomaly-fit'
        ? ANOMALY_FIT_FLAGS.map((f) => f.flag)
        : command === 'hosts-fit'
        ? [...HOSTS_FIT_FLAGS.map((f) => f.flag), 'db']
        : command === 'train'
        ? [...TRAIN_FLAGS.map((f) => f.flag), 'quick']
        : command === 'report'
          ? REPORT_FLAGS.map((f) => f.flag)
          : command === 'learn'
          ? [...LEARN_CONFIG_FLAGS, ...LEARN_FLAGS.map((f) => f.flag), ...LEARN_SWITCHES.map((f) => f.flag), 'config']
          : command === '' || command === 'demo' || command === 'serve'
          ? [...CONFIG_FLAGS.map((f) => f.flag), ...RUN_FLAGS.map((f) => f.flag), ...(command === 'serve' ? ['listen'] : [])]
          : command === 'clickhouse-schema'
            ? [...CLICKHOUSE_SCHEMA_FLAGS.map((f) => f.flag), 'on-cluster', 'apply', 'upgrade']
            : [];
  return [...list, 'help', 'version'];
}

/** yargs' messages, made one line each, with a did-you-mean for unknown flags. */
function oneLine(msg: string, command: string): string {
  const unknown = /^Unknown arguments?: (.+)$/.exec(msg);
  if (unknown !== null) {
    const flags = knownFlags(command);
    return unknown[1]!
      .split(', ')
      .map((name) => {
        const dashed = (name.length === 1 ? '-' : '--') + name;
        if (command === '' && !name.startsWith('-') && /^[a-z]+$/.test(name) && closest(name, COMMANDS) !== null) {
          return `Unknown command "${name}" (did you mean "${closest(name, COMMANDS)}"?)`;
        }
        const near = closest(name, flags);
        const where = command === '' ? 'sensor --help' : `sensor ${command} --help`;
        return `Unknown option ${dashed}${near !== null ? ` (did you mean --${near}?)` : ''}; see ${where}`;
      })
      .join('; ');
  }
  const missing = /^Not enough arguments following: (.+)$/.exec(msg);
  if (missing !== null) return `${missing[1]!.length === 1 ? '-' : '--'}${missing[1]!} needs a value`;
  return msg.replace(/\s*\n\s*/g, ' ').trim();
}

/** Flags that take a value (the next word is theirs, not a command). */
const VALUE_FLAGS = new Set([
  ...CONFIG_FLAGS.filter((f) => f.kind !== 'boolean').flatMap((f) => [`--${f.flag}`, ...(f.alias !== undefined ? [`-${f.alias}`] : [])]),
  '--config',
  '-c',
]);

/**
 * The subcommand named on the command line ('' for a capture run) and the arguments without it. Like yargs, the
 * command may come after options (`sensor --no-progress clickhouse-schema ...`): it is the first word that is
 * neither a flag nor a flag's value.
 */
function commandOf(argv: string[]): { command: string; rest: string[] } {
  for (let i = 0; i < argv.length; i++) {
    const t = argv[i]!;
    if (t === '--') break;
    if (t.startsWith('-')) {
      if (!t.includes('=') && VALUE_FLAGS.has(t)) i++;
      continue;
    }
    if ((COMMANDS as readonly string[]).includes(t)) return { command: t, rest: [...argv.slice(0, i), ...argv.slice(i + 1)] };
    break;
  }
  return { command: '', rest: argv };
}

/** Reads one subcommand flag as a single string (repeated flags are an error, not a silent pick). */
function single(a: Record<string, unknown>, flag: string): string | undefined {
  const v = a[flag];
  if (v === undefined) return undefined;
  if (Array.isArray(v)) throw new ConfigError(`--${flag} is given ${v.length} times; give it once`);
  return String(v);
}

function required(a: Record<string, unknown>, flag: string, command: string): string {
  const v = single(a, flag);
  if (v === undefined || v === '') throw new ConfigError(`sensor ${command} needs --${flag} (see sensor ${command} --help)`);
  return v;
}

/**
 * `--pcap -` (standard input) as `--pcap=-`: yargs takes a lone `-` after an array option for a positional
 * argument (which is then refused), while the joined form reaches the option as the value `-`.
 */
function joinStdinPcap(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--pcap' && argv[i + 1] === '-') {
      out.push('--pcap=-');
      i++;
    } else out.push(argv[i]!);
  }
  return out;
}

/** `sensor eval`: --csv rows, or --db / --pcap flows scored against --labels. */
function evalCommandOf(a: Record<string, unknown>): Command {
  const model = single(a, 'model') ?? defaultConfig().classify.model;
  const csv = single(a, 'csv');
  const labels = single(a, 'labels');
  const db = single(a, 'db');
  const raw = a.pcap;
  const pcap = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).map(String);
  const sources = (csv !== undefined ? 1 : 0) + (db !== undefined ? 1 : 0) + (pcap.length > 0 ? 1 : 0);
  if (sources !== 1) throw new ConfigError('sensor eval takes one of --csv FILE, --db FILE or --pcap FILE|DIR (see sensor eval --help)');
  if (csv !== undefined) {
    if (labels !== undefined) throw new ConfigError('--labels goes with --db or --pcap; a --csv file carries its labels');
    return { kind: 'eval', csv, model };
  }
  if (labels === undefined) throw new ConfigError(`--${db !== undefined ? 'db' : 'pcap'} needs --labels FILE (the labelled flows to score against)`);
  const int = (flag: string, dflt: number): number => {
    const t = single(a, flag);
    const v = t === undefined ? dflt : Number(t);
    if (!Number.isInteger(v) || v < 1) throw new ConfigError(`--${flag} must be an integer >= 1, got ${show(t ?? '')}`);
    return v;
  };
  const tt = single(a, 'unknown-threshold');
  const t = tt === undefined ? null : Number(tt);
  if (t !== null && !(t >= 0 && t <= 1)) throw new ConfigError(`--unknown-threshold must be from 0 to 1, got ${show(tt ?? '')}`);
  return { kind: 'eval-labels', db: db ?? null, pcap, labels, model, minPayload: int('min-payload', 4), minClass: int('min-class', 5), threshold: t };
}

/** Parses argv into a Command; throws ConfigError (exit 2) for anything wrong. `env` supplies SENSOR_* overrides. */
export async function parseArgs(argv: string[], version: string, env: NodeJS.ProcessEnv = process.env): Promise<Command> {
  const { command, rest } = commandOf(joinStdinPcap(argv));
  const p = parser(rest, command);
  const a = (await p.parseAsync()) as Record<string, unknown> & { _: (string | number)[] };
  if (a.help === true) return { kind: 'help', text: await p.getHelp() };
  if (a.version === true) return { kind: 'version', text: version };
  if (a._.length > 0) {
    const extra = String(a._[0]);
    const near = command === '' ? closest(extra, COMMANDS) : null;
    if (near !== null) throw new ConfigError(`Unknown command "${extra}" (did you mean "${near}"?)`);
    throw new ConfigError(`Unexpected argument "${extra}" (${command === '' ? `commands: ${COMMANDS.join(', ')}; ` : ''}see sensor ${command === '' ? '' : command + ' '}--help)`);
  }
  if (command === 'export') {
    const db = required(a, 'db', 'export');
    const format = single(a, 'format') ?? 'csv';
    if (format !== 'csv') throw new ConfigError(`--format must be "csv", got ${show(format)}`);
    const lengthText = single(a, 'length') ?? '30';
    const length = Number(lengthText);
    if (!/^\s*\d+\s*$/.test(lengthText) || !Number.isInteger(length) || length < 1) throw new ConfigError(`--length must be a positive integer, got ${show(lengthText)}`);
    return { kind: 'export', db, format: 'csv', out: single(a, 'out') ?? '-', label: single(a, 'label') ?? null, length };
  }
  if (command === 'eval') return evalCommandOf(a);
  if (command === 'anomaly-fit') return anomalyFitCommand(a);
  if (command === 'hosts-fit') return hostsFitCommand(a);
  if (command === 'train') return { kind: 'train', train: trainOptions((flag) => single(a, flag), a.quick === true) };
  if (command === 'interfaces') return { kind: 'interfaces' };
  if (command === 'clickhouse-schema') return clickhouseSchemaCommand(a);
  if (command === 'report') {
    const time = (name: 'from' | 'to'): number | null => {
      const v = single(a, name);
      if (v === undefined) return null;
      try {
        return parseTime(v, `--${name}`);
      } catch (e) {
        throw new ConfigError((e as Error).message);
      }
    };
    return { kind: 'report', db: required(a, 'db', 'report'), out: single(a, 'out') ?? 'report.html', from: time('from'), to: time('to') };
  }

  if (command === 'learn') return learnCommand(a, env);
  const { cfg, replaceDb } = runConfig(a, command, env);

  if (command === 'serve') {
    if (cfg.output.db === null) throw new ConfigError('sensor serve needs --db (see sensor serve --help)');
    if (cfg.serve.listen === null) cfg.serve.listen = DEFAULT_LISTEN;
    return { kind: 'serve', config: cfg };
  }
  requireSource(cfg);
  const progress = (a.progress as boolean | undefined) ?? process.stderr.isTTY === true;
  const summary = (a.summary as boolean | undefined) ?? true;
  return { kind: 'run', config: cfg, progress, summary, replaceDb };
}

/** Capture runs read exactly one source: files or an interface. */
function requireSource(cfg: SensorConfig): void {
  const hasPcap = cfg.capture.pcap.length > 0;
  if (hasPcap && cfg.capture.interface !== null) throw new ConfigError('Give either --pcap or --interface, not both');
  if (!hasPcap && cfg.capture.interface === null) {
    throw new ConfigError('Nothing to read: give --pcap FILE|DIR or --interface IF (see sensor --help)');
  }
}

function positiveInt(a: Record<string, unknown>, flag: string, fallback: number): number {
  const text = single(a, flag);
  if (text === undefined) return fallback;
  const v = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isInteger(v) || v < 1) throw new ConfigError(`--${flag} must be a positive integer, got ${show(text)}`);
  return v;
}

/** `sensor learn`: the capture options of a run (whole packets in live mode) plus the learn options. */
function learnCommand(a: Record<string, unknown>, env: NodeJS.ProcessEnv): Command {
  const out = required(a, 'out', 'learn');
  const { cfg } = runConfig(a, 'learn', env);
  // A config made for the daemon says snaplen 128 (headers only); learning needs whole packets, so only an explicit
  // --snaplen changes learn's.
  if (a.snaplen === undefined) cfg.capture.snaplen = LEARN_SNAPLEN;
  requireSource(cfg);
  const durationText = single(a, 'duration');
  const duration = durationText === undefined ? null : Number(durationText);
  if (duration !== null && !(duration > 0)) throw new ConfigError(`--duration must be a number of seconds > 0, got ${show(durationText)}`);
  if (duration !== null && cfg.capture.interface === null) throw new ConfigError('--duration applies to live capture (--interface) only');
  return {
    kind: 'learn',
    config: cfg,
    learn: {
      out,
      rules: single(a, 'rules') ?? DEFAULT_RULES,
      keepNames: a['keep-names'] === true,
      minPayloadPackets: positiveInt(a, 'min-payload-packets', 1),
      includeMidstream: a['include-midstream'] === true,
      length: positiveInt(a, 'length', 30),
      inspectPackets: positiveInt(a, 'inspect-packets', DEFAULT_INSPECT_PACKETS),
      durationSeconds: duration,
    },
  };
}

/** Defaults < config file < SENSOR_* variables < flags, each layer checked with the same schema. */
function runConfig(a: Record<string, unknown>, command: string, env: NodeJS.ProcessEnv): { cfg: SensorConfig; replaceDb: boolean } {
  const configFile = single(a, 'config');
  let cfg = configFile !== undefined ? loadConfigFile(configFile) : defaultConfig();
  cfg = applyEnv(cfg, env);
  const o: Record<string, Record<string, unknown>> = {};
  for (const f of CONFIG_FLAGS) {
    const v = a[f.flag];
    if (v === undefined) continue;
    let value: unknown;
    if (f.kind === 'boolean') {
      value = f.invert === true ? !v : v;
    } else if (f.kind === 'list') {
      value = (v as unknown[]).map(String);
    } else {
      if (Array.isArray(v)) throw new ConfigError(`--${f.flag} is given ${v.length} times; give it once`);
      value = textValue(f.section, f.key, String(v), `--${f.flag}`);
    }
    (o[f.section] ??= {})[f.key] = value;
  }
  if (command === 'serve') {
    const listen = single(a, 'listen');
    if (listen !== undefined) (o.serve ??= {}).listen = listen;
  }
  let replaceDb = false;
  if (command === 'demo') {
    // The demo capture unless --pcap names others; a database in the current directory unless an output is set.
    const output = o.output ?? {};
    if (cfg.capture.pcap.length === 0 && o.capture?.pcap === undefined) (o.capture ??= {}).pcap = [DEMO_CAPTURE];
    if (cfg.output.db === null && cfg.output.jsonl === null && output.db === undefined && output.jsonl === undefined) {
      (o.output ??= {}).db = DEMO_DB;
      // Each demo run starts its own database, so the README's queries count one run's flows.
      replaceDb = true;
    }
  }
  cfg = mergeConfig(cfg, o, 'command line');
  checkRelations(cfg);
  if (cfg.output.clickhouse !== null && cfg.output.clickhouse.url.length === 0) {
    throw new ConfigError('output.clickhouse has no url: give --clickhouse URL or set output.clickhouse.url (or set output.clickhouse to null)');
  }
  return { cfg, replaceDb };
}

/** `sensor clickhouse-schema`: names from the flags, else from the config file's output.clickhouse, else defaults. */
function clickhouseSchemaCommand(a: Record<string, unknown>): Command {
  const configFile = single(a, 'config');
  const cfg = configFile !== undefined ? loadConfigFile(configFile) : defaultConfig();
  const patch: Record<string, unknown> = {};
  const database = single(a, 'database');
  const table = single(a, 'table');
  if (database !== undefined) patch.database = database;
  if (table !== undefined) patch.table = table;
  const clickhouse = checkClickHouseConfig('command line', patch, cfg.output.clickhouse)!;
  const cluster = single(a, 'cluster') ?? null;
  if (cluster !== null && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(cluster)) throw new ConfigError(`--cluster must be a plain name (letters, digits, _), got "${cluster}"`);
  const onCluster = (a['on-cluster'] as boolean | undefined) ?? false;
  if (onCluster && cluster === null) throw new ConfigError('--on-cluster needs --cluster NAME');
  const apply = ((a.apply as string[] | undefined) ?? []).map((u) => checkClickHouseConfig('--apply', { url: u }, null)!.url[0]!);
  const upgrade = (a.upgrade as boolean | undefined) ?? false;
  return { kind: 'clickhouse-schema', clickhouse, cluster, onCluster, apply, upgrade };
}

/** A time flag (Unix seconds or ISO 8601), or null when not given. */
function optionalTime(a: Record<string, unknown>, flag: string): number | null {
  const v = single(a, flag);
  if (v === undefined) return null;
  try {
    return parseTime(v, `--${flag}`);
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
}

/** An integer flag within bounds, or `def` when not given. */
function integer(a: Record<string, unknown>, flag: string, def: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const v = single(a, flag);
  if (v === undefined) return def;
  const n = Number(v);
  if (!/^\s*-?\d+\s*$/.test(v) || !Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`--${flag} must be an integer ${max < Number.MAX_SAFE_INTEGER ? `from ${min} to ${max}` : `of at least ${min}`}, got ${show(v)}`);
  }
  return n;
}

/** `sensor anomaly-fit`: fits an anomaly model on a database's flows (src/anomaly/fitCommand.ts). */
function anomalyFitCommand(a: Record<string, unknown>): Command {
  const fprText = single(a, 'fpr') ?? '0.01';
  const fpr = Number(fprText);
  if (!(fpr > 0 && fpr < 0.5)) throw new ConfigError(`--fpr must be a rate between 0 and 0.5 (e.g. 0.01), got ${show(fprText)}`);
  const epochs = single(a, 'epochs') !== undefined ? integer(a, 'epochs', 0, 1, 100_000) : null;
  const floorText = single(a, 'context-floor') ?? '0';
  const contextFloor = Number(floorText);
  if (!(floorText.trim() !== '' && contextFloor >= 0 && contextFloor <= 0.999)) {
    throw new ConfigError(`--context-floor must be a quantile between 0 and 0.999 (e.g. 0.975), got ${show(floorText)}`);
  }
  const setMethodText = single(a, 'set-method') ?? 'balanced';
  if (!(SET_METHODS as readonly string[]).includes(setMethodText)) {
    throw new ConfigError(`--set-method must be one of ${SET_METHODS.join(', ')}, got ${show(setMethodText)}`);
  }
  const setMethod = setMethodText as SetMethod;
  if (setMethod !== 'balanced' && a['balance-sets'] !== true) throw new ConfigError('--set-method needs --balance-sets');
  const shiftText = single(a, 'port-shift');
  const portShift = shiftText === undefined ? null : Number(shiftText);
  if (portShift !== null && !(shiftText!.trim() !== '' && portShift >= 0.5 && portShift <= 0.99)) {
    throw new ConfigError(`--port-shift must be a quantile between 0.5 and 0.99 (e.g. 0.9), got ${show(shiftText)}`);
  }
  const stdFloorText = single(a, 'std-floor');
  const stdFloor = stdFloorText === undefined ? null : Number(stdFloorText);
  if (stdFloor !== null && !(stdFloorText!.trim() !== '' && stdFloor >= 0.01 && stdFloor <= 1)) {
    throw new ConfigError(`--std-floor must be a number from 0.01 to 1 (e.g. 0.15), got ${show(stdFloorText!)}`);
  }
  const augmentText = single(a, 'augment') ?? '0';
  const augment = Number(augmentText);
  if (!(augmentText.trim() !== '' && augment >= 0 && augment <= 1)) {
    throw new ConfigError(`--augment must be a share from 0 to 1 (e.g. 0.3), got ${show(augmentText)}`);
  }
  return {
    kind: 'anomaly-fit',
    db: required(a, 'db', 'anomaly-fit'),
    out: required(a, 'out', 'anomaly-fit'),
    fpr,
    since: optionalTime(a, 'since'),
    until: optionalTime(a, 'until'),
    seed: integer(a, 'seed', 1, 0),
    epochs,
    python: single(a, 'python') ?? 'python3',
    report: single(a, 'report') ?? null,
    plainOut: single(a, 'plain-out') ?? null,
    hold: integer(a, 'context-hold', DEFAULT_HOLD_SECONDS, 0, MAX_CONTEXT_HOLD),
    retryHold: integer(a, 'context-retry-hold', 0, 0, MAX_CONTEXT_HOLD),
    calibrationDbs: ((a['calibration-db'] as string[] | undefined) ?? []).map(String).filter((d) => d !== ''),
    contextFloor,
    stdFloor,
    augment,
    oneThreshold: a['one-threshold'] === true || a['balance-sets'] === true || portShift !== null,
    balanceSets: a['balance-sets'] === true,
    setMethod,
    portShift,
  };
}

/** `sensor hosts-fit`: fits behaviour groups on host profiles (src/hosts/fitCommand.ts). */
function hostsFitCommand(a: Record<string, unknown>): Command {
  const db = ((a.db as string[] | undefined) ?? []).map(String).filter((d) => d !== '');
  if (db.length === 0) throw new ConfigError('sensor hosts-fit needs --db (see sensor hosts-fit --help)');
  const maxK = integer(a, 'max-k', 8, 2, 64);
  const minK = integer(a, 'min-k', 4, 2, 64);
  if (minK > maxK) throw new ConfigError(`--min-k (${minK}) must not be larger than --max-k (${maxK})`);
  const k = single(a, 'k') !== undefined ? integer(a, 'k', 0, 1, 64) : null;
  return { kind: 'hosts-fit', db, out: required(a, 'out', 'hosts-fit'), k, minK, maxK, seed: integer(a, 'seed', 1, 0), since: optionalTime(a, 'since') };
}
