import yargs from 'yargs';
import { checkClickHouseConfig, type ClickHouseConfig } from '../config/clickhouseConfig';
import { ConfigError, defaultConfig, loadConfigFile, mergeConfig, SensorConfig } from '../config/config';
import { parseTime } from '../serve/timeParam';

/** What the command line asked for. */
export type Command =
  | { kind: 'run'; config: SensorConfig; progress: boolean }
  | { kind: 'export'; db: string; format: 'csv'; out: string; label: string | null; length: number }
  | { kind: 'eval'; csv: string; model: string }
  | { kind: 'interfaces' }
  | { kind: 'clickhouse-schema'; clickhouse: ClickHouseConfig; cluster: string | null; onCluster: boolean; apply: string[] }
  | { kind: 'serve'; config: SensorConfig }
  | { kind: 'report'; db: string; out: string; from: number | null; to: number | null }
  | { kind: 'help'; text: string }
  | { kind: 'version'; text: string };

/** Where `sensor serve` listens without --listen (or serve.listen in the config). */
export const DEFAULT_LISTEN = '127.0.0.1:8080';

const EPILOG = `Exit codes: 0 all done; 1 some input was damaged (everything readable was processed and written); 2 usage or config error.
Docs: README.md (install, queries, design notes); config/sensor.json (every option with its default).`;

function parser(argv: string[]) {
  return yargs(argv)
    .scriptName('sensor')
    .usage('Usage:\n  sensor --pcap FILE|DIR [--pcap ...] [--db flows.db] [--jsonl out.jsonl|-]\n  sensor --interface IF --db flows.db\n  sensor export --db flows.db --format csv\n  sensor eval --csv labelled.csv\n  sensor serve --db flows.db [--listen 127.0.0.1:8080]\n  sensor report --db flows.db --out report.html\n  sensor interfaces\n  sensor clickhouse-schema [--cluster NAME] [--apply URL]')
    .command('$0', 'Follow TCP flows in capture files (--pcap) or on an interface (--interface) and record them')
    .command('export', 'Write the flows of a database as the "who\'s talking" CSV (app_service,tcp_len_1..N)', (y) =>
      y
        .option('db', { type: 'string', demandOption: true, describe: 'SQLite database written by the sensor' })
        .option('format', { choices: ['csv'] as const, default: 'csv' as const, describe: 'output format' })
        .option('out', { type: 'string', nargs: 1, default: '-', describe: 'output file, - for stdout' })
        .option('label', { type: 'string', describe: 'use this app_service for every row (labelling lab captures)' })
        .option('length', { type: 'number', default: 30, describe: 'number of tcp_len columns' }),
    )
    .command('eval', 'Score a model on labelled rows in the who\'s-talking CSV format', (y) =>
      y
        .option('csv', { type: 'string', demandOption: true, describe: 'labelled CSV (app_service,tcp_len_1..N)' })
        .option('model', { type: 'string', describe: 'ONNX model (default: the bundled one)' }),
    )
    .command('serve', 'HTTP API (flows, summary, classification as a service) and web view over a database the sensor writes', (y) =>
      y
        .option('db', { type: 'string', demandOption: true, describe: 'SQLite database written by the sensor (opened read-only)' })
        .option('listen', { type: 'string', describe: 'address to serve on, HOST:PORT (default 127.0.0.1:8080)' }),
    )
    .command('report', 'Write the web view of a database as one self-contained HTML file', (y) =>
      y
        .option('db', { type: 'string', demandOption: true, describe: 'SQLite database written by the sensor' })
        .option('out', { type: 'string', default: 'report.html', describe: 'HTML file to write' })
        .option('from', { type: 'string', describe: 'first flow time: Unix seconds or ISO 8601 (default: the first in the database)' })
        .option('to', { type: 'string', describe: 'end time, exclusive (default: after the last flow)' }),
    )
    .command('interfaces', 'List the network interfaces live capture can open')
    .command('clickhouse-schema', 'Print (or, with --apply URL, run) the DDL of the ClickHouse flows table', (y) =>
      y
        .option('cluster', { type: 'string', describe: 'cluster name (remote_servers): a <table>_local table per shard and a Distributed <table> over them' })
        .option('on-cluster', { type: 'boolean', describe: 'add ON CLUSTER to each statement (needs ClickHouse Keeper); else run it on every node' })
        .option('apply', { type: 'string', array: true, describe: 'run the statements on this ClickHouse HTTP URL (repeatable: every node of the cluster)' })
        .option('database', { type: 'string', describe: 'database (default: output.clickhouse.database, "sensor")' })
        .option('table', { type: 'string', describe: 'table (default: output.clickhouse.table, "flows")' }),
    )
    .option('pcap', { type: 'string', array: true, describe: 'capture file (.pcap, .pcapng, optionally gzipped) or directory of captures; repeatable' })
    .option('rotated', { type: 'boolean', describe: 'treat the --pcap files as one rotated capture: flows carry over between files' })
    .option('interface', { alias: 'i', type: 'string', describe: 'capture live on this interface (see `sensor interfaces`)' })
    .option('db', { type: 'string', describe: 'SQLite database to write flows to' })
    .option('clickhouse', { type: 'string', nargs: 1, describe: 'insert flows into ClickHouse at this HTTP URL (e.g. http://127.0.0.1:8123; see output.clickhouse)' })
    .option('jsonl', { type: 'string', nargs: 1, describe: 'write one JSON object per flow to this file (- for stdout)' })
    .option('config', { alias: 'c', type: 'string', describe: 'JSON config file (see config/sensor.json); flags override it' })
    .option('model', { type: 'string', describe: 'ONNX model file (default: models/sensor.onnx)' })
    .option('device', { choices: ['auto', 'cpu', 'cuda'] as const, describe: 'inference device' })
    .option('classify', { type: 'boolean', describe: 'classify flows with the model (--no-classify: record flows only)' })
    .option('unknown-threshold', { type: 'number', describe: 'label flows below this top probability "unknown"' })
    .option('keep-retransmissions', { type: 'boolean', describe: 'count every payload segment, retransmissions included' })
    .option('idle-timeout', { type: 'number', describe: 'seconds without a packet before a flow ends (default 120)' })
    .option('active-timeout', { type: 'number', describe: 'seconds before a long flow writes an interim record (default 1800)' })
    .option('max-flows', { type: 'number', describe: 'flow table limit; the least recently seen flow is evicted (default 1000000)' })
    .option('engine', { choices: ['auto', 'addon', 'cap'] as const, describe: 'live capture engine' })
    .option('filter', { type: 'string', describe: 'BPF filter for live capture (default "tcp")' })
    .option('snaplen', { type: 'number', describe: 'bytes captured per packet in live mode (default 128: headers only)' })
    .option('buffer-size', { type: 'number', describe: 'kernel capture buffer in bytes (live mode)' })
    .option('promisc', { type: 'boolean', describe: 'promiscuous mode (live mode, default on)' })
    .option('fanout-group', { type: 'number', describe: 'PACKET_FANOUT group: several sensors on one interface split the flows (addon engine)' })
    .option('sensor-name', { type: 'string', describe: 'name written in every record\'s `sensor` field (default: the host name)' })
    .option('serve', { type: 'string', describe: 'also serve the HTTP API and web view on HOST:PORT while running (loopback unless --allow-remote)' })
    .option('allow-remote', { type: 'boolean', describe: 'allow serving on a non-loopback address (needs a bearer token: --token-file or $SENSOR_API_TOKEN)' })
    .option('token-file', { type: 'string', describe: 'file holding the bearer token the HTTP API requires' })
    .option('log-level', { choices: ['error', 'warn', 'info', 'debug'] as const, describe: 'operational log level' })
    .option('progress', { type: 'boolean', describe: 'progress line on stderr (default: when stderr is a terminal)' })
    .epilog(EPILOG)
    .strict()
    .help(false)
    .version(false)
    .option('help', { alias: 'h', type: 'boolean', describe: 'show this help' })
    .option('version', { type: 'boolean', describe: 'show the version' })
    .wrap(Math.min(110, process.stdout.columns || 100))
    .exitProcess(false)
    .fail((msg, err) => {
      throw new ConfigError(err ? err.message : msg);
    });
}

/** Parses argv into a Command; throws ConfigError (exit 2) for anything wrong. */
export async function parseArgs(argv: string[], version: string): Promise<Command> {
  const p = parser(argv);
  const a = await p.parseAsync();
  if (a.help) return { kind: 'help', text: await p.getHelp() };
  if (a.version) return { kind: 'version', text: version };
  const cmd = String(a._[0] ?? '');
  if (a._.length > 1) throw new ConfigError(`Unexpected argument "${String(a._[1])}" (see sensor --help)`);
  if (cmd === 'export') {
    const length = a.length as number;
    if (!Number.isInteger(length) || length < 1) throw new ConfigError('--length must be a positive integer');
    return { kind: 'export', db: a.db as string, format: 'csv', out: a.out as string, label: (a.label as string | undefined) ?? null, length };
  }
  if (cmd === 'eval') {
    return { kind: 'eval', csv: a.csv as string, model: (a.model as string | undefined) ?? defaultConfig().classify.model };
  }
  if (cmd === 'interfaces') return { kind: 'interfaces' };
  if (cmd === 'report') {
    const time = (name: 'from' | 'to'): number | null => {
      const v = a[name] as string | undefined;
      if (v === undefined) return null;
      try {
        return parseTime(v, `--${name}`);
      } catch (e) {
        throw new ConfigError((e as Error).message);
      }
    };
    return { kind: 'report', db: a.db as string, out: a.out as string, from: time('from'), to: time('to') };
  }
  if (cmd === 'clickhouse-schema') return clickhouseSchemaCommand(a);
  if (cmd !== '' && cmd !== 'serve') {
    throw new ConfigError(`Unknown command "${cmd}" (commands: export, eval, serve, report, interfaces, clickhouse-schema; see sensor --help)`);
  }

  let cfg = a.config !== undefined ? loadConfigFile(a.config) : defaultConfig();
  // Flags override the file: mapped onto the same schema so they get the same checks and messages.
  const o: Record<string, Record<string, unknown>> = { sensor: {}, capture: {}, flow: {}, classify: {}, output: {}, log: {}, serve: {} };
  const set = (section: string, key: string, v: unknown): void => {
    if (v !== undefined) o[section]![key] = v;
  };
  set('sensor', 'name', a['sensor-name']);
  set('capture', 'pcap', a.pcap);
  set('capture', 'rotated', a.rotated);
  set('capture', 'interface', a.interface);
  set('capture', 'engine', a.engine);
  set('capture', 'filter', a.filter);
  set('capture', 'snaplen', a.snaplen);
  set('capture', 'bufferSize', a['buffer-size']);
  set('capture', 'promisc', a.promisc);
  set('capture', 'fanoutGroup', a['fanout-group']);
  set('output', 'db', a.db);
  set('output', 'jsonl', a.jsonl);
  if (a.clickhouse !== undefined) set('output', 'clickhouse', { url: a.clickhouse });
  set('classify', 'model', a.model);
  set('classify', 'device', a.device);
  set('classify', 'enabled', a.classify);
  set('classify', 'unknownThreshold', a['unknown-threshold']);
  if (a['keep-retransmissions'] !== undefined) set('flow', 'skipRetransmissions', !a['keep-retransmissions']);
  set('flow', 'idleTimeout', a['idle-timeout']);
  set('flow', 'activeTimeout', a['active-timeout']);
  set('flow', 'maxFlows', a['max-flows']);
  set('log', 'level', a['log-level']);
  set('serve', 'listen', cmd === 'serve' ? a.listen : a.serve);
  set('serve', 'allowRemote', a['allow-remote']);
  set('serve', 'tokenFile', a['token-file']);
  cfg = mergeConfig(cfg, o, 'command line');

  if (cfg.output.clickhouse !== null && cfg.output.clickhouse.url.length === 0) {
    throw new ConfigError('output.clickhouse has no url: give --clickhouse URL or set output.clickhouse.url (or set output.clickhouse to null)');
  }

  if (cmd === 'serve') {
    if (cfg.serve.listen === null) cfg.serve.listen = DEFAULT_LISTEN;
    return { kind: 'serve', config: cfg };
  }

  const hasPcap = cfg.capture.pcap.length > 0;
  if (hasPcap && cfg.capture.interface !== null) throw new ConfigError('Give either --pcap or --interface, not both');
  if (!hasPcap && cfg.capture.interface === null) {
    throw new ConfigError('Nothing to read: give --pcap FILE|DIR or --interface IF (see sensor --help)');
  }
  const progress = (a.progress as boolean | undefined) ?? (process.stderr.isTTY === true);
  return { kind: 'run', config: cfg, progress };
}

/** `sensor clickhouse-schema`: names from the flags, else from the config file's output.clickhouse, else defaults. */
function clickhouseSchemaCommand(a: Record<string, unknown>): Command {
  const cfg = a.config !== undefined ? loadConfigFile(a.config as string) : defaultConfig();
  const patch: Record<string, unknown> = {};
  if (a.database !== undefined) patch.database = a.database;
  if (a.table !== undefined) patch.table = a.table;
  const clickhouse = checkClickHouseConfig('command line', patch, cfg.output.clickhouse)!;
  const cluster = (a.cluster as string | undefined) ?? null;
  if (cluster !== null && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(cluster)) throw new ConfigError(`--cluster must be a plain name (letters, digits, _), got "${cluster}"`);
  const onCluster = (a['on-cluster'] as boolean | undefined) ?? false;
  if (onCluster && cluster === null) throw new ConfigError('--on-cluster needs --cluster NAME');
  const apply = ((a.apply as string[] | undefined) ?? []).map((u) => checkClickHouseConfig('--apply', { url: u }, null)!.url[0]!);
  return { kind: 'clickhouse-schema', clickhouse, cluster, onCluster, apply };
}
