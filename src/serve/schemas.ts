/**
 * JSON schemas of the API: they validate requests (ajv), serialise responses (fast-json-stringify) and are the
 * OpenAPI description at /v1/openapi.json (@fastify/swagger). One place, so the three cannot disagree.
 */
import { CONF_BINS } from './summary';
import { VERDICTS } from './verdictSql';

/** Most sequences in one POST /v1/classify. */
export const MAX_BATCH = 10_000;
/**
 * Largest request body: MAX_BATCH rows of 30 lengths written as "-65535," take 7.2 MB; real rows are far shorter
 * (a batch of 1,000 lab rows is ~100 kB). Anything above is refused before it is parsed.
 */
export const BODY_LIMIT = 8 * 1024 * 1024;
/** A payload length cannot exceed the 16-bit IP length fields it comes from. */
export const MAX_PAYLOAD_LENGTH = 65535;
/** Most flows per page of GET /v1/flows. */
export const MAX_PAGE = 1000;
/** Longest string a filter may be (an IPv6 address with zone, a label, a time). */
const MAX_TEXT = 100;

const errorBody = {
  type: 'object',
  properties: { error: { type: 'string', description: 'one line saying what was wrong' } },
  required: ['error'],
} as const;

export const errorResponses = {
  400: { description: 'bad request', ...errorBody },
  401: { description: 'missing or wrong bearer token', ...errorBody },
} as const;

/** Time bound: Unix seconds (`1732888800.5`) or ISO 8601 (`2026-11-29T14:00:00Z`). */
const time = {
  type: 'string',
  maxLength: 40,
  description: 'Unix seconds (1732888800.5) or ISO 8601 UTC (2026-11-29T14:00:00Z)',
} as const;

/** `from`/`to` of a route: what each bound applies to, then the formats it accepts. */
function timeRange(from: string, to: string) {
  return {
    from: { ...time, description: `${from}; ${time.description}` },
    to: { ...time, description: `${to}; ${time.description}` },
  } as const;
}

/** Filters on flows' first packet (GET /v1/flows, GET /v1/anomalies). */
const firstPacketRange = timeRange('first packet at or after this time', 'first packet before this time');

/** A query string: these parameters and no others. */
function queryString<T extends Record<string, unknown>>(properties: T) {
  return { type: 'object', additionalProperties: false, properties } as const;
}

/** The error responses of a route that reads the database. */
const dbErrorResponses = {
  ...errorResponses,
  503: { description: 'no database to read', ...errorBody },
} as const;

export function classifySchema(sequenceLength: number) {
  return {
    summary: 'Classify payload-length sequences with the sensor\'s model and rules',
    description:
      `Body: a JSON array of sequences, each ${sequenceLength} signed payload lengths (+ client to server, - server to client, ` +
      `zero padded), or who's-talking CSV (Content-Type text/csv: app_service,tcp_len_1,...,tcp_len_N with or without the header; ` +
      `rows are cut or zero-padded to ${sequenceLength}, as sensor eval does). At most ${MAX_BATCH} sequences per request. ` +
      `Verdicts come from the same classifier as the sensor's: no-payload below its minimum of payload packets, unknown below ` +
      `the unknown threshold. Requests that arrive together share inference batches.`,
    tags: ['classify'],
    consumes: ['application/json', 'text/csv'],
    body: {
      type: 'array',
      minItems: 1,
      maxItems: MAX_BATCH,
      items: {
        type: 'array',
        minItems: sequenceLength,
        maxItems: sequenceLength,
        items: { type: 'integer', minimum: -MAX_PAYLOAD_LENGTH, maximum: MAX_PAYLOAD_LENGTH },
      },
    },
    response: {
      200: {
        type: 'object',
        properties: {
          model_version: { type: 'string' },
          results: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                label: { type: 'string', description: 'application, or unknown / no-payload / classify-error' },
                verdict: { type: 'string', enum: [...VERDICTS] },
                confidence: { type: 'number', description: 'probability of the top class (0 for rule labels)' },
                topk_labels: { type: 'array', items: { type: 'string' } },
                topk_scores: { type: 'array', items: { type: 'number' } },
                app_service: { type: 'string', description: 'the row\'s app_service (CSV input only)' },
              },
              required: ['label', 'verdict', 'confidence', 'topk_labels', 'topk_scores'],
            },
          },
        },
        required: ['model_version', 'results'],
      },
      ...errorResponses,
      413: { description: 'body larger than the limit', ...errorBody },
      503: { description: 'too many sequences queued; retry', ...errorBody },
    },
  };
}

/** Every field may be null in a row a future or past sensor wrote: say so, so the serialiser never invents "" or 0. */
function nullable<T extends Record<string, { type: string; items?: unknown }>>(props: T): Record<keyof T, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(props)) out[k] = { ...v, type: [v.type, 'null'] };
  return out as Record<keyof T, unknown>;
}

/** A database row as the API returns it: every column nullable, and columns a newer sensor adds pass through. */
function rowItem<T extends Record<string, { type: string; items?: unknown }>>(description: string, columns: T) {
  return { type: 'object', description, additionalProperties: true, properties: nullable(columns) } as const;
}

/** Paging of a list, latest first: `before` takes the `next` of the previous page. */
const paging = {
  before: { type: 'integer', minimum: 1, description: 'paging: the `next` of the previous page' },
  limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: 100 },
} as const;

/** Responses of a paged list: `key` holds the page's items, `next` the `before` of the next page. */
function pagedResponses(key: string, item: object, next: object = { type: ['integer', 'null'] }) {
  return {
    200: { type: 'object', properties: { [key]: { type: 'array', items: item }, next }, required: [key, 'next'] },
    ...dbErrorResponses,
  } as const;
}

const flowItem = rowItem('A flow record (README "Flow records"); columns a newer sensor adds appear too', {
  id: { type: 'integer' },
  uid: { type: 'string' },
  sensor: { type: 'string' },
  source: { type: 'string' },
  in_iface: { type: 'string' },
  pcap_filename: { type: 'string' },
  proto: { type: 'string' },
  first_ts: { type: 'number' },
  last_ts: { type: 'number' },
  start: { type: 'string' },
  end: { type: 'string' },
  duration: { type: 'number' },
  ip_version: { type: 'integer' },
  client_ip: { type: 'string' },
  client_port: { type: 'integer' },
  server_ip: { type: 'string' },
  server_port: { type: 'integer' },
  vlan: { type: 'integer' },
  c2s_packets: { type: 'integer' },
  s2c_packets: { type: 'integer' },
  c2s_bytes: { type: 'integer' },
  s2c_bytes: { type: 'integer' },
  payload_packets: { type: 'integer' },
  midstream: { type: 'boolean' },
  conn_state: { type: 'string' },
  history: { type: 'string' },
  community_id: { type: 'string' },
  end_reason: { type: 'string' },
  lengths: { type: 'array', items: { type: 'integer' } },
  label: { type: 'string' },
  verdict: { type: 'string' },
  confidence: { type: 'number' },
  topk_labels: { type: 'array', items: { type: 'string' } },
  topk_scores: { type: 'array', items: { type: 'number' } },
  model_version: { type: 'string' },
  anomaly_score: { type: 'number' },
  anomaly: { type: 'boolean' },
  anomaly_fpr: { type: 'number' },
});

export const flowsSchema = {
  summary: 'Flow records, latest first, filtered and paged',
  tags: ['flows'],
  querystring: queryString({
    ...firstPacketRange,
    label: { type: 'string', maxLength: MAX_TEXT, description: 'application label (or unknown, no-payload, ...)' },
    verdict: { type: 'string', enum: [...VERDICTS] },
    address: { type: 'string', maxLength: MAX_TEXT, description: 'client or server address' },
    port: { type: 'integer', minimum: 0, maximum: 65535, description: 'client or server port' },
    conn_state: { type: 'string', maxLength: 10, description: 'Zeek conn_state (SF, S0, REJ, ...)' },
    end_reason: { type: 'string', enum: ['fin', 'rst', 'idle', 'active', 'eof', 'shutdown', 'evicted'] },
    uid: { type: 'string', maxLength: 32, description: 'every record of one flow (its interim active records and the final one)' },
    anomaly: { type: 'boolean', description: 'only flows the anomaly model flagged (true) or did not flag (false)' },
    min_score: { type: 'number', description: 'only flows whose anomaly_score is at least this' },
    ...paging,
  }),
  response: pagedResponses('flows', flowItem, {
    type: ['integer', 'null'],
    description: 'pass as `before` for the next page; null on the last page',
  }),
} as const;

const numbers = { type: 'array', items: { type: 'number' } } as const;
const maybeNumbers = { type: 'array', items: { type: ['number', 'null'] } } as const;

export const summarySchema = {
  summary: 'Flows and bytes by application over time, unknown share, confidence, top talkers and services',
  description: 'Interim records (end_reason active) are left out so that each flow counts once. Without from/to: the whole database.',
  tags: ['flows'],
  querystring: queryString({
    from: time,
    to: time,
    buckets: { type: 'integer', minimum: 1, maximum: 500, default: 60, description: 'about this many time buckets' },
    top: { type: 'integer', minimum: 1, maximum: 100, default: 10, description: 'entries of the top lists and application series' },
  }),
  response: {
    200: {
      type: 'object',
      properties: {
        from: { type: ['number', 'null'] },
        to: { type: ['number', 'null'] },
        bucket_seconds: { type: 'number' },
        buckets: numbers,
        labels: {
          type: 'array',
          items: {
            type: 'object',
            properties: { label: { type: 'string' }, flows: numbers, bytes: numbers, total_flows: { type: 'number' }, total_bytes: { type: 'number' } },
          },
        },
        scored_flows: numbers,
        unknown_share: maybeNumbers,
        confidence: {
          type: 'object',
          description: `histogram of the top-class probability in ${CONF_BINS} bins, overall and per bucket (scored flows only)`,
          properties: { edges: numbers, counts: numbers, over_time: { type: 'array', items: numbers } },
        },
        top_talkers: {
          type: 'array',
          items: { type: 'object', properties: { ip: { type: 'string' }, flows: { type: 'number' }, bytes: { type: 'number' } } },
        },
        top_services: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              server_ip: { type: 'string' },
              server_port: { type: 'integer' },
              label: { type: 'string' },
              flows: { type: 'number' },
              bytes: { type: 'number' },
            },
          },
        },
        totals: {
          type: 'object',
          properties: {
            flows: { type: 'number' },
            bytes: { type: 'number' },
            scored_flows: { type: 'number' },
            unknown_share: { type: ['number', 'null'] },
            verdicts: { type: 'object', additionalProperties: { type: 'number' } },
          },
        },
      },
    },
    ...dbErrorResponses,
  },
} as const;

export const modelSchema = {
  summary: 'The model: contract, classes, version, the rules applied, and its metadata (card facts)',
  tags: ['classify'],
  response: {
    200: {
      type: 'object',
      additionalProperties: true,
      properties: {
        path: { type: 'string' },
        version: { type: 'string' },
        classes: { type: 'array', items: { type: 'string' } },
        sequence_length: { type: 'integer' },
        device: { type: 'string' },
        training_data: { type: 'string' },
        contract: { type: 'object', additionalProperties: true },
        rules: { type: 'object', additionalProperties: true },
        metadata: { type: 'object', additionalProperties: true },
      },
    },
    ...errorResponses,
    503: { description: 'classification is off', ...errorBody },
  },
} as const;

export const monitorSchema = {
  summary: 'Monitoring tables (drift, accuracy over time) when the sensor writes them, latest rows first',
  tags: ['flows'],
  response: {
    200: {
      type: 'object',
      properties: {
        tables: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              name: { type: 'string' },
              columns: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, type: { type: 'string' } } } },
              rows: { type: 'array', items: { type: 'object', additionalProperties: true } },
            },
          },
        },
      },
    },
    ...dbErrorResponses,
  },
} as const;

const hostItem = rowItem('A host profile: one host in one time window (README "Host profiles"); columns a newer sensor adds appear too', {
  id: { type: 'integer' },
  sensor: { type: 'string' },
  host: { type: 'string' },
  window_start: { type: 'number' },
  window_seconds: { type: 'integer' },
  start: { type: 'string' },
  final: { type: 'integer' },
  flows_client: { type: 'integer' },
  flows_server: { type: 'integer' },
  peers: { type: 'integer' },
  server_ports: { type: 'integer' },
  distinct_exact: { type: 'integer' },
  failed_client: { type: 'integer' },
  failed_server: { type: 'integer' },
  reset_flows: { type: 'integer' },
  bytes_sent: { type: 'integer' },
  bytes_received: { type: 'integer' },
  duration_mean: { type: 'number' },
  duration_max: { type: 'number' },
  long_flows: { type: 'integer' },
  label_entropy: { type: 'number' },
  unknown_share: { type: 'number' },
  top_peer: { type: 'string' },
  top_peer_flows: { type: 'integer' },
  top_peer_interval_cv: { type: 'number' },
  anomalous_flows: { type: 'integer' },
  anomaly_max: { type: 'number' },
  behaviour_group: { type: 'string' },
  group_distance: { type: 'number' },
});

const eventItem = rowItem('A host whose behaviour group differs from its previous window\'s', {
  id: { type: 'integer' },
  ts: { type: 'number', description: 'end of the window the change was seen in (Unix seconds)' },
  time: { type: 'string' },
  sensor: { type: 'string' },
  host: { type: 'string' },
  window_start: { type: 'number' },
  old_group: { type: 'string' },
  new_group: { type: 'string' },
  reason: { type: 'string', description: 'the three profile features that moved furthest, old -> new' },
});

export const hostsSchema = {
  summary: 'Host profiles: per host and time window, flows, peers, ports, failures, bytes, durations, label mix, anomalies and behaviour group',
  description: 'Latest written first. Rows of the open window are updated as flows arrive (final = 0) and written final with their group when it closes.',
  tags: ['hosts'],
  querystring: queryString({
    ...timeRange('windows starting at or after this time', 'windows starting before this time'),
    host: { type: 'string', maxLength: MAX_TEXT, description: 'address as written in the flows (a pseudonym when pseudonymisation is on)' },
    group: { type: 'string', maxLength: 200, description: 'behaviour group name' },
    ...paging,
  }),
  response: pagedResponses('hosts', hostItem),
} as const;

export const hostEventsSchema = {
  summary: 'Hosts that changed behaviour group, latest first',
  tags: ['hosts'],
  querystring: queryString({
    ...timeRange('changes seen at or after this time (window end)', 'changes seen before this time'),
    host: { type: 'string', maxLength: MAX_TEXT },
    ...paging,
  }),
  response: pagedResponses('events', eventItem),
} as const;

export const anomaliesSchema = {
  summary: 'The most anomalous flows of a time range, highest anomaly score first',
  description: 'Interim records (end_reason active) are left out. anomaly_fpr says which false-positive rate the anomaly flag was set for.',
  tags: ['flows'],
  querystring: queryString({
    ...firstPacketRange,
    flagged: { type: 'boolean', description: 'only flows above the model\'s threshold (anomaly true)' },
    limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: 20 },
  }),
  response: {
    200: { type: 'object', properties: { flows: { type: 'array', items: flowItem } }, required: ['flows'] },
    ...dbErrorResponses,
  },
} as const;
